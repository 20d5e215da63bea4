// The checks a plan must pass on this daemon beyond the plan file's own
// (common/plan_parser.h, which the client's --dry-run shares): a provider
// and its key for every LLM step, and resources this daemon can ever give.
#ifndef AETHERFLOW_DAEMON_SUBMIT_CHECK_H_
#define AETHERFLOW_DAEMON_SUBMIT_CHECK_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "common/config.h"
#include "common/plan.h"
#include "daemon/capacity.h"

namespace aetherflow {

using Getenv = std::function<std::optional<std::string>(const std::string&)>;

// Routes each LLM step (fills Step::provider) and checks every problem at
// once: InvalidArgument with one `PATH: steps[i] (id): …` line each, and
// one `PATH: steps a, b (provider): … has no API key …` line per provider
// without a key, naming `config_path` (the file the daemon reads). Reads
// key files: call it off the engine thread.
absl::Status CheckSubmission(Plan* plan, const std::string& plan_path,
                             const Config& config, const Getenv& getenv,
                             const Capacity& capacity,
                             const std::string& config_path = "");

// What an LLM step writes: its context.files inside the output folder.
std::vector<std::string> OutputFiles(const Step& step, const std::string& output_dir);

}  // namespace aetherflow

#endif  // AETHERFLOW_DAEMON_SUBMIT_CHECK_H_
