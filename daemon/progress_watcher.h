// Progress read from what running steps print (SPEC §6: `Epoch 3/10`,
// `Trial 5/100`, a tqdm bar...), so that `status` and the monitor show it
// while the step runs, not only `poll`. Each step's log is read from where
// the last read ended, at most once a second, on the worker thread; the
// engine publishes the text when it changes.
//
// Engine thread only, except what the worker does inside.
#ifndef AETHERFLOW_DAEMON_PROGRESS_WATCHER_H_
#define AETHERFLOW_DAEMON_PROGRESS_WATCHER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/log_analysis.h"
#include "daemon/worker.h"

namespace aetherflow {

class ProgressWatcher {
 public:
  // Least time between two reads of one step's log.
  static constexpr int64_t kIntervalMs = 1000;

  // `wakeup` is called from the worker when a read is done.
  ProgressWatcher(Worker* worker, std::function<void()> wakeup)
      : worker_(worker), wakeup_(std::move(wakeup)) {}

  // The step `key` wrote output to `log_path` (`spec`: its watch, or null
  // for the defaults; `started_ms`: when its attempt started, for the ETA).
  void Output(int64_t key, const std::string& log_path,
              std::shared_ptr<const WatchSpec> spec, int64_t started_ms, int64_t now_ms);
  // The step reports its progress itself (`::aetherflow progress=`): that
  // wins, and its log is no longer read for it.
  void Explicit(int64_t key) { steps_[key].explicit_progress = true; }
  // The attempt ended: its reads are dropped.
  void Forget(int64_t key) { steps_.erase(key); }

  // When a step that wrote since its last read may be read again.
  std::optional<int64_t> NextWakeup() const;
  // Starts the reads that are due; appends (key, progress text) for each
  // read done whose text changed.
  void Collect(int64_t now_ms, std::vector<std::pair<int64_t, std::string>>* out);

 private:
  struct Watched {
    std::string log_path;
    std::shared_ptr<const WatchSpec> spec;
    int64_t started_ms = 0;
    StepCursor cursor;
    std::string text;          // as last published
    int64_t last_read_ms = 0;  // when the last read started
    bool busy = false;         // a read is on the worker
    bool dirty = false;        // output since the last read started
    bool explicit_progress = false;
  };
  struct Read {
    int64_t key;
    StepCursor cursor;
    std::string text;
  };
  void StartRead(int64_t key, Watched& w, int64_t now_ms);

  Worker* worker_;
  std::function<void()> wakeup_;
  std::unordered_map<int64_t, Watched> steps_;
  std::mutex mu_;
  std::vector<Read> done_;  // guarded by mu_
};

}  // namespace aetherflow

#endif  // AETHERFLOW_DAEMON_PROGRESS_WATCHER_H_
