#include "daemon/engine.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/llm.h"
#include "common/plan_parser.h"
#include "common/secrets.h"
#include "common/status_macros.h"
#include "daemon/active_run.h"
#include "daemon/admission.h"
#include "daemon/command_executor.h"
#include "daemon/journal.h"
#include "daemon/llm_executor.h"
#include "daemon/log.h"
#include "daemon/proto_states.h"
#include "daemon/run_layout.h"
#include "daemon/submit_check.h"
#include "daemon/worker.h"

namespace aetherflow {
namespace {

int64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string NewRunId() {
  static std::mt19937_64 rng(std::random_device{}() ^
                             static_cast<uint64_t>(SystemNowMs()));
  return absl::StrFormat("%08x", static_cast<uint32_t>(rng()));
}

absl::Status StoppingError() { return absl::UnavailableError("aetherflowd is stopping"); }

std::string GpuList(const std::vector<int>& ids) { return absl::StrJoin(ids, ","); }

}  // namespace

class Engine::Impl {
 public:
  Impl(EngineOptions options, StateStore* store, EventHub* hub, Executors executors)
      : options_(std::move(options)),
        store_(store),
        hub_(hub),
        layout_(options_.state_dir),
        journal_(store, hub),
        admission_(options_.max_parallel, options_.capacity),
        command_(std::move(executors.command)),
        llm_(std::move(executors.llm)),
        waiter_(executors.waiter) {
    admission_.set_provider_slots(ProviderSlots(options_.config));
    config_snapshot_ = std::make_shared<const Config>(options_.config);
  }

  absl::Status Recover();
  void StartThread() { thread_ = std::thread([this] { Loop(); }); }
  void Stop();

  // Runs `command` on the engine thread, or `reject` on this one when the
  // engine has stopped.
  void Post(std::function<void()> command, std::function<void()> reject) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!stopped_) {
        commands_.push_back({std::move(command), std::move(reject)});
        command = nullptr;
      }
    }
    if (command) return reject();
    waiter_->Wakeup();
  }

  // Parsing and checking a plan is slow for big plans and reads key files:
  // the worker does it, then the engine thread takes the run.
  void Submit(SubmitRequest request, SubmitCallback done);
  void DoCancel(const std::string& run_id, SnapshotCallback done);
  void DoPause(const std::string& run_id, SnapshotCallback done);
  void DoResume(const std::string& run_id, const std::map<std::string, std::string>& env,
                SnapshotCallback done);
  void DoDelete(std::vector<std::string> ids, int64_t finished_before_ms,
                std::optional<uint32_t> owner, DeleteCallback done);
  void DoSync(std::function<void()> done) { journal_.AfterCommit(std::move(done)); }
  void SetConfig(Config config);

  const RunLayout& layout() const { return layout_; }
  StateStore* store() { return store_; }
  uint32_t daemon_uid() const { return options_.uid; }

 private:
  struct Command {
    std::function<void()> run;
    std::function<void()> reject;
  };

  static std::map<std::string, int> ProviderSlots(const Config& config) {
    std::map<std::string, int> slots;
    for (const auto& [name, provider] : config.providers) {
      slots[name] = provider.max_concurrency;
    }
    return slots;
  }
  int64_t Now() const { return options_.clock(); }
  int Timeout(int64_t now) const;
  void Loop();
  void Turn(int64_t now);
  void DoSubmit(SubmitRequest request, Plan plan, SubmitCallback done);
  void Handle(const ExecutorEvent& event, int64_t now);
  void Dispatch(int64_t now);
  void StartStep(ActiveRun* run, int index, const std::vector<int>& gpus, int64_t now);
  void StepDone(ActiveRun* run, int index, AttemptResult result, int64_t now);
  void StopStep(ActiveRun* run, int index);
  void Expire(int64_t now);
  void Retire();
  StepExecutor* ExecutorFor(const ActiveRun& run, int index) {
    return run.plan.steps[index].is_command() ? command_.get() : llm_.get();
  }
  std::optional<Credentials> ActAs(const pb::Run& run) const {
    if (options_.uid != 0 || !run.has_owner() || run.owner().uid() == 0) {
      return std::nullopt;
    }
    Credentials who;
    who.uid = run.owner().uid();
    who.gid = run.owner().gid();
    who.groups.assign(run.owner().groups().begin(), run.owner().groups().end());
    return who;
  }
  absl::StatusOr<std::unique_ptr<ActiveRun>> Activate(const pb::RunSnapshot& snapshot,
                                                      const RunSource& source);
  void Admit(ActiveRun* run);
  void Unadmit(ActiveRun* run);

  EngineOptions options_;
  StateStore* store_;
  EventHub* hub_;
  RunLayout layout_;
  Journal journal_;
  Admission admission_;
  std::unique_ptr<StepExecutor> command_;
  std::unique_ptr<StepExecutor> llm_;
  Waiter* waiter_;
  Worker worker_;  // plan parsing, key files, folder removal
  std::thread thread_;

  std::mutex mu_;
  std::deque<Command> commands_;  // guarded by mu_
  bool stopping_ = false;         // guarded by mu_
  bool stopped_ = false;          // guarded by mu_
  // The config the worker checks submissions against. Guarded by mu_.
  std::shared_ptr<const Config> config_snapshot_;

  // Engine thread only from here on.
  std::unordered_map<std::string, std::unique_ptr<ActiveRun>> active_;
  std::unordered_map<int64_t, std::pair<ActiveRun*, int>> running_;  // by key
  int64_t next_key_ = 0;
};

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
  if (spec.resources.gpu) {
    // The GPUs it holds, and no other (SPEC §9).
    launch.env.push_back("CUDA_VISIBLE_DEVICES=" + GpuList(gpus));
    launch.env.push_back("AETHERFLOW_GPUS=" + GpuList(gpus));
  }
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
  Update update = run->scheduler->StepFinished(index, result, now);
  run->Apply(update, now);
  for (int other : update.to_kill) StopStep(run, other);  // fail_fast
  run->MaybeFinish(now);
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
    if (figures->progress) step.set_progress(*figures->progress);
    if (figures->throttled) {
      step.set_throttled(*figures->throttled);
      ev->set_throttled(*figures->throttled);
    }
    if (step.has_tokens()) ev->set_tokens(step.tokens());
    if (step.has_cost()) ev->set_cost(step.cost());
    ev->set_progress(step.progress());
    ev->set_message(figures->message);
    run->dirty_steps.insert(index);
  } else if (std::holds_alternative<StepOutput>(event)) {
    hub_->Notify(run->id());
  } else if (const auto* ended = std::get_if<StepEnded>(&event)) {
    running_.erase(it);
    if (ended->exit_code) step.set_exit_code(*ended->exit_code);
    step.set_signal(ended->signal);
    step.set_message(ended->message);
    if (ended->succeeded) step.set_message("");
    // A stopped step's end is the scheduler's to name (a timeout, a
    // cancel): it knows what it asked for.
    StepDone(run, index,
             ended->succeeded ? AttemptResult::kSucceeded : AttemptResult::kFailed, now);
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
        for (int i = 0; i < static_cast<int>(raw->steps.size()); ++i) {
          if (raw->steps[i].state() == pb::STEP_COMPLETED) raw->scheduler->RestoreCompleted(i);
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
    raw->Interrupt(now);
    LogInfo(absl::StrCat("run ", id, " interrupted by a daemon restart"));
  }
  if (!journal_.Commit(now)) return absl::InternalError("could not record recovery");
  Retire();
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ActiveRun>> Engine::Impl::Activate(
    const pb::RunSnapshot& snapshot, const RunSource& source) {
  auto run = std::make_unique<ActiveRun>(&journal_);
  AF_ASSIGN_OR_RETURN(run->plan, ParsePlan(source.plan_json, snapshot.run().plan_path()));
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
      if (auto provider = options_.config.providers.find(demand.provider);
          provider != options_.config.providers.end()) {
        demand.est_cost = EstimateCost(demand.est_tokens, provider->second);
      }
    }
    pb::StepResources* resources = run->steps[i].mutable_resources();
    resources->set_cpu(step.resources.cpu.value_or(0));
    resources->set_mem_bytes(step.resources.mem_bytes.value_or(0));
    resources->set_gpu(step.resources.gpu.value_or(0));
  }
  RunOptions options;
  options.max_parallel = run->plan.max_parallel.value_or(0);
  options.fail_fast = run->plan.fail_fast;
  options.retry_base_ms = options_.retry_base_ms;
  options.retry_max_ms = options_.retry_max_ms;
  run->scheduler = std::make_unique<RunScheduler>(std::move(specs), options);
  run->keys.assign(n, 0);
  run->processes.assign(n, {});
  run->Recount();
  return run;
}

// --- Requests ---

void Engine::Impl::Submit(SubmitRequest request, SubmitCallback done) {
  std::shared_ptr<const Config> config;
  {
    std::lock_guard<std::mutex> lock(mu_);
    config = config_snapshot_;
  }
  worker_.Post([this, request = std::move(request), done = std::move(done),
                config = std::move(config)]() mutable {
    if (request.plan_json.size() > kMaxPlanBytes) {
      return done(absl::ResourceExhaustedError(
          absl::StrCat(request.plan_path, ": plan is ", request.plan_json.size(),
                       " bytes; the limit is ", kMaxPlanBytes)));
    }
    absl::StatusOr<Plan> plan = ParsePlan(request.plan_json, request.plan_path);
    if (!plan.ok()) return done(plan.status());
    if (absl::Status checked = CheckSubmission(&*plan, request.plan_path, *config,
                                               options_.getenv, options_.capacity);
        !checked.ok()) {
      return done(checked);
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
  pb::RunSnapshot snapshot;
  pb::Run* run = snapshot.mutable_run();
  *run->mutable_owner() = request.owner;
  std::string output_dir =
      request.output_dir.empty() ? layout_.DefaultOutputDir(id) : request.output_dir;
  if (absl::Status made = layout_.MakeOutputDir(id, output_dir, ActAs(*run)); !made.ok()) {
    layout_.RemoveRunDir(id);
    return done(made);
  }
  run->set_id(id);
  run->set_task_id(plan.task_id);
  run->set_description(plan.description);
  run->set_state(pb::RUN_QUEUED);
  run->set_created_at_ms(now);
  run->set_steps_total(static_cast<int>(plan.steps.size()));
  run->set_batches(plan.batches);
  run->set_output_dir(output_dir);
  run->set_plan_path(request.plan_path);
  run->set_cwd(request.cwd);
  if (request.umask) run->set_umask(*request.umask);
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

void Engine::Impl::DoCancel(const std::string& run_id, SnapshotCallback done) {
  auto it = active_.find(run_id);
  if (it == active_.end() || !it->second->scheduler || it->second->final()) {
    absl::StatusOr<pb::RunSnapshot> snapshot = store_->GetRun(run_id);
    if (!snapshot.ok()) return done(snapshot.status());
    return done(absl::FailedPreconditionError(
        absl::StrCat("run ", run_id, " is not running (",
                     std::string(RunStateName(FromProto(snapshot->run().state()))), ")")));
  }
  ActiveRun* run = it->second.get();
  int64_t now = Now();
  run->run.set_reason("cancelled by the user");
  Update update = run->scheduler->Cancel();
  run->Apply(update, now);
  for (int index : update.to_kill) StopStep(run, index);
  run->MaybeFinish(now);
  journal_.Touch(run);
  LogInfo(absl::StrCat("run ", run_id, " cancelled"));
  journal_.AfterCommit([this, run_id, done] { done(store_->GetRun(run_id)); });
}

void Engine::Impl::DoPause(const std::string& run_id, SnapshotCallback done) {
  auto it = active_.find(run_id);
  if (it == active_.end() || !it->second->scheduler || it->second->final()) {
    absl::StatusOr<pb::RunSnapshot> snapshot = store_->GetRun(run_id);
    if (!snapshot.ok()) return done(snapshot.status());
    return done(absl::FailedPreconditionError(
        absl::StrCat("run ", run_id, " has ended (",
                     std::string(RunStateName(FromProto(snapshot->run().state()))),
                     "); there is nothing to pause")));
  }
  ActiveRun* run = it->second.get();
  if (run->state() != RunState::kPaused) {
    run->scheduler->SetPaused(true);
    run->SetRunState(RunState::kPaused, Now(), "paused by the user");
    LogInfo(absl::StrCat("run ", run_id, " paused"));
  }
  journal_.AfterCommit([this, run_id, done] { done(store_->GetRun(run_id)); });
}

void Engine::Impl::DoResume(const std::string& run_id,
                            const std::map<std::string, std::string>& env,
                            SnapshotCallback done) {
  int64_t now = Now();
  if (auto it = active_.find(run_id);
      it != active_.end() && it->second->scheduler && !it->second->final()) {
    ActiveRun* run = it->second.get();
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
    journal_.AfterCommit([this, run_id, done] { done(store_->GetRun(run_id)); });
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
  raw->SetRunState(RunState::kQueued, now, "resumed");
  Admit(raw);
  LogInfo(absl::StrCat("run ", run_id, " resumed"));
  raw->MaybeFinish(now);
  journal_.AfterCommit([this, run_id, done] { done(store_->GetRun(run_id)); });
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

void Engine::Impl::SetConfig(Config config) {
  // Steps in flight keep the provider they started with (their launch
  // holds its config).
  admission_.set_provider_slots(ProviderSlots(config));
  {
    std::lock_guard<std::mutex> lock(mu_);
    config_snapshot_ = std::make_shared<const Config>(config);
  }
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

void Engine::Ping(std::function<void()> done) { impl_->Post(std::move(done), [] {}); }

void Engine::Sync(std::function<void()> done) {
  impl_->Post([impl = impl_.get(), done = std::move(done)]() mutable {
    impl->DoSync(std::move(done));
  }, [] {});
}

void Engine::ReloadConfig(Config config) {
  impl_->Post(
      [impl = impl_.get(), config = std::move(config)]() mutable {
        impl->SetConfig(std::move(config));
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
