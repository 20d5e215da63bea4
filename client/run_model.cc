#include "client/run_model.h"

#include <algorithm>

namespace aetherflow {

namespace pb = ::aetherflow::v1;

RunModel::RunModel(pb::RunSnapshot snapshot) : snapshot_(std::move(snapshot)) {
  for (int i = 0; i < snapshot_.steps_size(); ++i) {
    index_[snapshot_.steps(i).id()] = i;
  }
}

bool RunModel::finished() const {
  pb::RunState state = snapshot_.run().state();
  // A paused run waits for the user: it is not over (common/states.h).
  return state != pb::RUN_QUEUED && state != pb::RUN_RUNNING && state != pb::RUN_PAUSED;
}

bool RunModel::Apply(const pb::Event& event) {
  pb::Run* run = snapshot_.mutable_run();
  if (event.seq() <= run->last_seq()) return false;
  run->set_last_seq(event.seq());
  switch (event.kind()) {
    case pb::RUN_STATE_CHANGED:
      run->set_state(event.run_state());
      run->set_reason(event.message());
      if (event.run_state() == pb::RUN_RUNNING && run->started_at_ms() == 0) {
        run->set_started_at_ms(event.time_ms());
      }
      run->set_finished_at_ms(finished() ? event.time_ms() : 0);
      break;
    case pb::STEP_STATE_CHANGED:
    case pb::STEP_FIGURES: {
      auto it = index_.find(event.step_id());
      if (it == index_.end()) break;
      pb::Step* step = snapshot_.mutable_steps(it->second);
      if (event.kind() == pb::STEP_FIGURES) {
        // Run totals move by the step's change.
        if (event.has_tokens()) {
          run->set_tokens(run->tokens() - step->tokens() + event.tokens());
          step->set_tokens(event.tokens());
        }
        if (event.has_cost()) {
          run->set_cost(run->cost() - step->cost() + event.cost());
          step->set_cost(event.cost());
        }
        if (!event.progress().empty()) step->set_progress(event.progress());
        step->set_throttled(event.throttled());
        step->set_retrying(event.retrying());
        step->set_phase(event.phase());
        // What a ready step waits for; empty: it no longer waits.
        step->set_waiting_for(event.waiting_for());
        if (!event.message().empty()) step->set_message(event.message());
        break;
      }
      pb::StepState state = event.step_state();
      // Only a pending step waits; one that starts (or ends) no longer does.
      if (state != pb::STEP_PENDING) step->clear_waiting_for();
      step->clear_retrying();  // a new attempt, or the end of one
      step->clear_phase();
      step->set_attempt(event.attempt());
      step->set_message(event.message());
      step->set_retry_at_ms(event.retry_at_ms());
      if (state == pb::STEP_RUNNING) {
        if (step->started_at_ms() && step->finished_at_ms()) {
          step->set_previous_attempts_ms(step->previous_attempts_ms() +
                                         step->finished_at_ms() -
                                         step->started_at_ms());
        }
        step->set_started_at_ms(event.time_ms());
        step->set_finished_at_ms(0);
        step->clear_exit_code();
        step->set_signal(0);
      } else if (state == pb::STEP_PENDING && event.message() == "resumed") {
        step->set_started_at_ms(0);
        step->set_finished_at_ms(0);
        step->set_previous_attempts_ms(0);
      } else if (step->started_at_ms() && !step->finished_at_ms() &&
                 state != pb::STEP_SKIPPED) {
        step->set_finished_at_ms(event.time_ms());
      }
      if (event.has_exit_code()) step->set_exit_code(event.exit_code());
      step->set_signal(event.signal());
      Count(step->state(), -1);
      step->set_state(state);
      Count(state, +1);
      break;
    }
    default:
      break;
  }
  return true;
}

void RunModel::Count(pb::StepState state, int delta) {
  pb::Run* run = snapshot_.mutable_run();
  switch (state) {
    case pb::STEP_COMPLETED: run->set_completed(run->completed() + delta); break;
    case pb::STEP_FAILED: run->set_failed(run->failed() + delta); break;
    case pb::STEP_RUNNING: run->set_running(run->running() + delta); break;
    case pb::STEP_SKIPPED: run->set_skipped(run->skipped() + delta); break;
    case pb::STEP_CANCELLED: run->set_cancelled(run->cancelled() + delta); break;
    case pb::STEP_INTERRUPTED:
      run->set_interrupted(run->interrupted() + delta);
      break;
    default: break;
  }
}

}  // namespace aetherflow
