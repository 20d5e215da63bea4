#include "client/run_actions.h"

#include <chrono>
#include <memory>
#include <mutex>
#include <thread>

#include "gtest/gtest.h"

namespace aetherflow {
namespace {

namespace pb = ::aetherflow::v1;

// A daemon that holds each call until the test answers it.
class HeldService final : public pb::AetherFlow::CallbackService {
 public:
  grpc::ServerUnaryReactor* PauseRun(grpc::CallbackServerContext* context,
                                     const pb::PauseRunRequest* request,
                                     pb::RunSnapshot* response) override {
    return Hold(context, "pause", request->run_id(), response, pb::RUN_PAUSED);
  }
  grpc::ServerUnaryReactor* ResumeRun(grpc::CallbackServerContext* context,
                                      const pb::ResumeRunRequest* request,
                                      pb::RunSnapshot* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    env_ = request->env().count("AF_TEST") ? request->env().at("AF_TEST") : "";
    return HoldLocked(context, "resume", request->run_id(), response, pb::RUN_RUNNING);
  }
  grpc::ServerUnaryReactor* CancelRun(grpc::CallbackServerContext* context,
                                      const pb::CancelRunRequest* request,
                                      pb::RunSnapshot* response) override {
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                 "run " + request->run_id() + " is already succeeded"));
    return reactor;
  }

  // Answers the held call (there must be one).
  void Answer(grpc::Status status = grpc::Status::OK) {
    std::lock_guard<std::mutex> lock(mu_);
    ASSERT_NE(held_, nullptr);
    held_->Finish(status);
    held_ = nullptr;
  }
  std::string calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  std::string env() {
    std::lock_guard<std::mutex> lock(mu_);
    return env_;
  }

 private:
  grpc::ServerUnaryReactor* Hold(grpc::CallbackServerContext* context, const char* what,
                                 const std::string& run, pb::RunSnapshot* response,
                                 pb::RunState state) {
    std::lock_guard<std::mutex> lock(mu_);
    return HoldLocked(context, what, run, response, state);
  }
  grpc::ServerUnaryReactor* HoldLocked(grpc::CallbackServerContext* context,
                                       const char* what, const std::string& run,
                                       pb::RunSnapshot* response, pb::RunState state) {
    calls_ += std::string(what) + " " + run + ";";
    response->mutable_run()->set_id(run);
    response->mutable_run()->set_state(state);
    response->mutable_run()->set_running(2);
    held_ = context->DefaultReactor();
    return held_;
  }

  std::mutex mu_;
  grpc::ServerUnaryReactor* held_ = nullptr;
  std::string calls_;
  std::string env_;
};

class RunActionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = pb::AetherFlow::NewStub(server_->InProcessChannel(grpc::ChannelArguments()));
  }
  void TearDown() override { server_->Shutdown(); }

  // Waits (10 s at most) until the daemon has seen `calls`.
  void WaitForCalls(const std::string& calls) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (service_.calls() != calls && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    ASSERT_EQ(service_.calls(), calls);
  }
  // Waits (10 s at most) for the outcome of the call.
  static std::optional<RunActionOutcome> WaitForOutcome(RunActions* actions) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    std::optional<RunActionOutcome> outcome;
    while (!(outcome = actions->Take()) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    return outcome;
  }

  HeldService service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<pb::AetherFlow::Stub> stub_;
};

TEST_F(RunActionsTest, StartReturnsBeforeTheDaemonAnswers) {
  RunActions actions(stub_.get(), "r1");
  ASSERT_TRUE(actions.Start(RunAction::kPause));
  WaitForCalls("pause r1;");
  // The daemon holds the call: nothing to take yet, and no second call.
  EXPECT_TRUE(actions.busy());
  EXPECT_FALSE(actions.Take().has_value());
  EXPECT_FALSE(actions.Start(RunAction::kPause)) << "one call at a time";
  service_.Answer();
  std::optional<RunActionOutcome> outcome = WaitForOutcome(&actions);
  ASSERT_TRUE(outcome.has_value());
  EXPECT_TRUE(outcome->status.ok());
  EXPECT_EQ(outcome->action, RunAction::kPause);
  EXPECT_EQ(outcome->snapshot.run().state(), pb::RUN_PAUSED);
  EXPECT_EQ(RunActionMessage(*outcome),
            "run r1 paused; running steps go on to their end; p resumes");
  EXPECT_FALSE(actions.Take().has_value()) << "taken once";
  EXPECT_FALSE(actions.busy());
}

TEST_F(RunActionsTest, ResumeSendsTheEnvironmentAndErrorsComeBackAsMessages) {
  RunActions actions(stub_.get(), "r2", {{"AF_TEST", "from-the-shell"}});
  ASSERT_TRUE(actions.Start(RunAction::kResume));
  WaitForCalls("resume r2;");
  EXPECT_EQ(service_.env(), "from-the-shell");
  service_.Answer();
  std::optional<RunActionOutcome> outcome = WaitForOutcome(&actions);
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(RunActionMessage(*outcome), "run r2 goes on");

  ASSERT_TRUE(actions.Start(RunAction::kCancel)) << "free again after the answer";
  outcome = WaitForOutcome(&actions);
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(outcome->status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(RunActionMessage(*outcome), "run r2 is already succeeded");

  RunActionOutcome bare;
  bare.action = RunAction::kPause;
  bare.status = grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "");
  EXPECT_EQ(RunActionMessage(bare), "the daemon did not pause the run (gRPC status 12)");
  EXPECT_EQ(RunActionPending(RunAction::kPause, true), "pausing the run…");
  EXPECT_EQ(RunActionPending(RunAction::kResume, false), "resuming the run...");
}

TEST_F(RunActionsTest, DestroyedWhileACallIsHeld) {
  {
    RunActions actions(stub_.get(), "r3");
    ASSERT_TRUE(actions.Start(RunAction::kPause));
    WaitForCalls("pause r3;");
    // Leaves with the call unanswered: the destructor gives up on it after
    // its grace and waits for gRPC to finish it.
  }
  service_.Answer();  // the daemon's late answer goes nowhere
}

}  // namespace
}  // namespace aetherflow
