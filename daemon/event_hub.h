// Wakes stream followers (StreamEvents, ReadLog, check-ins) when a run has
// news: events committed, or output written by one of its steps. Followers
// then pull what is new themselves — from the hub's memory of recent events
// or from SQLite, and from the log files — so the engine never waits on a
// client and a slow client never loses anything.
//
// The memory holds each committed event once, already in its wire encoding
// as an element of EventBatch.events, grouped in the batches the engine
// committed: every follower of a run sends the same bytes, and nobody
// serializes an event twice.
#ifndef AETHERFLOW_DAEMON_EVENT_HUB_H_
#define AETHERFLOW_DAEMON_EVENT_HUB_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "aetherflow/v1/aetherflow.pb.h"

namespace aetherflow {

// A piece of an EventBatch's wire encoding: bytes [offset, offset + size)
// of *data, which never changes. A repeated field is encoded as the
// concatenation of its elements, so pieces laid end to end, in order, are
// one valid EventBatch.
struct EncodedEvents {
  std::shared_ptr<const std::string> data;
  std::size_t offset = 0;
  std::size_t size = 0;
};

// What EventHub::RecentEncoded found: `pieces` hold `count` events, the
// last of which has seq `last_seq`; `newest`: nothing newer is remembered.
struct EncodedRange {
  std::vector<EncodedEvents> pieces;
  std::size_t count = 0;
  std::size_t bytes = 0;
  int64_t last_seq = 0;
  bool newest = false;
};

class EventHub {
 public:
  using Waker = std::function<void()>;

  // How many committed events of a run the memory keeps at least.
  static constexpr std::size_t kRecentEvents = 4096;

  // Registers `waker` for news about `run_id`; returns a token for
  // Unsubscribe. `waker` is called from the engine thread, with the hub
  // locked: it must not block nor call the hub. Thread-safe.
  int64_t Subscribe(const std::string& run_id, Waker waker);
  // The same, and the waker learns whether the run has ended: the newest
  // event remembered is a final RUN_STATE_CHANGED (or none is remembered,
  // or the daemon stops).
  using EndWaker = std::function<void(bool run_ended)>;
  int64_t Subscribe(const std::string& run_id, EndWaker waker);
  void Unsubscribe(const std::string& run_id, int64_t token);

  // Wakes the followers of `run_id`. The events remembered for it since
  // the last Notify become one batch. Thread-safe.
  void Notify(const std::string& run_id);
  // Wakes every follower (shutdown).
  void NotifyAll();

  // Keeps a committed event of a run in memory. Call after the commit, in
  // seq order per run (a gap or a restart from a lower seq drops what the
  // memory had of that run), then Notify each run: the events remembered
  // in between share one encoded batch. Thread-safe.
  void Remember(const ::aetherflow::v1::Event& event);
  // Drops a run's remembered events (it left the engine).
  void Forget(const std::string& run_id);

  // Appends to *out the encoded events of `run_id` with seq > after_seq, in
  // order: at most `max_events`, and no more than `max_bytes` unless the
  // first event alone is larger (then that one). Returns true, with
  // out->count == 0 when there is nothing newer — or false when the memory
  // does not reach back to after_seq + 1 (read SQLite then). Thread-safe.
  bool RecentEncoded(const std::string& run_id, int64_t after_seq,
                     std::size_t max_events, std::size_t max_bytes,
                     EncodedRange* out);
  // The same, decoded: appends at most `limit` events to *out.
  bool Recent(const std::string& run_id, int64_t after_seq, std::size_t limit,
              std::vector<::aetherflow::v1::Event>* out);

  // The batches and events held for `run_id` (tests).
  std::size_t TEST_Batches(const std::string& run_id);
  std::size_t TEST_Events(const std::string& run_id);

 private:
  // Events first_seq, first_seq + 1, ... encoded back to back; event
  // first_seq + i ends at ends[i] and starts where the one before ends.
  struct Batch {
    int64_t first_seq = 0;
    std::shared_ptr<const std::string> data;
    std::vector<uint32_t> ends;
    int64_t last_seq() const { return first_seq + static_cast<int64_t>(ends.size()) - 1; }
  };
  struct RunMemory {
    std::deque<Batch> batches;  // sealed, contiguous seqs
    std::size_t sealed_events = 0;
    // Remembered since the last Notify: sealed on Notify or when read.
    int64_t open_first_seq = 0;
    std::string open_data;
    std::vector<uint32_t> open_ends;
    bool ended = false;  // the newest event remembered ends the run
    int64_t next_seq() const;
    bool empty() const { return batches.empty() && open_ends.empty(); }
  };

  void Seal(RunMemory* memory) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::mutex mu_;
  int64_t next_token_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, std::map<int64_t, EndWaker>> wakers_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, RunMemory> recent_ ABSL_GUARDED_BY(mu_);
};

}  // namespace aetherflow

#endif  // AETHERFLOW_DAEMON_EVENT_HUB_H_
