// A background thread for work the engine thread and gRPC reactors must not
// do themselves (STYLE 17): reading prompt files, writing answers, removing
// run folders, parsing big plans. Jobs run in order; each reports back by
// its own means (a queue and a Waiter::Wakeup, or a callback).
#ifndef AETHERFLOW_DAEMON_WORKER_H_
#define AETHERFLOW_DAEMON_WORKER_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace aetherflow {

class Worker {
 public:
  Worker() : thread_([this] { Loop(); }) {}
  // Runs the jobs already posted, then joins.
  ~Worker() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Thread-safe.
  void Post(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stop_ and nothing left
      std::function<void()> job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job();
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;  // guarded by mu_
  bool stop_ = false;                       // guarded by mu_
  std::thread thread_;
};

}  // namespace aetherflow

#endif  // AETHERFLOW_DAEMON_WORKER_H_
