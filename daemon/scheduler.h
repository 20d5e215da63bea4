// The scheduler core: given a run's DAG and what has happened so far, which
// steps start now. Pure: it never forks, sleeps, reads clocks, logs or
// touches SQLite; time is passed in. Modelled on ninja's Plan
// (FindWork / EdgeFinished).
//
// Not thread-safe: the daemon drives it from its one engine thread.
#ifndef AETHERFLOW_DAEMON_SCHEDULER_H_
#define AETHERFLOW_DAEMON_SCHEDULER_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/states.h"

namespace aetherflow {

// What the scheduler needs to know about one step.
struct StepSpec {
  std::vector<int> deps;              // indices of the steps it waits for
  int retries = 0;                    // extra attempts after a failure
  std::optional<int64_t> timeout_ms;  // per attempt
};

struct RunOptions {
  int max_parallel = 0;  // cap on this run's running steps; 0 = no cap
  bool fail_fast = false;
  // Back-off before retry k (k = 1, 2, ...): retry_base_ms * 2^(k-1),
  // capped at retry_max_ms.
  int64_t retry_base_ms = 1000;
  int64_t retry_max_ms = 60'000;
};

// How one attempt of a step ended, as its executor saw it. The scheduler
// knows which steps it asked to stop and why, so a step it stopped for its
// timeout that then fails is a timeout, and one it stopped for a cancel is
// cancelled: nobody re-labels its outcomes afterwards.
enum class AttemptResult {
  kSucceeded,
  kFailed,     // non-zero exit, killed by a signal, or could not start
  kTimedOut,   // ran past its timeout (retried like a failure)
  kCancelled,  // killed because the run was cancelled (never retried)
};

// Why a transition happened, for the message the daemon shows.
enum class Cause {
  kNone,
  kTimedOut,          // the attempt ran past its timeout
  kDependency,        // skipped: a dependency did not complete
  kCancelled,         // the run was cancelled
  kBudgetExhausted,   // skipped: the run's budget would be exceeded
};

// A change of a step's state that the daemon must persist and publish.
struct Transition {
  int step = 0;
  StepState state = StepState::kPending;
  int attempt = 0;              // attempts started so far
  int64_t retry_at_ms = 0;      // for a retry: when the next attempt may start
  Cause cause = Cause::kNone;
  bool operator==(const Transition&) const = default;
};

// The result of telling the scheduler something.
struct Update {
  std::vector<Transition> transitions;
  std::vector<int> to_kill;  // running steps the daemon must now terminate
};

class RunScheduler {
 public:
  RunScheduler(std::vector<StepSpec> steps, RunOptions options);

  // Resume support: marks `step` as already completed (from a previous
  // daemon life). Call before the first FindWork.
  void RestoreCompleted(int step);
  // Restart support for a run that goes on where it stood (a paused run):
  // `step` already ended as `state` (completed, failed, skipped or
  // cancelled), as recorded. Call before the first FindWork.
  void RestoreFinished(int step, StepState state);

  // Returns the next step that may start at `now_ms` — every dependency
  // completed, not waiting out a retry back-off, under max_parallel, the
  // run not paused — and marks it running (its attempt count goes up by
  // one). Returns nullopt when nothing can start now. Ready steps start in
  // plan order.
  std::optional<int> FindWork(int64_t now_ms);

  // True when FindWork(now_ms) would return a step.
  bool HasWork(int64_t now_ms) const;

  // The steps that may start at `now_ms`, in plan order (empty when
  // HasWork is false). Admission picks among them and calls Start; the
  // set is valid until the next call that changes the scheduler.
  const std::set<int>& Ready(int64_t now_ms) const;
  // Starts `step`, which must be in Ready(now_ms): as FindWork for it.
  // Its timeout counts from `now_ms`.
  void Start(int step, int64_t now_ms);

  // Pause (SPEC §9): while paused nothing starts; running steps go on.
  void SetPaused(bool paused) { paused_ = paused; }
  bool paused() const { return paused_; }

  // The budget would be exceeded: no step starts any more; the steps not
  // started are skipped (Cause::kBudgetExhausted), running ones finish,
  // and the run fails. Idempotent.
  Update StopForBudget();
  bool budget_exhausted() const { return budget_exhausted_; }

  // A running step's attempt ended. A failure with retries left puts the
  // step back to pending with a back-off (a Transition with retry_at_ms);
  // a final failure marks it failed and every step depending on it,
  // directly or not, skipped — or, with fail_fast, cancels the run.
  Update StepFinished(int step, AttemptResult result, int64_t now_ms);

  // Cancels the run: steps not started become cancelled; running steps are
  // returned in to_kill and become cancelled when they finish (report them
  // with AttemptResult::kCancelled). Idempotent.
  Update Cancel();

  // Running steps whose attempt has outlived its timeout at `now_ms`, each
  // returned once. The daemon stops them; whatever they end with but
  // success then counts as a timeout.
  std::vector<int> Expired(int64_t now_ms);
  // True when `step` is running and was returned by Expired.
  bool expired(int step) const {
    return states_[step] == StepState::kRunning && expired_reported_[step];
  }

  // The earliest time something becomes due without outside events: a retry
  // back-off ending or a running step's timeout. nullopt if none.
  std::optional<int64_t> NextWakeup() const;

  // No step is running and none can ever start again.
  bool done() const;
  // The run's result; meaningful once done().
  RunState result() const;

  StepState state(int step) const { return states_[step]; }
  int attempt(int step) const { return attempts_[step]; }
  int running() const { return running_; }
  int size() const { return static_cast<int>(specs_.size()); }
  bool cancelled() const { return cancelled_; }

 private:
  void MarkReadyIfUnblocked(int step);
  void SkipDependents(int step, std::vector<Transition>* out);
  void PromoteDueRetries(int64_t now_ms) const;
  int64_t Backoff(int retry) const;

  std::vector<StepSpec> specs_;
  RunOptions options_;
  std::vector<std::vector<int>> dependents_;
  std::vector<StepState> states_;
  std::vector<int> attempts_;
  std::vector<int> waiting_on_;           // unfinished dependencies
  std::vector<int64_t> deadline_ms_;      // timeout of the running attempt
  std::vector<bool> expired_reported_;
  // Ready steps in plan order; mutable so that HasWork (const) can promote
  // due retries.
  mutable std::set<int> ready_;
  mutable std::set<std::pair<int64_t, int>> backoff_;  // (retry_at, step)
  std::set<std::pair<int64_t, int>> deadlines_;        // (deadline, step)
  int running_ = 0;
  int unfinished_ = 0;  // steps not in a final state
  bool cancelled_ = false;
  bool failed_ = false;
  bool paused_ = false;
  bool budget_exhausted_ = false;
};

// Shares the daemon's slots fairly between runs: round-robin over the runs
// that have ready work, so that a 10,000-step run does not starve a one-step
// run submitted after it.
class FairShare {
 public:
  void Add(const std::string& run);
  void Remove(const std::string& run);
  // The next run, in rotation after the one served last, for which
  // `has_work(run)` is true; nullopt when none has work.
  template <typename HasWork>
  std::optional<std::string> Next(HasWork&& has_work);
  std::size_t size() const { return order_.size(); }
  // The runs, the one to serve next first.
  const std::deque<std::string>& order() const { return order_; }
  // `run` was served: it goes to the back of the rotation.
  void Served(const std::string& run);

 private:
  std::deque<std::string> order_;  // front is served next
};

template <typename HasWork>
std::optional<std::string> FairShare::Next(HasWork&& has_work) {
  for (std::size_t i = 0; i < order_.size(); ++i) {
    std::string run = std::move(order_.front());
    order_.pop_front();
    order_.push_back(run);
    if (has_work(run)) return run;
  }
  return std::nullopt;
}

}  // namespace aetherflow

#endif  // AETHERFLOW_DAEMON_SCHEDULER_H_
