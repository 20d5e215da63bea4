// LLM steps: prompt files read and answers written on a worker thread (with
// the submitter's rights), requests over libcurl (LlmRunner), and HTTP
// retries on 429/5xx with back-off and Retry-After. Provider slots and
// same-file locks are the scheduler's (daemon/admission.h): a step reaches
// this executor only once it holds them, so its timeout runs only while its
// request is being prepared, sent or retried.
#ifndef AETHERFLOW_DAEMON_LLM_EXECUTOR_H_
#define AETHERFLOW_DAEMON_LLM_EXECUTOR_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "daemon/llm_runner.h"
#include "daemon/llm_steps.h"
#include "daemon/step_executor.h"
#include "daemon/worker.h"

namespace aetherflow {

class LlmExecutor final : public StepExecutor {
 public:
  using Getenv = std::function<std::optional<std::string>(const std::string&)>;
  using Clock = std::function<int64_t()>;
  // `wakeup` is called from other threads when there is something to
  // Collect (the engine's Waiter::Wakeup).
  LlmExecutor(std::function<void()> wakeup, Getenv getenv, Clock now_ms);
  ~LlmExecutor() override;

  absl::Status Start(const StepLaunch& launch) override;
  void Stop(int64_t key) override;
  void Collect(std::vector<ExecutorEvent>* out) override;
  std::optional<int64_t> NextWakeup() const override;
  std::size_t running() const override { return calls_.size(); }
  void StopAll() override;

 private:
  struct Call {
    StepLaunch launch;
    LlmRequest request;
    int http_attempt = 0;     // sends so far
    bool in_runner = false;   // a request is out
    bool busy = false;        // a job of it is on the worker
    bool stop = false;        // Stop() was called
  };
  // What the worker hands back.
  struct Prepared {
    int64_t key;
    absl::StatusOr<LlmRequest> request;
  };
  struct Handled {
    int64_t key;
    LlmOutcome outcome;
  };

  void Send(Call& call);
  void End(int64_t key, StepEnded ended, std::vector<ExecutorEvent>* out);

  std::function<void()> wakeup_;
  Getenv getenv_;
  Clock now_ms_;
  std::unordered_map<int64_t, Call> calls_;  // engine thread
  std::multimap<int64_t, int64_t> retries_;  // due ms -> key
  std::mutex mu_;
  std::vector<Prepared> prepared_;  // guarded by mu_
  std::vector<Handled> handled_;    // guarded by mu_
  // Declared last: destroyed first, so that no job or response outlives
  // what it reports to.
  std::unique_ptr<Worker> worker_;
  std::unique_ptr<LlmRunner> http_;
};

}  // namespace aetherflow

#endif  // AETHERFLOW_DAEMON_LLM_EXECUTOR_H_
