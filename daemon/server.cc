#include "daemon/server.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "aetherflow/v1/aetherflow.grpc.pb.h"
#include "daemon/checkin_call.h"
#include "daemon/engine.h"
#include "daemon/event_hub.h"
#include "daemon/log.h"
#include "daemon/pump.h"
#include "daemon/state_store.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"

namespace aetherflow {
namespace {

constexpr int kEventsPerBatch = 1000;

int64_t TailOffset(const std::string& path, int lines);
constexpr int64_t kLogChunkBytes = 64 * 1024;

grpc::Status ToGrpcStatus(const absl::Status& status) {
  // The canonical codes are numerically equal in Abseil and gRPC.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

template <typename Msg>
class WriterCore : public StreamCore,
                   public std::enable_shared_from_this<WriterCore<Msg>> {
 public:
  enum class Fill { kData, kWait, kDone };

  void Attach(grpc::ServerWriteReactor<Msg>* reactor, Pump* pump) {
    reactor_ = reactor;
    pump_ = pump;
  }

  void Service() override {
    std::unique_lock<std::mutex> lock(mu_);
    if (reactor_ == nullptr || finished_ || in_flight_) return;
    grpc::ServerWriteReactor<Msg>* reactor = reactor_;
    if (cancelled_) {
      finished_ = true;
      lock.unlock();
      reactor->Finish(grpc::Status::CANCELLED);
      return;
    }
    msg_.Clear();
    absl::StatusOr<Fill> fill = Next(&msg_);
    if (fill.ok() && *fill == Fill::kWait) return;
    if (!fill.ok() || *fill == Fill::kDone) {
      finished_ = true;
      lock.unlock();
      reactor->Finish(fill.ok() ? grpc::Status::OK : ToGrpcStatus(fill.status()));
      return;
    }
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
    lock.unlock();
    pump_->Enqueue(this->shared_from_this());
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
    token_ = hub_->Subscribe(run_id_, [weak, pump] {
      if (auto core = weak.lock()) pump->Enqueue(std::move(core));
    });
    pump->Register(core_);
    pump->Enqueue(core_);
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

class EventsCore : public WriterCore<pb::EventBatch> {
 public:
  EventsCore(StateStore* store, EventHub* hub, std::string run_id, int64_t after_seq,
             bool follow)
      : store_(store), hub_(hub), run_id_(std::move(run_id)), cursor_(after_seq),
        follow_(follow) {}

 protected:
  absl::StatusOr<Fill> Next(pb::EventBatch* out) override {
    // Followers that keep up are served from the hub's memory; others (and
    // anyone after a daemon restart) from SQLite.
    absl::StatusOr<std::vector<pb::Event>> events = std::vector<pb::Event>();
    if (!hub_->Recent(run_id_, cursor_, kEventsPerBatch, &*events)) {
      events = store_->ReadEvents(run_id_, cursor_, kEventsPerBatch);
    }
    if (!events.ok()) return events.status();
    if (events->empty()) return follow_ ? Fill::kWait : Fill::kDone;
    for (pb::Event& event : *events) *out->add_events() = std::move(event);
    cursor_ = out->events(out->events_size() - 1).seq();
    return Fill::kData;
  }

 private:
  StateStore* store_;
  EventHub* hub_;
  std::string run_id_;
  int64_t cursor_;
  bool follow_;
};

class LogCore : public WriterCore<pb::LogChunk> {
 public:
  LogCore(StateStore* store, std::string run_id, std::string step_id,
          int step_index, std::string path, int64_t offset, bool follow)
      : store_(store), run_id_(std::move(run_id)), step_id_(std::move(step_id)),
        step_index_(step_index), path_(std::move(path)), offset_(offset),
        follow_(follow) {}
  ~LogCore() override {
    if (fd_ >= 0) ::close(fd_);
  }

 protected:
  absl::StatusOr<Fill> Next(pb::LogChunk* out) override {
    // Read the step's state first: if it had ended, all its output is in
    // the file already, so reading to the end finishes the stream.
    bool ended = true;
    if (follow_) {
      absl::StatusOr<pb::Step> step = store_->GetStep(run_id_, step_index_);
      if (!step.ok()) return step.status();
      ended = step->state() != pb::STEP_RUNNING &&
              step->state() != pb::STEP_PENDING;
      if (!ended) {
        // A step still pending in a run that has ended will never run.
        absl::StatusOr<pb::Run> run = store_->GetRunOnly(run_id_);
        if (!run.ok()) return run.status();
        ended = run->state() != pb::RUN_RUNNING && run->state() != pb::RUN_QUEUED;
      }
    }
    if (fd_ < 0) fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ >= 0) {
      std::string buffer(kLogChunkBytes, '\0');
      ssize_t n = ::pread(fd_, buffer.data(), buffer.size(), offset_);
      if (n > 0) {
        buffer.resize(n);
        out->set_step_id(step_id_);
        out->set_offset(offset_);
        out->set_data(std::move(buffer));
        offset_ += n;
        return Fill::kData;
      }
    }
    return ended ? Fill::kDone : Fill::kWait;
  }

 private:
  StateStore* store_;
  std::string run_id_;
  std::string step_id_;
  int step_index_;
  std::string path_;
  int64_t offset_;
  bool follow_;
  int fd_ = -1;
};

// Every step's log of a run, multiplexed: chunks carry their step id. Steps
// are visited in plan order, each read from where it was left, so parallel
// steps interleave by chunk.
class AllLogsCore : public WriterCore<pb::LogChunk> {
 public:
  AllLogsCore(StateStore* store, Engine* engine, std::string run_id,
              bool follow, int tail_lines)
      : store_(store), engine_(engine), run_id_(std::move(run_id)),
        follow_(follow), tail_lines_(tail_lines) {}

 protected:
  absl::StatusOr<Fill> Next(pb::LogChunk* out) override {
    absl::StatusOr<pb::RunSnapshot> snapshot = store_->GetRun(run_id_);
    if (!snapshot.ok()) return snapshot.status();
    bool run_ended = snapshot->run().state() != pb::RUN_RUNNING &&
                     snapshot->run().state() != pb::RUN_QUEUED;
    offsets_.resize(snapshot->steps_size(), -1);
    for (int i = 0; i < snapshot->steps_size(); ++i) {
      const pb::Step& step = snapshot->steps(i);
      if (step.state() == pb::STEP_PENDING && step.attempt() == 0) continue;
      std::string path = engine_->LogPath(run_id_, step.id());
      if (offsets_[i] < 0) {
        offsets_[i] = tail_lines_ > 0 ? TailOffset(path, tail_lines_) : 0;
      }
      int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      std::string buffer(kLogChunkBytes, '\0');
      ssize_t n = ::pread(fd, buffer.data(), buffer.size(), offsets_[i]);
      ::close(fd);
      if (n <= 0) continue;
      buffer.resize(n);
      out->set_step_id(step.id());
      out->set_offset(offsets_[i]);
      out->set_data(std::move(buffer));
      offsets_[i] += n;
      return Fill::kData;
    }
    // Nothing new anywhere: done unless more can come.
    return follow_ && !run_ended ? Fill::kWait : Fill::kDone;
  }

 private:
  StateStore* store_;
  Engine* engine_;
  std::string run_id_;
  bool follow_;
  int tail_lines_;
  std::vector<int64_t> offsets_;  // per step; -1: not opened yet
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

class Service final : public pb::AetherFlow::CallbackService {
 public:
  Service(Engine* engine, StateStore* store, EventHub* hub)
      : engine_(engine), store_(store), hub_(hub) {}

  grpc::ServerUnaryReactor* SubmitPlan(grpc::CallbackServerContext* context,
                                       const pb::SubmitPlanRequest* request,
                                       pb::SubmitPlanResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    SubmitRequest submit;
    submit.plan_json = request->plan_json();
    submit.plan_path = request->plan_path().empty() ? "<plan>" : request->plan_path();
    submit.cwd = request->cwd();
    submit.env.insert(request->env().begin(), request->env().end());
    submit.output_dir = request->output_dir();
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

  grpc::ServerUnaryReactor* ListRuns(grpc::CallbackServerContext* context,
                                     const pb::ListRunsRequest* request,
                                     pb::ListRunsResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    absl::StatusOr<std::vector<pb::Run>> runs = store_->ListRuns(request->limit());
    if (!runs.ok()) {
      reactor->Finish(ToGrpcStatus(runs.status()));
      return reactor;
    }
    for (pb::Run& run : *runs) *response->add_runs() = std::move(run);
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* GetRun(grpc::CallbackServerContext* context,
                                   const pb::GetRunRequest* request,
                                   pb::RunSnapshot* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    absl::StatusOr<pb::RunSnapshot> snapshot = Lookup(request->run_id());
    if (!snapshot.ok()) {
      reactor->Finish(ToGrpcStatus(snapshot.status()));
      return reactor;
    }
    *response = std::move(*snapshot);
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerWriteReactor<pb::EventBatch>* StreamEvents(
      grpc::CallbackServerContext* context,
      const pb::StreamEventsRequest* request) override {
    absl::StatusOr<std::string> id = store_->ResolveRunId(request->run_id());
    if (!id.ok()) return Failed<pb::EventBatch>(id.status());
    auto core = std::make_shared<EventsCore>(store_, hub_, *id, request->after_seq(),
                                             request->follow());
    return new Writer<pb::EventBatch>(std::move(core), &pump_, hub_, *id);
  }

  grpc::ServerUnaryReactor* CancelRun(grpc::CallbackServerContext* context,
                                      const pb::CancelRunRequest* request,
                                      pb::RunSnapshot* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    engine_->Cancel(request->run_id(), Reply(reactor, response));
    return reactor;
  }

  grpc::ServerUnaryReactor* ResumeRun(grpc::CallbackServerContext* context,
                                      const pb::ResumeRunRequest* request,
                                      pb::RunSnapshot* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    std::map<std::string, std::string> env(request->env().begin(),
                                           request->env().end());
    engine_->Resume(request->run_id(), std::move(env), Reply(reactor, response));
    return reactor;
  }

  grpc::ServerWriteReactor<pb::LogChunk>* ReadLog(
      grpc::CallbackServerContext* context,
      const pb::ReadLogRequest* request) override {
    absl::StatusOr<pb::RunSnapshot> snapshot = Lookup(request->run_id());
    if (!snapshot.ok()) return Failed<pb::LogChunk>(snapshot.status());
    const std::string& run_id = snapshot->run().id();
    if (request->offset() < 0 || request->tail_lines() < 0) {
      return Failed<pb::LogChunk>(
          absl::InvalidArgumentError("negative offset or tail"));
    }
    if (request->step_id().empty()) {
      auto core = std::make_shared<AllLogsCore>(
          store_, engine_, run_id, request->follow(), request->tail_lines());
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
    auto core = std::make_shared<LogCore>(store_, run_id, request->step_id(),
                                          index, path, offset,
                                          request->follow());
    return new Writer<pb::LogChunk>(std::move(core), &pump_, hub_, run_id);
  }

  grpc::ServerUnaryReactor* CheckIn(grpc::CallbackServerContext* context,
                                    const pb::CheckInRequest* request,
                                    pb::CheckInResponse* response) override {
    return StartCheckIn(context, request, response, store_, engine_, hub_, &pump_);
  }

  grpc::ServerUnaryReactor* DeleteRuns(grpc::CallbackServerContext* context,
                                       const pb::DeleteRunsRequest* request,
                                       pb::DeleteRunsResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    std::vector<std::string> ids;
    for (const std::string& ref : request->run_ids()) {
      absl::StatusOr<std::string> id = store_->ResolveRunId(ref);
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
    engine_->Delete(std::move(ids), before,
                    [reactor, response](std::vector<std::string> deleted,
                                        std::vector<std::string> errors) {
                      for (auto& id : deleted) response->add_deleted(std::move(id));
                      for (auto& e : errors) response->add_errors(std::move(e));
                      reactor->Finish(grpc::Status::OK);
                    });
    return reactor;
  }

 private:
  absl::StatusOr<pb::RunSnapshot> Lookup(const std::string& ref) {
    absl::StatusOr<std::string> id = store_->ResolveRunId(ref);
    if (!id.ok()) return id.status();
    return store_->GetRun(*id);
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
  Pump pump_;
};

class ServerImpl : public Server {
 public:
  ServerImpl(std::unique_ptr<Service> service,
             std::unique_ptr<grpc::Server> server)
      : service_(std::move(service)), server_(std::move(server)) {}
  ~ServerImpl() override { Shutdown(); }
  void Shutdown() override {
    if (!server_) return;
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
};

}  // namespace

absl::StatusOr<std::unique_ptr<Server>> Server::Start(
    const ServerOptions& options, Engine* engine, StateStore* store,
    EventHub* hub) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  auto service = std::make_unique<Service>(engine, store, hub);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + options.socket_path,
                           grpc::InsecureServerCredentials());
  builder.RegisterService(service.get());
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  // The socket is created with the process umask: make it 0600.
  mode_t old_umask = ::umask(0177);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ::umask(old_umask);
  if (!server) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.socket_path));
  }
  ::chmod(options.socket_path.c_str(), 0600);
  server->GetHealthCheckService()->SetServingStatus(true);
  return std::unique_ptr<Server>(
      new ServerImpl(std::move(service), std::move(server)));
}

}  // namespace aetherflow
