#include "daemon/engine.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <cstring>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/config.h"
#include "common/control_line.h"
#include "common/llm.h"
#include "common/log_analysis.h"
#include "common/plan_parser.h"
#include "common/secrets.h"
#include "common/status_macros.h"
#include "daemon/identity.h"
#include "daemon/llm_runner.h"
#include "daemon/llm_steps.h"
#include "daemon/log.h"
#include "daemon/proto_states.h"
#include "daemon/scheduler.h"
#include "nlohmann/json.hpp"

namespace aetherflow {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}


std::string NewRunId() {
  static std::mt19937_64 rng(std::random_device{}() ^
                             static_cast<uint64_t>(NowMs()));
  return absl::StrFormat("%08x", static_cast<uint32_t>(rng()));
}

// Longest a state change waits for the transaction it shares with others.
constexpr int64_t kGroupCommitMs = 10;

// Every step's `watch` patterns compile (RE2), so that a check-in never
// meets a bad one.
absl::Status CheckWatchSpecs(const Plan& plan, const std::string& path) {
  std::vector<std::string> problems;
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    nlohmann::json raw = nlohmann::json::parse(plan.steps[i].raw_json, nullptr, false);
    if (!raw.is_object() || !raw.contains("watch")) continue;
    absl::StatusOr<WatchSpec> spec = WatchSpecFromJson(raw["watch"]);
    if (!spec.ok()) {
      problems.push_back(absl::StrCat(path, ": steps[", i, "].watch: ", spec.status().message()));
    }
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
}

absl::Status StoppingError() {
  return absl::UnavailableError("aetherflowd is stopping");
}

bool IsFinalProto(pb::RunState state) {
  return state != pb::RUN_QUEUED && state != pb::RUN_RUNNING;
}


}  // namespace

// One run being executed.
struct ActiveRun {
  pb::Run run;
  std::vector<pb::Step> steps;
  Plan plan;
  std::map<std::string, std::string> env;  // with secrets; memory only
  std::shared_ptr<const std::vector<std::string>> shared_env;  // env, as K=V
  std::unique_ptr<RunScheduler> scheduler;
  std::vector<int64_t> keys;        // process key of a running step, or 0
  std::vector<ProcessIdentity> processes;  // of running steps, persisted
  std::multiset<int> running_batches;      // batch of each running step
  int finished_batch = 0;  // highest batch with a completed or failed step
  std::vector<bool> timed_out;      // the running attempt hit its timeout
  std::set<int> dirty_steps;
  bool dirty = false;
  bool started = false;
  // LLM budget: estimates of the steps in flight, and whether it ran out.
  int64_t reserved_tokens = 0;
  double reserved_cost = 0;
  bool budget_exhausted = false;
};

// One LLM step attempt: its request, sent again after a retryable answer.
struct LlmCall {
  std::string run_id;
  int index = 0;
  std::string provider;
  LlmRequest request;
  int http_attempt = 0;       // sends so far
  int64_t reserved_tokens = 0;
  double reserved_cost = 0;
  bool sent = false;          // holds one of the provider's slots
  bool in_runner = false;     // a request is out (else waiting to retry)
  std::vector<std::string> files;  // output paths it writes (locked while sent)
};

class Engine::Impl {
 public:
  Impl(EngineOptions options, StateStore* store, EventHub* hub,
       std::unique_ptr<ProcessRunner> runner)
      : options_(std::move(options)), store_(store), hub_(hub),
        runner_(std::move(runner)) {
    llm_ = std::make_unique<LlmRunner>([this] { runner_->Wakeup(); });
    if (options_.max_parallel <= 0) {
      // As ninja's default -j: steps often wait on I/O or a remote API.
      options_.max_parallel =
          static_cast<int>(std::max(1u, std::thread::hardware_concurrency())) + 2;
    }
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
    runner_->Wakeup();
  }

  void DoSubmit(SubmitRequest request, Plan plan, SubmitCallback done);
  void DoCancel(const std::string& run_id, SnapshotCallback done);
  void DoDelete(std::vector<std::string> ids, int64_t finished_before_ms,
                std::optional<uint32_t> owner, DeleteCallback done);
  void DoResume(const std::string& run_id,
                const std::map<std::string, std::string>& env,
                SnapshotCallback done);

  std::string RunDir(const std::string& run_id) const {
    return absl::StrCat(options_.state_dir, "/runs/", run_id);
  }
  std::string LogPath(const std::string& run_id, const std::string& step) const {
    return absl::StrCat(RunDir(run_id), "/logs/", step, ".log");
  }

  StateStore* store() { return store_; }
  const Config& config() const { return options_.config; }
  uint32_t daemon_uid() const { return options_.uid; }

  // Whom the steps of `run` run as, when that is not the daemon itself:
  // only a root daemon can (and must) act as the submitter.
  absl::Status MakeOutputDir(const pb::Run& run, const std::string& run_dir,
                             const std::string& output_dir);
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
  // Engine thread. Providers with calls in flight keep their old entry
  // until those end.
  void SetConfig(Config config) {
    for (const auto& [key, call] : llm_calls_) {
      if (!config.providers.count(call.provider)) {
        config.providers[call.provider] = options_.config.providers.at(call.provider);
      }
    }
    options_.config = std::move(config);
    LogInfo(absl::StrCat("configuration reloaded from ", options_.config.source));
  }
  const std::function<std::optional<std::string>(const std::string&)>& getenv() const {
    return options_.getenv;
  }

 private:
  void Loop();
  void HandleRunnerEvent(const RunnerEvent& event, int64_t now);
  void Dispatch(int64_t now);
  void StartStep(ActiveRun* run, int index, int64_t now);
  void StartLlmStep(ActiveRun* run, int index, int64_t now);
  void SendLlm(int64_t key, int64_t now);
  bool TryAdmit(int64_t key, int64_t now);
  void AdmitWaiting(int64_t now);
  void HandleLlmResponse(const LlmResponse& response, int64_t now);
  void FinishLlmStep(int64_t key, AttemptResult result, int64_t now);
  void StopStep(ActiveRun* run, int index);
  void Apply(ActiveRun* run, const Update& update, int64_t now);
  void SetStepState(ActiveRun* run, int index, StepState state, int64_t now,
                    const std::string& message);
  void MaybeFinishRun(ActiveRun* run, int64_t now);
  void SetRunState(ActiveRun* run, pb::RunState state, int64_t now,
                   const std::string& reason);
  pb::Event* NewEvent(ActiveRun* run, pb::EventKind kind, int64_t now);
  // Run counters: Recount from every step; Count one step in or out.
  void Recount(ActiveRun* run);
  void Count(ActiveRun* run, const pb::Step& step, int delta);
  void UpdateBatch(ActiveRun* run);
  // Commits what changed; on success publishes it and runs `after_commit_`.
  void CommitAndPublish();
  bool HasUncommitted() const {
    return !pending_events_.empty() || !touched_runs_.empty() ||
           !after_commit_.empty();
  }
  absl::StatusOr<std::unique_ptr<ActiveRun>> Activate(const pb::RunSnapshot& snapshot,
                                                      const RunSource& source);

  EngineOptions options_;
  StateStore* store_;
  EventHub* hub_;
  std::unique_ptr<ProcessRunner> runner_;
  std::unique_ptr<LlmRunner> llm_;
  std::thread thread_;

  std::mutex mu_;
  struct Command {
    std::function<void()> run;
    std::function<void()> reject;
  };
  std::deque<Command> commands_;  // guarded by mu_
  bool stopping_ = false;         // guarded by mu_
  bool stopped_ = false;          // guarded by mu_

  // Engine thread only from here on.
  std::unordered_map<std::string, std::unique_ptr<ActiveRun>> active_;
  std::unordered_map<int64_t, std::pair<ActiveRun*, int>> processes_;
  FairShare fair_;
  int64_t next_key_ = 0;
  int running_total_ = 0;
  std::deque<pb::Event> pending_events_;
  std::vector<std::function<void()>> after_commit_;
  std::set<std::string> touched_runs_;
  std::vector<std::string> finished_runs_;
  bool commit_failing_ = false;
  int64_t last_commit_ms_ = 0;

  // LLM steps (engine thread only).
  std::unordered_map<int64_t, LlmCall> llm_calls_;             // by key
  std::map<std::string, int> provider_in_flight_;               // by provider
  std::deque<int64_t> llm_waiting_;  // calls waiting for a slot or their files
  std::map<std::string, int64_t> files_written_;  // output path -> call key
  std::multimap<int64_t, int64_t> llm_retries_;                 // due ms -> key
};

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
  AF_ASSIGN_OR_RETURN(auto ids,
                      store_->RunsInStates({pb::RUN_QUEUED, pb::RUN_RUNNING}));
  int64_t now = NowMs();
  for (const std::string& id : ids) {
    AF_ASSIGN_OR_RETURN(pb::RunSnapshot snapshot, store_->GetRun(id));
    auto run = std::make_unique<ActiveRun>();
    run->run = snapshot.run();
    run->steps.assign(snapshot.steps().begin(), snapshot.steps().end());
    for (int i = 0; i < static_cast<int>(run->steps.size()); ++i) {
      if (run->steps[i].state() == pb::STEP_RUNNING) {
        pb::Step& step = run->steps[i];
        step.set_state(pb::STEP_INTERRUPTED);
        step.set_finished_at_ms(now);
        step.set_message("the daemon stopped while it ran");
        run->dirty_steps.insert(i);
        pb::Event* event = NewEvent(run.get(), pb::STEP_STATE_CHANGED, now);
        event->set_step_id(step.id());
        event->set_step_state(pb::STEP_INTERRUPTED);
        event->set_attempt(step.attempt());
        event->set_message(step.message());
      }
    }
    Recount(run.get());
    ActiveRun* raw = run.get();
    active_[id] = std::move(run);
    SetRunState(raw, pb::RUN_INTERRUPTED, now,
                "the daemon stopped while it ran; `aetherflow resume` runs "
                "what did not complete");
    LogInfo(absl::StrCat("run ", id, " interrupted by a daemon restart"));
  }
  CommitAndPublish();
  if (commit_failing_) return absl::InternalError("could not record recovery");
  return absl::OkStatus();
}

pb::Event* Engine::Impl::NewEvent(ActiveRun* run, pb::EventKind kind,
                                  int64_t now) {
  pending_events_.emplace_back();
  pb::Event* event = &pending_events_.back();
  event->set_run_id(run->run.id());
  event->set_seq(run->run.last_seq() + 1);
  run->run.set_last_seq(event->seq());
  event->set_time_ms(now);
  event->set_kind(kind);
  run->dirty = true;
  touched_runs_.insert(run->run.id());
  return event;
}

void Engine::Impl::SetRunState(ActiveRun* run, pb::RunState state, int64_t now,
                               const std::string& reason) {
  run->run.set_state(state);
  run->run.set_reason(reason);
  if (state == pb::RUN_RUNNING && run->run.started_at_ms() == 0) {
    run->run.set_started_at_ms(now);
  }
  if (IsFinalProto(state)) {
    run->run.set_finished_at_ms(now);
    finished_runs_.push_back(run->run.id());
  } else {
    run->run.set_finished_at_ms(0);
  }
  pb::Event* event = NewEvent(run, pb::RUN_STATE_CHANGED, now);
  event->set_run_state(state);
  event->set_message(reason);
}

void Engine::Impl::Recount(ActiveRun* run) {
  pb::Run& r = run->run;
  r.set_completed(0);
  r.set_failed(0);
  r.set_running(0);
  r.set_skipped(0);
  r.set_cancelled(0);
  r.set_interrupted(0);
  r.clear_tokens();
  r.clear_cost();
  r.set_batch(0);
  run->running_batches.clear();
  for (const pb::Step& step : run->steps) {
    Count(run, step, +1);
    if (step.has_tokens()) r.set_tokens(r.tokens() + step.tokens());
    if (step.has_cost()) r.set_cost(r.cost() + step.cost());
  }
  UpdateBatch(run);
}

void Engine::Impl::Count(ActiveRun* run, const pb::Step& step, int delta) {
  pb::Run& r = run->run;
  switch (step.state()) {
    case pb::STEP_COMPLETED: r.set_completed(r.completed() + delta); break;
    case pb::STEP_FAILED: r.set_failed(r.failed() + delta); break;
    case pb::STEP_SKIPPED: r.set_skipped(r.skipped() + delta); break;
    case pb::STEP_CANCELLED: r.set_cancelled(r.cancelled() + delta); break;
    case pb::STEP_INTERRUPTED: r.set_interrupted(r.interrupted() + delta); break;
    case pb::STEP_RUNNING:
      r.set_running(r.running() + delta);
      if (delta > 0) {
        run->running_batches.insert(step.batch());
      } else if (auto it = run->running_batches.find(step.batch());
                 it != run->running_batches.end()) {
        run->running_batches.erase(it);
      }
      break;
    default: break;
  }
  if (delta > 0 && (step.state() == pb::STEP_COMPLETED ||
                    step.state() == pb::STEP_FAILED)) {
    run->finished_batch = std::max(run->finished_batch, step.batch());
  }
}

void Engine::Impl::UpdateBatch(ActiveRun* run) {
  // The batch the run is in: the highest with a step running, else the
  // highest with a step finished.
  run->run.set_batch(run->running_batches.empty() ? run->finished_batch
                                                  : *run->running_batches.rbegin());
}

void Engine::Impl::SetStepState(ActiveRun* run, int index, StepState state,
                                int64_t now, const std::string& message) {
  pb::Step& step = run->steps[index];
  Count(run, step, -1);
  step.set_state(ToProto(state));
  Count(run, step, +1);
  UpdateBatch(run);
  step.set_message(message);
  step.set_attempt(run->scheduler->attempt(index));
  if (state == StepState::kRunning) {
    if (step.started_at_ms() && step.finished_at_ms()) {
      step.set_previous_attempts_ms(step.previous_attempts_ms() +
                                    step.finished_at_ms() - step.started_at_ms());
    }
    step.set_started_at_ms(now);
    step.set_finished_at_ms(0);
    step.clear_exit_code();
    step.set_signal(0);
    step.set_retry_at_ms(0);
  } else if (step.started_at_ms() && !step.finished_at_ms() &&
             state != StepState::kSkipped) {
    step.set_finished_at_ms(now);
  }
  run->dirty_steps.insert(index);
  pb::Event* event = NewEvent(run, pb::STEP_STATE_CHANGED, now);
  event->set_step_id(step.id());
  event->set_step_state(step.state());
  event->set_attempt(step.attempt());
  if (step.has_exit_code()) event->set_exit_code(step.exit_code());
  event->set_signal(step.signal());
  event->set_message(message);
  event->set_retry_at_ms(step.retry_at_ms());
}

void Engine::Impl::Apply(ActiveRun* run, const Update& update, int64_t now) {
  for (const Transition& t : update.transitions) {
    std::string message;
    pb::Step& step = run->steps[t.step];
    if (t.state == StepState::kPending && t.retry_at_ms) {
      step.set_retry_at_ms(t.retry_at_ms);
      message = absl::StrFormat("attempt %d failed; retry in %.1fs", t.attempt,
                                (t.retry_at_ms - now) / 1000.0);
    } else if (t.state == StepState::kSkipped) {
      message = "a dependency did not complete";
    } else if (t.state == StepState::kCancelled && run->budget_exhausted) {
      // Steps the budget leaves unstarted are skipped, not cancelled.
      SetStepState(run, t.step, StepState::kSkipped, now, "budget exhausted");
      continue;
    } else if (t.state == StepState::kCancelled) {
      message = run->run.reason().empty() ? "cancelled" : run->run.reason();
    } else if (t.state == StepState::kFailed) {
      message = step.message();
    }
    SetStepState(run, t.step, t.state, now, message);
    if (t.state == StepState::kPending) step.set_retry_at_ms(t.retry_at_ms);
  }
  for (int index : update.to_kill) StopStep(run, index);
}

void Engine::Impl::StopStep(ActiveRun* run, int index) {
  int64_t key = run->keys[index];
  if (!key) return;
  if (llm_calls_.count(key)) {
    if (llm_calls_.at(key).in_runner) {
      llm_->Cancel(key);  // it answers "cancelled"
    } else {
      // Waiting for a slot or for its retry: nothing is out to cancel.
      FinishLlmStep(key, AttemptResult::kCancelled, NowMs());
    }
  } else {
    runner_->Terminate(key, options_.kill_grace_ms);
  }
}

void Engine::Impl::MaybeFinishRun(ActiveRun* run, int64_t now) {
  if (IsFinalProto(run->run.state()) || !run->scheduler->done()) return;
  RunState result = run->scheduler->result();
  std::string reason;
  if (run->budget_exhausted && result != RunState::kFailed) {
    SetRunState(run, pb::RUN_FAILED, now, "budget exhausted");
    return;
  }
  if (result == RunState::kFailed) {
    std::vector<std::string> failed;
    for (const pb::Step& step : run->steps) {
      if (step.state() == pb::STEP_FAILED) failed.push_back(step.id());
    }
    reason = absl::StrCat(failed.size() == 1 ? "step " : "steps ",
                          absl::StrJoin(failed, ", "), " failed");
  } else if (result == RunState::kCancelled) {
    reason = run->run.reason().empty() ? "cancelled" : run->run.reason();
  }
  SetRunState(run, ToProto(result), now, reason);
}

void Engine::Impl::StartStep(ActiveRun* run, int index, int64_t now) {
  const Step& spec = run->plan.steps[index];
  if (!spec.is_command()) return StartLlmStep(run, index, now);
  pb::Step& step = run->steps[index];
  SetStepState(run, index, StepState::kRunning, now, "");
  LaunchSpec launch;
  launch.key = ++next_key_;
  if (spec.shell) {
    launch.argv = {"/bin/sh", "-c", *spec.shell};
  } else {
    launch.argv = *spec.argv;
  }
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
  launch.env.push_back("AETHERFLOW_RUN_ID=" + run->run.id());
  launch.env.push_back("AETHERFLOW_STEP_ID=" + spec.id);
  launch.env.push_back("AETHERFLOW_ATTEMPT=" + std::to_string(step.attempt()));
  launch.env.push_back("AETHERFLOW_OUTPUT_DIR=" + run->run.output_dir());
  std::filesystem::path cwd = spec.cwd.empty()
                                  ? std::filesystem::path(run->run.cwd())
                                  : std::filesystem::path(run->run.cwd()) / spec.cwd;
  launch.cwd = cwd.lexically_normal().string();
  launch.log_path = LogPath(run->run.id(), spec.id);
  launch.credentials = ActAs(run->run);
  if (run->run.has_umask()) launch.umask = static_cast<mode_t>(run->run.umask());
  if (step.attempt() > 1) {
    // Separate attempts in the log so that the reader knows which is which.
    if (FILE* log = std::fopen(launch.log_path.c_str(), "ae")) {
      std::fprintf(log, "\n::aetherflow-attempt %d\n", step.attempt());
      std::fclose(log);
    }
  }
  absl::StatusOr<ProcessIdentity> process = runner_->Start(launch);
  if (!process.ok()) {
    step.set_message(absl::StrCat("could not start: ", process.status().message()));
    Update update = run->scheduler->StepFinished(index, AttemptResult::kFailed, now);
    Apply(run, update, now);
    MaybeFinishRun(run, now);  // it may have been the last step
    return;
  }
  run->keys[index] = launch.key;
  run->processes[index] = *process;  // committed with the step's row
  processes_[launch.key] = {run, index};
  ++running_total_;
}

// --- LLM steps ---

void Engine::Impl::StartLlmStep(ActiveRun* run, int index, int64_t now) {
  const Step& spec = run->plan.steps[index];
  pb::Step& step = run->steps[index];
  auto fail = [&](const std::string& why) {
    SetStepState(run, index, StepState::kRunning, now, "");
    step.set_message(why);
    Apply(run, run->scheduler->StepFinished(index, AttemptResult::kFailed, now), now);
    MaybeFinishRun(run, now);
  };
  auto provider_it = options_.config.providers.find(step.provider());
  if (provider_it == options_.config.providers.end()) {
    return fail(absl::StrCat("unknown provider \"", step.provider(), "\""));
  }
  const ProviderConfig& provider = provider_it->second;
  // The budget: this step's estimate is reserved before it starts.
  int64_t est_tokens = spec.estimated_tokens.value_or(0);
  std::optional<double> est_cost = EstimateCost(est_tokens, provider);
  const pb::Run& r = run->run;
  bool over_tokens = run->plan.budget_tokens &&
                     r.tokens() + run->reserved_tokens + est_tokens > *run->plan.budget_tokens;
  bool over_cost = run->plan.budget_cost && est_cost &&
                   r.cost() + run->reserved_cost + *est_cost > *run->plan.budget_cost;
  if (over_tokens || over_cost) {
    run->budget_exhausted = true;
    run->run.set_reason("budget exhausted");
    Apply(run, run->scheduler->StepFinished(index, AttemptResult::kCancelled, now), now);
    Update rest = run->scheduler->Cancel();
    rest.to_kill.clear();  // what is in flight finishes: it is paid for
    Apply(run, rest, now);
    LogInfo(absl::StrCat("run ", r.id(), ": budget exhausted"));
    MaybeFinishRun(run, now);
    return;
  }
  absl::StatusOr<std::string> api_key = ProviderKey(provider, options_.getenv);
  if (!api_key.ok()) return fail(std::string(api_key.status().message()));
  int64_t key = ++next_key_;
  std::filesystem::path cwd = spec.cwd.empty()
                                  ? std::filesystem::path(r.cwd())
                                  : std::filesystem::path(r.cwd()) / spec.cwd;
  absl::StatusOr<LlmRequest> request = [&]() -> absl::StatusOr<LlmRequest> {
    // The prompt's files are read with the submitter's rights, not ours.
    ScopedFileIdentity as_owner(ActAs(r));
    if (!as_owner.status().ok()) return as_owner.status();
    return PrepareLlmRequest(spec, spec.dependencies, cwd.lexically_normal().string(),
                             r.output_dir(), provider, *api_key, key);
  }();
  if (!request.ok()) return fail(std::string(request.status().message()));
  LlmCall call;
  call.run_id = r.id();
  call.index = index;
  call.provider = step.provider();
  call.request = std::move(*request);
  call.reserved_tokens = est_tokens;
  call.reserved_cost = est_cost.value_or(0);
  if (absl::StatusOr<PromptInputs> inputs = PromptInputsFromStep(spec); inputs.ok()) {
    for (const PromptFile& file : inputs->files) {
      if (file.input_only) continue;
      if (absl::StatusOr<std::string> path = SafeJoin(r.output_dir(), file.path); path.ok()) {
        call.files.push_back(*path);
      }
    }
  }
  run->reserved_tokens += call.reserved_tokens;
  run->reserved_cost += call.reserved_cost;
  run->keys[index] = key;
  llm_calls_[key] = std::move(call);
  if (!TryAdmit(key, now)) {
    llm_waiting_.push_back(key);
    step.set_message(absl::StrCat("waiting for a ", step.provider(), " slot"));
    run->dirty_steps.insert(index);
    touched_runs_.insert(r.id());
  }
}

// Sends the call if its provider has a free slot and no step in flight
// writes the same files (two steps never write one file at once).
bool Engine::Impl::TryAdmit(int64_t key, int64_t now) {
  LlmCall& call = llm_calls_.at(key);
  const ProviderConfig& provider = options_.config.providers.at(call.provider);
  if (provider_in_flight_[call.provider] >= provider.max_concurrency) return false;
  for (const std::string& file : call.files) {
    auto it = files_written_.find(file);
    if (it != files_written_.end() && it->second != key) return false;
  }
  for (const std::string& file : call.files) files_written_[file] = key;
  ++provider_in_flight_[call.provider];
  call.sent = true;
  ActiveRun* run = active_.at(call.run_id).get();
  SetStepState(run, call.index, StepState::kRunning, now, "");
  SendLlm(key, now);
  return true;
}

void Engine::Impl::AdmitWaiting(int64_t now) {
  std::deque<int64_t> still;
  while (!llm_waiting_.empty()) {
    int64_t key = llm_waiting_.front();
    llm_waiting_.pop_front();
    if (llm_calls_.count(key) && !TryAdmit(key, now)) still.push_back(key);
  }
  llm_waiting_.swap(still);
}

void Engine::Impl::SendLlm(int64_t key, int64_t now) {
  LlmCall& call = llm_calls_.at(key);
  ++call.http_attempt;
  if (call.http_attempt > 1) {
    ActiveRun* run = active_.at(call.run_id).get();
    pb::Step& step = run->steps[call.index];
    step.set_throttled(false);
    pb::Event* event = NewEvent(run, pb::STEP_FIGURES, now);
    event->set_step_id(step.id());
    event->set_attempt(step.attempt());
    event->set_throttled(false);
    event->set_message(absl::StrCat("asking ", call.provider, " again (try ",
                                    call.http_attempt, ")"));
    run->dirty_steps.insert(call.index);
  }
  call.in_runner = true;
  llm_->Start(call.request);
}

void Engine::Impl::HandleLlmResponse(const LlmResponse& response, int64_t now) {
  auto it = llm_calls_.find(response.key);
  if (it == llm_calls_.end()) return;
  LlmCall& call = it->second;
  call.in_runner = false;
  ActiveRun* run = active_.at(call.run_id).get();
  const Step& spec = run->plan.steps[call.index];
  pb::Step& step = run->steps[call.index];
  const ProviderConfig& provider = options_.config.providers.at(call.provider);
  LlmOutcome outcome;
  {
    // Outputs are written with the submitter's rights, not ours.
    ScopedFileIdentity as_owner(ActAs(run->run));
    if (as_owner.status().ok()) {
      std::optional<mode_t> umask;
      if (run->run.has_umask()) umask = static_cast<mode_t>(run->run.umask());
      outcome = ::aetherflow::HandleLlmResponse(response, spec, run->run.output_dir(),
                                                provider, call.http_attempt, now, umask);
    } else {
      outcome.kind = LlmOutcome::Kind::kFailed;
      outcome.message = std::string(as_owner.status().message());
    }
  }
  switch (outcome.kind) {
    case LlmOutcome::Kind::kRetry: {
      int64_t delay = LlmBackoffMs(call.http_attempt, outcome.retry_after_ms);
      llm_retries_.emplace(now + delay, response.key);
      // Shown as the step's status, not a silent wait.
      step.set_throttled(outcome.throttled);
      std::string message = absl::StrFormat(
          "%s; asking again in %.1fs", outcome.throttled
                                           ? absl::StrCat("throttled by ", call.provider, " (429)")
                                           : outcome.message,
          delay / 1000.0);
      pb::Event* event = NewEvent(run, pb::STEP_FIGURES, now);
      event->set_step_id(step.id());
      event->set_attempt(step.attempt());
      event->set_throttled(outcome.throttled);
      event->set_message(message);
      run->dirty_steps.insert(call.index);
      return;
    }
    case LlmOutcome::Kind::kSucceeded: {
      pb::Run& r = run->run;
      pb::Event* event = NewEvent(run, pb::STEP_FIGURES, now);
      event->set_step_id(step.id());
      event->set_attempt(step.attempt());
      if (outcome.tokens) {
        step.set_tokens(step.tokens() + *outcome.tokens);
        r.set_tokens(r.tokens() + *outcome.tokens);
        event->set_tokens(step.tokens());
      }
      if (outcome.cost) {
        step.set_cost(step.cost() + *outcome.cost);
        r.set_cost(r.cost() + *outcome.cost);
        event->set_cost(step.cost());
      }
      run->dirty_steps.insert(call.index);
      step.set_message("");
      return FinishLlmStep(response.key, AttemptResult::kSucceeded, now);
    }
    case LlmOutcome::Kind::kFailed:
      step.set_message(outcome.message);
      return FinishLlmStep(response.key, AttemptResult::kFailed, now);
    case LlmOutcome::Kind::kCancelled:
      return FinishLlmStep(response.key, AttemptResult::kCancelled, now);
  }
}

void Engine::Impl::FinishLlmStep(int64_t key, AttemptResult result, int64_t now) {
  LlmCall call = std::move(llm_calls_.at(key));
  llm_calls_.erase(key);
  for (auto it = llm_retries_.begin(); it != llm_retries_.end();) {
    it = it->second == key ? llm_retries_.erase(it) : std::next(it);
  }
  ActiveRun* run = active_.at(call.run_id).get();
  run->reserved_tokens -= call.reserved_tokens;
  run->reserved_cost -= call.reserved_cost;
  run->keys[call.index] = 0;
  pb::Step& step = run->steps[call.index];
  step.set_throttled(false);
  if (call.sent) {
    --provider_in_flight_[call.provider];
    for (const std::string& file : call.files) {
      if (files_written_.count(file) && files_written_[file] == key) files_written_.erase(file);
    }
  }
  if (result != AttemptResult::kSucceeded && run->timed_out[call.index]) {
    result = AttemptResult::kTimedOut;
    step.set_message(absl::StrCat("timed out after ",
                                  *run->plan.steps[call.index].timeout_ms / 1000.0, "s"));
  } else if (result != AttemptResult::kSucceeded && run->scheduler->cancelled()) {
    result = AttemptResult::kCancelled;
  }
  run->timed_out[call.index] = false;
  if (step.state() != pb::STEP_RUNNING) {
    // Never sent (waiting for a slot): the scheduler still counts it
    // running; show it as started so that it ends like the others.
    SetStepState(run, call.index, StepState::kRunning, now, "");
  }
  Apply(run, run->scheduler->StepFinished(call.index, result, now), now);
  MaybeFinishRun(run, now);
  AdmitWaiting(now);
}

void Engine::Impl::Dispatch(int64_t now) {
  auto has_work = [&](const std::string& id) {
    return active_.at(id)->scheduler->HasWork(now);
  };
  while (running_total_ < options_.max_parallel) {
    std::optional<std::string> id = fair_.Next(has_work);
    if (!id) break;
    ActiveRun* run = active_.at(*id).get();
    std::optional<int> index = run->scheduler->FindWork(now);
    if (!index) break;
    if (!run->started) {
      run->started = true;
      if (run->run.state() != pb::RUN_RUNNING) {
        SetRunState(run, pb::RUN_RUNNING, now, "");
      }
    }
    StartStep(run, *index, now);
  }
}

void Engine::Impl::HandleRunnerEvent(const RunnerEvent& event, int64_t now) {
  if (const auto* exited = std::get_if<ProcessExited>(&event)) {
    auto it = processes_.find(exited->key);
    if (it == processes_.end()) return;
    auto [run, index] = it->second;
    processes_.erase(it);
    --running_total_;
    run->keys[index] = 0;
    pb::Step& step = run->steps[index];
    AttemptResult result;
    if (exited->signal == 0) {
      step.set_exit_code(exited->exit_code);
      result = exited->exit_code == 0 ? AttemptResult::kSucceeded
                                      : AttemptResult::kFailed;
      step.set_message(result == AttemptResult::kFailed
                           ? absl::StrCat("exit code ", exited->exit_code)
                           : "");
    } else {
      step.set_signal(exited->signal);
      result = AttemptResult::kFailed;
      step.set_message(absl::StrCat("killed by signal ", exited->signal, " (",
                                    strsignal(exited->signal), ")"));
    }
    if (run->timed_out[index]) {
      run->timed_out[index] = false;
      if (result != AttemptResult::kSucceeded) {
        result = AttemptResult::kTimedOut;
        step.set_message(absl::StrCat("timed out after ",
                                      *run->plan.steps[index].timeout_ms / 1000.0,
                                      "s"));
      }
    } else if (run->scheduler->cancelled() && result != AttemptResult::kSucceeded) {
      result = AttemptResult::kCancelled;
    }
    if (result == AttemptResult::kSucceeded) {
      step.set_finished_at_ms(now);
    }
    Update update = run->scheduler->StepFinished(index, result, now);
    Apply(run, update, now);
    run->processes[index] = {};
    MaybeFinishRun(run, now);
  } else if (const auto* line = std::get_if<ControlLine>(&event)) {
    auto it = processes_.find(line->key);
    if (it == processes_.end()) return;
    auto [run, index] = it->second;
    absl::StatusOr<Figures> figures = ParseControlLine(line->line);
    if (!figures.ok()) return;  // the line stays in the log for the reader
    pb::Step& step = run->steps[index];
    pb::Event* ev = NewEvent(run, pb::STEP_FIGURES, now);
    ev->set_step_id(step.id());
    ev->set_attempt(step.attempt());
    pb::Run& r = run->run;
    if (figures->tokens) {
      r.set_tokens(r.tokens() - step.tokens() + *figures->tokens);
      step.set_tokens(*figures->tokens);
    }
    if (figures->cost) {
      r.set_cost(r.cost() - step.cost() + *figures->cost);
      step.set_cost(*figures->cost);
    }
    if (figures->progress) step.set_progress(*figures->progress);
    if (step.has_tokens()) ev->set_tokens(step.tokens());
    if (step.has_cost()) ev->set_cost(step.cost());
    ev->set_progress(step.progress());
    run->dirty_steps.insert(index);
  } else if (const auto* activity = std::get_if<OutputActivity>(&event)) {
    auto it = processes_.find(activity->key);
    if (it != processes_.end()) hub_->Notify(it->second.first->run.id());
  }
}

void Engine::Impl::CommitAndPublish() {
  CommitBatch batch;
  for (const std::string& id : touched_runs_) {
    ActiveRun* run = active_.at(id).get();
    batch.runs.push_back(&run->run);
    for (int index : run->dirty_steps) {
      ProcessIdentity* process =
          run->processes.empty() ? nullptr : &run->processes[index];
      if (process && process->pid && !process->start_ticks) {
        // Read only for steps still running at commit time: a short step
        // never costs the /proc read.
        process->start_ticks = ProcessStartTicks(process->pid);
      }
      batch.steps.push_back({&run->run.id(), index, &run->steps[index],
                             process ? process->pid : 0,
                             process ? process->start_ticks : 0});
    }
  }
  for (const pb::Event& event : pending_events_) batch.events.push_back(&event);
  absl::Status status = store_->Commit(batch);
  if (!status.ok()) {
    // Nothing is published that is not stored: keep everything pending and
    // try again on the next turn (a full disk may be freed).
    if (!commit_failing_) LogError(status.ToString());
    commit_failing_ = true;
    return;
  }
  if (commit_failing_) LogInfo("state database writable again");
  commit_failing_ = false;
  for (const pb::Event& event : pending_events_) hub_->Remember(event);
  pending_events_.clear();
  for (const std::string& id : touched_runs_) {
    ActiveRun* run = active_.at(id).get();
    run->dirty = false;
    run->dirty_steps.clear();
    hub_->Notify(id);
  }
  touched_runs_.clear();
  for (const std::string& id : finished_runs_) {
    auto it = active_.find(id);
    if (it == active_.end() || !IsFinalProto(it->second->run.state())) continue;
    // A recovered run has no scheduler: nothing is left to drive.
    const RunScheduler* scheduler = it->second->scheduler.get();
    if (scheduler == nullptr || scheduler->running() == 0) {
      fair_.Remove(id);
      active_.erase(it);
      hub_->Forget(id);
    }
  }
  finished_runs_.clear();
  std::vector<std::function<void()>> callbacks;
  callbacks.swap(after_commit_);
  for (auto& callback : callbacks) callback();
}

void Engine::Impl::Loop() {
  std::vector<RunnerEvent> events;
  while (true) {
    int64_t now = NowMs();
    int timeout_ms = 1000;
    for (const auto& [id, run] : active_) {
      if (!run->scheduler) continue;
      if (auto wake = run->scheduler->NextWakeup()) {
        timeout_ms = static_cast<int>(
            std::clamp<int64_t>(*wake - now, 0, timeout_ms));
      }
    }
    if (!llm_retries_.empty()) {
      timeout_ms = static_cast<int>(
          std::clamp<int64_t>(llm_retries_.begin()->first - now, 0, timeout_ms));
    }
    if (commit_failing_) {
      timeout_ms = 1000;
    } else if (HasUncommitted()) {
      timeout_ms = static_cast<int>(std::clamp<int64_t>(
          last_commit_ms_ + kGroupCommitMs - now, 0, timeout_ms));
    }
    events.clear();
    runner_->Wait(timeout_ms, &events);
    now = NowMs();

    std::deque<Command> commands;
    bool stopping;
    {
      std::lock_guard<std::mutex> lock(mu_);
      commands.swap(commands_);
      stopping = stopping_;
      stopped_ = stopping_;  // nothing is queued after this turn
    }
    for (Command& command : commands) command.run();
    for (const RunnerEvent& event : events) HandleRunnerEvent(event, now);
    for (const LlmResponse& response : llm_->TakeResponses()) {
      HandleLlmResponse(response, now);
    }
    while (!llm_retries_.empty() && llm_retries_.begin()->first <= now) {
      int64_t key = llm_retries_.begin()->second;
      llm_retries_.erase(llm_retries_.begin());
      if (llm_calls_.count(key)) SendLlm(key, now);
    }
    if (stopping) break;
    for (auto& [id, run] : active_) {
      if (!run->scheduler) continue;
      for (int index : run->scheduler->Expired(now)) {
        run->timed_out[index] = true;
        StopStep(run.get(), index);
      }
    }
    if (!commit_failing_) Dispatch(now);
    // Group commit: changes that come in a burst (10,000 short steps) share
    // a transaction. Nothing is published before it is committed, and a
    // reply, a finished run or an idle engine commits at once.
    if (HasUncommitted() &&
        (!after_commit_.empty() || !finished_runs_.empty() ||
         running_total_ == 0 || now - last_commit_ms_ >= kGroupCommitMs)) {
      CommitAndPublish();
      last_commit_ms_ = now;
    }
  }

  // Graceful stop: what runs now is interrupted, not failed.
  int64_t now = NowMs();
  runner_->KillAll();
  for (auto& [id, run] : active_) {
    if (!run->scheduler || IsFinalProto(run->run.state())) continue;
    for (int i = 0; i < static_cast<int>(run->steps.size()); ++i) {
      if (run->steps[i].state() == pb::STEP_RUNNING) {
        run->steps[i].set_finished_at_ms(now);
        pb::Step& step = run->steps[i];
        step.set_state(pb::STEP_INTERRUPTED);
        step.set_message("the daemon stopped while it ran");
        run->dirty_steps.insert(i);
        pb::Event* event = NewEvent(run.get(), pb::STEP_STATE_CHANGED, now);
        event->set_step_id(step.id());
        event->set_step_state(pb::STEP_INTERRUPTED);
        event->set_attempt(step.attempt());
        event->set_message(step.message());
      }
    }
    Recount(run.get());
    SetRunState(run.get(), pb::RUN_INTERRUPTED, now,
                "the daemon stopped while it ran; `aetherflow resume` runs "
                "what did not complete");
  }
  CommitAndPublish();
  store_->ClearStepProcesses().IgnoreError();
  hub_->NotifyAll();
}

void Engine::Impl::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  runner_->Wakeup();
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<std::unique_ptr<ActiveRun>> Engine::Impl::Activate(
    const pb::RunSnapshot& snapshot, const RunSource& source) {
  auto run = std::make_unique<ActiveRun>();
  AF_ASSIGN_OR_RETURN(run->plan, ParsePlan(source.plan_json,
                                           snapshot.run().plan_path()));
  if (run->plan.steps.size() != static_cast<std::size_t>(snapshot.steps_size())) {
    return absl::DataLossError("stored plan and steps disagree");
  }
  run->run = snapshot.run();
  run->steps.assign(snapshot.steps().begin(), snapshot.steps().end());
  run->env = source.env;
  std::vector<StepSpec> specs(run->plan.steps.size());
  for (std::size_t i = 0; i < specs.size(); ++i) {
    specs[i].deps = run->plan.deps[i];
    specs[i].retries = run->plan.steps[i].retries;
    specs[i].timeout_ms = run->plan.steps[i].timeout_ms;
  }
  RunOptions options;
  options.max_parallel = run->plan.max_parallel.value_or(0);
  options.fail_fast = run->plan.fail_fast;
  options.retry_base_ms = options_.retry_base_ms;
  options.retry_max_ms = options_.retry_max_ms;
  run->scheduler = std::make_unique<RunScheduler>(std::move(specs), options);
  run->keys.assign(run->steps.size(), 0);
  run->processes.assign(run->steps.size(), {});
  run->timed_out.assign(run->steps.size(), false);
  Recount(run.get());
  return run;
}

// The run's output folder. Steps that run as their submitter must be able
// to write there: one the user named is made with their rights; the default
// one, inside our state directory, is made theirs, and the folders above it
// let them through (0711: they cannot list other runs).
absl::Status Engine::Impl::MakeOutputDir(const pb::Run& run, const std::string& run_dir,
                                         const std::string& output_dir) {
  std::optional<Credentials> as = ActAs(run);
  std::error_code error;
  if (as.has_value() && output_dir.rfind(run_dir + "/", 0) == 0) {
    std::filesystem::create_directories(output_dir, error);
    if (!error) {
      for (const std::string& dir :
           {options_.state_dir, options_.state_dir + "/runs", run_dir}) {
        struct stat st;
        if (::stat(dir.c_str(), &st) == 0 && (st.st_mode & 0111) != 0111) {
          ::chmod(dir.c_str(), (st.st_mode & 07777) | 0111);
        }
      }
      if (::chown(output_dir.c_str(), as->uid, as->gid) != 0 ||
          ::chmod(output_dir.c_str(), 0700) != 0) {
        error = std::error_code(errno, std::generic_category());
      }
    }
  } else {
    ScopedFileIdentity as_owner(as);
    if (!as_owner.status().ok()) return as_owner.status();
    std::filesystem::create_directories(output_dir, error);
  }
  if (error) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create output folder ", output_dir, ": ", error.message()));
  }
  return absl::OkStatus();
}

void Engine::Impl::DoSubmit(SubmitRequest request, Plan plan, SubmitCallback done) {
  // LLM steps: a provider for each (by type through the routing table
  // unless the step names one), with a key — refused now, not at 3 a.m.
  std::vector<std::string> problems;
  std::set<std::string> checked;
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    Step& step = plan.steps[i];
    if (step.is_command()) continue;
    absl::StatusOr<std::string> provider = RouteStep(options_.config, step);
    if (!provider.ok()) {
      problems.push_back(absl::StrCat(request.plan_path, ": steps[", i, "] (", step.id,
                                      "): ", provider.status().message()));
      continue;
    }
    step.provider = *provider;
    if (!checked.insert(*provider).second) continue;
    absl::StatusOr<std::string> key =
        ProviderKey(options_.config.providers.at(*provider), options_.getenv);
    if (!key.ok()) {
      // The key must be in the daemon's environment, not only the shell's:
      // say so, since an autostarted daemon keeps the environment it had.
      problems.push_back(absl::StrCat(
          request.plan_path, ": ", key.status().message(),
          " (keys are read by aetherflowd: restart it from a shell that has "
          "the key, or name a key file in its config)"));
    }
  }
  if (!problems.empty()) {
    done(absl::InvalidArgumentError(absl::StrJoin(problems, "\n")));
    return;
  }
  const uint32_t owner = request.owner.uid();
  if (options_.max_runs_per_user > 0) {
    int in_flight = 0;
    for (const auto& [id, active] : active_) {
      if (active->run.owner().uid() == owner && !IsFinalProto(active->run.state())) {
        ++in_flight;
      }
    }
    if (in_flight >= options_.max_runs_per_user) {
      done(absl::ResourceExhaustedError(absl::StrCat(
          "you have ", in_flight, " runs queued or running, the most this daemon "
          "takes per user; wait for one to end or cancel one")));
      return;
    }
  }
  int64_t now = NowMs();
  std::string id;
  do {
    id = NewRunId();
  } while (active_.count(id) || store_->GetRun(id).ok());
  std::string run_dir = RunDir(id);
  std::error_code error;
  std::filesystem::create_directories(run_dir + "/logs", error);
  if (error) {
    done(absl::InternalError(absl::StrCat("cannot create ", run_dir, ": ",
                                          error.message())));
    return;
  }
  pb::RunSnapshot snapshot;
  pb::Run* run = snapshot.mutable_run();
  *run->mutable_owner() = request.owner;
  std::string output_dir =
      request.output_dir.empty() ? run_dir + "/output" : request.output_dir;
  if (absl::Status made = MakeOutputDir(*run, run_dir, output_dir); !made.ok()) {
    std::filesystem::remove_all(run_dir, error);
    done(made);
    return;
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
  auto active = Activate(snapshot, source);
  if (!active.ok()) {
    done(active.status());
    return;
  }
  (*active)->env = request.env;  // secrets stay in memory only
  ActiveRun* raw = active->get();
  pb::Event first;
  first.set_run_id(id);
  first.set_seq(1);
  first.set_time_ms(now);
  first.set_kind(pb::RUN_STATE_CHANGED);
  first.set_run_state(pb::RUN_QUEUED);
  first.set_message(absl::StrCat("submitted ", request.plan_path));
  raw->run.set_last_seq(1);
  absl::Status status = store_->CreateRun(raw->run, source, raw->steps, {first});
  if (!status.ok()) {
    std::filesystem::remove_all(run_dir, error);
    done(status);
    return;
  }
  active_[id] = std::move(*active);
  fair_.Add(id);
  LogInfo(absl::StrCat("run ", id, " submitted: ", plan.steps.size(), " steps"));
  done(SubmitResult{id, plan.warnings});
  if (raw->scheduler->done()) MaybeFinishRun(raw, now);
}

void Engine::Impl::DoCancel(const std::string& run_id, SnapshotCallback done) {
  auto it = active_.find(run_id);
  if (it == active_.end() || !it->second->scheduler ||
      IsFinalProto(it->second->run.state())) {
    absl::StatusOr<pb::RunSnapshot> snapshot = store_->GetRun(run_id);
    if (!snapshot.ok()) {
      done(snapshot.status());
    } else {
      done(absl::FailedPreconditionError(absl::StrCat(
          "run ", run_id, " is not running (",
          std::string(RunStateName(FromProto(snapshot->run().state()))),
          ")")));
    }
    return;
  }
  ActiveRun* run = it->second.get();
  int64_t now = NowMs();
  run->run.set_reason("cancelled by the user");
  Update update = run->scheduler->Cancel();
  Apply(run, update, now);
  MaybeFinishRun(run, now);
  touched_runs_.insert(run_id);
  LogInfo(absl::StrCat("run ", run_id, " cancelled"));
  after_commit_.push_back([this, run_id, done] { done(store_->GetRun(run_id)); });
}

void Engine::Impl::DoResume(const std::string& run_id,
                            const std::map<std::string, std::string>& env,
                            SnapshotCallback done) {
  if (auto it = active_.find(run_id);
      it != active_.end() && it->second->scheduler &&
      !IsFinalProto(it->second->run.state())) {
    done(absl::FailedPreconditionError(
        absl::StrCat("run ", run_id, " is still running")));
    return;
  }
  absl::StatusOr<pb::RunSnapshot> snapshot = store_->GetRun(run_id);
  if (!snapshot.ok()) return done(snapshot.status());
  if (snapshot->run().state() == pb::RUN_SUCCEEDED) {
    done(absl::FailedPreconditionError(
        absl::StrCat("run ", run_id, " already succeeded; nothing to resume")));
    return;
  }
  absl::StatusOr<RunSource> source = store_->GetRunSource(run_id);
  if (!source.ok()) return done(source.status());
  absl::StatusOr<std::unique_ptr<ActiveRun>> activated = Activate(*snapshot, *source);
  if (!activated.ok()) return done(activated.status());
  std::unique_ptr<ActiveRun> run = std::move(*activated);
  for (const auto& [name, value] : OnlySecrets(env)) run->env[name] = value;
  int64_t now = NowMs();
  active_.erase(run_id);
  ActiveRun* raw = run.get();
  active_[run_id] = std::move(run);
  for (int i = 0; i < static_cast<int>(raw->steps.size()); ++i) {
    pb::Step& step = raw->steps[i];
    if (step.state() == pb::STEP_COMPLETED) {
      raw->scheduler->RestoreCompleted(i);
      continue;
    }
    step.set_attempt(0);
    step.set_exit_code(0);
    step.clear_exit_code();
    step.set_signal(0);
    step.set_started_at_ms(0);
    step.set_finished_at_ms(0);
    step.set_previous_attempts_ms(0);
    SetStepState(raw, i, StepState::kPending, now, "resumed");
  }
  SetRunState(raw, pb::RUN_QUEUED, now, "resumed");
  raw->started = false;
  fair_.Add(run_id);
  LogInfo(absl::StrCat("run ", run_id, " resumed"));
  MaybeFinishRun(raw, now);
  after_commit_.push_back([this, run_id, done] { done(store_->GetRun(run_id)); });
}

void Engine::Impl::DoDelete(std::vector<std::string> ids, int64_t finished_before_ms,
                            std::optional<uint32_t> owner, DeleteCallback done) {
  std::vector<std::string> deleted, errors;
  if (ids.empty()) {
    absl::StatusOr<std::vector<std::string>> old =
        store_->FinishedBefore(finished_before_ms, owner);
    if (!old.ok()) {
      done({}, {std::string(old.status().message())});
      return;
    }
    ids = std::move(*old);
  }
  for (const std::string& id : ids) {
    auto it = active_.find(id);
    if (it != active_.end() && !IsFinalProto(it->second->run.state())) {
      errors.push_back(absl::StrCat("run ", id, " is still running; cancel it first"));
      continue;
    }
    if (it != active_.end()) {
      fair_.Remove(id);
      active_.erase(it);
    }
    absl::Status status = store_->DeleteRun(id);
    if (!status.ok()) {
      errors.push_back(absl::StrCat("run ", id, ": ", status.message()));
      continue;
    }
    std::error_code error;
    std::filesystem::remove_all(RunDir(id), error);
    if (error) {
      LogWarning(absl::StrCat("removing ", RunDir(id), ": ", error.message()));
    }
    deleted.push_back(id);
  }
  if (!deleted.empty()) {
    LogInfo(absl::StrCat("deleted ", deleted.size(), deleted.size() == 1 ? " run" : " runs"));
  }
  done(std::move(deleted), std::move(errors));
}

// --- Engine ---

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Engine::~Engine() { Stop(); }

absl::StatusOr<std::unique_ptr<Engine>> Engine::Start(
    EngineOptions options, StateStore* store, EventHub* hub,
    std::unique_ptr<ProcessRunner> runner) {
  auto impl = std::make_unique<Impl>(std::move(options), store, hub,
                                     std::move(runner));
  AF_RETURN_IF_ERROR(impl->Recover());
  impl->StartThread();
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

void Engine::Stop() { impl_->Stop(); }

void Engine::Submit(SubmitRequest request, SubmitCallback done) {
  // Validate on the caller's thread: a bad plan never reaches the engine.
  if (request.plan_json.size() > kMaxPlanBytes) {
    done(absl::ResourceExhaustedError(absl::StrCat(
        request.plan_path, ": plan is ", request.plan_json.size(),
        " bytes; the limit is ", kMaxPlanBytes)));
    return;
  }
  absl::StatusOr<Plan> plan = ParsePlan(request.plan_json, request.plan_path);
  if (!plan.ok()) return done(plan.status());
  if (absl::Status watch = CheckWatchSpecs(*plan, request.plan_path); !watch.ok()) {
    return done(watch);
  }
  if (request.cwd.empty() || request.cwd[0] != '/') {
    return done(absl::InvalidArgumentError("cwd must be an absolute path"));
  }
  const uint32_t daemon_uid = impl_->daemon_uid();
  if (daemon_uid != 0 && request.owner.uid() != daemon_uid &&
      request.owner.uid() != 0) {
    // Only a root daemon can run steps as someone else.
    return done(absl::PermissionDeniedError(absl::StrCat(
        "this aetherflowd runs as uid ", daemon_uid, " and cannot run steps as uid ",
        request.owner.uid(), "; use your own daemon or the system one")));
  }
  impl_->Post(
      [impl = impl_.get(), request = std::move(request),
       plan = std::move(*plan), done]() mutable {
        impl->DoSubmit(std::move(request), std::move(plan), std::move(done));
      },
      [done] { done(StoppingError()); });
}

void Engine::Cancel(std::string run_ref, SnapshotCallback done) {
  absl::StatusOr<std::string> id = impl_->store()->ResolveRunId(run_ref);
  if (!id.ok()) return done(id.status());
  impl_->Post([impl = impl_.get(), id = *id, done] { impl->DoCancel(id, done); },
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
      [impl = impl_.get(), ids = std::move(ids), finished_before_ms, owner,
       done]() mutable {
        impl->DoDelete(std::move(ids), finished_before_ms, owner, done);
      },
      [done] { done({}, {"aetherflowd is stopping"}); });
}

void Engine::Ping(std::function<void()> done) {
  impl_->Post(std::move(done), [] {});
}

void Engine::ReloadConfig(Config config) {
  impl_->Post(
      [impl = impl_.get(), config = std::move(config)]() mutable {
        impl->SetConfig(std::move(config));
      },
      [] {});
}

std::string Engine::LogPath(const std::string& run_id,
                            const std::string& step_id) const {
  return impl_->LogPath(run_id, step_id);
}

std::string Engine::RunDir(const std::string& run_id) const {
  return impl_->RunDir(run_id);
}

}  // namespace aetherflow
