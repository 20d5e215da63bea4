// What callers ask of the engine: submit, cancel, pause, resume, delete,
// a new config. Each runs on the engine thread and replies once what it
// changed is committed.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_format.h"
#include "common/plan_parser.h"
#include "common/secrets.h"
#include "daemon/edit_step.h"
#include "daemon/engine_impl.h"
#include "daemon/log.h"
#include "daemon/project_writer.h"
#include "daemon/proto_states.h"
#include "daemon/submit_check.h"

namespace aetherflow {
namespace {

std::string NewRunId() {
  static std::mt19937_64 rng(std::random_device{}() ^
                             static_cast<uint64_t>(std::chrono::steady_clock::now()
                                                       .time_since_epoch()
                                                       .count()));
  return absl::StrFormat("%08x", static_cast<uint32_t>(rng()));
}

}  // namespace

// --- Requests ---

void Engine::Impl::Submit(SubmitRequest request, SubmitCallback done) {
  std::shared_ptr<const Config> config;
  std::shared_ptr<const Capacity> capacity;
  {
    std::lock_guard<std::mutex> lock(mu_);
    config = config_snapshot_;
    capacity = capacity_snapshot_;
  }
  worker_.Post([this, request = std::move(request), done = std::move(done),
                config = std::move(config), capacity = std::move(capacity)]() mutable {
    if (request.plan_json.size() > kMaxPlanBytes) {
      return done(absl::ResourceExhaustedError(
          absl::StrCat(request.plan_path, ": plan is ", request.plan_json.size(),
                       " bytes; the limit is ", kMaxPlanBytes)));
    }
    absl::StatusOr<Plan> plan = ParsePlan(request.plan_json, request.plan_path);
    if (!plan.ok()) return done(plan.status());
    if (!request.profile.empty()) {
      absl::StatusOr<Config> profiled = ApplyProfile(*config, request.profile);
      if (!profiled.ok()) return done(profiled.status());
      config = std::make_shared<const Config>(*std::move(profiled));
    }
    if (absl::Status checked = CheckSubmission(&*plan, request.plan_path, *config,
                                               options_.getenv, *capacity,
                                               options_.config_path);
        !checked.ok()) {
      return done(checked);
    }
    if (request.apply || plan->apply) {
      // A path that leaves the project is refused now, not at the step.
      std::vector<std::string> problems;
      for (const Step& step : plan->steps) {
        if (!StepApplies(step, true)) continue;
        if (absl::StatusOr<std::vector<std::string>> files = WritableFiles(step); !files.ok()) {
          problems.push_back(absl::StrCat(request.plan_path, ": ", files.status().message()));
        }
      }
      if (!problems.empty()) {
        return done(absl::InvalidArgumentError(absl::StrJoin(problems, "\n")));
      }
    }
    if (request.check_only) {
      SubmitResult result;
      result.warnings = plan->warnings;
      return done(std::move(result));
    }
    Post(
        [this, request = std::move(request), plan = std::move(*plan), done]() mutable {
          DoSubmit(std::move(request), std::move(plan), std::move(done));
        },
        [done] { done(StoppingError()); });
  });
}

void Engine::Impl::DoSubmit(SubmitRequest request, Plan plan, SubmitCallback done) {
  const uint32_t owner = request.owner.uid();
  if (options_.max_runs_per_user > 0) {
    int in_flight = 0;
    for (const auto& [id, active] : active_) {
      if (active->run.owner().uid() == owner && !active->final()) ++in_flight;
    }
    if (in_flight >= options_.max_runs_per_user) {
      done(absl::ResourceExhaustedError(absl::StrCat(
          "you have ", in_flight, " runs queued or running, the most this daemon "
          "takes per user; wait for one to end or cancel one")));
      return;
    }
  }
  int64_t now = Now();
  std::string id;
  do {
    id = NewRunId();
  } while (active_.count(id) || store_->GetRun(id).ok());
  if (absl::Status made = layout_.MakeRunDir(id); !made.ok()) return done(made);
  pb::RunSnapshot snapshot = NewRunSnapshot(plan, id, now);
  pb::Run* run = snapshot.mutable_run();
  *run->mutable_owner() = request.owner;
  std::string output_dir =
      request.output_dir.empty() ? layout_.DefaultOutputDir(id) : request.output_dir;
  if (absl::Status made = layout_.MakeOutputDir(id, output_dir, ActAs(*run)); !made.ok()) {
    layout_.RemoveRunDir(id);
    return done(made);
  }
  run->set_output_dir(output_dir);
  run->set_plan_path(request.plan_path);
  run->set_cwd(request.cwd);
  if (request.umask) run->set_umask(*request.umask);
  run->set_apply(request.apply || plan.apply);
  run->set_commit(run->apply() && request.commit);
  if (run->apply()) {
    if (absl::Status made = layout_.MakeChangesDir(id, ActAs(*run)); !made.ok()) {
      layout_.RemoveRunDir(id);
      return done(made);
    }
  }
  RunSource source;
  source.plan_json = plan.source;
  source.env = WithoutSecrets(request.env);
  source.uid = owner;
  absl::StatusOr<std::unique_ptr<ActiveRun>> active = Activate(snapshot, source);
  if (!active.ok()) {
    layout_.RemoveRunDir(id);
    return done(active.status());
  }
  ActiveRun* raw = active->get();
  raw->env = request.env;  // secrets stay in memory only
  pb::Event first;
  first.set_run_id(id);
  first.set_seq(1);
  first.set_time_ms(now);
  first.set_kind(pb::RUN_STATE_CHANGED);
  first.set_run_state(pb::RUN_QUEUED);
  first.set_message(absl::StrCat("submitted ", request.plan_path));
  raw->run.set_last_seq(1);
  if (absl::Status stored = store_->CreateRun(raw->run, source, raw->steps, {first});
      !stored.ok()) {
    layout_.RemoveRunDir(id);
    return done(stored);
  }
  active_[id] = std::move(*active);
  Admit(raw);
  LogInfo(absl::StrCat("run ", id, " submitted: ", plan.steps.size(), " steps"));
  done(SubmitResult{id, plan.warnings});
  raw->MaybeFinish(now);  // an empty plan
}

ActiveRun* Engine::Impl::Executing(const std::string& run_id) {
  auto it = active_.find(run_id);
  if (it == active_.end() || !it->second->scheduler || it->second->final()) return nullptr;
  return it->second.get();
}

absl::Status Engine::Impl::NotExecuting(const std::string& run_id, std::string_view why) {
  absl::StatusOr<pb::Run> run = store_->GetRunOnly(run_id);
  if (!run.ok()) return run.status();
  return absl::FailedPreconditionError(absl::StrCat(
      "run ", run_id, " ", std::string(why), " (", std::string(RunStateName(FromProto(run->state()))), ")"));
}

void Engine::Impl::DoCancel(const std::string& run_id, SnapshotCallback done) {
  ActiveRun* run = Executing(run_id);
  if (!run) return done(NotExecuting(run_id, "is not running"));
  int64_t now = Now();
  run->run.set_reason("cancelled by the user");
  Update update = run->scheduler->Cancel();
  run->Apply(update, now);
  for (int index : update.to_kill) StopStep(run, index);
  run->MaybeFinish(now);
  journal_.Touch(run);
  LogInfo(absl::StrCat("run ", run_id, " cancelled"));
  ReplyWithRun(run_id, std::move(done));
}

void Engine::Impl::DoPause(const std::string& run_id, SnapshotCallback done) {
  ActiveRun* run = Executing(run_id);
  if (!run) return done(NotExecuting(run_id, "has ended"));
  if (run->state() != RunState::kPaused) {
    run->scheduler->SetPaused(true);
    run->SetRunState(RunState::kPaused, Now(), "paused by the user");
    LogInfo(absl::StrCat("run ", run_id, " paused"));
  }
  ReplyWithRun(run_id, std::move(done));
}

void Engine::Impl::DoResume(const std::string& run_id,
                            const std::map<std::string, std::string>& env,
                            SnapshotCallback done) {
  int64_t now = Now();
  if (ActiveRun* run = Executing(run_id)) {
    if (run->state() != RunState::kPaused) {
      return done(absl::FailedPreconditionError(
          absl::StrCat("run ", run_id, " is still running")));
    }
    // Un-pause: it goes on where it stood.
    run->scheduler->SetPaused(false);
    bool started = run->run.started_at_ms() != 0;
    run->SetRunState(started ? RunState::kRunning : RunState::kQueued, now, "resumed");
    for (const auto& [name, value] : OnlySecrets(env)) run->env[name] = value;
    run->shared_env.reset();
    run->MaybeFinish(now);
    LogInfo(absl::StrCat("run ", run_id, " un-paused"));
    ReplyWithRun(run_id, std::move(done));
    return;
  }
  absl::StatusOr<pb::RunSnapshot> snapshot = store_->GetRun(run_id);
  if (!snapshot.ok()) return done(snapshot.status());
  if (snapshot->run().state() == pb::RUN_SUCCEEDED) {
    return done(absl::FailedPreconditionError(
        absl::StrCat("run ", run_id, " already succeeded; nothing to resume")));
  }
  absl::StatusOr<RunSource> source = store_->GetRunSource(run_id);
  if (!source.ok()) return done(source.status());
  absl::StatusOr<std::unique_ptr<ActiveRun>> activated = Activate(*snapshot, *source);
  if (!activated.ok()) return done(activated.status());
  std::unique_ptr<ActiveRun> run = std::move(*activated);
  for (const auto& [name, value] : OnlySecrets(env)) run->env[name] = value;
  if (auto old = active_.find(run_id); old != active_.end()) {
    Unadmit(old->second.get());
    journal_.Forget(old->second.get());
    active_.erase(old);
  }
  ActiveRun* raw = run.get();
  raw->resumed = true;
  active_[run_id] = std::move(run);
  for (int i = 0; i < static_cast<int>(raw->steps.size()); ++i) {
    pb::Step& step = raw->steps[i];
    if (step.state() == pb::STEP_COMPLETED) {
      raw->scheduler->RestoreCompleted(i);
      continue;
    }
    step.set_attempt(0);
    step.clear_exit_code();
    step.set_signal(0);
    step.set_started_at_ms(0);
    step.set_finished_at_ms(0);
    step.set_previous_attempts_ms(0);
    raw->SetStepState(i, StepState::kPending, now, "resumed");
  }
  // The time it sat ended is not time it ran (SPEC §5's elapsed time).
  if (raw->run.started_at_ms() && raw->run.finished_at_ms()) {
    raw->run.set_stopped_ms(raw->run.stopped_ms() +
                            std::max<int64_t>(0, now - raw->run.finished_at_ms()));
  }
  raw->SetRunState(RunState::kQueued, now, "resumed");
  Admit(raw);
  LogInfo(absl::StrCat("run ", run_id, " resumed"));
  raw->MaybeFinish(now);
  ReplyWithRun(run_id, std::move(done));
}

void Engine::Impl::DoChanges(const std::string& run_id, const std::string& step_id,
                             bool revert, ChangesCallback done) {
  auto it = active_.find(run_id);
  if (revert && it != active_.end() && !it->second->final()) {
    return done(absl::FailedPreconditionError(absl::StrCat(
        "run ", run_id, " is still running; cancel it or wait for its end first")));
  }
  // The files are read (and put back) on the worker, as the run's owner.
  worker_.Post([this, run_id, step_id, revert, done = std::move(done)] {
    absl::StatusOr<pb::RunSnapshot> snapshot = store_->GetRun(run_id);
    if (!snapshot.ok()) return done(snapshot.status());
    std::vector<const pb::Step*> steps;
    for (const pb::Step& step : snapshot->steps()) {
      if (step_id.empty() || step.id() == step_id) steps.push_back(&step);
    }
    if (steps.empty()) {
      return done(absl::NotFoundError(
          absl::StrCat("run ", run_id, " has no step \"", step_id, "\"")));
    }
    // Reverted latest first: a later step's edits sit on an earlier one's.
    if (revert) {
      std::stable_sort(steps.begin(), steps.end(), [](const pb::Step* a, const pb::Step* b) {
        return a->finished_at_ms() > b->finished_at_ms();
      });
    }
    pb::DiffRunResponse response;
    response.set_run_id(run_id);
    response.set_project_dir(snapshot->run().cwd());
    for (const pb::Step* step : steps) {
      const std::string record = layout_.RunDir(run_id) + "/changes/" + step->id();
      std::error_code error;
      if (!std::filesystem::is_directory(record, error)) continue;
      ProjectWriter::Options options;
      options.project_dir = snapshot->run().cwd();
      options.record_dir = record;
      options.credentials = ActAs(snapshot->run());
      if (snapshot->run().has_umask()) options.umask = snapshot->run().umask();
      ProjectWriter writer(std::move(options));
      absl::StatusOr<std::vector<ProjectWriter::Change>> changes = writer.Changes();
      if (!changes.ok()) return done(changes.status());
      if (revert && !changes->empty()) {
        if (absl::Status reverted = writer.Revert(); !reverted.ok()) {
          std::string message = absl::StrCat("step ", step->id(), ": ", reverted.message());
          if (response.changes_size() > 0) {
            absl::StrAppend(&message, " (", response.changes_size(),
                            " files of later steps were put back)");
          }
          return done(absl::FailedPreconditionError(message));
        }
      }
      for (ProjectWriter::Change& change : *changes) {
        pb::FileChange* out = response.add_changes();
        out->set_step_id(step->id());
        out->set_path(change.path);
        if (change.before) out->set_before(std::move(*change.before));
        if (change.now) out->set_now(std::move(*change.now));
      }
    }
    done(std::move(response));
  });
}

void Engine::Impl::DoDelete(std::vector<std::string> ids, int64_t finished_before_ms,
                            std::optional<uint32_t> owner, DeleteCallback done) {
  std::vector<std::string> deleted, errors;
  if (ids.empty()) {
    absl::StatusOr<std::vector<std::string>> old =
        store_->FinishedBefore(finished_before_ms, owner);
    if (!old.ok()) return done({}, {std::string(old.status().message())});
    ids = std::move(*old);
  }
  for (const std::string& id : ids) {
    auto it = active_.find(id);
    if (it != active_.end() && !it->second->final()) {
      errors.push_back(absl::StrCat("run ", id, " is still running; cancel it first"));
      continue;
    }
    if (it != active_.end()) {
      Unadmit(it->second.get());
      journal_.Forget(it->second.get());
      active_.erase(it);
    }
    if (absl::Status status = store_->DeleteRun(id); !status.ok()) {
      errors.push_back(absl::StrCat("run ", id, ": ", status.message()));
      continue;
    }
    deleted.push_back(id);
  }
  if (!deleted.empty()) {
    LogInfo(absl::StrCat("deleted ", deleted.size(), deleted.size() == 1 ? " run" : " runs"));
  }
  // The rows are gone; the folders (maybe thousands of logs) go on the
  // worker, and the caller hears once they have.
  worker_.Post([this, deleted = std::move(deleted), errors = std::move(errors),
                done = std::move(done)]() mutable {
    for (const std::string& id : deleted) layout_.RemoveRunDir(id);
    done(std::move(deleted), std::move(errors));
  });
}

void Engine::Impl::SetConfig(Config config, std::optional<Capacity> capacity) {
  // Steps in flight keep the provider they started with (their launch
  // holds its config) and what they hold.
  admission_.set_provider_slots(ProviderSlots(config));
  std::lock_guard<std::mutex> lock(mu_);
  if (capacity) {
    options_.capacity = *capacity;
    admission_.set_capacity(*capacity);
    capacity_snapshot_ = std::make_shared<const Capacity>(*capacity);
  }
  config_snapshot_ = std::make_shared<const Config>(config);
  options_.config = std::move(config);
  LogInfo(absl::StrCat("configuration reloaded from ", options_.config.source));
}

void Engine::Impl::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  waiter_->Wakeup();
  if (thread_.joinable()) thread_.join();
}
}  // namespace aetherflow
