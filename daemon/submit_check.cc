#include "daemon/submit_check.h"

#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/llm.h"

namespace aetherflow {

absl::Status CheckSubmission(Plan* plan, const std::string& plan_path,
                             const Config& config, const Getenv& getenv,
                             const Capacity& capacity, const std::string& config_path) {
  std::vector<std::string> problems;
  if (absl::Status fits = CheckPlanFits(*plan, capacity, plan_path); !fits.ok()) {
    problems.push_back(std::string(fits.message()));
  }
  for (std::size_t i = 0; i < plan->steps.size(); ++i) {
    Step& step = plan->steps[i];
    std::string where = absl::StrCat(plan_path, ": steps[", i, "] (", step.id, "): ");
    if (step.is_command()) continue;
    absl::StatusOr<std::string> provider = RouteStep(config, step);
    if (!provider.ok()) {
      problems.push_back(absl::StrCat(where, provider.status().message()));
      continue;
    }
    step.provider = *provider;
  }
  for (const KeyProblem& missing : FindMissingKeys(*plan, config, getenv)) {
    problems.push_back(absl::StrCat(plan_path, ": ", DescribeKeyProblem(missing, config_path)));
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
}

std::vector<std::string> OutputFiles(const Step& step, const std::string& output_dir) {
  std::vector<std::string> files;
  absl::StatusOr<PromptInputs> inputs = PromptInputsFromStep(step);
  if (!inputs.ok()) return files;
  for (const PromptFile& file : inputs->files) {
    if (file.input_only) continue;
    if (absl::StatusOr<std::string> path = SafeJoin(output_dir, file.path); path.ok()) {
      files.push_back(*path);
    }
  }
  return files;
}

}  // namespace aetherflow
