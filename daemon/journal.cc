#include "daemon/journal.h"

#include "daemon/active_run.h"
#include "daemon/log.h"
#include "daemon/process_runner.h"

namespace aetherflow {

pb::Event* Journal::NewEvent(ActiveRun* run, pb::EventKind kind, int64_t now_ms) {
  pb::Event& event = events_.emplace_back();
  event.set_run_id(run->run.id());
  event.set_seq(run->run.last_seq() + 1);
  run->run.set_last_seq(event.seq());
  event.set_time_ms(now_ms);
  event.set_kind(kind);
  touched_.insert(run);
  return &event;
}

std::optional<int64_t> Journal::Deadline() const {
  if (!HasUncommitted()) return std::nullopt;
  if (failing_) return last_try_ms_ + 1000;
  if (!after_commit_.empty() || !finished_.empty()) return 0;
  return last_commit_ms_ + kGroupCommitMs;
}

bool Journal::MaybeCommit(int64_t now_ms, bool idle) {
  if (!HasUncommitted()) return false;
  if (failing_ && now_ms < last_try_ms_ + 1000) return false;
  if (!failing_ && !idle && after_commit_.empty() && finished_.empty() &&
      now_ms - last_commit_ms_ < kGroupCommitMs) {
    return false;
  }
  return Commit(now_ms);
}

bool Journal::Commit(int64_t now_ms) {
  last_try_ms_ = now_ms;
  CommitBatch batch;
  for (ActiveRun* run : touched_) {
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
  for (const pb::Event& event : events_) batch.events.push_back(&event);
  absl::Status status = store_->Commit(batch);
  if (!status.ok()) {
    // Nothing is published that is not stored.
    if (!failing_) LogError(status.ToString());
    failing_ = true;
    return false;
  }
  if (failing_) LogInfo("state database writable again");
  failing_ = false;
  last_commit_ms_ = now_ms;
  for (const pb::Event& event : events_) hub_->Remember(event);
  events_.clear();
  for (ActiveRun* run : touched_) {
    run->dirty_steps.clear();
    hub_->Notify(run->run.id());
  }
  touched_.clear();
  committed_finished_.insert(committed_finished_.end(), finished_.begin(), finished_.end());
  finished_.clear();
  std::vector<std::function<void()>> callbacks;
  callbacks.swap(after_commit_);
  for (auto& callback : callbacks) callback();
  return true;
}

}  // namespace aetherflow
