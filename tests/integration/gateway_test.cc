// Issue 13 (SPEC §12): providers like a production gateway, end to end
// against the scripted OpenAI-compatible test server.
#include <fstream>
#include <map>
#include <string>

#include "tests/integration/harness.h"
#include "tests/integration/llm_fixture.h"

namespace aetherflow::testing {
namespace {

using nlohmann::json;

class GatewayTest : public LlmTest {
 protected:
  // Points every provider named at the test server, each with its own
  // built-in key variable, and restarts the daemon with `env`.
  void UseFakeFor(int port, const std::vector<std::string>& names,
                  const std::map<std::string, std::string>& env,
                  const std::string& extra = "") {
    std::string url = "http://127.0.0.1:" + std::to_string(port) + "/v1";
    std::ofstream config(dir_ + "/config.toml");
    for (const std::string& name : names) {
      config << "[providers." << name << "]\nbase_url = \"" << url << "\"\n";
    }
    config << extra;
    config.close();
    StopDaemon();
    StartDaemon({"--config", dir_ + "/config.toml"}, env);
  }
};

TEST_F(GatewayTest, OriginalKeyNamesAreRead) {
  int port = StartFake("[]", 0);
  // Only the original tool's names are set.
  UseFakeFor(port, {"gemini", "codestral"},
             {{"GOOGLE_API_KEY", kKey}, {"MISTRAL_API_KEY", kKey}});
  std::string plan = WritePlan("keys.json", R"({"task_id": "k", "steps": [
    {"id": "a", "type": "analysis", "description": "look"},
    {"id": "p", "type": "patch", "description": "fix"}]})");
  CliResult r = Cli({"run", plan, "--output", dir_ + "/out"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  json status = Status("last");
  EXPECT_EQ(StepOf(status, "a")["provider"], "gemini");
  EXPECT_EQ(StepOf(status, "p")["provider"], "codestral");
  std::vector<json> requests = Requests();
  ASSERT_EQ(requests.size(), 2u);
  for (const json& request : requests) {
    EXPECT_EQ(request["auth"], std::string("Bearer ") + kKey);
  }
}

TEST_F(GatewayTest, ProfilesChooseTheRouting) {
  int port = StartFake("[]", 0);
  UseFakeFor(port, {"deepseek", "groq", "kimi", "openai"},
             {{"DEEPSEEK_API_KEY", kKey}, {"GROQ_API_KEY", kKey},
              {"MOONSHOT_API_KEY", kKey}, {"OPENAI_API_KEY", kKey}},
             "[profiles.mine.routing]\ncode_generation = \"openai\"\n");
  std::string plan = WritePlan("code.json", R"({"task_id": "c", "steps": [
    {"id": "c", "type": "code_generation", "description": "write it"}]})");
  const std::map<std::string, std::pair<std::string, std::string>> expected = {
      {"", {"deepseek", "deepseek-chat"}},
      {"build", {"deepseek", "deepseek-chat"}},
      {"fast", {"groq", "llama-3.3-70b-versatile"}},
      {"double-check", {"kimi", "kimi-k2.6"}},
      {"mine", {"openai", "gpt-4o-mini"}}};
  size_t seen = 0;
  for (const auto& [profile, want] : expected) {
    std::vector<std::string> args = {"run", plan, "--output", dir_ + "/out-" + profile};
    if (!profile.empty()) args.insert(args.end(), {"--profile", profile});
    CliResult r = Cli(args);
    ASSERT_EQ(r.exit_code, 0) << profile << "\n" << r.out << r.err;
    EXPECT_EQ(StepOf(Status("last"), "c")["provider"], want.first) << profile;
    std::vector<json> requests = Requests();
    ASSERT_EQ(requests.size(), ++seen) << profile;
    EXPECT_EQ(requests.back()["model"], want.second) << profile;
  }
  // The dry run routes the same way (the client reads the config too).
  CliResult dry = Cli({"--config", dir_ + "/config.toml", "submit", "--dry-run", plan,
                       "--profile", "fast"});
  EXPECT_NE(dry.out.find("groq"), std::string::npos) << dry.out << dry.err;

  CliResult bad = Cli({"submit", plan, "--profile", "slow"});
  EXPECT_EQ(bad.exit_code, 2) << bad.out << bad.err;
  EXPECT_NE(bad.err.find("aetherflow: "), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("unknown profile \"slow\" (configured: build, double-check, fast, mine)"),
            std::string::npos)
      << bad.err;
}

}  // namespace
}  // namespace aetherflow::testing
