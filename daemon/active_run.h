// One run the engine executes: its records (the API's Run and Steps), its
// plan, scheduler and demands, and the state changes that make its events.
// Pure bookkeeping: no I/O; changes reach SQLite through the Journal.
//
// Engine thread only.
#ifndef AETHERFLOW_DAEMON_ACTIVE_RUN_H_
#define AETHERFLOW_DAEMON_ACTIVE_RUN_H_

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/config.h"
#include "common/plan.h"
#include "common/states.h"
#include "daemon/admission.h"
#include "daemon/journal.h"
#include "daemon/process_runner.h"
#include "daemon/scheduler.h"
#include "daemon/state_store.h"

namespace aetherflow {

// "timed out after 5s": a step stopped at its timeout.
std::string TimedOutMessage(int64_t timeout_ms);

// The records of a new run of `plan`: the run queued, every step pending.
// The caller adds owner, folders, cwd and umask.
pb::RunSnapshot NewRunSnapshot(const Plan& plan, const std::string& id, int64_t now_ms);

struct ActiveRun {
  explicit ActiveRun(Journal* journal) : journal(journal) {}

  // The active form of a stored run: its plan parsed again, a scheduler
  // (with the plan's cap and fail_fast on top of `options`), and what each
  // step needs (provider, files, resources, estimates under `config`).
  static absl::StatusOr<std::unique_ptr<ActiveRun>> Load(
      Journal* journal, const pb::RunSnapshot& snapshot, const RunSource& source,
      const Config& config, RunOptions options);

  Journal* journal;
  pb::Run run;
  std::vector<pb::Step> steps;
  Plan plan;
  std::map<std::string, std::string> env;  // with secrets; memory only
  std::shared_ptr<const std::vector<std::string>> shared_env;  // env, as K=V
  std::unique_ptr<RunScheduler> scheduler;  // null for a recovered run
  std::vector<StepDemand> demands;
  std::vector<int64_t> keys;  // the running attempt's key, or 0
  // Process of each running command step, committed with its row.
  std::vector<ProcessIdentity> processes;
  // The running attempt's start marker is in the step's log, so its end
  // marker is owed (common/attempt_log.h).
  std::vector<bool> log_marked;
  bool resumed = false;  // by `aetherflow resume`: logs may hold earlier attempts
  std::set<int> dirty_steps;
  bool admitted = false;  // takes part in Admission

  const std::string& id() const { return run.id(); }
  RunState state() const { return static_cast<RunState>(run.state()); }
  bool final() const { return IsFinal(state()); }

  pb::Event* NewEvent(pb::EventKind kind, int64_t now_ms);
  // A step's state changes (counters, times, its event).
  void SetStepState(int index, StepState state, int64_t now_ms, const std::string& message);
  // The run's state changes (its event; a final state ends it).
  void SetRunState(RunState state, int64_t now_ms, const std::string& reason);
  // What a pending step waits for changes (shown as "Pending (gpu)").
  void SetWaiting(int index, const std::string& reason, int64_t now_ms);
  // The scheduler's transitions, with the messages they mean.
  void Apply(const Update& update, int64_t now_ms);
  // The daemon stopped while these steps ran: interrupted, and the run too.
  void Interrupt(int64_t now_ms);
  // Ends the run if its scheduler is done.
  void MaybeFinish(int64_t now_ms);
  // Run counters from every step.
  void Recount();

 private:
  void Count(const pb::Step& step, int delta);
  void UpdateBatch();
  std::multiset<int> running_batches_;
  int finished_batch_ = 0;
};

}  // namespace aetherflow

#endif  // AETHERFLOW_DAEMON_ACTIVE_RUN_H_
