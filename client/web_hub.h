// The web process's event streams (SPEC §13): one StreamEvents call per
// followed run, whatever the number of pages open on it, fanned out to
// every page. Each run's channel keeps the run's model and every event
// (for the timeline), and the page's view of the run serialized once per
// change. Thread-safe.
#ifndef AETHERFLOW_CLIENT_WEB_HUB_H_
#define AETHERFLOW_CLIENT_WEB_HUB_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "aetherflow/v1/aetherflow.pb.h"

namespace aetherflow {

class Connection;
class RunModel;

// One run, followed from the daemon. Created by WebHub::Subscribe.
class RunChannel {
 public:
  RunChannel(Connection* connection, std::string run_id,
             ::aetherflow::v1::RunSnapshot snapshot, std::atomic<int>* streams);
  ~RunChannel();
  RunChannel(const RunChannel&) = delete;
  RunChannel& operator=(const RunChannel&) = delete;

  // What a page is sent: the view at `seq` and the events after `after`.
  struct Message {
    int64_t seq = 0;
    std::string text;  // {"seq", "connected", "ended", "events": [...], "view": {...}}
    bool ended = false;  // the run's stream is over: nothing more will come
  };
  // The message for a page that has seen the events up to `after` (-1:
  // none): at once when the channel is past `after` or has ended, else
  // when there is news, the daemon's reachability changed, or `deadline`
  // or `stop` came (then with empty text).
  Message WaitPast(int64_t after, std::chrono::steady_clock::time_point deadline,
                   const std::atomic<bool>& stop);
  // The channel's last sequence number.
  int64_t seq();
  // Ends the stream (the last page left, or the server stops).
  void Stop();
  // The run's snapshot, as the events made it.
  ::aetherflow::v1::RunSnapshot Snapshot();
  // The stream is over (the run ended, or the daemon refused): a page
  // that comes later gets a new channel (the run may have been resumed).
  bool ended();

 private:
  void ReadLoop();
  void Rebuild() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Connection* connection_;
  const std::string run_id_;
  std::atomic<int>* streams_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::unique_ptr<RunModel> model_ ABSL_GUARDED_BY(mu_);
  std::vector<::aetherflow::v1::Event> events_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> event_json_ ABSL_GUARDED_BY(mu_);  // as events_
  std::string view_json_ ABSL_GUARDED_BY(mu_);
  int64_t seq_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t version_ ABSL_GUARDED_BY(mu_) = 0;  // bumps on reconnect state changes
  std::chrono::steady_clock::time_point rebuilt_at_ ABSL_GUARDED_BY(mu_);
  bool connected_ ABSL_GUARDED_BY(mu_) = true;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  void* context_ ABSL_GUARDED_BY(mu_) = nullptr;  // grpc::ClientContext*
  std::atomic<bool> stop_{false};
  std::thread reader_;
};

class WebHub {
 public:
  explicit WebHub(Connection* connection) : connection_(connection) {}
  ~WebHub();

  // A page follows `run_id`: the run's channel, started on first use (or
  // when the last one ended). Failures come back as the gRPC status code
  // in *grpc_code (then null). Call Unsubscribe with the channel when the
  // page leaves.
  std::shared_ptr<RunChannel> Subscribe(const std::string& run_id, int* grpc_code,
                                        std::string* error);
  void Unsubscribe(const std::string& run_id, const RunChannel* channel);

  // Stops every channel (server shutdown).
  void StopAll();

  int streams() const { return streams_.load(); }  // open StreamEvents calls
  int clients();                                   // subscribed pages

 private:
  struct Entry {
    std::shared_ptr<RunChannel> channel;
    int clients = 0;
  };
  Connection* connection_;
  std::atomic<int> streams_{0};
  std::mutex mu_;
  std::map<std::string, Entry> channels_ ABSL_GUARDED_BY(mu_);
};

}  // namespace aetherflow

#endif  // AETHERFLOW_CLIENT_WEB_HUB_H_
