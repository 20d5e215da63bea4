// The seam between the engine and what runs a step (STYLE 15): command
// steps (processes), LLM steps (HTTP), later Slurm jobs. The engine hands an
// executor a StepLaunch, may ask it to stop the step, and collects what the
// step did as one variant; it never sees an executor's queues, slots,
// retries or files. Modelled on ninja's CommandRunner.
//
// Thread-safety: every method is called from the engine thread only,
// except Waiter::Wakeup.
#ifndef AETHERFLOW_DAEMON_STEP_EXECUTOR_H_
#define AETHERFLOW_DAEMON_STEP_EXECUTOR_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "common/config.h"
#include "common/plan.h"
#include "daemon/identity.h"

namespace aetherflow {

// One attempt of one step, everything an executor needs to run it.
struct StepLaunch {
  int64_t key = 0;           // the engine's handle for this attempt
  std::string run_id;
  const Step* step = nullptr;  // the plan's step; lives while it runs
  int attempt = 1;
  std::string cwd;           // absolute
  std::string log_path;      // the step's log (command steps, and the
                             // checks of LLM steps that apply)
  std::string output_dir;    // the run's output folder
  // The submitter's environment (shared by a run's steps) and this step's
  // own variables on top ("NAME=value").
  std::shared_ptr<const std::vector<std::string>> shared_env;
  std::vector<std::string> env;
  std::optional<Credentials> credentials;  // run as them (a root daemon)
  std::optional<mode_t> umask;             // the submitter's
  // LLM steps: the provider, with its config as of the start.
  std::string provider;
  ProviderConfig provider_config;
  // LLM steps that change the project (SPEC §11): the project (the
  // directory the run was submitted from), where the step keeps its
  // pre-images, and whether each applied step is committed to git.
  bool apply = false;
  bool commit = false;
  std::string project_dir;
  std::string record_dir;
};

// One answer of an applying step and what became of it (pb::EditRound).
struct EditRoundReport {
  int round = 0;
  std::string outcome;
  std::string reason;
  std::vector<std::string> files;
  std::optional<int64_t> tokens;
  std::optional<double> cost;
};

// The step's process exists: its identity is persisted so that a restarted
// daemon can find (and kill) what a crashed one left.
struct StepProcess {
  int64_t key = 0;
  pid_t pid = 0;
  uint64_t start_ticks = 0;  // 0: not known yet (read at commit time)
};

// Figures a running step reported.
struct StepFigures {
  int64_t key = 0;
  // Totals for this attempt (a command's `::aetherflow tokens=`), or, with
  // `add`, amounts to add to the step's figures (an LLM answer's usage).
  std::optional<int64_t> tokens;
  std::optional<double> cost;
  bool add = false;
  std::optional<std::string> progress;
  std::optional<bool> throttled;  // an LLM step waits out a 429 (or not)
  // An LLM step tries again after a transport error or a 5xx: why, in a
  // few words ("connection refused"), shown as "↻ Retrying (why)" until
  // the attempt ends; "" when it no longer retries.
  std::optional<std::string> retrying;
  std::string message;            // shown with the figures ("asking again")
  // An applying LLM step: its phase ("validating", "repairing 1/2"; ""
  // when none), a round that ended, and the files it left changed.
  std::optional<std::string> phase;
  std::optional<EditRoundReport> round;
  std::optional<std::vector<std::string>> changed_files;
};

// The step wrote output (log followers may wake up).
struct StepOutput {
  int64_t key = 0;
};

// The attempt ended. The scheduler decides what that means (a stopped
// step that fails is a timeout or a cancel: it knows which it asked for).
struct StepEnded {
  int64_t key = 0;
  bool succeeded = false;
  bool stopped = false;            // ended because Stop() asked it to
  std::optional<int> exit_code;    // a process that exited
  int signal = 0;                  // a process killed by a signal
  std::string message;             // why it failed ("exit code 3"), no secrets
};

using ExecutorEvent = std::variant<StepProcess, StepFigures, StepOutput, StepEnded>;

class StepExecutor {
 public:
  virtual ~StepExecutor() = default;

  // Starts the attempt. An error means it could not start at all (no such
  // program, bad cwd, no key): the step fails with that message and no
  // event follows. Otherwise exactly one StepEnded follows, some time.
  virtual absl::Status Start(const StepLaunch& launch) = 0;

  // Asks the attempt to stop (cancel, timeout): it ends soon with a
  // StepEnded (stopped = true unless it ended by itself first). No-op for
  // an unknown key.
  virtual void Stop(int64_t key) = 0;

  // Appends what happened since the last call; never blocks.
  virtual void Collect(std::vector<ExecutorEvent>* out) = 0;

  // When Collect must be called again even without a wake-up (an HTTP
  // retry's back-off, a kill grace period), in ms since the epoch.
  virtual std::optional<int64_t> NextWakeup() const = 0;

  // Attempts started and not yet reported ended.
  virtual std::size_t running() const = 0;

  // Shutdown: ends everything at once, reporting nothing more.
  virtual void StopAll() = 0;
};

// What the engine's thread blocks on: the command executor's poll over
// pipes and pidfds, which other executors wake through Wakeup.
class Waiter {
 public:
  virtual ~Waiter() = default;
  // Returns after `timeout_ms` (-1: no limit), when something happened, or
  // on Wakeup().
  virtual void Wait(int timeout_ms) = 0;
  // Thread-safe.
  virtual void Wakeup() = 0;
};

}  // namespace aetherflow

#endif  // AETHERFLOW_DAEMON_STEP_EXECUTOR_H_
