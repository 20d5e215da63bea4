#include "daemon/check_runner.h"

#include <set>
#include <utility>
#include <variant>

namespace aetherflow {

CheckRunner::CheckRunner(std::function<void()> wakeup, std::unique_ptr<ProcessRunner> runner)
    : wakeup_(std::move(wakeup)), runner_(std::move(runner)), thread_([this] { Loop(); }) {}

CheckRunner::~CheckRunner() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    quit_ = true;
  }
  runner_->Wakeup();
  thread_.join();
  runner_->KillAll();
}

void CheckRunner::Start(LaunchSpec spec) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    starts_.push_back(std::move(spec));
  }
  runner_->Wakeup();
}

void CheckRunner::Stop(int64_t key, int64_t grace_ms) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stops_.emplace_back(key, grace_ms);
  }
  runner_->Wakeup();
}

std::vector<CheckRunner::Done> CheckRunner::Take() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Done> out;
  out.swap(done_);
  return out;
}

void CheckRunner::Loop() {
  std::set<int64_t> running;
  std::vector<RunnerEvent> events;
  for (;;) {
    std::deque<LaunchSpec> starts;
    std::vector<std::pair<int64_t, int64_t>> stops;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (quit_) return;
      starts.swap(starts_);
      stops.swap(stops_);
    }
    std::vector<Done> done;
    for (LaunchSpec& spec : starts) {
      absl::StatusOr<ProcessIdentity> started = runner_->Start(spec);
      if (started.ok()) {
        running.insert(spec.key);
      } else {
        Done d;
        d.key = spec.key;
        d.error = std::string(started.status().message());
        done.push_back(std::move(d));
      }
    }
    for (auto [key, grace_ms] : stops) {
      if (running.count(key)) runner_->Terminate(key, grace_ms);
    }
    events.clear();
    if (done.empty()) runner_->Wait(-1, &events);
    for (const RunnerEvent& event : events) {
      if (const auto* exited = std::get_if<ProcessExited>(&event)) {
        running.erase(exited->key);
        Done d;
        d.key = exited->key;
        d.started = true;
        d.exit_code = exited->exit_code;
        d.signal = exited->signal;
        done.push_back(d);
      }
    }
    if (!done.empty()) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        for (Done& d : done) done_.push_back(std::move(d));
      }
      wakeup_();
    }
  }
}

}  // namespace aetherflow
