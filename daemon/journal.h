// The journal: every state change is committed to SQLite before anyone
// sees it (commit, then publish), changes that come in a burst share one
// transaction (group commit, as leveldb's writers share a log write), and
// replies wait for the commit that holds what they report.
//
// Engine thread only.
#ifndef AETHERFLOW_DAEMON_JOURNAL_H_
#define AETHERFLOW_DAEMON_JOURNAL_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "daemon/event_hub.h"
#include "daemon/state_store.h"

namespace aetherflow {

struct ActiveRun;

class Journal {
 public:
  // Longest a change waits for the transaction it shares with others.
  static constexpr int64_t kGroupCommitMs = 10;

  Journal(StateStore* store, EventHub* hub) : store_(store), hub_(hub) {}

  // A new event of `run` (its next seq), stored at the next commit.
  pb::Event* NewEvent(ActiveRun* run, pb::EventKind kind, int64_t now_ms);
  // `run`'s row or its dirty steps changed.
  void Touch(ActiveRun* run) { touched_.insert(run); }
  // `run` reached a final state: commit this turn, then TakeFinished.
  void Finished(const std::string& run_id) { finished_.push_back(run_id); }
  // Called once what is pending now is committed (a reply to a request).
  void AfterCommit(std::function<void()> done) { after_commit_.push_back(std::move(done)); }
  // `run` is about to be destroyed: drop it from what is pending.
  void Forget(ActiveRun* run) { touched_.erase(run); }

  bool HasUncommitted() const {
    return !events_.empty() || !touched_.empty() || !after_commit_.empty();
  }
  // When the pending changes must be committed at the latest; nullopt when
  // nothing is pending. While the database fails, once a second.
  std::optional<int64_t> Deadline() const;
  // Commits if something is pending and it is due: a reply or a finished
  // run waits, `idle` (nothing runs that would add to the batch), or the
  // group's time is up. Returns whether a commit succeeded.
  bool MaybeCommit(int64_t now_ms, bool idle);
  // Commits what is pending now; on success publishes it and runs the
  // replies. On failure keeps everything for the next try (a full disk may
  // be freed) and logs once.
  bool Commit(int64_t now_ms);
  bool failing() const { return failing_; }

  // Runs that finished and whose end is committed.
  std::vector<std::string> TakeFinished() { return std::move(committed_finished_); }

 private:
  StateStore* store_;
  EventHub* hub_;
  std::deque<pb::Event> events_;
  std::set<ActiveRun*> touched_;
  std::vector<std::string> finished_;
  std::vector<std::string> committed_finished_;
  std::vector<std::function<void()>> after_commit_;
  bool failing_ = false;
  int64_t last_commit_ms_ = 0;
  int64_t last_try_ms_ = 0;
};

}  // namespace aetherflow

#endif  // AETHERFLOW_DAEMON_JOURNAL_H_
