#include "daemon/event_hub.h"

#include <algorithm>

namespace aetherflow {
namespace {

namespace pb = ::aetherflow::v1;

// Field 1 (EventBatch.events), wire type 2 (length-delimited).
constexpr char kEventsTag = (1 << 3) | 2;

// Appends `event` as one element of EventBatch.events: tag, length, bytes.
void AppendEncoded(const pb::Event& event, std::string* out) {
  std::size_t size = event.ByteSizeLong();
  out->push_back(kEventsTag);
  for (std::size_t rest = size; ; rest >>= 7) {
    if (rest < 0x80) {
      out->push_back(static_cast<char>(rest));
      break;
    }
    out->push_back(static_cast<char>((rest & 0x7f) | 0x80));
  }
  std::size_t at = out->size();
  out->resize(at + size);
  // ByteSizeLong cached the sizes the serializer needs.
  event.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(out->data() + at));
}

}  // namespace

int64_t EventHub::RunMemory::next_seq() const {
  if (!open_ends.empty()) return open_first_seq + static_cast<int64_t>(open_ends.size());
  return batches.empty() ? 0 : batches.back().last_seq() + 1;
}

int64_t EventHub::Subscribe(const std::string& run_id, Waker waker) {
  return Subscribe(run_id, EndWaker([waker = std::move(waker)](bool) { waker(); }));
}

int64_t EventHub::Subscribe(const std::string& run_id, EndWaker waker) {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t token = ++next_token_;
  wakers_[run_id].emplace(token, std::move(waker));
  return token;
}

void EventHub::Unsubscribe(const std::string& run_id, int64_t token) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = wakers_.find(run_id);
  if (it == wakers_.end()) return;
  it->second.erase(token);
  if (it->second.empty()) wakers_.erase(it);
}

void EventHub::Notify(const std::string& run_id) {
  std::lock_guard<std::mutex> lock(mu_);
  bool ended = true;
  if (auto memory = recent_.find(run_id); memory != recent_.end()) {
    Seal(&memory->second);
    ended = memory->second.empty() || memory->second.ended;
  }
  auto it = wakers_.find(run_id);
  if (it == wakers_.end()) return;
  for (auto& [token, waker] : it->second) waker(ended);
}

void EventHub::NotifyAll() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [run, memory] : recent_) Seal(&memory);
  for (auto& [run, wakers] : wakers_) {
    for (auto& [token, waker] : wakers) waker(true);
  }
}

void EventHub::Remember(const pb::Event& event) {
  // Encode before taking the lock: the engine thread pays for it once,
  // and followers never wait for it.
  std::string encoded;
  AppendEncoded(event, &encoded);
  std::lock_guard<std::mutex> lock(mu_);
  RunMemory& memory = recent_[event.run_id()];
  if (!memory.empty() && memory.next_seq() != event.seq()) memory = RunMemory();
  if (memory.open_ends.empty()) memory.open_first_seq = event.seq();
  memory.open_data += encoded;
  memory.open_ends.push_back(static_cast<uint32_t>(memory.open_data.size()));
  memory.ended = event.kind() == pb::RUN_STATE_CHANGED &&
                 (event.run_state() == pb::RUN_SUCCEEDED ||
                  event.run_state() == pb::RUN_FAILED ||
                  event.run_state() == pb::RUN_CANCELLED ||
                  event.run_state() == pb::RUN_INTERRUPTED);
  // Whole batches leave the front once the rest holds enough.
  while (!memory.batches.empty() &&
         memory.sealed_events + memory.open_ends.size() -
                 memory.batches.front().ends.size() >= kRecentEvents) {
    memory.sealed_events -= memory.batches.front().ends.size();
    memory.batches.pop_front();
  }
}

void EventHub::Forget(const std::string& run_id) {
  std::lock_guard<std::mutex> lock(mu_);
  recent_.erase(run_id);
}

void EventHub::Seal(RunMemory* memory) {
  if (memory->open_ends.empty()) return;
  Batch batch;
  batch.first_seq = memory->open_first_seq;
  batch.data = std::make_shared<const std::string>(std::move(memory->open_data));
  batch.ends = std::move(memory->open_ends);
  memory->sealed_events += batch.ends.size();
  memory->batches.push_back(std::move(batch));
  memory->open_data = std::string();
  memory->open_ends = std::vector<uint32_t>();
}

bool EventHub::RecentEncoded(const std::string& run_id, int64_t after_seq,
                             std::size_t max_events, std::size_t max_bytes,
                             EncodedRange* out) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = recent_.find(run_id);
  if (it == recent_.end()) return false;
  RunMemory& memory = it->second;
  // What a follower may see is sealed: a shared batch never changes.
  Seal(&memory);
  if (memory.batches.empty() || memory.batches.front().first_seq > after_seq + 1) {
    return false;
  }
  int64_t want = after_seq + 1;
  // The last batch that starts at or before `want`.
  auto batch = std::upper_bound(
      memory.batches.begin(), memory.batches.end(), want,
      [](int64_t seq, const Batch& b) { return seq < b.first_seq; });
  --batch;
  for (; batch != memory.batches.end() && out->count < max_events; ++batch) {
    if (batch->last_seq() < want) continue;  // beyond the memory: nothing new
    std::size_t first = static_cast<std::size_t>(want - batch->first_seq);
    std::size_t begin = first == 0 ? 0 : batch->ends[first - 1];
    std::size_t last = first;  // one past the last event taken
    std::size_t end = begin;
    while (last < batch->ends.size() && out->count < max_events) {
      std::size_t next_end = batch->ends[last];
      // out->bytes counts the pieces before this one.
      if (out->count > 0 && out->bytes + (next_end - begin) > max_bytes) break;
      end = next_end;
      ++last;
      ++out->count;
    }
    if (last == first) break;  // the byte budget is spent
    out->pieces.push_back({batch->data, begin, end - begin});
    out->bytes += end - begin;
    out->last_seq = batch->first_seq + static_cast<int64_t>(last) - 1;
    want = out->last_seq + 1;
    if (last < batch->ends.size()) break;  // stopped inside this batch
  }
  out->newest = want > memory.batches.back().last_seq();
  return true;
}

bool EventHub::Recent(const std::string& run_id, int64_t after_seq,
                      std::size_t limit, std::vector<pb::Event>* out) {
  EncodedRange range;
  if (!RecentEncoded(run_id, after_seq, limit, SIZE_MAX, &range)) return false;
  for (const EncodedEvents& piece : range.pieces) {
    pb::EventBatch batch;
    batch.ParseFromArray(piece.data->data() + piece.offset, static_cast<int>(piece.size));
    for (pb::Event& event : *batch.mutable_events()) out->push_back(std::move(event));
  }
  return true;
}

std::size_t EventHub::TEST_Batches(const std::string& run_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = recent_.find(run_id);
  if (it == recent_.end()) return 0;
  return it->second.batches.size() + (it->second.open_ends.empty() ? 0 : 1);
}

std::size_t EventHub::TEST_Events(const std::string& run_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = recent_.find(run_id);
  if (it == recent_.end()) return 0;
  return it->second.sealed_events + it->second.open_ends.size();
}

}  // namespace aetherflow
