#include "daemon/active_run.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "daemon/proto_states.h"

namespace aetherflow {

namespace {
constexpr char kInterrupted[] = "the daemon stopped while it ran";
}  // namespace

pb::Event* ActiveRun::NewEvent(pb::EventKind kind, int64_t now_ms) {
  return journal->NewEvent(this, kind, now_ms);
}

void ActiveRun::SetRunState(RunState state, int64_t now_ms, const std::string& reason) {
  run.set_state(ToProto(state));
  run.set_reason(reason);
  if (state == RunState::kRunning && run.started_at_ms() == 0) run.set_started_at_ms(now_ms);
  if (IsFinal(state)) {
    run.set_finished_at_ms(now_ms);
    journal->Finished(run.id());
  } else {
    run.set_finished_at_ms(0);
  }
  pb::Event* event = NewEvent(pb::RUN_STATE_CHANGED, now_ms);
  event->set_run_state(ToProto(state));
  event->set_message(reason);
}

void ActiveRun::SetStepState(int index, StepState state, int64_t now_ms,
                             const std::string& message) {
  pb::Step& step = steps[index];
  Count(step, -1);
  step.set_state(ToProto(state));
  Count(step, +1);
  UpdateBatch();
  step.set_message(message);
  if (scheduler) step.set_attempt(scheduler->attempt(index));
  step.clear_waiting_for();
  if (state == StepState::kRunning) {
    if (step.started_at_ms() && step.finished_at_ms()) {
      step.set_previous_attempts_ms(step.previous_attempts_ms() + step.finished_at_ms() -
                                    step.started_at_ms());
    }
    step.set_started_at_ms(now_ms);
    step.set_finished_at_ms(0);
    step.clear_exit_code();
    step.set_signal(0);
    step.set_retry_at_ms(0);
  } else {
    step.mutable_resources()->clear_gpu_ids();
    if (step.started_at_ms() && !step.finished_at_ms() && state != StepState::kSkipped) {
      step.set_finished_at_ms(now_ms);
    }
  }
  dirty_steps.insert(index);
  pb::Event* event = NewEvent(pb::STEP_STATE_CHANGED, now_ms);
  event->set_step_id(step.id());
  event->set_step_state(step.state());
  event->set_attempt(step.attempt());
  if (step.has_exit_code()) event->set_exit_code(step.exit_code());
  event->set_signal(step.signal());
  event->set_message(message);
  event->set_retry_at_ms(step.retry_at_ms());
}

void ActiveRun::SetWaiting(int index, const std::string& reason, int64_t now_ms) {
  pb::Step& step = steps[index];
  if (step.waiting_for() == reason) return;
  step.set_waiting_for(reason);
  dirty_steps.insert(index);
  pb::Event* event = NewEvent(pb::STEP_FIGURES, now_ms);
  event->set_step_id(step.id());
  event->set_attempt(step.attempt());
  event->set_waiting_for(reason);
  if (step.has_tokens()) event->set_tokens(step.tokens());
  if (step.has_cost()) event->set_cost(step.cost());
  event->set_progress(step.progress());
}

void ActiveRun::Apply(const Update& update, int64_t now_ms) {
  for (const Transition& t : update.transitions) {
    pb::Step& step = steps[t.step];
    std::string message;
    switch (t.cause) {
      case Cause::kTimedOut:
        message = absl::StrCat("timed out after ",
                               *plan.steps[t.step].timeout_ms / 1000.0, "s");
        break;
      case Cause::kDependency: message = "a dependency did not complete"; break;
      case Cause::kBudgetExhausted: message = "budget exhausted"; break;
      case Cause::kCancelled:
        message = run.reason().empty() ? "cancelled" : run.reason();
        break;
      case Cause::kNone:
        if (t.state == StepState::kFailed) message = step.message();
        break;
    }
    if (t.state == StepState::kPending && t.retry_at_ms) {
      step.set_retry_at_ms(t.retry_at_ms);
      message = absl::StrFormat("attempt %d %s; retry in %.1fs", t.attempt,
                                t.cause == Cause::kTimedOut ? "timed out" : "failed",
                                (t.retry_at_ms - now_ms) / 1000.0);
    }
    SetStepState(t.step, t.state, now_ms, message);
    if (t.state == StepState::kPending) step.set_retry_at_ms(t.retry_at_ms);
  }
}

void ActiveRun::MaybeFinish(int64_t now_ms) {
  if (final() || !scheduler || !scheduler->done()) return;
  RunState result = scheduler->result();
  std::string reason;
  if (scheduler->budget_exhausted()) {
    reason = "budget exhausted";
  } else if (result == RunState::kFailed) {
    std::vector<std::string> failed;
    for (const pb::Step& step : steps) {
      if (step.state() == pb::STEP_FAILED) failed.push_back(step.id());
    }
    reason = absl::StrCat(failed.size() == 1 ? "step " : "steps ",
                          absl::StrJoin(failed, ", "), " failed");
  } else if (result == RunState::kCancelled) {
    reason = run.reason().empty() ? "cancelled" : run.reason();
  }
  SetRunState(result, now_ms, reason);
}

void ActiveRun::Interrupt(int64_t now_ms) {
  for (int i = 0; i < static_cast<int>(steps.size()); ++i) {
    pb::Step& step = steps[i];
    if (step.state() != pb::STEP_RUNNING) continue;
    step.set_state(pb::STEP_INTERRUPTED);
    step.set_finished_at_ms(now_ms);
    step.set_message(kInterrupted);
    step.mutable_resources()->clear_gpu_ids();
    dirty_steps.insert(i);
    pb::Event* event = NewEvent(pb::STEP_STATE_CHANGED, now_ms);
    event->set_step_id(step.id());
    event->set_step_state(pb::STEP_INTERRUPTED);
    event->set_attempt(step.attempt());
    event->set_message(step.message());
  }
  Recount();
  SetRunState(RunState::kInterrupted, now_ms,
              "the daemon stopped while it ran; `aetherflow resume` runs what did "
              "not complete");
}

void ActiveRun::Recount() {
  pb::Run& r = run;
  r.set_completed(0);
  r.set_failed(0);
  r.set_running(0);
  r.set_skipped(0);
  r.set_cancelled(0);
  r.set_interrupted(0);
  r.clear_tokens();
  r.clear_cost();
  r.set_batch(0);
  running_batches_.clear();
  finished_batch_ = 0;
  for (const pb::Step& step : steps) {
    Count(step, +1);
    if (step.has_tokens()) r.set_tokens(r.tokens() + step.tokens());
    if (step.has_cost()) r.set_cost(r.cost() + step.cost());
  }
  UpdateBatch();
}

void ActiveRun::Count(const pb::Step& step, int delta) {
  pb::Run& r = run;
  switch (step.state()) {
    case pb::STEP_COMPLETED: r.set_completed(r.completed() + delta); break;
    case pb::STEP_FAILED: r.set_failed(r.failed() + delta); break;
    case pb::STEP_SKIPPED: r.set_skipped(r.skipped() + delta); break;
    case pb::STEP_CANCELLED: r.set_cancelled(r.cancelled() + delta); break;
    case pb::STEP_INTERRUPTED: r.set_interrupted(r.interrupted() + delta); break;
    case pb::STEP_RUNNING:
      r.set_running(r.running() + delta);
      if (delta > 0) {
        running_batches_.insert(step.batch());
      } else if (auto it = running_batches_.find(step.batch()); it != running_batches_.end()) {
        running_batches_.erase(it);
      }
      break;
    default: break;
  }
  if (delta > 0 &&
      (step.state() == pb::STEP_COMPLETED || step.state() == pb::STEP_FAILED)) {
    finished_batch_ = std::max(finished_batch_, step.batch());
  }
}

void ActiveRun::UpdateBatch() {
  // The batch the run is in: the highest with a step running, else the
  // highest with a step finished.
  run.set_batch(running_batches_.empty() ? finished_batch_ : *running_batches_.rbegin());
}

}  // namespace aetherflow
