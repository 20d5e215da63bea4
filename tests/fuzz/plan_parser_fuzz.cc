// libFuzzer target for the plan parser (common/plan_parser.h), which reads
// what users and remote callers submit. Any bytes must give a Plan or an
// InvalidArgument error, never a crash, a hang, an uncaught exception or
// undefined behaviour; and what each side gets must keep its contract:
//  - an error lists one problem per line, each starting with the file name;
//  - an accepted plan is a DAG whose batches respect every dependency, and
//    its stored text parses again the same way (the daemon re-parses it at
//    check-ins and on resume);
//  - what the daemon and the client then do with an accepted plan (watch
//    patterns, LLM routing, the prompt and its request body) copes with
//    whatever the plan holds.
// Any broken contract aborts, which libFuzzer reports as a crash.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_split.h"
#include "common/byte_size.h"
#include "common/config.h"
#include "common/llm.h"
#include "common/log_analysis.h"
#include "common/plan.h"
#include "common/plan_parser.h"
#include "nlohmann/json.hpp"

namespace {

using aetherflow::Plan;

constexpr std::string_view kFile = "fuzz.json";

[[noreturn]] void Fail(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "plan_parser_fuzz: %s\n%.*s\n", what,
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

void CheckError(const absl::Status& status) {
  if (status.code() != absl::StatusCode::kInvalidArgument) {
    Fail("a refused plan is not InvalidArgument", status.ToString());
  }
  const std::string message(status.message());
  if (message.empty()) Fail("a refused plan without a reason");
  // The client counts problems by lines, and users read them one per line.
  for (absl::string_view line : absl::StrSplit(message, '\n')) {
    if (line.substr(0, kFile.size()) != absl::string_view(kFile.data(), kFile.size()) ||
        line.size() <= kFile.size() || line[kFile.size()] != ':') {
      Fail("a problem line does not start with FILE:", message);
    }
  }
}

void CheckDag(const Plan& plan) {
  const size_t n = plan.steps.size();
  if (n == 0 || n > aetherflow::kMaxSteps) Fail("accepted a plan with no or too many steps");
  if (plan.deps.size() != n || plan.batch.size() != n) Fail("deps or batch not sized per step");
  int deepest = 0;
  for (size_t i = 0; i < n; ++i) {
    const aetherflow::Step& step = plan.steps[i];
    if (step.id.empty()) Fail("accepted a step without an id");
    if (plan.deps[i].size() != step.dependencies.size()) {
      Fail("deps and dependencies disagree", step.id);
    }
    if (plan.batch[i] < 1 || plan.batch[i] > plan.batches) Fail("batch out of range", step.id);
    deepest = std::max(deepest, plan.batch[i]);
    for (size_t j = 0; j < plan.deps[i].size(); ++j) {
      const int dep = plan.deps[i][j];
      if (dep < 0 || static_cast<size_t>(dep) >= n) Fail("dependency index out of range");
      if (plan.steps[dep].id != step.dependencies[j]) Fail("dependency names another step");
      // A cycle that got through would show here.
      if (plan.batch[dep] >= plan.batch[i]) Fail("a dependency is not in an earlier batch");
    }
    if (step.is_command() && step.provider != "shell") Fail("command step not on shell");
    if (step.shell && step.argv) Fail("both a shell command and an argv");
  }
  if (deepest != plan.batches) Fail("batches is not the deepest batch");
}

// What the daemon (check-ins, the scheduler, the LLM runner) and the client
// (submit --dry-run) do with each step of an accepted plan.
void UseSteps(const Plan& plan) {
  static const aetherflow::Config config = aetherflow::BuiltinConfig();
  for (const aetherflow::Step& step : plan.steps) {
    const nlohmann::json raw = nlohmann::json::parse(step.raw_json, nullptr, false);
    if (!raw.is_object()) Fail("raw_json is not an object", step.raw_json);
    // ParsePlan compiled the watch once: a step has one exactly when it
    // names a non-null `watch`.
    auto watch = raw.find("watch");
    if ((step.watch != nullptr) != (watch != raw.end() && !watch->is_null())) {
      Fail("step.watch disagrees with the step's watch", step.raw_json);
    }
    if (step.watch != nullptr) {
      aetherflow::StepCursor cursor;
      (void)aetherflow::AnalyzeLog(*step.watch, "Epoch 1/2 val_loss: 0.5 ERROR\n", &cursor);
    }
    const aetherflow::StepResources& r = step.resources;
    if ((r.cpu && !(*r.cpu > 0 && *r.cpu <= aetherflow::kMaxCpus)) ||
        (r.mem_bytes && !(*r.mem_bytes > 0 && *r.mem_bytes <= aetherflow::kMaxByteSize)) ||
        (r.gpu && !(*r.gpu >= 1 && *r.gpu <= aetherflow::kMaxGpus))) {
      Fail("resources out of range", step.raw_json);
    }
    if (step.is_command()) continue;
    absl::StatusOr<std::string> provider = aetherflow::RouteStep(config, step);
    if (provider.ok()) {
      (void)aetherflow::EstimateCost(step.estimated_tokens.value_or(0),
                                     config.providers.at(*provider));
    }
    absl::StatusOr<aetherflow::PromptInputs> inputs = aetherflow::PromptInputsFromStep(step);
    if (!inputs.ok()) continue;
    const std::string prompt = aetherflow::BuildPrompt(*inputs);
    const std::string body = aetherflow::BuildChatRequest("model", prompt);
    if (nlohmann::json::parse(body, nullptr, false).is_discarded()) {
      Fail("the chat request body is not JSON", body);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<Plan> plan = aetherflow::ParsePlan(text, kFile);
  if (!plan.ok()) {
    CheckError(plan.status());
    return 0;
  }
  CheckDag(*plan);
  for (const std::string& warning : plan->warnings) {
    if (warning.substr(0, kFile.size()) != kFile || warning.find('\n') != std::string::npos) {
      Fail("a warning is not one line starting with FILE", warning);
    }
  }
  if (plan->source != text) Fail("the stored source is not the submitted text");
  absl::StatusOr<Plan> again = aetherflow::ParsePlan(plan->source, kFile);
  if (!again.ok()) Fail("an accepted plan is refused the second time", again.status().ToString());
  if (again->steps.size() != plan->steps.size() || again->batch != plan->batch ||
      again->deps != plan->deps || again->warnings != plan->warnings) {
    Fail("the same text parsed twice gives two plans");
  }
  UseSteps(*plan);
  return 0;
}
