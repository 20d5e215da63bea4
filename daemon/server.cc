#include "daemon/server.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "aetherflow/v1/aetherflow.grpc.pb.h"
#include "daemon/checkin_call.h"
#include "common/limits.h"
#include "common/status_macros.h"
#include "common/version.h"
#include "daemon/listener.h"
#include "daemon/engine.h"
#include "daemon/event_hub.h"
#include "daemon/log.h"
#include "daemon/pump.h"
#include "daemon/state_store.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/auth_metadata_processor.h"
#include "grpcpp/security/server_credentials.h"

namespace aetherflow {
namespace {

constexpr int kEventsPerBatch = 1000;
// A batch from memory stops before this size (unless one event is larger).
constexpr std::size_t kEventBatchBytes = 1024 * 1024;

int64_t TailOffset(const std::string& path, int lines);
// Request limits: anything over them is refused with INVALID_ARGUMENT.
constexpr int64_t kLogChunkBytes = 64 * 1024;
constexpr int64_t kMaxLogChunkBytes = 1024 * 1024;
constexpr size_t kMaxRunRefBytes = 256;
constexpr size_t kMaxEnvEntries = 10'000;
constexpr size_t kMaxEnvBytes = 4 * 1024 * 1024;
constexpr int kMaxRunIdsPerDelete = 10'000;

grpc::Status ToGrpcStatus(const absl::Status& status) {
  // The canonical codes are numerically equal in Abseil and gRPC.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

// A follower that has caught up writes news at most this often: what
// comes in between (commits every 10 ms in a burst) joins the next write.
// Every write costs a syscall and wake-ups on both sides, per follower, so
// this is what keeps 50 attached monitors cheap. A follower with a backlog
// writes back to back.
constexpr auto kFollowInterval = std::chrono::milliseconds(250);
// A follower may ask for a coarser grid (StreamEventsRequest.interval_ms).
constexpr auto kLongestFollowInterval = std::chrono::milliseconds(5000);

template <typename Msg>
class WriterCore : public StreamCore,
                   public std::enable_shared_from_this<WriterCore<Msg>> {
 public:
  // kData: a message, and more (or the end) may be ready at once;
  // kCaughtUp: a message with all there is for now, following (the next
  // Service comes with news); kWait: nothing new yet; kDone: the end.
  enum class Fill { kData, kCaughtUp, kWait, kDone };

  // How often a follower that keeps up writes: kFollowInterval or coarser.
  void set_interval(std::chrono::milliseconds interval) {
    interval_ = std::clamp(interval, kFollowInterval, kLongestFollowInterval);
  }

  void Attach(grpc::ServerWriteReactor<Msg>* reactor, Pump* pump) {
    reactor_ = reactor;
    pump_ = pump;
  }

  // News (the hub's waker, on the engine thread): queues one Service,
  // unless one is queued already or a timer will come anyway — so that
  // 100 commits a second do not make 100 pump rounds per follower. The end
  // of a run goes out at once: clients wait for it to exit.
  void Wake(bool run_ended) {
    urgent_.store(run_ended);
    if ((parked_.load() && !run_ended) || queued_.exchange(true)) return;
    pump_->Enqueue(this->shared_from_this());
  }

  void Service() override {
    // Anything after this point queues a new Service.
    queued_.store(false);
    std::unique_lock<std::mutex> lock(mu_);
    if (reactor_ == nullptr || finished_) return;
    if (in_flight_) {
      news_ = true;  // WriteDone looks again
      return;
    }
    grpc::ServerWriteReactor<Msg>* reactor = reactor_;
    if (cancelled_) {
      finished_ = true;
      lock.unlock();
      reactor->Finish(grpc::Status::CANCELLED);
      return;
    }
    Pump::Clock::time_point now = Pump::Clock::now();
    if (caught_up_ && now < next_write_ && !urgent_.load()) {
      if (!parked_.load()) {
        parked_.store(true);
        pump_->WakeAt(next_write_, this->weak_from_this());
      }
      return;
    }
    parked_.store(false);
    msg_.Clear();
    absl::StatusOr<Fill> fill = Next(&msg_);
    if (fill.ok() && *fill == Fill::kWait) {
      caught_up_ = true;
      return;
    }
    if (!fill.ok() || *fill == Fill::kDone) {
      finished_ = true;
      lock.unlock();
      reactor->Finish(fill.ok() ? grpc::Status::OK : ToGrpcStatus(fill.status()));
      return;
    }
    caught_up_ = *fill == Fill::kCaughtUp;
    // The next slot of a grid shared by all followers: their timers fall
    // due together, and the pump wakes once for all of them.
    next_write_ = now - (now.time_since_epoch() % interval_) + interval_;
    news_ = false;
    in_flight_ = true;
    lock.unlock();
    reactor->StartWrite(&msg_);
  }

  void WriteDone(bool ok) {
    std::unique_lock<std::mutex> lock(mu_);
    in_flight_ = false;
    if (!ok || cancelled_) {
      if (!finished_) {
        finished_ = true;
        grpc::ServerWriteReactor<Msg>* reactor = reactor_;
        lock.unlock();
        reactor->Finish(grpc::Status::CANCELLED);
      }
      return;
    }
    // A follower that wrote all there was sleeps until there is news.
    bool again = !caught_up_ || news_;
    news_ = false;
    lock.unlock();
    if (again && !queued_.exchange(true)) pump_->Enqueue(this->shared_from_this());
  }

  void Cancelled() {
    std::unique_lock<std::mutex> lock(mu_);
    cancelled_ = true;
    if (!in_flight_ && !finished_) {
      finished_ = true;
      grpc::ServerWriteReactor<Msg>* reactor = reactor_;
      lock.unlock();
      reactor->Finish(grpc::Status::CANCELLED);
    }
  }

  void Done() {
    std::lock_guard<std::mutex> lock(mu_);
    reactor_ = nullptr;
  }

 protected:
  // Produces the next message into `out`, called with the core locked on
  // the pump thread.
  virtual absl::StatusOr<Fill> Next(Msg* out) = 0;


 private:
  std::mutex mu_;
  grpc::ServerWriteReactor<Msg>* reactor_ = nullptr;
  Pump* pump_ = nullptr;
  bool in_flight_ = false;
  bool finished_ = false;
  bool cancelled_ = false;
  bool news_ = false;       // woken while a write was in flight
  bool caught_up_ = false;  // the last Next had all there was
  Pump::Clock::time_point next_write_;
  std::chrono::milliseconds interval_ = kFollowInterval;
  std::atomic<bool> queued_{false};  // a Service is queued on the pump
  std::atomic<bool> parked_{false};  // a pump timer services us at next_write_
  std::atomic<bool> urgent_{false};  // the run has ended: no waiting for a slot
  Msg msg_;  // alive until OnWriteDone, as gRPC requires
};

// The reactor: forwards gRPC's reactions to the core.
template <typename Msg>
class Writer : public grpc::ServerWriteReactor<Msg> {
 public:
  Writer(std::shared_ptr<WriterCore<Msg>> core, Pump* pump, EventHub* hub,
         const std::string& run_id)
      : core_(std::move(core)), hub_(hub), run_id_(run_id) {
    core_->Attach(this, pump);
    std::weak_ptr<WriterCore<Msg>> weak = core_;
    // Subscribe before the first read, so that no news is missed.
    token_ = hub_->Subscribe(run_id_, EventHub::EndWaker([weak](bool run_ended) {
      if (auto core = weak.lock()) core->Wake(run_ended);
    }));
    core_->Wake(false);
  }
  void OnWriteDone(bool ok) override { core_->WriteDone(ok); }
  void OnCancel() override { core_->Cancelled(); }
  void OnDone() override {
    hub_->Unsubscribe(run_id_, token_);
    core_->Done();
    delete this;
  }

 private:
  std::shared_ptr<WriterCore<Msg>> core_;
  EventHub* hub_;
  std::string run_id_;
  int64_t token_ = 0;
};

// A paused run is not over: its steps may still start.
bool IsFinalRun(pb::RunState state) {
  return state != pb::RUN_RUNNING && state != pb::RUN_QUEUED && state != pb::RUN_PAUSED;
}

// Passes each event of `run_id` committed after *cursor to `apply`, in
// order, and advances *cursor: from the hub's memory when it reaches back
// that far, else from SQLite. Costs O(new events).
template <typename Apply>
absl::Status CatchUp(EventHub* hub, StateStore* store, const std::string& run_id,
                     int64_t* cursor, Apply apply) {
  while (true) {
    std::vector<pb::Event> events;
    if (!hub->Recent(run_id, *cursor, kEventsPerBatch, &events)) {
      AF_ASSIGN_OR_RETURN(events, store->ReadEvents(run_id, *cursor, kEventsPerBatch));
    }
    if (events.empty()) return absl::OkStatus();
    for (const pb::Event& event : events) apply(event);
    *cursor = events.back().seq();
  }
}

// A slice of the hub's shared bytes, without a copy: the slice owns a
// reference to them until gRPC is done with it.
grpc::Slice SharedSlice(const EncodedEvents& piece) {
  using Owner = std::shared_ptr<const std::string>;
  return grpc::Slice(const_cast<char*>(piece.data->data()) + piece.offset, piece.size,
                     [](void* owner) { delete static_cast<Owner*>(owner); },
                     new Owner(piece.data));
}

// StreamEvents writes pre-serialized EventBatch messages: followers that
// keep up send the hub's encoded bytes, the same for all of them.
class EventsCore : public WriterCore<grpc::ByteBuffer> {
 public:
  EventsCore(StateStore* store, EventHub* hub, std::string run_id, int64_t after_seq,
             bool follow)
      : store_(store), hub_(hub), run_id_(std::move(run_id)), cursor_(after_seq),
        follow_(follow) {}

 protected:
  absl::StatusOr<Fill> Next(grpc::ByteBuffer* out) override {
    EncodedRange range;
    if (hub_->RecentEncoded(run_id_, cursor_, kEventsPerBatch, kEventBatchBytes, &range)) {
      if (range.count == 0) return follow_ ? Fill::kWait : Fill::kDone;
      std::vector<grpc::Slice> slices;
      slices.reserve(range.pieces.size());
      for (const EncodedEvents& piece : range.pieces) slices.push_back(SharedSlice(piece));
      grpc::ByteBuffer buffer(slices.data(), slices.size());
      out->Swap(&buffer);
      cursor_ = range.last_seq;
      return follow_ && range.newest ? Fill::kCaughtUp : Fill::kData;
    }
    // Behind the memory (a late follower, or after a daemon restart):
    // SQLite, serialized for this follower alone.
    AF_ASSIGN_OR_RETURN(std::vector<pb::Event> events,
                        store_->ReadEvents(run_id_, cursor_, kEventsPerBatch));
    if (events.empty()) return follow_ ? Fill::kWait : Fill::kDone;
    bool caught_up = events.size() < static_cast<std::size_t>(kEventsPerBatch);
    cursor_ = events.back().seq();
    pb::EventBatch batch;
    for (pb::Event& event : events) *batch.add_events() = std::move(event);
    bool own_buffer = false;
    grpc::Status serialized =
        grpc::SerializationTraits<pb::EventBatch>::Serialize(batch, out, &own_buffer);
    if (!serialized.ok()) return absl::InternalError(serialized.error_message());
    return follow_ && caught_up ? Fill::kCaughtUp : Fill::kData;
  }

 private:
  StateStore* store_;
  EventHub* hub_;
  std::string run_id_;
  int64_t cursor_;
  bool follow_;
};

// One step's log. Following, it learns the step's and the run's states from
// the snapshot the call started with and the events committed since, so a
// wake costs what is new, not a read of the run.
class LogCore : public WriterCore<pb::LogChunk> {
 public:
  LogCore(StateStore* store, EventHub* hub, const pb::RunSnapshot& snapshot,
          int step_index, std::string path, int64_t offset, bool follow,
          int64_t chunk_bytes)
      : store_(store), hub_(hub), run_id_(snapshot.run().id()),
        step_id_(snapshot.steps(step_index).id()), path_(std::move(path)),
        offset_(offset), follow_(follow), chunk_bytes_(chunk_bytes),
        cursor_(snapshot.run().last_seq()),
        step_state_(snapshot.steps(step_index).state()),
        run_ended_(IsFinalRun(snapshot.run().state())) {}
  ~LogCore() override {
    if (fd_ >= 0) ::close(fd_);
  }

 protected:
  absl::StatusOr<Fill> Next(pb::LogChunk* out) override {
    // Learn the step's state first: if it had ended, all its output is in
    // the file already, so reading to the end finishes the stream.
    bool ended = true;
    if (follow_) {
      AF_RETURN_IF_ERROR(CatchUp(hub_, store_, run_id_, &cursor_, [this](const pb::Event& e) {
        if (e.kind() == pb::STEP_STATE_CHANGED && e.step_id() == step_id_) {
          step_state_ = e.step_state();
        } else if (e.kind() == pb::RUN_STATE_CHANGED) {
          run_ended_ = IsFinalRun(e.run_state());
        }
      }));
      // A step still pending in a run that has ended will never run.
      ended = (step_state_ != pb::STEP_RUNNING && step_state_ != pb::STEP_PENDING) ||
              run_ended_;
    }
    if (fd_ < 0) fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ >= 0) {
      std::string buffer(chunk_bytes_, '\0');
      ssize_t n = ::pread(fd_, buffer.data(), buffer.size(), offset_);
      if (n > 0) {
        buffer.resize(n);
        out->set_step_id(step_id_);
        out->set_offset(offset_);
        out->set_data(std::move(buffer));
        offset_ += n;
        // Caught up only while the step runs: once it has ended, the next
        // read (finding nothing) ends the stream, and no news will come to
        // wake a follower that waits.
        return follow_ && n < chunk_bytes_ && !ended ? Fill::kCaughtUp : Fill::kData;
      }
    }
    return ended ? Fill::kDone : Fill::kWait;
  }

 private:
  StateStore* store_;
  EventHub* hub_;
  std::string run_id_;
  std::string step_id_;
  std::string path_;
  int64_t offset_;
  bool follow_;
  int64_t chunk_bytes_;
  int64_t cursor_;  // events applied up to this seq
  pb::StepState step_state_;
  bool run_ended_;
  int fd_ = -1;
};

// Every step's log of a run, multiplexed: chunks carry their step id. Steps
// are visited in plan order, each read from where it was left, so parallel
// steps interleave by chunk. Only steps that may still have unread output
// are visited: those that ran, until they ended and were read to the end.
// Their states come from the snapshot the call started with and the events
// committed since, so a wake costs O(new events + such steps), not
// O(steps): a 10,000-step run is not reread.
class AllLogsCore : public WriterCore<pb::LogChunk> {
 public:
  AllLogsCore(StateStore* store, EventHub* hub, Engine* engine,
              const pb::RunSnapshot& snapshot, bool follow, int tail_lines,
              int64_t chunk_bytes)
      : store_(store), hub_(hub), engine_(engine), run_id_(snapshot.run().id()),
        follow_(follow), tail_lines_(tail_lines), chunk_bytes_(chunk_bytes),
        cursor_(snapshot.run().last_seq()),
        run_ended_(IsFinalRun(snapshot.run().state())) {
    steps_.resize(snapshot.steps_size());
    for (int i = 0; i < snapshot.steps_size(); ++i) {
      const pb::Step& step = snapshot.steps(i);
      steps_[i].id = step.id();
      index_[step.id()] = i;
      Update(i, step.state(), step.attempt());
    }
  }

 protected:
  absl::StatusOr<Fill> Next(pb::LogChunk* out) override {
    if (follow_) {
      AF_RETURN_IF_ERROR(CatchUp(hub_, store_, run_id_, &cursor_, [this](const pb::Event& e) {
        if (e.kind() == pb::RUN_STATE_CHANGED) {
          run_ended_ = IsFinalRun(e.run_state());
        } else if (e.kind() == pb::STEP_STATE_CHANGED) {
          auto it = index_.find(e.step_id());
          if (it != index_.end()) Update(it->second, e.step_state(), e.attempt());
        }
      }));
    }
    for (auto it = reading_.begin(); it != reading_.end();) {
      StepLog& step = steps_[*it];
      // Its state before its file: an ended step's output is all there.
      bool ended = step.state != pb::STEP_RUNNING && step.state != pb::STEP_PENDING;
      std::string path = engine_->LogPath(run_id_, step.id);
      if (step.offset < 0) step.offset = tail_lines_ > 0 ? TailOffset(path, tail_lines_) : 0;
      int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd >= 0) {
        std::string buffer(chunk_bytes_, '\0');
        ssize_t n = ::pread(fd, buffer.data(), buffer.size(), step.offset);
        ::close(fd);
        if (n > 0) {
          buffer.resize(n);
          out->set_step_id(step.id);
          out->set_offset(step.offset);
          out->set_data(std::move(buffer));
          step.offset += n;
          return Fill::kData;
        }
      }
      it = ended ? reading_.erase(it) : std::next(it);
    }
    // Nothing new anywhere: done unless more can come.
    return follow_ && !run_ended_ ? Fill::kWait : Fill::kDone;
  }

 private:
  struct StepLog {
    std::string id;
    pb::StepState state = pb::STEP_PENDING;
    int64_t offset = -1;  // -1: not opened yet
  };

  void Update(int index, pb::StepState state, int attempt) {
    steps_[index].state = state;
    // A step that never ran has no log yet.
    if (state != pb::STEP_PENDING || attempt > 0) reading_.insert(index);
  }

  StateStore* store_;
  EventHub* hub_;
  Engine* engine_;
  std::string run_id_;
  bool follow_;
  int tail_lines_;
  int64_t chunk_bytes_;
  int64_t cursor_;  // events applied up to this seq
  bool run_ended_;
  std::vector<StepLog> steps_;  // in plan order
  absl::flat_hash_map<std::string, int> index_;
  std::set<int> reading_;  // steps that may have unread output, in plan order
};

// Where the last `lines` lines of the file at `path` start.
int64_t TailOffset(const std::string& path, int lines) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  struct stat st;
  int64_t end = ::fstat(fd, &st) == 0 ? st.st_size : 0;
  int64_t pos = end;
  int seen = 0;
  char buffer[8192];
  // A final newline ends the last line; it does not start a new one.
  bool skip_last = true;
  while (pos > 0) {
    int64_t start = std::max<int64_t>(0, pos - static_cast<int64_t>(sizeof buffer));
    ssize_t n = ::pread(fd, buffer, pos - start, start);
    if (n <= 0) break;
    for (ssize_t i = n - 1; i >= 0; --i) {
      if (buffer[i] != '\n') continue;
      if (skip_last && start + i == end - 1) continue;
      if (++seen == lines) {
        ::close(fd);
        return start + i + 1;
      }
    }
    skip_last = false;
    pos = start;
  }
  ::close(fd);
  return 0;
}

// The request of a raw method.
template <typename Request>
bool ParseRequest(const grpc::ByteBuffer* raw, Request* request) {
  grpc::ByteBuffer copy = *raw;  // Deserialize consumes its input
  return grpc::SerializationTraits<Request>::Deserialize(&copy, request).ok();
}

// A message owning `bytes` (no copy).
grpc::ByteBuffer OwnedBuffer(std::string bytes) {
  auto* owner = new std::string(std::move(bytes));
  grpc::Slice slice(owner->data(), owner->size(),
                    [](void* p) { delete static_cast<std::string*>(p); }, owner);
  return grpc::ByteBuffer(&slice, 1);
}

// A unary call that ends before it starts.
grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context,
                                    const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

absl::Status CheckRunRef(const std::string& ref) {
  if (ref.size() > kMaxRunRefBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "run id is ", ref.size(), " bytes; the limit is ", kMaxRunRefBytes));
  }
  return absl::OkStatus();
}

class Service final
    : public pb::AetherFlow::WithRawCallbackMethod_GetRun<
          pb::AetherFlow::WithRawCallbackMethod_StreamEvents<
              pb::AetherFlow::CallbackService>> {
 public:
  Service(Engine* engine, StateStore* store, EventHub* hub, CallerResolver resolver)
      : engine_(engine), store_(store), hub_(hub), resolver_(std::move(resolver)) {}

  grpc::ServerUnaryReactor* SubmitPlan(grpc::CallbackServerContext* context,
                                       const pb::SubmitPlanRequest* request,
                                       pb::SubmitPlanResponse* response) override {
    return SubmitOrCheck(context, request, response, /*check_only=*/false);
  }

  grpc::ServerUnaryReactor* CheckPlan(grpc::CallbackServerContext* context,
                                      const pb::SubmitPlanRequest* request,
                                      pb::SubmitPlanResponse* response) override {
    return SubmitOrCheck(context, request, response, /*check_only=*/true);
  }

  grpc::ServerUnaryReactor* SubmitOrCheck(grpc::CallbackServerContext* context,
                                   const pb::SubmitPlanRequest* request,
                                   pb::SubmitPlanResponse* response, bool check_only) {
    absl::StatusOr<Caller> caller = resolver_.Resolve(*context);
    if (!caller.ok()) return FinishNow(context, caller.status());
    size_t env_bytes = 0;
    for (const auto& [name, value] : request->env()) env_bytes += name.size() + value.size();
    if (static_cast<size_t>(request->env().size()) > kMaxEnvEntries ||
        env_bytes > kMaxEnvBytes) {
      return FinishNow(context, absl::InvalidArgumentError(absl::StrCat(
          "environment of ", request->env().size(), " variables, ", env_bytes,
          " bytes; the limits are ", kMaxEnvEntries, " and ", kMaxEnvBytes)));
    }
    if (request->has_umask() && request->umask() > 0777) {
      return FinishNow(context, absl::InvalidArgumentError(absl::StrCat(
          "umask ", request->umask(), " is not a file mode (0 to 0777)")));
    }
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    SubmitRequest submit;
    submit.owner.set_uid(caller->uid);
    submit.owner.set_gid(caller->gid);
    for (uint32_t group : caller->groups) submit.owner.add_groups(group);
    submit.owner.set_user(caller->user);
    submit.plan_json = request->plan_json();
    submit.plan_path = request->plan_path().empty() ? "<plan>" : request->plan_path();
    submit.cwd = request->cwd();
    submit.env.insert(request->env().begin(), request->env().end());
    submit.output_dir = request->output_dir();
    if (request->has_umask()) submit.umask = request->umask();
    submit.check_only = check_only;
    submit.apply = request->apply();
    submit.commit = request->commit();
    submit.profile = request->profile();
    engine_->Submit(std::move(submit), [reactor, response](
                                           absl::StatusOr<SubmitResult> result) {
      if (!result.ok()) return reactor->Finish(ToGrpcStatus(result.status()));
      response->set_run_id(result->run_id);
      for (const std::string& warning : result->warnings) {
        response->add_warnings(warning);
      }
      reactor->Finish(grpc::Status::OK);
    });
    return reactor;
  }

  void set_state_dir(std::string state_dir) { state_dir_ = std::move(state_dir); }

  grpc::ServerUnaryReactor* GetVersion(grpc::CallbackServerContext* context,
                                       const pb::GetVersionRequest*,
                                       pb::GetVersionResponse* response) override {
    response->set_version(Version());
    response->set_state_dir(state_dir_);
    struct statvfs fs {};
    if (!state_dir_.empty() && ::statvfs(state_dir_.c_str(), &fs) == 0) {
      response->set_state_dir_free_bytes(static_cast<int64_t>(fs.f_bavail) *
                                         static_cast<int64_t>(fs.f_frsize));
    }
    response->set_pid(::getpid());
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* ListRuns(grpc::CallbackServerContext* context,
                                     const pb::ListRunsRequest* request,
                                     pb::ListRunsResponse* response) override {
    absl::StatusOr<Caller> caller = resolver_.Resolve(*context);
    if (!caller.ok()) return FinishNow(context, caller.status());
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    absl::StatusOr<std::vector<pb::Run>> runs =
        store_->ListRuns(request->limit(), caller->Scope());
    if (!runs.ok()) {
      reactor->Finish(ToGrpcStatus(runs.status()));
      return reactor;
    }
    for (pb::Run& run : *runs) *response->add_runs() = std::move(run);
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  // A raw method: the stored rows are encoded messages already, so the
  // snapshot is sent as SQLite holds it, never decoded and re-encoded
  // (every attaching client asks for it: 10,000 steps each).
  grpc::ServerUnaryReactor* GetRun(grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* raw,
                                   grpc::ByteBuffer* response) override {
    pb::GetRunRequest request;
    if (!ParseRequest(raw, &request)) {
      return FinishNow(context, absl::InvalidArgumentError("malformed GetRunRequest"));
    }
    absl::StatusOr<Caller> caller = resolver_.Resolve(*context);
    if (!caller.ok()) return FinishNow(context, caller.status());
    absl::StatusOr<std::string> id = Resolve(*caller, request.run_id());
    if (!id.ok()) return FinishNow(context, id.status());
    absl::StatusOr<std::string> encoded = store_->GetRunEncoded(*id);
    if (!encoded.ok()) return FinishNow(context, encoded.status());
    OwnedBuffer(std::move(*encoded)).Swap(response);
    return FinishNow(context, absl::OkStatus());
  }

  // A raw method: it writes pre-serialized EventBatch messages (the wire
  // format is the generated one's).
  grpc::ServerWriteReactor<grpc::ByteBuffer>* StreamEvents(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* raw) override {
    pb::StreamEventsRequest request;
    if (!ParseRequest(raw, &request)) {
      return Failed<grpc::ByteBuffer>(
          absl::InvalidArgumentError("malformed StreamEventsRequest"));
    }
    absl::StatusOr<Caller> caller = resolver_.Resolve(*context);
    if (!caller.ok()) return Failed<grpc::ByteBuffer>(caller.status());
    absl::StatusOr<std::string> id = Resolve(*caller, request.run_id());
    if (!id.ok()) return Failed<grpc::ByteBuffer>(id.status());
    auto core = std::make_shared<EventsCore>(store_, hub_, *id, request.after_seq(),
                                             request.follow());
    core->set_interval(std::chrono::milliseconds(request.interval_ms()));
    return new Writer<grpc::ByteBuffer>(std::move(core), &pump_, hub_, *id);
  }

  grpc::ServerUnaryReactor* CancelRun(grpc::CallbackServerContext* context,
                                      const pb::CancelRunRequest* request,
                                      pb::RunSnapshot* response) override {
    return OnRun(context, request->run_id(), response, &Engine::Cancel);
  }

  grpc::ServerUnaryReactor* PauseRun(grpc::CallbackServerContext* context,
                                     const pb::PauseRunRequest* request,
                                     pb::RunSnapshot* response) override {
    return OnRun(context, request->run_id(), response, &Engine::Pause);
  }

  // A call that does `action` to one of the caller's runs and answers with
  // the run as committed.
  grpc::ServerUnaryReactor* OnRun(grpc::CallbackServerContext* context,
                                  const std::string& run_ref, pb::RunSnapshot* response,
                                  void (Engine::*action)(std::string,
                                                         Engine::SnapshotCallback)) {
    absl::StatusOr<Caller> caller = resolver_.Resolve(*context);
    if (!caller.ok()) return FinishNow(context, caller.status());
    absl::StatusOr<std::string> id = Resolve(*caller, run_ref);
    if (!id.ok()) return FinishNow(context, id.status());
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    (engine_->*action)(*id, Reply(reactor, response));
    return reactor;
  }

  grpc::ServerUnaryReactor* ResumeRun(grpc::CallbackServerContext* context,
                                      const pb::ResumeRunRequest* request,
                                      pb::RunSnapshot* response) override {
    absl::StatusOr<Caller> caller = resolver_.Resolve(*context);
    if (!caller.ok()) return FinishNow(context, caller.status());
    absl::StatusOr<std::string> id = Resolve(*caller, request->run_id());
    if (!id.ok()) return FinishNow(context, id.status());
    if (static_cast<size_t>(request->env().size()) > kMaxEnvEntries) {
      return FinishNow(context, absl::InvalidArgumentError(absl::StrCat(
          "environment of ", request->env().size(), " variables; the limit is ",
          kMaxEnvEntries)));
    }
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    std::map<std::string, std::string> env(request->env().begin(),
                                           request->env().end());
    engine_->Resume(*id, std::move(env), Reply(reactor, response));
    return reactor;
  }

  grpc::ServerWriteReactor<pb::LogChunk>* ReadLog(
      grpc::CallbackServerContext* context,
      const pb::ReadLogRequest* request) override {
    absl::StatusOr<Caller> caller = resolver_.Resolve(*context);
    if (!caller.ok()) return Failed<pb::LogChunk>(caller.status());
    absl::StatusOr<pb::RunSnapshot> snapshot = Lookup(*caller, request->run_id());
    if (!snapshot.ok()) return Failed<pb::LogChunk>(snapshot.status());
    const std::string& run_id = snapshot->run().id();
    if (request->offset() < 0 || request->tail_lines() < 0 ||
        request->max_chunk_bytes() < 0) {
      return Failed<pb::LogChunk>(
          absl::InvalidArgumentError("negative offset, tail or chunk size"));
    }
    if (request->tail_lines() > kMaxTailLines ||
        request->max_chunk_bytes() > kMaxLogChunkBytes) {
      return Failed<pb::LogChunk>(absl::InvalidArgumentError(absl::StrCat(
          "tail of ", request->tail_lines(), " lines, chunks of ",
          request->max_chunk_bytes(), " bytes; the limits are ", kMaxTailLines,
          " and ", kMaxLogChunkBytes)));
    }
    int64_t chunk_bytes =
        request->max_chunk_bytes() > 0 ? request->max_chunk_bytes() : kLogChunkBytes;
    if (request->step_id().empty()) {
      auto core = std::make_shared<AllLogsCore>(
          store_, hub_, engine_, *snapshot, request->follow(), request->tail_lines(),
          chunk_bytes);
      return new Writer<pb::LogChunk>(std::move(core), &pump_, hub_, run_id);
    }
    int index = -1;
    for (int i = 0; i < snapshot->steps_size(); ++i) {
      if (snapshot->steps(i).id() == request->step_id()) index = i;
    }
    if (index < 0) {
      return Failed<pb::LogChunk>(absl::NotFoundError(absl::StrCat(
          "run ", run_id, " has no step \"", request->step_id(), "\"")));
    }
    std::string path = engine_->LogPath(run_id, request->step_id());
    int64_t offset = request->offset();
    if (offset == 0 && request->tail_lines() > 0) {
      offset = TailOffset(path, request->tail_lines());
    }
    auto core = std::make_shared<LogCore>(store_, hub_, *snapshot, index, path, offset,
                                          request->follow(), chunk_bytes);
    return new Writer<pb::LogChunk>(std::move(core), &pump_, hub_, run_id);
  }

  grpc::ServerUnaryReactor* CheckIn(grpc::CallbackServerContext* context,
                                    const pb::CheckInRequest* request,
                                    pb::CheckInResponse* response) override {
    absl::StatusOr<Caller> caller = resolver_.Resolve(*context);
    if (!caller.ok()) return FinishNow(context, caller.status());
    absl::StatusOr<std::string> id = Resolve(*caller, request->run_id());
    if (!id.ok()) return FinishNow(context, id.status());
    // The call reads the request only while it starts.
    pb::CheckInRequest resolved = *request;
    resolved.set_run_id(*id);
    return StartCheckIn(context, &resolved, response, store_, engine_, hub_, &pump_);
  }

  grpc::ServerUnaryReactor* DeleteRuns(grpc::CallbackServerContext* context,
                                       const pb::DeleteRunsRequest* request,
                                       pb::DeleteRunsResponse* response) override {
    absl::StatusOr<Caller> caller = resolver_.Resolve(*context);
    if (!caller.ok()) return FinishNow(context, caller.status());
    if (request->run_ids_size() > kMaxRunIdsPerDelete) {
      return FinishNow(context, absl::InvalidArgumentError(absl::StrCat(
          request->run_ids_size(), " runs named; the limit is ", kMaxRunIdsPerDelete)));
    }
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    std::vector<std::string> ids;
    for (const std::string& ref : request->run_ids()) {
      absl::StatusOr<std::string> id = Resolve(*caller, ref);
      if (!id.ok()) {
        reactor->Finish(ToGrpcStatus(id.status()));
        return reactor;
      }
      ids.push_back(*id);
    }
    if (ids.empty() && request->older_than_ms() <= 0) {
      reactor->Finish(ToGrpcStatus(
          absl::InvalidArgumentError("name runs to delete, or an age")));
      return reactor;
    }
    int64_t before = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count() -
                     request->older_than_ms();
    engine_->Delete(std::move(ids), before, caller->Scope(),
                    [reactor, response](std::vector<std::string> deleted,
                                        std::vector<std::string> errors) {
                      for (auto& id : deleted) response->add_deleted(std::move(id));
                      for (auto& e : errors) response->add_errors(std::move(e));
                      reactor->Finish(grpc::Status::OK);
                    });
    return reactor;
  }

  grpc::ServerUnaryReactor* DiffRun(grpc::CallbackServerContext* context,
                                    const pb::DiffRunRequest* request,
                                    pb::DiffRunResponse* response) override {
    return Changes(context, request->run_id(), request->step_id(), /*revert=*/false,
                   [response](pb::DiffRunResponse r) { *response = std::move(r); });
  }

  grpc::ServerUnaryReactor* RevertRun(grpc::CallbackServerContext* context,
                                      const pb::RevertRunRequest* request,
                                      pb::RevertRunResponse* response) override {
    return Changes(context, request->run_id(), request->step_id(), /*revert=*/true,
                   [response](pb::DiffRunResponse r) {
                     response->set_run_id(r.run_id());
                     for (pb::FileChange& c : *r.mutable_changes()) {
                       *response->add_reverted() = std::move(c);
                     }
                   });
  }

 private:
  grpc::ServerUnaryReactor* Changes(grpc::CallbackServerContext* context,
                                    const std::string& run_ref, const std::string& step_id,
                                    bool revert,
                                    std::function<void(pb::DiffRunResponse)> fill) {
    absl::StatusOr<Caller> caller = resolver_.Resolve(*context);
    if (!caller.ok()) return FinishNow(context, caller.status());
    absl::StatusOr<std::string> id = Resolve(*caller, run_ref);
    if (!id.ok()) return FinishNow(context, id.status());
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    engine_->Changes(*id, step_id, revert,
                     [reactor, fill = std::move(fill)](
                         absl::StatusOr<pb::DiffRunResponse> result) {
                       if (!result.ok()) return reactor->Finish(ToGrpcStatus(result.status()));
                       fill(std::move(*result));
                       reactor->Finish(grpc::Status::OK);
                     });
    return reactor;
  }

  // A run of the caller's (any run, for root): others' runs do not exist
  // for them, so that not even their ids leak.
  absl::StatusOr<std::string> Resolve(const Caller& caller, const std::string& ref) {
    AF_RETURN_IF_ERROR(CheckRunRef(ref));
    return store_->ResolveRunId(ref, caller.Scope());
  }
  absl::StatusOr<pb::RunSnapshot> Lookup(const Caller& caller, const std::string& ref) {
    AF_ASSIGN_OR_RETURN(std::string id, Resolve(caller, ref));
    return store_->GetRun(id);
  }

  static Engine::SnapshotCallback Reply(grpc::ServerUnaryReactor* reactor,
                                        pb::RunSnapshot* response) {
    return [reactor, response](absl::StatusOr<pb::RunSnapshot> snapshot) {
      if (!snapshot.ok()) return reactor->Finish(ToGrpcStatus(snapshot.status()));
      *response = std::move(*snapshot);
      reactor->Finish(grpc::Status::OK);
    };
  }

  // A stream that fails before its first message.
  template <typename Msg>
  static grpc::ServerWriteReactor<Msg>* Failed(const absl::Status& status) {
    class FailedWriter : public grpc::ServerWriteReactor<Msg> {
     public:
      explicit FailedWriter(grpc::Status status) { this->Finish(status); }
      void OnDone() override { delete this; }
    };
    return new FailedWriter(ToGrpcStatus(status));
  }

  Engine* engine_;
  StateStore* store_;
  EventHub* hub_;
  CallerResolver resolver_;
  Pump pump_;
  std::string state_dir_;
};

// Every answer carries the daemon's version (kVersionHeader), so that a
// client of another minor version can say so without a call of its own.
class VersionHeaderInterceptor : public grpc::experimental::Interceptor {
 public:
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->emplace(kVersionHeader, Version());
    }
    methods->Proceed();
  }
};

class VersionHeaderFactory
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo*) override {
    return new VersionHeaderInterceptor;
  }
};

// Over TLS, calls without the bearer token are refused before any service
// (health, reflection included) sees them.
class TokenProcessor : public grpc::AuthMetadataProcessor {
 public:
  explicit TokenProcessor(std::string token) : token_(std::move(token)) {}
  bool IsBlocking() const override { return false; }
  grpc::Status Process(const InputMetadata& metadata, grpc::AuthContext*,
                       OutputMetadata*, OutputMetadata*) override {
    auto it = metadata.find("authorization");
    std::string presented =
        it == metadata.end() ? "" : std::string(it->second.data(), it->second.size());
    if (presented.rfind("Bearer ", 0) == 0 &&
        ConstantTimeEquals(presented.substr(7), token_)) {
      return grpc::Status::OK;
    }
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "missing or wrong bearer token");
  }

 private:
  std::string token_;
};

class ServerImpl : public Server {
 public:
  ServerImpl(std::unique_ptr<Service> service, std::unique_ptr<grpc::Server> server,
             Listener* listener, int tcp_port)
      : service_(std::move(service)), server_(std::move(server)),
        listener_(listener), tcp_port_(tcp_port) {}
  ~ServerImpl() override { Shutdown(); }
  int tcp_port() const override { return tcp_port_; }
  void Shutdown() override {
    if (!server_) return;
    listener_->Stop();  // no new connections
    // Follow streams never end by themselves: give them a moment, then
    // cancel them.
    server_->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::milliseconds(500));
    server_->Wait();
    server_.reset();
  }

 private:
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  Listener* listener_;
  int tcp_port_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Server>> Server::Start(
    const ServerOptions& options, Engine* engine, StateStore* store,
    EventHub* hub) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  auto service = std::make_unique<Service>(
      engine, store, hub, CallerResolver(options.token, options.remote_user));
  service->set_state_dir(options.state_dir);
  grpc::ServerBuilder builder;
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(std::make_unique<VersionHeaderFactory>());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  int tcp_port = 0;
  if (!options.tcp_address.empty()) {
    std::shared_ptr<grpc::ServerCredentials> credentials;
    if (options.tls_cert_pem.empty() && options.tls_key_pem.empty()) {
      // Plaintext, but through gRPC's local credentials: they take only
      // loopback peers, and unlike insecure ones they run the token check
      // for every service (health and reflection included).
      credentials = grpc::experimental::LocalServerCredentials(LOCAL_TCP);
    } else {
      grpc::SslServerCredentialsOptions ssl;
      ssl.pem_key_cert_pairs.push_back({options.tls_key_pem, options.tls_cert_pem});
      credentials = grpc::SslServerCredentials(ssl);
    }
    credentials->SetAuthMetadataProcessor(
        std::make_shared<TokenProcessor>(options.token));
    builder.AddListeningPort(options.tcp_address, credentials, &tcp_port);
  }
  builder.RegisterService(service.get());
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  // channelz keeps a node per connection and call (names, counters, times
  // formatted as text) for a debugging service the daemon does not offer.
  builder.AddChannelArgument(GRPC_ARG_ENABLE_CHANNELZ, 0);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || (!options.tcp_address.empty() && tcp_port == 0)) {
    return absl::UnavailableError(
        options.tcp_address.empty()
            ? std::string("cannot start the gRPC server")
            : absl::StrCat("cannot listen on ", options.tcp_address,
                           " (in use, or not an address of this machine?)"));
  }
  server->GetHealthCheckService()->SetServingStatus(true);
  options.listener->Serve(server.get());
  return std::unique_ptr<Server>(new ServerImpl(std::move(service), std::move(server),
                                                options.listener, tcp_port));
}

}  // namespace aetherflow
