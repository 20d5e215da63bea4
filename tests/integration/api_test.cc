// The gRPC API itself, as a generic tool or another client would use it.
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "aetherflow/v1/aetherflow.grpc.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "tests/integration/harness.h"

namespace aetherflow::testing {
namespace {

namespace pb = ::aetherflow::v1;
using nlohmann::json;

class ApiTest : public DaemonTest {
 protected:
  void SetUp() override {
    DaemonTest::SetUp();
    channel_ = grpc::CreateChannel("unix:" + socket_, grpc::InsecureChannelCredentials());
    stub_ = pb::AetherFlow::NewStub(channel_);
  }

  std::vector<pb::Event> ReadEvents(const std::string& run, int64_t after) {
    grpc::ClientContext context;
    pb::StreamEventsRequest request;
    request.set_run_id(run);
    request.set_after_seq(after);
    auto reader = stub_->StreamEvents(&context, request);
    std::vector<pb::Event> events;
    pb::EventBatch batch;
    while (reader->Read(&batch)) {
      events.insert(events.end(), batch.events().begin(), batch.events().end());
    }
    EXPECT_TRUE(reader->Finish().ok());
    return events;
  }

  // A unary call through the generic stub, as grpcurl would make it.
  grpc::Status GenericCall(const std::string& method, const std::string& request,
                           std::string* response) {
    grpc::GenericStub generic(channel_);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc::Slice slice(request);
    grpc::ByteBuffer in(&slice, 1), out;
    grpc::CompletionQueue cq;
    auto call = generic.PrepareUnaryCall(&context, method, in, &cq);
    call->StartCall();
    grpc::Status status;
    call->Finish(&out, &status, reinterpret_cast<void*>(1));
    void* tag;
    bool ok;
    cq.Next(&tag, &ok);
    std::vector<grpc::Slice> slices;
    out.Dump(&slices);
    response->clear();
    for (const auto& s : slices) {
      response->append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    return status;
  }

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::AetherFlow::Stub> stub_;
};

TEST_F(ApiTest, HealthCheckingAnswersServing) {
  std::string response;
  // grpc.health.v1.HealthCheckRequest{service: ""} is the empty message;
  // the answer is HealthCheckResponse{status: SERVING (1)}: field 1, varint 1.
  grpc::Status status = GenericCall("/grpc.health.v1.Health/Check", "", &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response, std::string("\x08\x01", 2));
}

TEST_F(ApiTest, ReflectionListsTheService) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::GenericStub generic(channel_);
  grpc::CompletionQueue cq;
  auto call = generic.PrepareCall(
      &context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  void* tag;
  bool ok;
  call->StartCall(reinterpret_cast<void*>(1));
  cq.Next(&tag, &ok);
  ASSERT_TRUE(ok);
  // ServerReflectionRequest{list_services: ""}: field 7, length-delimited.
  grpc::Slice slice(std::string("\x3a\x00", 2));
  grpc::ByteBuffer request(&slice, 1);
  call->Write(request, reinterpret_cast<void*>(2));
  cq.Next(&tag, &ok);
  ASSERT_TRUE(ok);
  grpc::ByteBuffer response;
  call->Read(&response, reinterpret_cast<void*>(3));
  cq.Next(&tag, &ok);
  ASSERT_TRUE(ok);
  std::vector<grpc::Slice> slices;
  response.Dump(&slices);
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_NE(bytes.find("aetherflow.v1.AetherFlow"), std::string::npos);
  // Finish exactly once, then shut the queue down and drain it: a second
  // Finish or an undrained queue keeps the call alive, and LeakSanitizer
  // reports its memory.
  context.TryCancel();
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(4));
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

TEST_F(ApiTest, EventsFromAnySequenceNumberLoseNothingAndRepeatNothing) {
  std::string id = Submit(DataDir() + "/plans/commands_diamond.json");
  json status = WaitForEnd(id);
  std::vector<pb::Event> all = ReadEvents(id, 0);
  ASSERT_FALSE(all.empty());
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].seq(), static_cast<int64_t>(i + 1)) << "dense and ordered";
  }
  EXPECT_EQ(all.back().seq(), status["run"]["last_seq"]);
  EXPECT_EQ(all.back().kind(), pb::RUN_STATE_CHANGED);
  EXPECT_EQ(all.back().run_state(), pb::RUN_FAILED);
  for (int64_t from : {int64_t{1}, int64_t{5}, static_cast<int64_t>(all.size())}) {
    std::vector<pb::Event> tail = ReadEvents(id, from);
    ASSERT_EQ(tail.size(), all.size() - from);
    for (std::size_t i = 0; i < tail.size(); ++i) {
      EXPECT_EQ(tail[i].SerializeAsString(), all[from + i].SerializeAsString());
    }
  }
}

// Followers on every grid a client may ask for (the default, nonsense
// values the daemon clamps, plain lines' second, more than the longest)
// each see every event once, in order, and the end of the run.
TEST_F(ApiTest, LiveFollowSeesEveryEventOfARunInOrder) {
  std::string plan = WritePlan("live.json", R"({"task_id": "live", "steps": [
    {"id": "a", "run": "sleep 0.3"}, {"id": "b", "dependencies": ["a"], "run": "sleep 0.3"}]})");
  std::string id = Submit(plan);
  const std::vector<int> intervals = {0, -5, 1000, 100000};
  std::vector<std::vector<pb::Event>> seen(intervals.size());
  std::vector<std::thread> followers;
  for (std::size_t f = 0; f < intervals.size(); ++f) {
    followers.emplace_back([&, f] {
      grpc::ClientContext context;
      pb::StreamEventsRequest request;
      request.set_run_id(id);
      request.set_follow(true);
      request.set_interval_ms(intervals[f]);
      auto reader = stub_->StreamEvents(&context, request);
      pb::EventBatch batch;
      while (reader->Read(&batch)) {
        seen[f].insert(seen[f].end(), batch.events().begin(), batch.events().end());
        if (!seen[f].empty() && seen[f].back().kind() == pb::RUN_STATE_CHANGED &&
            seen[f].back().run_state() == pb::RUN_SUCCEEDED) {
          context.TryCancel();
        }
      }
      reader->Finish();
    });
  }
  for (std::thread& follower : followers) follower.join();
  for (std::size_t f = 0; f < intervals.size(); ++f) {
    SCOPED_TRACE("interval_ms " + std::to_string(intervals[f]));
    ASSERT_FALSE(seen[f].empty());
    for (std::size_t i = 0; i < seen[f].size(); ++i) {
      EXPECT_EQ(seen[f][i].seq(), int64_t(i + 1));
    }
    EXPECT_EQ(seen[f].back().run_state(), pb::RUN_SUCCEEDED);
  }
}

TEST_F(ApiTest, DaemonValidatesPlansItselfAndStoresNothingForABadOne) {
  pb::SubmitPlanRequest request;
  request.set_plan_json(R"({"steps": [{"id": "a", "run": "true", "dependencies": ["zz"]}, {"id": "../x", "run": 5}]})");
  request.set_plan_path("raw.json");
  request.set_cwd("/");
  pb::SubmitPlanResponse response;
  grpc::ClientContext context;
  grpc::Status status = stub_->SubmitPlan(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("raw.json:1:"), std::string::npos)
      << status.error_message();
  EXPECT_NE(status.error_message().find("unknown step \"zz\""), std::string::npos);
  EXPECT_NE(status.error_message().find("steps[1].id"), std::string::npos);
  EXPECT_EQ(CountRows("runs"), 0);
}

TEST_F(ApiTest, OversizedPlanIsRefusedAndTheDaemonStaysUp) {
  pb::SubmitPlanRequest request;
  request.set_plan_json(std::string(17 * 1024 * 1024, ' '));
  request.set_plan_path("huge.json");
  request.set_cwd("/");
  pb::SubmitPlanResponse response;
  grpc::ClientContext context;
  grpc::Status status = stub_->SubmitPlan(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << status.error_message();
  EXPECT_EQ(Cli({"ls"}).exit_code, 0) << "still serving";
}

TEST_F(ApiTest, AUmaskThatIsNotAFileModeIsRefused) {
  pb::SubmitPlanRequest request;
  request.set_plan_json(R"({"steps": [{"id": "a", "run": "true"}]})");
  request.set_plan_path("umask.json");
  request.set_cwd("/");
  request.set_umask(01000);
  pb::SubmitPlanResponse response;
  grpc::ClientContext context;
  grpc::Status status = stub_->SubmitPlan(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("umask 512"), std::string::npos)
      << status.error_message();
  EXPECT_EQ(CountRows("runs"), 0);
}

TEST_F(ApiTest, UnknownRunsAreNotFound) {
  pb::GetRunRequest request;
  request.set_run_id("nope");
  pb::RunSnapshot snapshot;
  grpc::ClientContext context;
  EXPECT_EQ(stub_->GetRun(&context, request, &snapshot).error_code(),
            grpc::StatusCode::NOT_FOUND);
  grpc::ClientContext stream_context;
  pb::StreamEventsRequest events;
  events.set_run_id("nope");
  auto reader = stub_->StreamEvents(&stream_context, events);
  pb::EventBatch batch;
  EXPECT_FALSE(reader->Read(&batch));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace aetherflow::testing
