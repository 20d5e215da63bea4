#include "daemon/scheduler.h"

#include <algorithm>

namespace aetherflow {

RunScheduler::RunScheduler(std::vector<StepSpec> steps, RunOptions options)
    : specs_(std::move(steps)),
      options_(options),
      dependents_(specs_.size()),
      states_(specs_.size(), StepState::kPending),
      attempts_(specs_.size(), 0),
      waiting_on_(specs_.size(), 0),
      deadline_ms_(specs_.size(), 0),
      expired_reported_(specs_.size(), false),
      unfinished_(static_cast<int>(specs_.size())) {
  for (int i = 0; i < size(); ++i) {
    for (int dep : specs_[i].deps) dependents_[dep].push_back(i);
    waiting_on_[i] = static_cast<int>(specs_[i].deps.size());
  }
  for (int i = 0; i < size(); ++i) {
    if (waiting_on_[i] == 0) ready_.insert(i);
  }
}

void RunScheduler::RestoreCompleted(int step) {
  if (states_[step] == StepState::kCompleted) return;
  states_[step] = StepState::kCompleted;
  --unfinished_;
  ready_.erase(step);
  for (int dependent : dependents_[step]) {
    --waiting_on_[dependent];
    MarkReadyIfUnblocked(dependent);
  }
}

void RunScheduler::RestoreFinished(int step, StepState state) {
  if (state == StepState::kCompleted) return RestoreCompleted(step);
  if (!IsFinal(state) || IsFinal(states_[step])) return;
  states_[step] = state;
  --unfinished_;
  ready_.erase(step);
  if (state == StepState::kFailed) failed_ = true;
}

void RunScheduler::MarkReadyIfUnblocked(int step) {
  if (waiting_on_[step] == 0 && states_[step] == StepState::kPending) {
    ready_.insert(step);
  }
}

void RunScheduler::PromoteDueRetries(int64_t now_ms) const {
  while (!backoff_.empty() && backoff_.begin()->first <= now_ms) {
    ready_.insert(backoff_.begin()->second);
    backoff_.erase(backoff_.begin());
  }
}

bool RunScheduler::HasWork(int64_t now_ms) const {
  if (cancelled_ || paused_ || budget_exhausted_) return false;
  if (options_.max_parallel > 0 && running_ >= options_.max_parallel) {
    return false;
  }
  PromoteDueRetries(now_ms);
  return !ready_.empty();
}

const std::set<int>& RunScheduler::Ready(int64_t now_ms) const {
  static const std::set<int> kNone;
  return HasWork(now_ms) ? ready_ : kNone;
}

std::optional<int> RunScheduler::FindWork(int64_t now_ms) {
  if (!HasWork(now_ms)) return std::nullopt;
  int step = *ready_.begin();
  Start(step, now_ms);
  return step;
}

void RunScheduler::Start(int step, int64_t now_ms) {
  ready_.erase(step);
  states_[step] = StepState::kRunning;
  ++attempts_[step];
  ++running_;
  expired_reported_[step] = false;
  if (specs_[step].timeout_ms) {
    deadline_ms_[step] = now_ms + *specs_[step].timeout_ms;
    deadlines_.insert({deadline_ms_[step], step});
  }
}

int64_t RunScheduler::Backoff(int retry) const {
  int64_t delay = options_.retry_base_ms;
  for (int i = 1; i < retry && delay < options_.retry_max_ms; ++i) delay *= 2;
  return std::min(delay, options_.retry_max_ms);
}

Update RunScheduler::StepFinished(int step, AttemptResult result,
                                  int64_t now_ms) {
  Update update;
  if (states_[step] != StepState::kRunning) return update;
  --running_;
  if (specs_[step].timeout_ms) deadlines_.erase({deadline_ms_[step], step});
  // What the scheduler itself stopped ends as it was stopped for.
  Cause cause = Cause::kNone;
  if (result != AttemptResult::kSucceeded) {
    if (expired_reported_[step] || result == AttemptResult::kTimedOut) {
      result = AttemptResult::kTimedOut;
      cause = Cause::kTimedOut;
    } else if (cancelled_) {
      result = AttemptResult::kCancelled;
      cause = Cause::kCancelled;
    }
  }
  expired_reported_[step] = false;

  if (result == AttemptResult::kSucceeded) {
    states_[step] = StepState::kCompleted;
    --unfinished_;
    update.transitions.push_back({step, StepState::kCompleted, attempts_[step]});
    for (int dependent : dependents_[step]) {
      --waiting_on_[dependent];
      if (!cancelled_) MarkReadyIfUnblocked(dependent);
    }
    return update;
  }

  bool retryable =
      result != AttemptResult::kCancelled && !cancelled_ && !budget_exhausted_;
  if (retryable && attempts_[step] <= specs_[step].retries) {
    states_[step] = StepState::kPending;
    int64_t retry_at = now_ms + Backoff(attempts_[step]);
    backoff_.insert({retry_at, step});
    update.transitions.push_back(
        {step, StepState::kPending, attempts_[step], retry_at, cause});
    return update;
  }

  states_[step] = result == AttemptResult::kCancelled ? StepState::kCancelled
                                                      : StepState::kFailed;
  --unfinished_;
  if (states_[step] == StepState::kFailed) failed_ = true;
  update.transitions.push_back({step, states_[step], attempts_[step], 0, cause});
  if (failed_ && options_.fail_fast && !cancelled_) {
    Update cancel = Cancel();
    update.transitions.insert(update.transitions.end(),
                              cancel.transitions.begin(),
                              cancel.transitions.end());
    update.to_kill = std::move(cancel.to_kill);
  } else {
    SkipDependents(step, &update.transitions);
  }
  return update;
}

void RunScheduler::SkipDependents(int step, std::vector<Transition>* out) {
  // Iterative, since a plan may be a 100,000-step chain.
  std::vector<int> stack(dependents_[step].begin(), dependents_[step].end());
  while (!stack.empty()) {
    int s = stack.back();
    stack.pop_back();
    if (states_[s] != StepState::kPending) continue;
    states_[s] = StepState::kSkipped;
    --unfinished_;
    ready_.erase(s);
    out->push_back({s, StepState::kSkipped, attempts_[s], 0, Cause::kDependency});
    stack.insert(stack.end(), dependents_[s].begin(), dependents_[s].end());
  }
}

Update RunScheduler::Cancel() {
  Update update;
  if (cancelled_) return update;
  cancelled_ = true;
  ready_.clear();
  backoff_.clear();
  for (int i = 0; i < size(); ++i) {
    if (states_[i] == StepState::kPending) {
      states_[i] = StepState::kCancelled;
      --unfinished_;
      update.transitions.push_back(
          {i, StepState::kCancelled, attempts_[i], 0, Cause::kCancelled});
    } else if (states_[i] == StepState::kRunning) {
      update.to_kill.push_back(i);
    }
  }
  return update;
}

Update RunScheduler::StopForBudget() {
  Update update;
  if (budget_exhausted_ || cancelled_) return update;
  budget_exhausted_ = true;
  ready_.clear();
  backoff_.clear();
  for (int i = 0; i < size(); ++i) {
    if (states_[i] != StepState::kPending) continue;
    states_[i] = StepState::kSkipped;
    --unfinished_;
    update.transitions.push_back(
        {i, StepState::kSkipped, attempts_[i], 0, Cause::kBudgetExhausted});
  }
  return update;
}

std::vector<int> RunScheduler::Expired(int64_t now_ms) {
  std::vector<int> expired;
  for (const auto& [deadline, step] : deadlines_) {
    if (deadline > now_ms) break;
    if (!expired_reported_[step]) {
      expired_reported_[step] = true;
      expired.push_back(step);
    }
  }
  return expired;
}

std::optional<int64_t> RunScheduler::NextWakeup() const {
  std::optional<int64_t> next;
  if (!backoff_.empty() && !cancelled_) next = backoff_.begin()->first;
  for (const auto& [deadline, step] : deadlines_) {
    if (expired_reported_[step]) continue;
    if (!next || deadline < *next) next = deadline;
    break;
  }
  return next;
}

bool RunScheduler::done() const {
  if (running_ > 0) return false;
  if (unfinished_ == 0) return true;
  // A paused run with steps left waits for the user.
  if (paused_ && !cancelled_ && !budget_exhausted_) return false;
  // Steps may be left pending with nothing able to start them: their
  // dependencies ended without completing (only under cancel, since a
  // failure skips its dependents).
  return cancelled_ || (ready_.empty() && backoff_.empty());
}

RunState RunScheduler::result() const {
  if (failed_ || budget_exhausted_) return RunState::kFailed;
  if (cancelled_) return RunState::kCancelled;
  return unfinished_ == 0 ? RunState::kSucceeded : RunState::kFailed;
}

void FairShare::Add(const std::string& run) {
  if (std::find(order_.begin(), order_.end(), run) == order_.end()) {
    // A newcomer is served next: it has waited least but owns nothing yet.
    order_.push_front(run);
  }
}

void FairShare::Served(const std::string& run) {
  auto it = std::find(order_.begin(), order_.end(), run);
  if (it == order_.end()) return;
  order_.erase(it);
  order_.push_back(run);
}

void FairShare::Remove(const std::string& run) {
  order_.erase(std::remove(order_.begin(), order_.end(), run), order_.end());
}

}  // namespace aetherflow
