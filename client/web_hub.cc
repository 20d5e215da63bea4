#include "client/web_hub.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "client/cli_util.h"
#include "client/connection.h"
#include "client/run_model.h"
#include "client/web_view.h"
#include "nlohmann/json.hpp"

namespace aetherflow {

namespace pb = ::aetherflow::v1;

namespace {

// The page's batching of news: four updates a second at most.
constexpr int kNewsIntervalMs = 250;

std::string EventJsonText(const pb::Event& e) {
  nlohmann::json j;
  j["seq"] = e.seq();
  j["time_ms"] = e.time_ms();
  j["kind"] = e.kind() == pb::RUN_STATE_CHANGED    ? "run_state_changed"
              : e.kind() == pb::STEP_STATE_CHANGED ? "step_state_changed"
                                                   : "step_figures";
  if (!e.step_id().empty()) j["step"] = e.step_id();
  if (e.kind() == pb::RUN_STATE_CHANGED) j["state"] = RunStateWord(e.run_state());
  if (e.kind() == pb::STEP_STATE_CHANGED) j["state"] = StepStateWord(e.step_state());
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool Finished(const pb::RunSnapshot& snapshot) {
  pb::RunState s = snapshot.run().state();
  return s != pb::RUN_QUEUED && s != pb::RUN_RUNNING && s != pb::RUN_PAUSED;
}

}  // namespace

RunChannel::RunChannel(Connection* connection, std::string run_id, pb::RunSnapshot snapshot,
                       std::atomic<int>* streams)
    : connection_(connection), run_id_(std::move(run_id)), streams_(streams) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    model_ = std::make_unique<RunModel>(std::move(snapshot));
    Rebuild();
  }
  reader_ = std::thread([this] { ReadLoop(); });
}

RunChannel::~RunChannel() {
  Stop();
  if (reader_.joinable()) reader_.join();
}

void RunChannel::Stop() {
  stop_ = true;
  std::lock_guard<std::mutex> lock(mu_);
  if (context_) static_cast<grpc::ClientContext*>(context_)->TryCancel();
  cv_.notify_all();
}

void RunChannel::Rebuild() {
  // The page's sequence number is that of the last event it was sent: the
  // view may be newer (the snapshot), the events never skip one.
  seq_ = events_.empty() ? 0 : events_.back().seq();
  view_json_ = RunViewJson(model_->snapshot(), events_, WallNowMs())
                   .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  ++version_;
  rebuilt_at_ = std::chrono::steady_clock::now();
}

void RunChannel::ReadLoop() {
  int failures = 0;
  while (!stop_) {
    grpc::ClientContext context;
    pb::StreamEventsRequest request;
    bool follow;
    {
      std::lock_guard<std::mutex> lock(mu_);
      context_ = &context;
      request.set_after_seq(events_.empty() ? 0 : events_.back().seq());
      follow = !Finished(model_->snapshot());
    }
    if (stop_) context.TryCancel();
    request.set_run_id(run_id_);
    request.set_follow(follow);
    request.set_interval_ms(kNewsIntervalMs);
    ++*streams_;
    auto reader = connection_->stub()->StreamEvents(&context, request);
    pb::EventBatch batch;
    while (reader->Read(&batch)) {
      failures = 0;
      std::lock_guard<std::mutex> lock(mu_);
      connected_ = true;
      for (const pb::Event& event : batch.events()) {
        if (!events_.empty() && event.seq() <= events_.back().seq()) continue;
        events_.push_back(event);
        event_json_.push_back(EventJsonText(event));
        model_->Apply(event);
      }
      Rebuild();
      cv_.notify_all();
      if (Finished(model_->snapshot())) context.TryCancel();
    }
    grpc::Status status = reader->Finish();
    --*streams_;
    std::unique_lock<std::mutex> lock(mu_);
    context_ = nullptr;
    if (stop_) break;
    // A finished run: everything is in.
    if (Finished(model_->snapshot()) || (status.ok() && !follow)) break;
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE &&
        status.error_code() != grpc::StatusCode::CANCELLED && !status.ok()) {
      break;  // the run was removed, or the daemon refuses: nothing to retry
    }
    // The daemon went away (a restart?): say so on the pages, then catch
    // up from the last event seen, as the CLI does.
    if (connected_) {
      connected_ = false;
      Rebuild();
      cv_.notify_all();
    }
    failures = std::min(failures + 1, 10);
    cv_.wait_for(lock, std::chrono::milliseconds(100 * failures), [this] { return stop_.load(); });
  }
  std::lock_guard<std::mutex> lock(mu_);
  ended_ = true;
  ++version_;
  cv_.notify_all();
}

RunChannel::Message RunChannel::WaitPast(int64_t after,
                                         std::chrono::steady_clock::time_point deadline,
                                         const std::atomic<bool>& stop) {
  std::unique_lock<std::mutex> lock(mu_);
  // A page that is behind gets the current view at once; one that is up to
  // date waits for news (or a change of the daemon's reachability, which
  // bumps the version without a new seq).
  const int64_t version = version_;
  // A channel that ended answers at once: the page closes its stream then.
  if (after >= 0 && after >= seq_ && !ended_) {
    cv_.wait_until(lock, deadline, [&] {
      return stop_ || stop || seq_ > after || version_ != version;
    });
    if (seq_ <= after && version_ == version) {
      // Nothing new: a fresh view now and then, so that running steps'
      // times tick on the page (once per interval per run, not per page).
      const auto now = std::chrono::steady_clock::now();
      if (ended_ || stop_ || stop || now - rebuilt_at_ < std::chrono::seconds(2) ||
          Finished(model_->snapshot())) {
        return {};
      }
      Rebuild();
    }
  }
  Message m;
  m.seq = seq_;
  m.ended = ended_;
  std::string events;
  for (std::size_t i = 0; i < events_.size(); ++i) {
    if (events_[i].seq() <= after) continue;
    if (!events.empty()) events.push_back(',');
    events += event_json_[i];
  }
  m.text = absl::StrCat("{\"seq\":", seq_, ",\"connected\":", connected_ ? "true" : "false",
                        ",\"ended\":", ended_ ? "true" : "false", ",\"events\":[",
                        events, "],\"view\":", view_json_, "}");
  return m;
}

int64_t RunChannel::seq() {
  std::lock_guard<std::mutex> lock(mu_);
  return seq_;
}

bool RunChannel::ended() {
  std::lock_guard<std::mutex> lock(mu_);
  return ended_;
}

pb::RunSnapshot RunChannel::Snapshot() {
  std::lock_guard<std::mutex> lock(mu_);
  return model_->snapshot();
}

WebHub::~WebHub() { StopAll(); }

std::shared_ptr<RunChannel> WebHub::Subscribe(const std::string& run_id, int* grpc_code,
                                              std::string* error) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = channels_.find(run_id);
    if (it != channels_.end() && !it->second.channel->ended()) {
      ++it->second.clients;
      return it->second.channel;
    }
  }
  pb::GetRunRequest request;
  request.set_run_id(run_id);
  pb::RunSnapshot snapshot;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Status status = connection_->stub()->GetRun(&context, request, &snapshot);
  if (!status.ok()) {
    *grpc_code = status.error_code();
    *error = status.error_message();
    return nullptr;
  }
  if (snapshot.run().id() != run_id) {  // a prefix: pages use the full id
    *grpc_code = grpc::StatusCode::NOT_FOUND;
    *error = "no such run";
    return nullptr;
  }
  std::lock_guard<std::mutex> lock(mu_);
  Entry& entry = channels_[run_id];
  if (!entry.channel || entry.channel->ended()) {
    // The ended one lives on with the pages that still hold it.
    entry.channel = std::make_shared<RunChannel>(connection_, run_id, std::move(snapshot),
                                                 &streams_);
    entry.clients = 0;
  }
  ++entry.clients;
  return entry.channel;
}

void WebHub::Unsubscribe(const std::string& run_id, const RunChannel* channel) {
  std::shared_ptr<RunChannel> last;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = channels_.find(run_id);
    if (it == channels_.end() || it->second.channel.get() != channel) return;
    if (--it->second.clients > 0) return;
    last = std::move(it->second.channel);
    channels_.erase(it);
  }
  last->Stop();  // joined when the last page's reference goes
}

void WebHub::StopAll() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [id, entry] : channels_) entry.channel->Stop();
}

int WebHub::clients() {
  std::lock_guard<std::mutex> lock(mu_);
  int n = 0;
  for (const auto& [id, entry] : channels_) n += entry.clients;
  return n;
}

}  // namespace aetherflow
