// The engine's inside, shared by engine.cc (the loop: what starts, what
// ended, recovery) and engine_requests.cc (what callers ask: submit,
// cancel, pause, resume, delete). Private to daemon/.
#ifndef AETHERFLOW_DAEMON_ENGINE_IMPL_H_
#define AETHERFLOW_DAEMON_ENGINE_IMPL_H_

#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "daemon/active_run.h"
#include "daemon/admission.h"
#include "daemon/engine.h"
#include "daemon/journal.h"
#include "daemon/progress_watcher.h"
#include "daemon/run_layout.h"
#include "daemon/worker.h"

namespace aetherflow {

absl::Status StoppingError();

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
    capacity_snapshot_ = std::make_shared<const Capacity>(options_.capacity);
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
  // The run if it is being executed (not finished), else null; and the
  // error for one that is not: its state, or the store's NotFound.
  ActiveRun* Executing(const std::string& run_id);
  absl::Status NotExecuting(const std::string& run_id, std::string_view why);
  void DoCancel(const std::string& run_id, SnapshotCallback done);
  void DoPause(const std::string& run_id, SnapshotCallback done);
  void DoResume(const std::string& run_id, const std::map<std::string, std::string>& env,
                SnapshotCallback done);
  void DoDelete(std::vector<std::string> ids, int64_t finished_before_ms,
                std::optional<uint32_t> owner, DeleteCallback done);
  void DoChanges(const std::string& run_id, const std::string& step_id, bool revert,
                 ChangesCallback done);
  void DoSync(std::function<void()> done) { journal_.AfterCommit(std::move(done)); }
  void SetConfig(Config config, std::optional<Capacity> capacity);
  // Replies with the run as committed, read on the worker: a 10,000-step
  // snapshot is no work for the engine thread.
  void ReplyWithRun(const std::string& run_id, SnapshotCallback done) {
    journal_.AfterCommit([this, run_id, done = std::move(done)]() mutable {
      worker_.Post([this, run_id, done = std::move(done)] { done(store_->GetRun(run_id)); });
    });
  }

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
  // The step's log says that an attempt starts, and later how it ended
  // (common/attempt_log.h), before the commit that publishes it.
  void NoteAttemptStart(ActiveRun* run, int index, int64_t now);
  void NoteAttemptEnd(ActiveRun* run, int index, AttemptResult result,
                      const Update& update);
  // The daemon stops (or stopped) while these steps ran.
  void NoteInterrupted(ActiveRun* run);
  void StopStep(ActiveRun* run, int index);
  void Expire(int64_t now);
  void Retire();
  void PublishProgress(int64_t now);
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
  // Declared before the worker: destroyed after it, since its reads
  // report here.
  ProgressWatcher progress_{&worker_, [this] { waiter_->Wakeup(); }};
  std::thread thread_;

  std::mutex mu_;
  std::deque<Command> commands_;  // guarded by mu_
  bool stopping_ = false;         // guarded by mu_
  bool stopped_ = false;          // guarded by mu_
  // The config the worker checks submissions against. Guarded by mu_.
  std::shared_ptr<const Config> config_snapshot_;
  std::shared_ptr<const Capacity> capacity_snapshot_;  // guarded by mu_

  // Engine thread only from here on.
  std::unordered_map<std::string, std::unique_ptr<ActiveRun>> active_;
  std::unordered_map<int64_t, std::pair<ActiveRun*, int>> running_;  // by key
  int64_t next_key_ = 0;

  // Plan parsing, key files, replies' reads, folder removal. Last: it is
  // destroyed first, finishing its jobs while all they touch still lives
  // (a late Submit job finds the engine stopped and is refused).
  Worker worker_;
};

}  // namespace aetherflow

#endif  // AETHERFLOW_DAEMON_ENGINE_IMPL_H_
