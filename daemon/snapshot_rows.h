// The encoded rows of the runs that are still going, kept in memory next to
// SQLite, so that a snapshot (every attaching client asks for one: 10,000
// steps each) is a concatenation of bytes rather than a query.
//
// The store updates it after each commit succeeds (write-through), so it
// never holds what SQLite does not. A reader that missed fills it from its
// own read of SQLite only when no commit completed meanwhile: that read may
// then be older than an update in flight, which the update, applied after
// it, brings up to date.
//
// Thread-safe.
#ifndef AETHERFLOW_DAEMON_SNAPSHOT_ROWS_H_
#define AETHERFLOW_DAEMON_SNAPSHOT_ROWS_H_

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace aetherflow {

class SnapshotRows {
 public:
  // One committed change: the run's row (index < 0) or step `index`.
  struct Update {
    std::string run_id;
    int index = -1;
    std::string blob;
    bool run_final = false;  // for a run row: it will not change again
  };

  // The generation to pass to Fill: read it before reading SQLite.
  uint64_t generation() const;
  // Caches `run_id`'s rows as read from SQLite, unless a commit completed
  // since `generation` (the read may miss it).
  void Fill(uint64_t generation, const std::string& run_id, std::string run_blob,
            std::vector<std::string> step_blobs);
  // Caches a new run whole (the writer has every row).
  void Insert(const std::string& run_id, std::string run_blob,
              std::vector<std::string> step_blobs);
  // Applies committed changes to the cached runs. A run that ended is
  // dropped (finished runs are read from SQLite, and memory stays bounded
  // by the runs that are going).
  void Apply(std::vector<Update> updates);
  void Erase(const std::string& run_id);

  // The RunSnapshot encoding of a cached run into *out; false if not cached.
  bool Encode(const std::string& run_id, std::string* out) const;

 private:
  struct Rows {
    std::string run;
    std::vector<std::string> steps;
  };
  mutable std::mutex mu_;
  uint64_t generation_ = 0;  // commits applied
  std::unordered_map<std::string, Rows> runs_;
};

// Appends `bytes` as length-delimited field `field` of a message.
void AppendBytesField(uint32_t field, const char* bytes, std::size_t size,
                      std::string* out);

}  // namespace aetherflow

#endif  // AETHERFLOW_DAEMON_SNAPSHOT_ROWS_H_
