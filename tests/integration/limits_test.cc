// Every request over a limit gets a clear error (RESOURCE_EXHAUSTED or
// INVALID_ARGUMENT) and the daemon stays up to serve the next one.
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "aetherflow/v1/aetherflow.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/integration/harness.h"

namespace aetherflow::testing {
namespace {

namespace pb = ::aetherflow::v1;

class LimitsTest : public DaemonTest {
 protected:
  std::unique_ptr<pb::AetherFlow::Stub> Stub() {
    grpc::ChannelArguments args;
    args.SetMaxSendMessageSize(-1);  // let the daemon be the one to refuse
    return pb::AetherFlow::NewStub(grpc::CreateCustomChannel(
        "unix:" + socket_, grpc::InsecureChannelCredentials(), args));
  }

  // The daemon still answers, and with the right data.
  void ExpectStillServing() {
    CliResult ls = Cli({"ls"});
    EXPECT_EQ(ls.exit_code, 0) << ls.err;
    EXPECT_EQ(::kill(daemon_pid_, 0), 0);
  }
};

TEST_F(LimitsTest, AMessageOverTheLimitIsRefusedByGrpc) {
  pb::SubmitPlanRequest request;
  request.set_plan_json(std::string(33 * 1024 * 1024, ' '));
  request.set_cwd(dir_);
  grpc::ClientContext context;
  pb::SubmitPlanResponse response;
  grpc::Status status = Stub()->SubmitPlan(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << status.error_message();
  ExpectStillServing();
}

TEST_F(LimitsTest, APlanOverTheSizeLimitIsRefused) {
  std::string path = dir_ + "/huge.json";
  {
    std::ofstream out(path);
    out << R"({"description": ")" << std::string(17 * 1024 * 1024, 'x')
        << R"(", "steps": [{"id": "a", "run": "true"}]})";
  }
  CliResult r = Cli({"submit", path});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("the limit is"), std::string::npos) << r.err;
  EXPECT_EQ(CountRows("runs"), 0);
  ExpectStillServing();
}

TEST_F(LimitsTest, APlanWithTooManyStepsIsRefused) {
  std::string json = R"({"steps": [)";
  for (int i = 0; i <= 100'000; ++i) {
    absl::StrAppend(&json, i ? "," : "", R"({"id":"s)", i, R"(","run":"true"})");
  }
  json += "]}";
  pb::SubmitPlanRequest request;
  request.set_plan_json(json);
  request.set_cwd(dir_);
  grpc::ClientContext context;
  pb::SubmitPlanResponse response;
  grpc::Status status = Stub()->SubmitPlan(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("100000"), std::string::npos)
      << status.error_message().substr(0, 300);
  EXPECT_EQ(CountRows("runs"), 0);
  ExpectStillServing();
}

TEST_F(LimitsTest, RunsInFlightPerUserAreCapped) {
  StopDaemon();
  StartDaemon({"--max-runs-per-user", "2"});
  std::string plan = WritePlan("wait.json", R"({"steps": [
    {"id": "wait", "run": "sleep 600"}]})");
  std::string first = Submit(plan);
  std::string second = Submit(plan);
  CliResult third = Cli({"submit", plan});
  EXPECT_NE(third.exit_code, 0);
  EXPECT_NE(third.err.find("2 runs queued or running"), std::string::npos) << third.err;
  EXPECT_EQ(CountRows("runs"), 2);
  // Once one ends, there is room again.
  EXPECT_EQ(Cli({"cancel", first}).exit_code, 0);
  WaitForEnd(first);
  CliResult again = Cli({"submit", plan});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  Cli({"cancel", second});
}

TEST_F(LimitsTest, LogChunksAndTailsAreBounded) {
  std::string plan = WritePlan("out.json", R"({"steps": [
    {"id": "talk", "run": "seq 1 2000"}]})");
  std::string run = Submit(plan);
  WaitForEnd(run);
  auto stub = Stub();
  {
    pb::ReadLogRequest request;
    request.set_run_id(run);
    request.set_step_id("talk");
    request.set_max_chunk_bytes(2 * 1024 * 1024);
    grpc::ClientContext context;
    auto reader = stub->ReadLog(&context, request);
    pb::LogChunk chunk;
    EXPECT_FALSE(reader->Read(&chunk));
    grpc::Status status = reader->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(status.error_message().find("limits are"), std::string::npos)
        << status.error_message();
  }
  {
    pb::ReadLogRequest request;
    request.set_run_id(run);
    request.set_step_id("talk");
    request.set_tail_lines(5'000'000);
    grpc::ClientContext context;
    auto reader = stub->ReadLog(&context, request);
    pb::LogChunk chunk;
    while (reader->Read(&chunk)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    // A small chunk size is honoured, and the chunks add up to the log.
    pb::ReadLogRequest request;
    request.set_run_id(run);
    request.set_step_id("talk");
    request.set_max_chunk_bytes(100);
    grpc::ClientContext context;
    auto reader = stub->ReadLog(&context, request);
    pb::LogChunk chunk;
    std::string all;
    int chunks = 0;
    while (reader->Read(&chunk)) {
      EXPECT_LE(chunk.data().size(), 100u);
      all += chunk.data();
      ++chunks;
    }
    EXPECT_TRUE(reader->Finish().ok());
    EXPECT_GT(chunks, 1);
    EXPECT_EQ(all, ReadFile(state_dir_ + "/runs/" + run + "/logs/talk.log"));
  }
  ExpectStillServing();
}

TEST_F(LimitsTest, OversizedRunIdsAndEnvironmentsAreRefused) {
  auto stub = Stub();
  {
    pb::GetRunRequest request;
    request.set_run_id(std::string(10'000, 'a'));
    grpc::ClientContext context;
    pb::RunSnapshot response;
    grpc::Status status = stub->GetRun(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    pb::SubmitPlanRequest request;
    request.set_plan_json(R"({"steps": [{"id": "a", "run": "true"}]})");
    request.set_cwd(dir_);
    for (int i = 0; i < 20'000; ++i) (*request.mutable_env())[absl::StrCat("V", i)] = "x";
    grpc::ClientContext context;
    pb::SubmitPlanResponse response;
    grpc::Status status = stub->SubmitPlan(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(status.error_message().find("environment"), std::string::npos);
  }
  EXPECT_EQ(CountRows("runs"), 0);
  ExpectStillServing();
}

}  // namespace
}  // namespace aetherflow::testing
