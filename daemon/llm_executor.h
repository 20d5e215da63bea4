// LLM steps: prompt files read and answers written on a worker thread (with
// the submitter's rights), requests over libcurl (LlmRunner), and HTTP
// retries on 429/5xx with back-off and Retry-After. A step that applies its
// edits to the project (SPEC §11) goes round: answer -> apply (atomic, with
// syntax checks; daemon/edit_step.h) -> its `validate` commands
// (CheckRunner) -> with --commit, git; a failed round is rolled back and,
// while `repair` rounds are left, sent back to the model in the same
// conversation. Provider slots and same-file locks are the scheduler's
// (daemon/admission.h): a step reaches this executor only once it holds
// them, so its timeout runs only while its request is being prepared, sent
// or retried, and while its rounds are applied and checked.
#ifndef AETHERFLOW_DAEMON_LLM_EXECUTOR_H_
#define AETHERFLOW_DAEMON_LLM_EXECUTOR_H_

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "daemon/check_runner.h"
#include "daemon/edit_step.h"
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
  // An applying step's rounds. Touched by the worker only while the call
  // is busy, by the engine thread otherwise.
  struct Edit {
    std::unique_ptr<ProjectWriter> writer;
    std::vector<ProjectFile> files;         // as read, before any round
    std::vector<ChatMessage> conversation;  // user / assistant turns
    int round = 0;                          // answers so far
    std::optional<int64_t> tokens;          // this round's answer
    std::optional<double> cost;
    RoundResult result;                     // this round's
    std::size_t next_check = 0;             // validate command to run next
    int64_t check_offset = 0;               // where its output starts in the log
    std::string check_name;                 // "`pytest -q`"
    enum class Stage { kNone, kCheck, kGitAdd, kGitCommit } stage = Stage::kNone;
  };
  struct Call {
    StepLaunch launch;
    LlmRequest request;
    int http_attempt = 0;     // sends so far
    bool in_runner = false;   // a request is out
    bool busy = false;        // a job of it is on the worker
    bool stop = false;        // Stop() was called
    std::shared_ptr<Edit> edit;  // null: the step does not apply
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
  // An applied round undone on the worker (a check failed, or a stop).
  struct Undone {
    int64_t key;
    absl::Status status;   // of the rollback
    std::string feedback;  // the failed check's output, for the model
  };

  void Send(Call& call);
  void End(int64_t key, StepEnded ended, std::vector<ExecutorEvent>* out);
  // The edit rounds (engine thread).
  void AfterRound(Call& call, std::vector<ExecutorEvent>* out);
  void Repair(Call& call, const std::string& feedback, std::vector<ExecutorEvent>* out);
  void StartCheck(Call& call, std::vector<ExecutorEvent>* out);
  void StartGit(Call& call, std::vector<std::string> args, std::string title);
  void CheckDone(const CheckRunner::Done& done, std::vector<ExecutorEvent>* out);
  void Finish(Call& call, std::vector<ExecutorEvent>* out);
  // Rolls the round back on the worker; with `log_path`, the output of the
  // check that failed (from edit->check_offset) goes into the feedback.
  void Undo(Call& call, std::string log_path);
  void ReportRound(Call& call, std::string outcome, std::string reason,
                   std::vector<ExecutorEvent>* out);
  void SetPhase(Call& call, std::string phase, std::string message,
                std::vector<ExecutorEvent>* out);

  std::function<void()> wakeup_;
  Getenv getenv_;
  Clock now_ms_;
  std::unordered_map<int64_t, Call> calls_;  // engine thread
  std::multimap<int64_t, int64_t> retries_;  // due ms -> key
  std::mutex mu_;
  std::vector<Prepared> prepared_;  // guarded by mu_
  std::vector<Handled> handled_;    // guarded by mu_
  std::vector<Undone> undone_;      // guarded by mu_
  // --commit: one git commit at a time (git's index lock); the key
  // committing, and those waiting in order.
  int64_t committing_ = 0;
  std::deque<int64_t> commit_queue_;
  // Declared last: destroyed first, so that no job or response outlives
  // what it reports to.
  std::unique_ptr<Worker> worker_;
  std::unique_ptr<LlmRunner> http_;
  std::unique_ptr<CheckRunner> checks_;
};

}  // namespace aetherflow

#endif  // AETHERFLOW_DAEMON_LLM_EXECUTOR_H_
