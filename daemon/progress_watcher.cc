#include "daemon/progress_watcher.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace aetherflow {
namespace {

// As a check-in: at most this much of a log per read.
constexpr int64_t kMaxRead = 8 << 20;

}  // namespace

void ProgressWatcher::Output(int64_t key, const std::string& log_path,
                             std::shared_ptr<const WatchSpec> spec, int64_t started_ms,
                             int64_t now_ms) {
  auto [it, added] = steps_.try_emplace(key);
  Watched& w = it->second;
  if (added) {
    w.log_path = log_path;
    w.spec = spec ? std::move(spec) : std::make_shared<const WatchSpec>();
    w.started_ms = started_ms;
  }
  if (w.explicit_progress) return;
  w.dirty = true;
  if (!w.busy && now_ms - w.last_read_ms >= kIntervalMs) StartRead(key, w, now_ms);
}

void ProgressWatcher::StartRead(int64_t key, Watched& w, int64_t now_ms) {
  w.busy = true;
  w.dirty = false;
  w.last_read_ms = now_ms;
  worker_->Post([this, key, path = w.log_path, spec = w.spec, cursor = w.cursor,
                 elapsed = now_ms - w.started_ms]() mutable {
    struct stat st;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0 && ::fstat(fd, &st) == 0 && st.st_size > cursor.offset + cursor.pending) {
      std::string data(std::min<int64_t>(st.st_size - cursor.offset, kMaxRead), '\0');
      ssize_t n = ::pread(fd, data.data(), data.size(), cursor.offset);
      if (n > 0) {
        data.resize(n);
        AnalyzeLog(*spec, data, &cursor);
      }
    }
    if (fd >= 0) ::close(fd);
    std::string text = StepProgressText(cursor.progress, elapsed);
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_.push_back({key, std::move(cursor), std::move(text)});
    }
    wakeup_();
  });
}

std::optional<int64_t> ProgressWatcher::NextWakeup() const {
  std::optional<int64_t> next;
  for (const auto& [key, w] : steps_) {
    if (!w.dirty || w.busy) continue;
    int64_t due = w.last_read_ms + kIntervalMs;
    if (!next || due < *next) next = due;
  }
  return next;
}

void ProgressWatcher::Collect(int64_t now_ms,
                              std::vector<std::pair<int64_t, std::string>>* out) {
  std::vector<Read> done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    done.swap(done_);
  }
  for (Read& read : done) {
    auto it = steps_.find(read.key);
    if (it == steps_.end()) continue;  // the attempt ended meanwhile
    Watched& w = it->second;
    w.busy = false;
    w.cursor = std::move(read.cursor);
    if (!w.explicit_progress && !read.text.empty() && read.text != w.text) {
      w.text = read.text;
      out->emplace_back(read.key, std::move(read.text));
    }
  }
  for (auto& [key, w] : steps_) {
    if (w.dirty && !w.busy && !w.explicit_progress && now_ms - w.last_read_ms >= kIntervalMs) StartRead(key, w, now_ms);
  }
}

}  // namespace aetherflow
