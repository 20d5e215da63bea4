#include "daemon/engine.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/attempt_log.h"
#include "common/llm.h"
#include "common/status_macros.h"
#include "daemon/command_executor.h"
#include "daemon/edit_step.h"
#include "daemon/engine_impl.h"
#include "daemon/llm_executor.h"
#include "daemon/log.h"
#include "daemon/proto_states.h"

namespace aetherflow {
namespace {

int64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string GpuList(const std::vector<int>& ids) { return absl::StrJoin(ids, ","); }

}  // namespace

absl::Status StoppingError() { return absl::UnavailableError("aetherflowd is stopping"); }

// --- The loop ---

int Engine::Impl::Timeout(int64_t now) const {
  // Sleep until something is due; with nothing to do, until woken.
  std::optional<int64_t> due = journal_.Deadline();
  auto sooner = [&](std::optional<int64_t> t) {
    if (t && (!due || *t < *due)) due = t;
  };
  for (const auto& [id, run] : active_) {
    if (run->scheduler) sooner(run->scheduler->NextWakeup());
  }
  sooner(command_->NextWakeup());
  sooner(progress_.NextWakeup());
  sooner(llm_->NextWakeup());
  if (!due) return -1;
  return static_cast<int>(std::clamp<int64_t>(*due - now, 0, 60'000));
}

void Engine::Impl::Loop() {
  while (true) {
    waiter_->Wait(Timeout(Now()));
    int64_t now = Now();
    std::deque<Command> commands;
    bool stopping;
    {
      std::lock_guard<std::mutex> lock(mu_);
      commands.swap(commands_);
      stopping = stopping_;
      stopped_ = stopping_;  // nothing is queued after this turn
    }
    for (Command& command : commands) command.run();
    if (stopping) break;
    Turn(now);
  }
  // Graceful stop: what runs now is interrupted, not failed.
  int64_t now = Now();
  command_->StopAll();
  llm_->StopAll();
  for (auto& [id, run] : active_) {
    if (!run->scheduler || run->final()) continue;
    // A paused run with nothing running stays paused across the restart.
    if (run->state() == RunState::kPaused && run->scheduler->running() == 0) continue;
    NoteInterrupted(run.get());
    run->Interrupt(now);
  }
  journal_.Commit(now);
  store_->ClearStepProcesses().IgnoreError();
  hub_->NotifyAll();
}

// One turn, as ninja's Builder::Build: what the executors did goes to the
// schedulers, steps past their timeout are stopped, Admission says what
// starts, and the journal commits (then publishes).
void Engine::Impl::Turn(int64_t now) {
  std::vector<ExecutorEvent> events;
  command_->Collect(&events);
  llm_->Collect(&events);
  for (const ExecutorEvent& event : events) Handle(event, now);
  PublishProgress(now);
  Expire(now);
  // Nothing new starts while the database refuses writes.
  if (!journal_.failing()) {
    Dispatch(now);
    // What the starts reported (the processes' pids) goes into this
    // turn's commit: a kill -9 from now on leaves nothing unknown behind.
    events.clear();
    command_->Collect(&events);
    llm_->Collect(&events);
    for (const ExecutorEvent& event : events) Handle(event, now);
  }
  if (journal_.MaybeCommit(now, /*idle=*/running_.empty())) Retire();
}

void Engine::Impl::Dispatch(int64_t now) {
  Admission::Decisions decisions = admission_.Dispatch(now);
  for (auto& [id, update] : decisions.over_budget) {
    ActiveRun* run = active_.at(id).get();
    LogInfo(absl::StrCat("run ", id, ": budget exhausted"));
    run->Apply(update, now);
    run->MaybeFinish(now);
  }
  for (const Admission::Waiting& waiting : decisions.waiting) {
    active_.at(waiting.run)->SetWaiting(waiting.step, waiting.reason, now);
  }
  for (const Admission::Started& started : decisions.started) {
    ActiveRun* run = active_.at(started.run).get();
    if (run->state() == RunState::kQueued) run->SetRunState(RunState::kRunning, now, "");
    StartStep(run, started.step, started.gpu_ids, now);
  }
}

void Engine::Impl::StartStep(ActiveRun* run, int index, const std::vector<int>& gpus,
                             int64_t now) {
  const Step& spec = run->plan.steps[index];
  pb::Step& step = run->steps[index];
  run->SetStepState(index, StepState::kRunning, now, "");
  for (int id : gpus) step.mutable_resources()->add_gpu_ids(id);
  StepLaunch launch;
  launch.key = ++next_key_;
  launch.run_id = run->id();
  launch.step = &spec;
  launch.attempt = step.attempt();
  const pb::Run& r = run->run;
  std::filesystem::path cwd = spec.cwd.empty() ? std::filesystem::path(r.cwd())
                                               : std::filesystem::path(r.cwd()) / spec.cwd;
  launch.cwd = cwd.lexically_normal().string();
  launch.log_path = layout_.LogPath(r.id(), spec.id);
  launch.output_dir = r.output_dir();
  launch.credentials = ActAs(r);
  if (r.has_umask()) launch.umask = static_cast<mode_t>(r.umask());
  if (!run->shared_env) {
    // The submitter's environment, built once per run: 10,000 steps must
    // not copy it 10,000 times.
    auto shared = std::make_shared<std::vector<std::string>>();
    for (const auto& [name, value] : run->env) shared->push_back(name + "=" + value);
    run->shared_env = std::move(shared);
  }
  launch.shared_env = run->shared_env;
  for (const auto& [name, value] : spec.env) launch.env.push_back(name + "=" + value);
  if (!spec.env.count("PYTHONUNBUFFERED")) launch.env.push_back("PYTHONUNBUFFERED=1");
  launch.env.push_back("AETHERFLOW_RUN_ID=" + r.id());
  launch.env.push_back("AETHERFLOW_STEP_ID=" + spec.id);
  launch.env.push_back("AETHERFLOW_ATTEMPT=" + std::to_string(step.attempt()));
  launch.env.push_back("AETHERFLOW_OUTPUT_DIR=" + r.output_dir());
  if (!spec.is_command() && StepApplies(spec, r.apply())) {
    launch.apply = true;
    launch.commit = r.commit();
    launch.project_dir = std::filesystem::path(r.cwd()).lexically_normal().string();
    launch.record_dir = layout_.RunDir(r.id()) + "/changes/" + spec.id;
  }
  if (spec.resources.gpu) {
    // The GPUs it holds, and no other (SPEC §9).
    launch.env.push_back("CUDA_VISIBLE_DEVICES=" + GpuList(gpus));
    launch.env.push_back("AETHERFLOW_GPUS=" + GpuList(gpus));
  }
  NoteAttemptStart(run, index, now);
  absl::Status started = absl::OkStatus();
  if (!spec.is_command()) {
    launch.provider = step.provider();
    auto provider = options_.config.providers.find(step.provider());
    if (provider == options_.config.providers.end()) {
      started = absl::FailedPreconditionError(
          absl::StrCat("unknown provider \"", step.provider(), "\""));
    } else {
      launch.provider_config = provider->second;
    }
  }
  if (started.ok()) started = ExecutorFor(*run, index)->Start(launch);
  if (!started.ok()) {
    step.set_message(std::string(started.message()));
    StepDone(run, index, AttemptResult::kFailed, now);
    return;
  }
  run->keys[index] = launch.key;
  running_[launch.key] = {run, index};
}

void Engine::Impl::StepDone(ActiveRun* run, int index, AttemptResult result, int64_t now) {
  admission_.Release(run->id(), index);
  run->keys[index] = 0;
  if (!run->processes.empty()) run->processes[index] = {};
  run->steps[index].set_throttled(false);
  run->steps[index].clear_retrying();
  run->steps[index].clear_phase();
  Update update = run->scheduler->StepFinished(index, result, now);
  NoteAttemptEnd(run, index, result, update);  // before Apply rewords the message
  run->Apply(update, now);
  for (int other : update.to_kill) StopStep(run, other);  // fail_fast
  run->MaybeFinish(now);
}

void Engine::Impl::NoteAttemptStart(ActiveRun* run, int index, int64_t now) {
  const pb::Step& step = run->steps[index];
  // One attempt in one go needs no heading; several do, and so does a
  // step that ran before a resume (its log holds the earlier output). The
  // log is looked at only then: 10,000 steps must not cost 10,000 stats.
  const bool several = step.attempt() > 1 || step.max_attempts() > 1;
  if (!several && !run->resumed) return;
  const std::string path = layout_.LogPath(run->id(), step.id());
  const bool resumed = run->resumed && step.attempt() == 1 && LogSize(path) > 0;
  if (!several && !resumed) return;
  if (run->log_marked.size() != run->steps.size()) {
    run->log_marked.assign(run->steps.size(), false);
  }
  run->log_marked[index] = true;
  AttemptStart start;
  start.attempt = step.attempt();
  start.max_attempts = std::max(step.max_attempts(), step.attempt());
  start.started_at_ms = now;
  start.resumed = resumed;
  AppendToLog(path, FormatAttemptStart(start));
}

void Engine::Impl::NoteAttemptEnd(ActiveRun* run, int index, AttemptResult result,
                                  const Update& update) {
  const pb::Step& step = run->steps[index];
  Cause cause = Cause::kNone;
  for (const Transition& t : update.transitions) {
    if (t.step == index) {
      cause = t.cause;
      break;
    }
  }
  // What the executor said (the scheduler's message comes with Apply).
  const std::string& said = step.message();
  std::string reason, outcome;
  if (cause == Cause::kTimedOut) {
    reason = TimedOutMessage(run->plan.steps[index].timeout_ms.value_or(0));
    if (!said.empty()) absl::StrAppend(&reason, " (", said, ")");
    outcome = "timed out";
  } else if (cause == Cause::kCancelled) {
    reason = run->run.reason().empty() ? "cancelled" : run->run.reason();
    if (!said.empty()) absl::StrAppend(&reason, " (", said, ")");
    outcome = "cancelled";
  } else if (result == AttemptResult::kSucceeded) {
    outcome = step.has_exit_code() ? absl::StrCat("exit ", step.exit_code()) : "ok";
  } else {
    reason = said.empty() ? "failed" : said;
    if (step.has_exit_code()) {
      outcome = absl::StrCat("exit ", step.exit_code());
    } else if (absl::StartsWith(said, "could not start")) {
      outcome = "could not start";
    } else {
      outcome = said.empty() || said.size() > 40 ? "failed" : said;
    }
  }
  std::string lines;
  if (!reason.empty()) lines = FormatClosingLine(reason);
  if (index < static_cast<int>(run->log_marked.size()) && run->log_marked[index]) {
    run->log_marked[index] = false;
    lines += FormatAttemptEnd({step.attempt(), outcome});
  }
  if (!lines.empty()) AppendToLog(layout_.LogPath(run->id(), step.id()), lines);
}

void Engine::Impl::NoteInterrupted(ActiveRun* run) {
  for (int i = 0; i < static_cast<int>(run->steps.size()); ++i) {
    const pb::Step& step = run->steps[i];
    if (step.state() != pb::STEP_RUNNING) continue;
    std::string lines = FormatClosingLine("interrupted: the daemon stopped while it ran");
    if (i < static_cast<int>(run->log_marked.size()) && run->log_marked[i]) {
      run->log_marked[i] = false;
      lines += FormatAttemptEnd({step.attempt(), "interrupted"});
    }
    AppendToLog(layout_.LogPath(run->id(), step.id()), lines);
  }
}

void Engine::Impl::Handle(const ExecutorEvent& event, int64_t now) {
  int64_t key = std::visit([](const auto& e) { return e.key; }, event);
  auto it = running_.find(key);
  if (it == running_.end()) return;
  auto [run, index] = it->second;
  pb::Step& step = run->steps[index];
  if (const auto* process = std::get_if<StepProcess>(&event)) {
    run->processes[index] = {process->pid, process->start_ticks};
    run->dirty_steps.insert(index);
    journal_.Touch(run);
  } else if (const auto* figures = std::get_if<StepFigures>(&event)) {
    pb::Run& r = run->run;
    pb::Event* ev = run->NewEvent(pb::STEP_FIGURES, now);
    ev->set_step_id(step.id());
    ev->set_attempt(step.attempt());
    if (figures->tokens) {
      int64_t tokens = figures->add ? step.tokens() + *figures->tokens : *figures->tokens;
      r.set_tokens(r.tokens() - step.tokens() + tokens);
      step.set_tokens(tokens);
    }
    if (figures->cost) {
      double cost = figures->add ? step.cost() + *figures->cost : *figures->cost;
      r.set_cost(r.cost() - step.cost() + cost);
      step.set_cost(cost);
    }
    if (figures->progress) {
      step.set_progress(*figures->progress);
      progress_.Explicit(key);
    }
    if (figures->throttled) {
      step.set_throttled(*figures->throttled);
      ev->set_throttled(*figures->throttled);
    }
    if (figures->retrying) step.set_retrying(*figures->retrying);
    ev->set_retrying(step.retrying());
    if (figures->phase) step.set_phase(*figures->phase);
    ev->set_phase(step.phase());
    if (figures->round) {
      const EditRoundReport& report = *figures->round;
      pb::EditRound* round = step.add_edit_rounds();
      round->set_round(report.round);
      round->set_outcome(report.outcome);
      round->set_reason(report.reason);
      for (const std::string& file : report.files) round->add_files(file);
      if (report.tokens) round->set_tokens(*report.tokens);
      if (report.cost) round->set_cost(*report.cost);
    }
    if (figures->changed_files) {
      step.clear_changed_files();
      for (const std::string& file : *figures->changed_files) step.add_changed_files(file);
    }
    if (step.has_tokens()) ev->set_tokens(step.tokens());
    if (step.has_cost()) ev->set_cost(step.cost());
    ev->set_progress(step.progress());
    ev->set_message(figures->message);
    run->dirty_steps.insert(index);
  } else if (std::holds_alternative<StepOutput>(event)) {
    hub_->Notify(run->id());
    const Step& spec = run->plan.steps[index];
    progress_.Output(key, layout_.LogPath(run->id(), spec.id), spec.watch,
                     step.started_at_ms(), now);
  } else if (const auto* ended = std::get_if<StepEnded>(&event)) {
    running_.erase(it);
    progress_.Forget(key);
    if (ended->exit_code) step.set_exit_code(*ended->exit_code);
    step.set_signal(ended->signal);
    step.set_message(ended->message);  // empty for a success
    // A stopped step's end is the scheduler's to name (a timeout, a
    // cancel): it knows what it asked for.
    StepDone(run, index,
             ended->succeeded ? AttemptResult::kSucceeded : AttemptResult::kFailed, now);
  }
}

// What the steps' logs say of their progress, once it changes.
void Engine::Impl::PublishProgress(int64_t now) {
  std::vector<std::pair<int64_t, std::string>> texts;
  progress_.Collect(now, &texts);
  for (auto& [key, text] : texts) {
    auto it = running_.find(key);
    if (it == running_.end()) continue;
    auto [run, index] = it->second;
    pb::Step& step = run->steps[index];
    step.set_progress(text);
    pb::Event* ev = run->NewEvent(pb::STEP_FIGURES, now);
    ev->set_step_id(step.id());
    ev->set_attempt(step.attempt());
    if (step.has_tokens()) ev->set_tokens(step.tokens());
    if (step.has_cost()) ev->set_cost(step.cost());
    ev->set_progress(step.progress());
    run->dirty_steps.insert(index);
  }
}

void Engine::Impl::StopStep(ActiveRun* run, int index) {
  if (int64_t key = run->keys[index]) ExecutorFor(*run, index)->Stop(key);
}

void Engine::Impl::Expire(int64_t now) {
  for (auto& [id, run] : active_) {
    if (!run->scheduler) continue;
    for (int index : run->scheduler->Expired(now)) StopStep(run.get(), index);
  }
}

// Runs whose end is committed leave the engine once nothing of theirs runs.
void Engine::Impl::Retire() {
  for (const std::string& id : journal_.TakeFinished()) {
    auto it = active_.find(id);
    if (it == active_.end() || !it->second->final()) continue;
    const RunScheduler* scheduler = it->second->scheduler.get();
    if (scheduler == nullptr || scheduler->running() == 0) {
      Unadmit(it->second.get());
      journal_.Forget(it->second.get());
      active_.erase(it);
      hub_->Forget(id);
    }
  }
}

void Engine::Impl::Admit(ActiveRun* run) {
  if (run->admitted || !run->scheduler) return;
  run->admitted = true;
  RunBudget budget{run->plan.budget_tokens, run->plan.budget_cost};
  admission_.AddRun(run->id(), run->scheduler.get(), &run->demands, budget, [run] {
    return Spent{run->run.tokens(), run->run.cost()};
  });
}

void Engine::Impl::Unadmit(ActiveRun* run) {
  if (!run->admitted) return;
  run->admitted = false;
  admission_.RemoveRun(run->id());
}

// --- Recovery, activation ---

absl::Status Engine::Impl::Recover() {
  // Processes a killed daemon left behind die first.
  AF_ASSIGN_OR_RETURN(auto orphans, store_->StepProcesses());
  for (const auto& orphan : orphans) {
    if (KillOrphanGroup({static_cast<pid_t>(orphan.pid), orphan.start_ticks})) {
      LogInfo(absl::StrCat("killed process group ", orphan.pid,
                           " left by an earlier daemon"));
    }
  }
  AF_RETURN_IF_ERROR(store_->ClearStepProcesses());
  int64_t now = Now();
  // A paused run stays paused (SPEC §9) unless one of its steps was
  // running: then the daemon's stop interrupted it like any other.
  AF_ASSIGN_OR_RETURN(auto paused, store_->RunsInStates({pb::RUN_PAUSED}));
  AF_ASSIGN_OR_RETURN(auto ids,
                      store_->RunsInStates({pb::RUN_QUEUED, pb::RUN_RUNNING, pb::RUN_PAUSED}));
  for (const std::string& id : ids) {
    AF_ASSIGN_OR_RETURN(pb::RunSnapshot snapshot, store_->GetRun(id));
    bool was_paused = std::find(paused.begin(), paused.end(), id) != paused.end();
    bool had_running = std::any_of(snapshot.steps().begin(), snapshot.steps().end(),
                                   [](const pb::Step& s) { return s.state() == pb::STEP_RUNNING; });
    if (was_paused && !had_running) {
      AF_ASSIGN_OR_RETURN(RunSource source, store_->GetRunSource(id));
      absl::StatusOr<std::unique_ptr<ActiveRun>> run = Activate(snapshot, source);
      if (run.ok()) {
        ActiveRun* raw = run->get();
        // It goes on where it stood: what ended stays ended (a failed
        // step is not tried again, its dependents stay skipped).
        for (int i = 0; i < static_cast<int>(raw->steps.size()); ++i) {
          raw->scheduler->RestoreFinished(i, FromProto(raw->steps[i].state()));
        }
        raw->scheduler->SetPaused(true);
        active_[id] = std::move(*run);
        Admit(raw);
        LogInfo(absl::StrCat("run ", id, " stays paused"));
        continue;
      }
      LogWarning(absl::StrCat("run ", id, ": ", run.status().message()));
    }
    auto run = std::make_unique<ActiveRun>(&journal_);
    run->run = snapshot.run();
    run->steps.assign(snapshot.steps().begin(), snapshot.steps().end());
    ActiveRun* raw = run.get();
    active_[id] = std::move(run);
    NoteInterrupted(raw);
    raw->Interrupt(now);
    LogInfo(absl::StrCat("run ", id, " interrupted by a daemon restart"));
  }
  if (!journal_.Commit(now)) return absl::InternalError("could not record recovery");
  Retire();
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ActiveRun>> Engine::Impl::Activate(
    const pb::RunSnapshot& snapshot, const RunSource& source) {
  RunOptions options;
  options.retry_base_ms = options_.retry_base_ms;
  options.retry_max_ms = options_.retry_max_ms;
  return ActiveRun::Load(&journal_, snapshot, source, options_.config, options);
}

// --- Engine ---

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Engine::~Engine() { Stop(); }

absl::StatusOr<std::unique_ptr<Engine>> Engine::Start(EngineOptions options,
                                                      StateStore* store, EventHub* hub,
                                                      std::unique_ptr<ProcessRunner> runner) {
  if (!options.clock) options.clock = SystemNowMs;
  Executors executors;
  auto command = std::make_unique<CommandExecutor>(std::move(runner), options.kill_grace_ms);
  Waiter* waiter = command.get();
  executors.waiter = waiter;
  executors.llm = std::make_unique<LlmExecutor>([waiter] { waiter->Wakeup(); },
                                                options.getenv, options.clock);
  executors.command = std::move(command);
  return Start(std::move(options), store, hub, std::move(executors));
}

absl::StatusOr<std::unique_ptr<Engine>> Engine::Start(EngineOptions options,
                                                      StateStore* store, EventHub* hub,
                                                      Executors executors) {
  if (!options.clock) options.clock = SystemNowMs;
  if (options.max_parallel <= 0) {
    // As ninja's default -j: steps often wait on I/O or a remote API.
    options.max_parallel =
        static_cast<int>(std::max(1u, std::thread::hardware_concurrency())) + 2;
  }
  auto impl = std::make_unique<Impl>(std::move(options), store, hub, std::move(executors));
  AF_RETURN_IF_ERROR(impl->Recover());
  impl->StartThread();
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

void Engine::Stop() { impl_->Stop(); }

void Engine::Submit(SubmitRequest request, SubmitCallback done) {
  if (request.cwd.empty() || request.cwd[0] != '/') {
    return done(absl::InvalidArgumentError("cwd must be an absolute path"));
  }
  const uint32_t daemon_uid = impl_->daemon_uid();
  if (daemon_uid != 0 && request.owner.uid() != daemon_uid && request.owner.uid() != 0) {
    // Only a root daemon can run steps as someone else.
    return done(absl::PermissionDeniedError(absl::StrCat(
        "this aetherflowd runs as uid ", daemon_uid, " and cannot run steps as uid ",
        request.owner.uid(), "; use your own daemon or the system one")));
  }
  impl_->Submit(std::move(request), std::move(done));
}

void Engine::Cancel(std::string run_ref, SnapshotCallback done) {
  absl::StatusOr<std::string> id = impl_->store()->ResolveRunId(run_ref);
  if (!id.ok()) return done(id.status());
  impl_->Post([impl = impl_.get(), id = *id, done] { impl->DoCancel(id, done); },
              [done] { done(StoppingError()); });
}

void Engine::Pause(std::string run_ref, SnapshotCallback done) {
  absl::StatusOr<std::string> id = impl_->store()->ResolveRunId(run_ref);
  if (!id.ok()) return done(id.status());
  impl_->Post([impl = impl_.get(), id = *id, done] { impl->DoPause(id, done); },
              [done] { done(StoppingError()); });
}

void Engine::Resume(std::string run_ref, std::map<std::string, std::string> env,
                    SnapshotCallback done) {
  absl::StatusOr<std::string> id = impl_->store()->ResolveRunId(run_ref);
  if (!id.ok()) return done(id.status());
  impl_->Post(
      [impl = impl_.get(), id = *id, env = std::move(env), done] {
        impl->DoResume(id, env, done);
      },
      [done] { done(StoppingError()); });
}

void Engine::Delete(std::vector<std::string> ids, int64_t finished_before_ms,
                    std::optional<uint32_t> owner, DeleteCallback done) {
  impl_->Post(
      [impl = impl_.get(), ids = std::move(ids), finished_before_ms, owner, done]() mutable {
        impl->DoDelete(std::move(ids), finished_before_ms, owner, done);
      },
      [done] { done({}, {"aetherflowd is stopping"}); });
}

void Engine::Changes(std::string run_id, std::string step_id, bool revert,
                     ChangesCallback done) {
  impl_->Post(
      [impl = impl_.get(), run_id = std::move(run_id), step_id = std::move(step_id), revert,
       done]() mutable { impl->DoChanges(run_id, step_id, revert, std::move(done)); },
      [done] { done(absl::UnavailableError("aetherflowd is stopping")); });
}

void Engine::Ping(std::function<void()> done) { impl_->Post(std::move(done), [] {}); }

void Engine::Sync(std::function<void()> done) {
  impl_->Post([impl = impl_.get(), done = std::move(done)]() mutable {
    impl->DoSync(std::move(done));
  }, [] {});
}

void Engine::ReloadConfig(Config config, std::optional<Capacity> capacity) {
  impl_->Post(
      [impl = impl_.get(), config = std::move(config), capacity]() mutable {
        impl->SetConfig(std::move(config), capacity);
      },
      [] {});
}

std::string Engine::LogPath(const std::string& run_id, const std::string& step_id) const {
  return impl_->layout().LogPath(run_id, step_id);
}

std::string Engine::RunDir(const std::string& run_id) const {
  return impl_->layout().RunDir(run_id);
}

}  // namespace aetherflow
