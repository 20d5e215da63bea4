// The plan model: what a plan file says, after parsing and validation.
// Pure data; no I/O. Shared by the client (local validation, dry runs) and
// the daemon (which validates again: it never trusts a client).
#ifndef AETHERFLOW_COMMON_PLAN_H_
#define AETHERFLOW_COMMON_PLAN_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace aetherflow {

// Limits on what a plan may hold. Exceeding one is a validation error.
inline constexpr std::size_t kMaxPlanBytes = 16 * 1024 * 1024;
inline constexpr std::size_t kMaxSteps = 100'000;
inline constexpr int kMaxJsonDepth = 64;
inline constexpr std::size_t kMaxStepIdLength = 128;
inline constexpr int kMaxRetries = 100;
// The longest step timeout: the scheduler adds it to the current time.
inline constexpr int64_t kMaxTimeoutMs = int64_t{365} * 24 * 60 * 60 * 1000;
// The largest token count taken from outside: a step's estimated_tokens, a
// `::aetherflow tokens=` line, a provider's usage. Far above any real step,
// and low enough that sums over every step and attempt of a run fit in an
// int64_t (10^5 steps x 10^12 = 10^17).
inline constexpr int64_t kMaxTokens = 1'000'000'000'000;
// Bounds on `resources` and on the daemon's capacity, far above any
// machine (memory: kMaxByteSize in common/byte_size.h).
inline constexpr int kMaxCpus = 1'000'000;
inline constexpr int kMaxGpus = 1024;

// `steps[].resources` (SPEC §9): what a step needs while it runs; a step
// counts only against what it names.
struct StepResources {
  std::optional<double> cpu;        // CPUs, > 0 (fractions allowed)
  std::optional<int64_t> mem_bytes; // "8G", "512M" or bytes, > 0
  std::optional<int> gpu;           // whole GPUs, >= 1
  bool empty() const { return !cpu && !mem_bytes && !gpu; }
};

struct WatchSpec;  // common/log_analysis.h

// `steps[].context`: free-form (the original tool's users keep their own
// keys there: those stay in raw_json, never warned about); the keys the
// daemon reads get types here, and a wrong type for one of them is a parse
// problem.
struct StepContext {
  // `language`: a string; any other non-null value is kept as its JSON
  // text (the original tool put it in the prompt as written).
  std::string language;
  // `files`: what an LLM step writes; `input_files`: what it reads. Each
  // written as one path or an array of paths, each non-empty and without
  // NUL; kept in the order written, repeats included.
  std::vector<std::string> files;
  std::vector<std::string> input_files;
  // `provider` when a string (another type is the user's own data, kept
  // and ignored); may be empty (see Step::provider).
  std::string provider;
  // `auto_apply`: false keeps the step out of `--apply` (SPEC §11); any
  // other value, or none, leaves it in.
  bool auto_apply = true;
};

// `steps[].validate` (SPEC §11): one command, as `run` takes it (a string
// for /bin/sh -c, or an argv).
struct ValidateCommand {
  std::optional<std::string> shell;
  std::optional<std::vector<std::string>> argv;
};

// Repair rounds an applying step gets by default, and at most.
inline constexpr int kDefaultRepairs = 2;
inline constexpr int kMaxRepairs = 10;

struct Step {
  std::string id;
  std::string description;
  std::string type;       // free-form ("analysis", "compute"...); may be empty
  std::string provider;   // "shell" for command steps; LLM provider otherwise
                          // (explicit `provider`, else `context.provider`, else
                          // empty: routed by type when LLM steps land)
  // Command steps: exactly one of these is set.
  std::optional<std::string> shell;             // `run` as a string: /bin/sh -c
  std::optional<std::vector<std::string>> argv; // `run` as an array
  std::optional<int64_t> timeout_ms;            // `timeout`
  int retries = 0;                              // `retries`
  std::map<std::string, std::string> env;       // `env`
  std::string cwd;                              // `cwd`, may be relative
  std::vector<std::string> dependencies;
  std::optional<int64_t> estimated_tokens;
  std::optional<double> complexity;
  std::vector<std::string> validation_criteria;
  std::string prompt;
  StepResources resources;                      // `resources`
  StepContext context;                          // `context`
  // LLM steps under `--apply`: checks run in the project after the edits
  // are applied (`validate`: a string, an argv, or a list of them), and
  // how many times a failed check goes back to the model (`repair`).
  std::vector<ValidateCommand> validate;
  int repair = kDefaultRepairs;
  // `watch`, validated and compiled once by ParsePlan (WatchSpecFromJson);
  // null when the step has no `watch`. Shared: copies of a Plan are cheap.
  std::shared_ptr<const WatchSpec> watch;
  // The step's JSON object exactly as written, every field kept (the
  // original tool's users put many keys of their own there).
  std::string raw_json;

  bool is_command() const { return shell.has_value() || argv.has_value(); }
};

struct Plan {
  std::string task_id;
  std::string description;
  std::vector<Step> steps;
  std::optional<int> max_parallel;
  bool fail_fast = false;
  // `apply`: LLM steps' edits go to the project (as `--apply`, SPEC §11).
  bool apply = false;
  // `budget`: no new LLM step starts once the run would exceed it.
  std::optional<double> budget_cost;     // USD
  std::optional<int64_t> budget_tokens;
  // `checkin.schedule` (ms offsets, SPEC §6); empty: the default.
  std::vector<int64_t> checkin_schedule;
  // Indices into `steps` of each step's dependencies, in the order written.
  std::vector<std::vector<int>> deps;
  // Topological level of each step, from 1 (no dependencies) to `batches`.
  std::vector<int> batch;
  int batches = 0;
  // Non-fatal findings (unknown fields), one line each.
  std::vector<std::string> warnings;
  // The whole plan text as submitted.
  std::string source;
};

}  // namespace aetherflow

#endif  // AETHERFLOW_COMMON_PLAN_H_
