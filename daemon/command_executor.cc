#include "daemon/command_executor.h"

#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/control_line.h"

namespace aetherflow {

CommandExecutor::CommandExecutor(std::unique_ptr<ProcessRunner> runner,
                                 int64_t kill_grace_ms)
    : runner_(std::move(runner)), kill_grace_ms_(kill_grace_ms) {}

absl::Status CommandExecutor::Start(const StepLaunch& launch) {
  const Step& spec = *launch.step;
  LaunchSpec process;
  process.key = launch.key;
  if (spec.shell) {
    process.argv = {"/bin/sh", "-c", *spec.shell};
  } else {
    process.argv = *spec.argv;
  }
  process.shared_env = launch.shared_env;
  process.env = launch.env;
  process.cwd = launch.cwd;
  process.log_path = launch.log_path;
  process.credentials = launch.credentials;
  process.umask = launch.umask;
  absl::StatusOr<ProcessIdentity> started = runner_->Start(process);
  if (!started.ok()) {
    return absl::Status(started.status().code(),
                        absl::StrCat("could not start: ", started.status().message()));
  }
  ++live_;
  started_.push_back(StepProcess{launch.key, started->pid, started->start_ticks});
  return absl::OkStatus();
}

void CommandExecutor::Stop(int64_t key) {
  if (!stopping_.emplace(key, true).second) return;
  --live_;
  runner_->Terminate(key, kill_grace_ms_);
}

void CommandExecutor::Wait(int timeout_ms) { runner_->Wait(timeout_ms, &events_); }

void CommandExecutor::Collect(std::vector<ExecutorEvent>* out) {
  for (ExecutorEvent& event : started_) out->push_back(std::move(event));
  started_.clear();
  for (RunnerEvent& event : events_) {
    if (const auto* exited = std::get_if<ProcessExited>(&event)) {
      StepEnded ended;
      ended.key = exited->key;
      auto it = stopping_.find(exited->key);
      if (it != stopping_.end()) {
        ended.stopped = true;
        stopping_.erase(it);
      } else {
        --live_;
      }
      if (exited->signal == 0) {
        ended.exit_code = exited->exit_code;
        ended.succeeded = exited->exit_code == 0;
        if (!ended.succeeded) ended.message = absl::StrCat("exit code ", exited->exit_code);
      } else {
        ended.signal = exited->signal;
        // "killed by SIGKILL", as a shell user knows it.
        const char* name = sigabbrev_np(exited->signal);
        ended.message = name ? absl::StrCat("killed by SIG", name)
                             : absl::StrCat("killed by signal ", exited->signal);
      }
      out->push_back(std::move(ended));
    } else if (const auto* line = std::get_if<ControlLine>(&event)) {
      absl::StatusOr<Figures> figures = ParseControlLine(line->line);
      if (!figures.ok()) continue;  // the line stays in the log for the reader
      StepFigures update;
      update.key = line->key;
      update.tokens = figures->tokens;
      update.cost = figures->cost;
      update.progress = figures->progress;
      out->push_back(std::move(update));
    } else if (const auto* activity = std::get_if<OutputActivity>(&event)) {
      out->push_back(StepOutput{activity->key});
    }
  }
  events_.clear();
}

void CommandExecutor::StopAll() {
  runner_->KillAll();
  events_.clear();
  stopping_.clear();
  started_.clear();
  live_ = 0;
}

}  // namespace aetherflow
