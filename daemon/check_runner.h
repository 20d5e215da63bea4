// Commands an applying LLM step runs in the project (SPEC §11): its
// `validate` commands and, with --commit, git. They run as command steps do
// (daemon/process_runner.h: the submitter's rights, environment and umask,
// their own process group, output appended to the step's log), on a
// ProcessRunner of their own driven by one thread, so that a test suite
// that takes minutes holds neither the engine thread nor the LLM worker.
//
// Thread-safety: Start, Stop and Take may be called from any thread; what
// ends is reported through Take after a call of `wakeup`.
#ifndef AETHERFLOW_DAEMON_CHECK_RUNNER_H_
#define AETHERFLOW_DAEMON_CHECK_RUNNER_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "daemon/process_runner.h"

namespace aetherflow {

class CheckRunner {
 public:
  struct Done {
    int64_t key = 0;
    bool started = false;  // false: could not start (see error)
    int exit_code = -1;    // valid when signal == 0
    int signal = 0;
    std::string error;     // why it could not start
  };

  // `wakeup` is called (from the runner's thread) when there is something
  // to Take.
  explicit CheckRunner(std::function<void()> wakeup,
                       std::unique_ptr<ProcessRunner> runner = NewPosixProcessRunner());
  // Kills what still runs.
  ~CheckRunner();
  CheckRunner(const CheckRunner&) = delete;
  CheckRunner& operator=(const CheckRunner&) = delete;

  // Starts spec (spec.key is the caller's key; one command per key at a
  // time). Exactly one Done follows.
  void Start(LaunchSpec spec);
  // SIGTERM to its process group, SIGKILL after `grace_ms`. No-op when it
  // is not running.
  void Stop(int64_t key, int64_t grace_ms = 2000);
  std::vector<Done> Take();

 private:
  void Loop();

  std::function<void()> wakeup_;
  std::unique_ptr<ProcessRunner> runner_;
  std::mutex mu_;
  std::deque<LaunchSpec> starts_;   // guarded by mu_
  std::vector<std::pair<int64_t, int64_t>> stops_;  // (key, grace ms); mu_
  std::vector<Done> done_;          // guarded by mu_
  bool quit_ = false;               // guarded by mu_
  std::thread thread_;              // last: started once the rest exists
};

}  // namespace aetherflow

#endif  // AETHERFLOW_DAEMON_CHECK_RUNNER_H_
