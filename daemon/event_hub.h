// Wakes stream followers (StreamEvents, ReadLog) when a run has news: events
// committed, or output written by one of its steps. Followers then read
// what is new from SQLite or the log file themselves, so the engine never
// waits on a client and a slow client never loses anything.
#ifndef AETHERFLOW_DAEMON_EVENT_HUB_H_
#define AETHERFLOW_DAEMON_EVENT_HUB_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/base/thread_annotations.h"

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
};

}  // namespace aetherflow

#endif  // AETHERFLOW_DAEMON_EVENT_HUB_H_
