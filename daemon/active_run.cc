#include "daemon/active_run.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/llm.h"
#include "common/plan_parser.h"
#include "common/status_macros.h"
#include "daemon/proto_states.h"
#include "daemon/submit_check.h"

namespace aetherflow {

namespace {
constexpr char kInterrupted[] = "the daemon stopped while it ran";
}  // namespace

std::string TimedOutMessage(int64_t timeout_ms) {
  return absl::StrCat("timed out after ", timeout_ms / 1000.0, "s");
}

pb::RunSnapshot NewRunSnapshot(const Plan& plan, const std::string& id, int64_t now_ms) {
  pb::RunSnapshot snapshot;
  pb::Run* run = snapshot.mutable_run();
  run->set_id(id);
  run->set_task_id(plan.task_id);
  run->set_description(plan.description);
  run->set_state(pb::RUN_QUEUED);
  run->set_created_at_ms(now_ms);
  run->set_steps_total(static_cast<int>(plan.steps.size()));
  run->set_batches(plan.batches);
  run->set_max_parallel(plan.max_parallel.value_or(0));
  run->set_fail_fast(plan.fail_fast);
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    const Step& spec = plan.steps[i];
    pb::Step* step = snapshot.add_steps();
    step->set_id(spec.id);
    step->set_type(spec.type);
    step->set_provider(spec.is_command() ? "shell" : spec.provider);
    step->set_description(spec.description);
    step->set_state(pb::STEP_PENDING);
    step->set_batch(plan.batch[i]);
    step->set_max_attempts(spec.retries + 1);
    for (const std::string& dep : spec.dependencies) step->add_dependencies(dep);
  }
  return snapshot;
}

absl::StatusOr<std::unique_ptr<ActiveRun>> ActiveRun::Load(
    Journal* journal, const pb::RunSnapshot& snapshot, const RunSource& source,
    const Config& config, RunOptions options) {
  auto run = std::make_unique<ActiveRun>(journal);
  // Accepted when it was submitted, maybe by an older daemon with other
  // rules: reading it back must not refuse it now.
  AF_ASSIGN_OR_RETURN(run->plan, ParsePlan(source.plan_json, snapshot.run().plan_path(),
                                           PlanRules::kStored));
  if (run->plan.steps.size() != static_cast<std::size_t>(snapshot.steps_size())) {
    return absl::DataLossError("stored plan and steps disagree");
  }
  run->run = snapshot.run();
  run->steps.assign(snapshot.steps().begin(), snapshot.steps().end());
  run->env = source.env;
  const std::size_t n = run->plan.steps.size();
  std::vector<StepSpec> specs(n);
  run->demands.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const Step& step = run->plan.steps[i];
    specs[i].deps = run->plan.deps[i];
    specs[i].retries = step.retries;
    specs[i].timeout_ms = step.timeout_ms;
    StepDemand& demand = run->demands[i];
    demand.resources = step.resources;
    if (!step.is_command()) {
      demand.provider = run->steps[i].provider();
      demand.files = OutputFiles(step, run->run.output_dir());
      demand.est_tokens = step.estimated_tokens.value_or(0);
      if (auto provider = config.providers.find(demand.provider);
          provider != config.providers.end()) {
        demand.est_cost = EstimateCost(demand.est_tokens, provider->second);
      }
    }
    pb::StepResources* resources = run->steps[i].mutable_resources();
    resources->set_cpu(step.resources.cpu.value_or(0));
    resources->set_mem_bytes(step.resources.mem_bytes.value_or(0));
    resources->set_gpu(step.resources.gpu.value_or(0));
  }
  options.max_parallel = run->plan.max_parallel.value_or(0);
  options.fail_fast = run->plan.fail_fast;
  run->scheduler = std::make_unique<RunScheduler>(std::move(specs), options);
  run->keys.assign(n, 0);
  run->processes.assign(n, {});
  run->log_marked.assign(n, false);
  run->Recount();
  return run;
}

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
        message = TimedOutMessage(plan.steps[t.step].timeout_ms.value_or(0));
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
