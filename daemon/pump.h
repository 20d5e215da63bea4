// The pump: one thread that services the daemon's long-lived calls (event
// and log streams, check-ins) when they have news or at a time they asked
// for, and sleeps otherwise: an idle daemon does not wake up. Services
// never run on the engine thread, so the engine never waits on a client.
//
// There is no periodic sweep: every piece of news reaches a call through
// EventHub::Notify (the engine notifies after each commit and after each
// read of a step's output, which it has written to the log by then), and
// a call subscribes before its first Service, so nothing that happens
// after the call starts can go unseen.
#ifndef AETHERFLOW_DAEMON_PUMP_H_
#define AETHERFLOW_DAEMON_PUMP_H_

#include <chrono>
#include <cstdint>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

namespace aetherflow {

// Something the pump services: a stream producing its next message, or a
// check-in deciding whether to answer. Service() runs on the pump thread
// only and must not block long.
class StreamCore {
 public:
  virtual ~StreamCore() = default;
  virtual void Service() = 0;
};

class Pump {
 public:
  using Clock = std::chrono::steady_clock;

  Pump() : thread_([this] { Loop(); }) {}
  ~Pump() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  // Services `core` soon. Thread-safe.
  void Enqueue(std::shared_ptr<StreamCore> core) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(core));
    }
    cv_.notify_one();
  }
  // Test hook: returns once the pump thread waits with nothing queued.
  void TEST_WaitForSleep() {
    std::unique_lock<std::mutex> lock(mu_);
    sleep_cv_.wait(lock, [this] { return sleeping_ && queue_.empty(); });
  }
  // Services `core` at `when` (if it still lives). Thread-safe.
  void WakeAt(Clock::time_point when, std::weak_ptr<StreamCore> core) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      timers_.emplace(when, std::move(core));
      ++timers_added_;  // a wait must look at the timers again
    }
    cv_.notify_one();
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      // A timer added while we wait may be due before the one we wait for
      // (or be the only one): that ends the wait too.
      const uint64_t timers_seen = timers_added_;
      auto ready = [&] { return stop_ || !queue_.empty() || timers_added_ != timers_seen; };
      sleeping_ = true;
      sleep_cv_.notify_all();
      if (timers_.empty()) {
        cv_.wait(lock, ready);
      } else {
        cv_.wait_until(lock, timers_.begin()->first, ready);
      }
      sleeping_ = false;
      if (stop_) break;
      auto now = Clock::now();
      while (!timers_.empty() && timers_.begin()->first <= now) {
        if (auto core = timers_.begin()->second.lock()) queue_.push_back(std::move(core));
        timers_.erase(timers_.begin());
      }
      std::deque<std::shared_ptr<StreamCore>> batch;
      batch.swap(queue_);
      lock.unlock();
      // A core queued twice is serviced twice: harmless, Service is cheap
      // when there is nothing new.
      for (auto& core : batch) core->Service();
      batch.clear();
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<StreamCore>> queue_;
  std::multimap<Clock::time_point, std::weak_ptr<StreamCore>> timers_;
  uint64_t timers_added_ = 0;
  bool sleeping_ = false;  // in the wait (test hook)
  std::condition_variable sleep_cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace aetherflow

#endif  // AETHERFLOW_DAEMON_PUMP_H_
