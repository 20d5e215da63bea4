// LLM steps end to end: the real daemon against a local OpenAI-compatible
// test server (tests/tools/fake_openai.cc) on loopback.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/integration/harness.h"
#include "tests/integration/llm_fixture.h"

namespace aetherflow::testing {
namespace {

using nlohmann::json;

TEST_F(LlmTest, OriginalPlanRunsWithRoutingRetriesTokensCostAndFiles) {
  int port = StartFake(R"([{"request": 2, "status": 429, "retry_after": "1"},
                           {"request": 3, "status": 500}])", 50);
  UseFake(port);
  std::filesystem::create_directories(dir_ + "/work");
  std::ofstream(dir_ + "/work/cli.py") << "print('the old cli')\n";
  CliResult r = Cli({"run", DataDir() + "/plans/original_format.json", "--output", dir_ + "/out"},
                    {}, dir_ + "/work");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Throttled"), std::string::npos) << "a 429 shows\n" << r.out;

  json status = Status("last");
  std::map<std::string, std::string> expected = {
      {"step_1", "gemini"}, {"step_2", "deepseek"}, {"step_3", "deepseek"},
      {"step_4", "codestral"}, {"step_5", "deepseek"}, {"step_6", "deepseek"},
      {"step_7", "deepseek"}};
  for (const auto& [id, provider] : expected) {
    const json& step = StepOf(status, id);
    EXPECT_EQ(step["state"], "completed") << id;
    EXPECT_EQ(step["provider"], provider) << id;
    EXPECT_GT(step["tokens"].get<int64_t>(), 0) << id;
    EXPECT_TRUE(step["cost"].is_number()) << id;
    EXPECT_TRUE(std::filesystem::exists(dir_ + "/out/" + id + ".md")) << id;
  }
  EXPECT_GT(status["run"]["tokens"].get<int64_t>(), 0);
  EXPECT_EQ(ReadFile(dir_ + "/out/args.py"), "content of args.py\n");
  EXPECT_EQ(ReadFile(dir_ + "/out/tests/test_cli.py"), "content of tests/test_cli.py\n");

  std::vector<json> requests = Requests();
  ASSERT_EQ(requests.size(), 9u) << "7 steps, a 429 and a 500 retried";
  EXPECT_EQ(requests[1]["status"], 429);
  EXPECT_EQ(requests[2]["status"], 500);
  for (const json& request : requests) {
    EXPECT_EQ(request["auth"], std::string("Bearer ") + kKey);
  }
  // Routing chose each provider's model; prompts carry what they should.
  EXPECT_EQ(requests[0]["model"], "gemini-2.0-flash");
  std::string first = UserMessage(requests[0]);
  EXPECT_NE(first.find("Analyse the current CLI module"), std::string::npos) << first;
  EXPECT_NE(first.find("Lists every command of the CLI"), std::string::npos) << first;
  std::string second = UserMessage(requests[3]);
  EXPECT_EQ(requests[3]["model"], "deepseek-chat");
  EXPECT_NE(second.find("print('the old cli')"), std::string::npos)
      << "input_files are read from the working directory\n" << second;
  EXPECT_NE(second.find("You asked: # Task"), std::string::npos)
      << "the previous step's answer is passed on\n" << second;
  bool codestral = false;
  for (const json& request : requests) codestral |= request["model"] == "codestral-latest";
  EXPECT_TRUE(codestral) << "context.provider routes step_4";

  // The key never reaches the database, logs, events, exports or messages.
  std::vector<std::string> places;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(state_dir_)) {
    if (entry.is_regular_file()) places.push_back(ReadFile(entry.path()));
  }
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    std::string name = entry.path().filename();
    if (name.rfind("daemon.err", 0) == 0) places.push_back(ReadFile(entry.path()));
  }
  for (const char* format : {"json", "csv", "trace"}) {
    places.push_back(Cli({"export", "last", "--format", format}).out);
  }
  places.push_back(Cli({"status", "last", "--json"}).out);
  places.push_back(Cli({"logs", "last"}).out);
  places.push_back(r.out + r.err);
  for (const std::string& text : places) {
    EXPECT_EQ(text.find(kKey), std::string::npos) << "the key leaked";
    EXPECT_EQ(text.find("SECRET-4242"), std::string::npos) << "the key leaked";
  }
  EXPECT_GE(places.size(), 8u);
}

TEST_F(LlmTest, AStepWhoseProviderHasNoKeyIsRefusedAtSubmit) {
  int port = StartFake("[]", 0);
  UseFake(port, /*with_key=*/false);
  CliResult r = Cli({"submit", DataDir() + "/plans/original_format.json"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("DEEPSEEK_API_KEY"), std::string::npos) << r.err;
  EXPECT_EQ(CountRows("runs"), 0);
  CliResult dry = Cli({"submit", "--dry-run", DataDir() + "/plans/original_format.json"});
  EXPECT_EQ(dry.exit_code, 2) << "a dry run refuses what a submit would: " << dry.err;
  EXPECT_NE(dry.out.find("A submit would be refused"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("step_4 (codestral)"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("Estimated cost: $"), std::string::npos) << dry.out;
}

TEST_F(LlmTest, TheBudgetStopsNewStepsAndEndsTheRunWithItsReason) {
  int port = StartFake("[]", 200);
  UseFake(port);
  std::string plan = WritePlan("budget.json", R"({"task_id": "b", "budget": {"tokens": 2500},
    "steps": [
      {"id": "a", "type": "analysis", "description": "one", "estimated_tokens": 1000},
      {"id": "b", "type": "analysis", "description": "two", "estimated_tokens": 1000},
      {"id": "c", "type": "analysis", "description": "three", "estimated_tokens": 1000},
      {"id": "d", "dependencies": ["c"], "type": "analysis", "description": "four"}]})");
  std::string id = Submit(plan);
  json status = WaitForEnd(id);
  EXPECT_EQ(status["run"]["state"], "failed");
  EXPECT_EQ(status["run"]["reason"], "budget exhausted");
  EXPECT_EQ(StepOf(status, "a")["state"], "completed");
  EXPECT_EQ(StepOf(status, "b")["state"], "completed");
  EXPECT_EQ(StepOf(status, "c")["state"], "skipped") << status.dump(2);
  EXPECT_EQ(StepOf(status, "d")["state"], "skipped");
  EXPECT_EQ(Requests().size(), 2u) << "the third would have gone over";
}

TEST_F(LlmTest, CancelStopsARequestInFlight) {
  int port = StartFake("[]", 60'000);
  UseFake(port);
  std::string id = Submit(WritePlan("slow.json", R"({"task_id": "s", "steps": [
    {"id": "slow", "type": "analysis", "description": "takes a minute"}]})"));
  WaitFor(id, [](const json& s) { return StepOf(s, "slow")["state"] == "running"; });
  EXPECT_EQ(Cli({"cancel", id}).exit_code, 0);
  json status = WaitForEnd(id);
  EXPECT_EQ(status["run"]["state"], "cancelled");
  EXPECT_EQ(StepOf(status, "slow")["state"], "cancelled");
}

}  // namespace
}  // namespace aetherflow::testing
