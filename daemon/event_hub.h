// Wakes stream followers (StreamEvents, ReadLog) when a run has news: events
// committed, or output written by one of its steps. Followers then read
// what is new from SQLite or the log file themselves, so the engine never
// waits on a client and a slow client never loses anything.
#ifndef AETHERFLOW_DAEMON_EVENT_HUB_H_
#define AETHERFLOW_DAEMON_EVENT_HUB_H_

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

class EventHub {
 public:
  using Waker = std::function<void()>;

  // Registers `waker` for news about `run_id`; returns a token for
  // Unsubscribe. `waker` is called from the engine thread and must not
  // block. Thread-safe.
  int64_t Subscribe(const std::string& run_id, Waker waker) {
    std::lock_guard<std::mutex> lock(mu_);
    int64_t token = ++next_token_;
    wakers_[run_id].emplace(token, std::move(waker));
    return token;
  }

  void Unsubscribe(const std::string& run_id, int64_t token) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = wakers_.find(run_id);
    if (it == wakers_.end()) return;
    it->second.erase(token);
    if (it->second.empty()) wakers_.erase(it);
  }

  void Notify(const std::string& run_id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = wakers_.find(run_id);
    if (it == wakers_.end()) return;
    for (auto& [token, waker] : it->second) waker();
  }

  // Keeps the last committed events of each run in memory, so that many
  // followers of one run share one copy instead of each reading SQLite.
  // Call after the commit, in seq order. Thread-safe.
  void Remember(const ::aetherflow::v1::Event& event) {
    std::lock_guard<std::mutex> lock(mu_);
    std::deque<::aetherflow::v1::Event>& recent = recent_[event.run_id()];
    if (!recent.empty() && recent.back().seq() + 1 != event.seq()) recent.clear();
    recent.push_back(event);
    if (recent.size() > kRecentEvents) recent.pop_front();
  }
  // Drops a run's remembered events (it left the engine).
  void Forget(const std::string& run_id) {
    std::lock_guard<std::mutex> lock(mu_);
    recent_.erase(run_id);
  }
  // Appends to *out the remembered events of `run_id` with seq > after_seq,
  // at most `limit`, and returns true — or returns false when the memory
  // does not reach back to after_seq + 1 (read SQLite then).
  bool Recent(const std::string& run_id, int64_t after_seq, std::size_t limit,
              std::vector<::aetherflow::v1::Event>* out) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = recent_.find(run_id);
    if (it == recent_.end() || it->second.empty() ||
        it->second.front().seq() > after_seq + 1) {
      return false;
    }
    const auto& recent = it->second;
    std::size_t start = after_seq + 1 - recent.front().seq();
    for (std::size_t i = start; i < recent.size() && out->size() < limit; ++i) {
      out->push_back(recent[i]);
    }
    return true;
  }

  // Wakes every follower (shutdown, periodic safety net).
  void NotifyAll() {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [run, wakers] : wakers_) {
      for (auto& [token, waker] : wakers) waker();
    }
  }

 private:
  std::mutex mu_;
  int64_t next_token_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, std::map<int64_t, Waker>> wakers_ ABSL_GUARDED_BY(mu_);
  static constexpr std::size_t kRecentEvents = 4096;
  std::map<std::string, std::deque<::aetherflow::v1::Event>> recent_ ABSL_GUARDED_BY(mu_);
};

}  // namespace aetherflow

#endif  // AETHERFLOW_DAEMON_EVENT_HUB_H_
