#include "daemon/snapshot_rows.h"

#include <utility>

#include "aetherflow/v1/aetherflow.pb.h"

namespace aetherflow {

void AppendBytesField(uint32_t field, const char* bytes, std::size_t size,
                      std::string* out) {
  for (uint64_t value : {uint64_t{field} << 3 | 2, uint64_t{size}}) {
    for (; value >= 0x80; value >>= 7) out->push_back(static_cast<char>(value | 0x80));
    out->push_back(static_cast<char>(value));
  }
  out->append(bytes, size);
}

uint64_t SnapshotRows::generation() const {
  std::lock_guard<std::mutex> lock(mu_);
  return generation_;
}

void SnapshotRows::Fill(uint64_t generation, const std::string& run_id,
                        std::string run_blob, std::vector<std::string> step_blobs) {
  std::lock_guard<std::mutex> lock(mu_);
  if (generation != generation_) return;
  runs_.try_emplace(run_id, Rows{std::move(run_blob), std::move(step_blobs)});
}

void SnapshotRows::Insert(const std::string& run_id, std::string run_blob,
                          std::vector<std::string> step_blobs) {
  std::lock_guard<std::mutex> lock(mu_);
  ++generation_;
  runs_.insert_or_assign(run_id, Rows{std::move(run_blob), std::move(step_blobs)});
}

void SnapshotRows::Apply(std::vector<Update> updates) {
  std::lock_guard<std::mutex> lock(mu_);
  ++generation_;
  for (Update& update : updates) {
    auto it = runs_.find(update.run_id);
    if (it == runs_.end()) continue;
    Rows& rows = it->second;
    if (update.index < 0) {
      rows.run = std::move(update.blob);
      if (update.run_final) runs_.erase(it);
    } else if (static_cast<std::size_t>(update.index) < rows.steps.size()) {
      rows.steps[update.index] = std::move(update.blob);
    } else {
      runs_.erase(it);  // not the rows we know: read them again
    }
  }
}

void SnapshotRows::Erase(const std::string& run_id) {
  std::lock_guard<std::mutex> lock(mu_);
  ++generation_;
  runs_.erase(run_id);
}

bool SnapshotRows::Encode(const std::string& run_id, std::string* out) const {
  constexpr uint32_t kRunField = v1::RunSnapshot::kRunFieldNumber;
  constexpr uint32_t kStepsField = v1::RunSnapshot::kStepsFieldNumber;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = runs_.find(run_id);
  if (it == runs_.end()) return false;
  const Rows& rows = it->second;
  std::size_t size = rows.run.size() + 8;
  for (const std::string& step : rows.steps) size += step.size() + 4;
  out->clear();
  out->reserve(size);
  AppendBytesField(kRunField, rows.run.data(), rows.run.size(), out);
  for (const std::string& step : rows.steps) {
    AppendBytesField(kStepsField, step.data(), step.size(), out);
  }
  return true;
}

}  // namespace aetherflow
