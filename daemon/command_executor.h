// Command steps: processes through a ProcessRunner (posix_spawn, own
// process group, pidfds). Also the engine's Waiter: its poll over pipes and
// pidfds is where the engine thread sleeps.
#ifndef AETHERFLOW_DAEMON_COMMAND_EXECUTOR_H_
#define AETHERFLOW_DAEMON_COMMAND_EXECUTOR_H_

#include <memory>
#include <unordered_map>
#include <vector>

#include "daemon/process_runner.h"
#include "daemon/step_executor.h"

namespace aetherflow {

class CommandExecutor final : public StepExecutor, public Waiter {
 public:
  CommandExecutor(std::unique_ptr<ProcessRunner> runner, int64_t kill_grace_ms);

  absl::Status Start(const StepLaunch& launch) override;
  void Stop(int64_t key) override;
  void Collect(std::vector<ExecutorEvent>* out) override;
  std::optional<int64_t> NextWakeup() const override { return std::nullopt; }
  std::size_t running() const override { return stopping_.size() + live_; }
  void StopAll() override;

  void Wait(int timeout_ms) override;
  void Wakeup() override { runner_->Wakeup(); }

 private:
  std::unique_ptr<ProcessRunner> runner_;
  int64_t kill_grace_ms_;
  std::vector<RunnerEvent> events_;         // from the last Wait
  std::unordered_map<int64_t, bool> stopping_;  // keys asked to stop
  std::size_t live_ = 0;                    // started, not stopping, not ended
  std::vector<ExecutorEvent> started_;      // StepProcess events to report
};

}  // namespace aetherflow

#endif  // AETHERFLOW_DAEMON_COMMAND_EXECUTOR_H_
