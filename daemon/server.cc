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
#include "common/status_macros.h"
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

int64_t TailOffset(const std::string& path, int lines);
// Request limits: anything over them is refused with INVALID_ARGUMENT.
constexpr int64_t kLogChunkBytes = 64 * 1024;
constexpr int64_t kMaxLogChunkBytes = 1024 * 1024;
constexpr int kMaxTailLines = 1'000'000;
constexpr size_t kMaxRunRefBytes = 256;
constexpr size_t kMaxEnvEntries = 10'000;
constexpr size_t kMaxEnvBytes = 4 * 1024 * 1024;
constexpr int kMaxRunIdsPerDelete = 10'000;

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
          int step_index, std::string path, int64_t offset, bool follow,
          int64_t chunk_bytes)
      : store_(store), run_id_(std::move(run_id)), step_id_(std::move(step_id)),
        step_index_(step_index), path_(std::move(path)), offset_(offset),
        follow_(follow), chunk_bytes_(chunk_bytes) {}
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
      std::string buffer(chunk_bytes_, '\0');
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
  int64_t chunk_bytes_;
  int fd_ = -1;
};

// Every step's log of a run, multiplexed: chunks carry their step id. Steps
// are visited in plan order, each read from where it was left, so parallel
// steps interleave by chunk.
class AllLogsCore : public WriterCore<pb::LogChunk> {
 public:
  AllLogsCore(StateStore* store, Engine* engine, std::string run_id,
              bool follow, int tail_lines, int64_t chunk_bytes)
      : store_(store), engine_(engine), run_id_(std::move(run_id)),
        follow_(follow), tail_lines_(tail_lines), chunk_bytes_(chunk_bytes) {}

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
      std::string buffer(chunk_bytes_, '\0');
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
  int64_t chunk_bytes_;
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

class Service final : public pb::AetherFlow::CallbackService {
 public:
  Service(Engine* engine, StateStore* store, EventHub* hub, CallerResolver resolver)
      : engine_(engine), store_(store), hub_(hub), resolver_(std::move(resolver)) {}

  grpc::ServerUnaryReactor* SubmitPlan(grpc::CallbackServerContext* context,
                                       const pb::SubmitPlanRequest* request,
                                       pb::SubmitPlanResponse* response) override {
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

  grpc::ServerUnaryReactor* GetRun(grpc::CallbackServerContext* context,
                                   const pb::GetRunRequest* request,
                                   pb::RunSnapshot* response) override {
    absl::StatusOr<Caller> caller = resolver_.Resolve(*context);
    if (!caller.ok()) return FinishNow(context, caller.status());
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    absl::StatusOr<pb::RunSnapshot> snapshot = Lookup(*caller, request->run_id());
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
    absl::StatusOr<Caller> caller = resolver_.Resolve(*context);
    if (!caller.ok()) return Failed<pb::EventBatch>(caller.status());
    absl::StatusOr<std::string> id = Resolve(*caller, request->run_id());
    if (!id.ok()) return Failed<pb::EventBatch>(id.status());
    auto core = std::make_shared<EventsCore>(store_, hub_, *id, request->after_seq(),
                                             request->follow());
    return new Writer<pb::EventBatch>(std::move(core), &pump_, hub_, *id);
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
          store_, engine_, run_id, request->follow(), request->tail_lines(),
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
    auto core = std::make_shared<LogCore>(store_, run_id, request->step_id(),
                                          index, path, offset,
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

 private:
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
  grpc::ServerBuilder builder;
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
