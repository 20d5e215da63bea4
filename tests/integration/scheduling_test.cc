// SPEC §9 through the real binaries: GPUs given to steps through
// CUDA_VISIBLE_DEVICES and never shared, a step that waits for one shows
// it, and progress read from what a step prints reaches `status`.
#include <fstream>
#include <set>
#include <string>

#include "gtest/gtest.h"
#include "tests/integration/harness.h"

namespace aetherflow::testing {
namespace {

class SchedulingTest : public DaemonTest {
 protected:
  void SetUp() override {
    DaemonTest::SetUp();
    StopDaemon();
    // Two GPUs, whatever this machine has (none, in CI).
    StartDaemon({"--resources", "gpu=2"});
  }
};

TEST_F(SchedulingTest, StepsHoldTheirOwnGpusAndAThirdWaitsForOne) {
  // Each step records its GPUs, then waits for its own go file.
  std::string step = R"("run": "echo $CUDA_VISIBLE_DEVICES,$AETHERFLOW_GPUS > gpus.$AETHERFLOW_STEP_ID; while [ ! -f go.$AETHERFLOW_STEP_ID ]; do sleep 0.05; done", "resources": {"gpu": 1})";
  std::string plan = WritePlan("gpus.json", R"({"task_id": "gpus", "steps": [
      {"id": "a", )" + step + R"(}, {"id": "b", )" + step + R"(}, {"id": "c", )" + step + R"(}]})");
  std::string id = Submit(plan);
  nlohmann::json status = WaitFor(id, [](const nlohmann::json& s) {
    return StepOf(s, "a")["state"] == "running" && StepOf(s, "b")["state"] == "running" &&
           StepOf(s, "c")["waiting_for"] == "gpu";
  });
  EXPECT_EQ(StepOf(status, "c")["state"], "pending");
  // Both have written their line once the files exist.
  WaitFor(id, [&](const nlohmann::json&) {
    return ReadFile(dir_ + "/gpus.a").size() > 1 && ReadFile(dir_ + "/gpus.b").size() > 1;
  });
  std::string a = ReadFile(dir_ + "/gpus.a"), b = ReadFile(dir_ + "/gpus.b");
  EXPECT_EQ(std::set<std::string>({a, b}), std::set<std::string>({"0,0\n", "1,1\n"}));
  // b ends: c gets the GPU b held.
  std::ofstream(dir_ + "/go.b") << "";
  WaitFor(id, [&](const nlohmann::json& s) {
    return StepOf(s, "c")["state"] == "running" && ReadFile(dir_ + "/gpus.c").size() > 1;
  });
  EXPECT_EQ(ReadFile(dir_ + "/gpus.c"), b);
  std::ofstream(dir_ + "/go.a") << "";
  std::ofstream(dir_ + "/go.c") << "";
  EXPECT_EQ(WaitForEnd(id)["run"]["state"], "succeeded");
}

TEST_F(SchedulingTest, AStepAskingForMoreGpusThanTheDaemonHasIsRefused) {
  std::string plan = WritePlan("big.json", R"({"task_id": "big", "steps": [
      {"id": "train", "run": "true", "resources": {"gpu": 4}}]})");
  CliResult refused = Cli({"submit", plan});
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  EXPECT_NE(refused.err.find(R"(steps[0] "train": asks for gpu=4)"), std::string::npos)
      << refused.err;
  EXPECT_EQ(CountRows("runs"), 0) << "nothing stored";
}

TEST_F(SchedulingTest, ProgressPrintedByAStepShowsInStatusWhileItRuns) {
  std::string plan = WritePlan("train.json", R"({"task_id": "train", "steps": [
      {"id": "train", "run": "echo 'Epoch 3/10'; while [ ! -f go ]; do sleep 0.05; done"}]})");
  std::string id = Submit(plan);
  nlohmann::json status = WaitFor(id, [](const nlohmann::json& s) {
    return StepOf(s, "train")["progress"].is_string() &&
           StepOf(s, "train")["progress"].get<std::string>().find("Epoch 3/10") !=
               std::string::npos;
  });
  EXPECT_EQ(StepOf(status, "train")["state"], "running");
  std::ofstream(dir_ + "/go") << "";
  EXPECT_EQ(WaitForEnd(id)["run"]["state"], "succeeded");
}

}  // namespace
}  // namespace aetherflow::testing
