// Issue 18.9 end to end: LLM steps whose provider has no key are named,
// with the variable and the config file the daemon reads, by `submit
// --dry-run` and by the refusal of a real submit; a provider that cannot
// be reached shows its retries as "↻ Retrying (connection refused)".
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>

#include "tests/integration/harness.h"

namespace aetherflow::testing {
namespace {

using nlohmann::json;

constexpr char kPlan[] = R"({"task_id": "ask", "steps": [
  {"id": "prep", "run": "true"},
  {"id": "ask", "provider": "deepseek", "description": "Say hello",
   "dependencies": ["prep"], "estimated_tokens": 100},
  {"id": "ask_again", "provider": "deepseek", "description": "Say it again",
   "estimated_tokens": 100}]})";

// A loopback port nothing listens on: bound, then closed.
int ClosedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

class LlmKeysTest : public DaemonTest {
 protected:
  // Points deepseek at `port` on loopback and restarts the daemon with that
  // config (and `key`, unless empty).
  void Restart(int port, const std::string& key) {
    config_ = dir_ + "/config.toml";
    std::ofstream(config_) << "[providers.deepseek]\nbase_url = \"http://127.0.0.1:" << port
                           << "/v1\"\napi_key_env = \"DEEPSEEK_API_KEY\"\n";
    StopDaemon();
    std::map<std::string, std::string> env;
    if (!key.empty()) env["DEEPSEEK_API_KEY"] = key;
    StartDaemon({"--config", config_}, env);
  }
  std::string config_;
};

TEST_F(LlmKeysTest, DryRunNamesTheStepsTheDaemonWouldRefuseAndWhy) {
  Restart(ClosedPort(), /*key=*/"");
  const std::string plan = WritePlan("ask.json", kPlan);
  CliResult dry = Cli({"submit", "--dry-run", plan});
  EXPECT_EQ(dry.exit_code, 2) << "refused as a submit would be, yet it estimates: " << dry.err;
  EXPECT_NE(dry.out.find("Estimated cost:"), std::string::npos) << dry.out;
  EXPECT_EQ(dry.out.find("Plan OK"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("A submit would be refused (checked by aetherflowd at " + socket_),
            std::string::npos)
      << dry.out;
  EXPECT_NE(dry.out.find("steps ask, ask_again (deepseek): provider deepseek has no API key: "
                         "set DEEPSEEK_API_KEY"),
            std::string::npos)
      << dry.out;
  EXPECT_NE(dry.out.find(config_), std::string::npos) << "the daemon's config: " << dry.out;
  EXPECT_EQ(dry.out.find("prep ("), std::string::npos) << "a command step needs no key";

  CliResult as_json = Cli({"--json", "submit", "--dry-run", plan});
  EXPECT_EQ(as_json.exit_code, 2) << as_json.err;
  json out = json::parse(as_json.out, nullptr, false);
  ASSERT_FALSE(out.is_discarded()) << as_json.out;
  ASSERT_EQ(out["would_refuse"].size(), 1u) << out.dump(2);
  EXPECT_NE(out["would_refuse"][0].get<std::string>().find("DEEPSEEK_API_KEY"),
            std::string::npos);

  // The real submit: the same refusal, naming the steps and the config.
  CliResult submit = Cli({"submit", plan});
  EXPECT_EQ(submit.exit_code, 2) << submit.err;
  EXPECT_NE(submit.err.find("steps ask, ask_again (deepseek)"), std::string::npos)
      << submit.err;
  EXPECT_NE(submit.err.find("DEEPSEEK_API_KEY"), std::string::npos) << submit.err;
  EXPECT_NE(submit.err.find(config_), std::string::npos) << submit.err;
  EXPECT_EQ(CountRows("runs"), 0) << "a dry run and a refusal store nothing";

  // No daemon: checked against this shell, as an autostarted one would be.
  StopDaemon();
  CliResult alone = Cli({"--config", config_, "submit", "--dry-run", plan});
  EXPECT_EQ(alone.exit_code, 2) << alone.err;
  EXPECT_NE(alone.out.find("checked by this shell"), std::string::npos) << alone.out;
  EXPECT_NE(alone.out.find("set DEEPSEEK_API_KEY"), std::string::npos) << alone.out;
  CliResult with_key =
      Cli({"--config", config_, "submit", "--dry-run", plan}, {{"DEEPSEEK_API_KEY", "sk-x"}});
  EXPECT_EQ(with_key.exit_code, 0) << with_key.err;
  EXPECT_EQ(with_key.out.rfind("Plan OK", 0), 0u) << with_key.out;
}

TEST_F(LlmKeysTest, AnUnreachableProviderShowsItsRetriesWithTheReason) {
  Restart(ClosedPort(), "sk-test-key");
  const std::string plan = WritePlan("ask.json", R"({"task_id": "ask", "steps": [
    {"id": "ask", "provider": "deepseek", "description": "Say hello"}]})");
  CliResult dry = Cli({"submit", "--dry-run", plan});
  EXPECT_EQ(dry.out.rfind("Plan OK", 0), 0u) << "the key is there: " << dry.out;
  std::string id = Submit(plan);
  // Six tries over some 31 s: the step retries, then fails; on the way it
  // says why instead of a plain "Running".
  json status = WaitFor(id, [](const json& s) {
    const json& step = StepOf(s, "ask");
    return step["retrying"] == "connection refused" || step["state"] != "running";
  });
  EXPECT_EQ(StepOf(status, "ask")["state"], "running") << status.dump(2);
  EXPECT_EQ(StepOf(status, "ask")["retrying"], "connection refused") << status.dump(2);
  CliResult text = Cli({"status", id}, {{"LC_ALL", "C.UTF-8"}});
  EXPECT_NE(text.out.find("↻ Retrying (connection refused)"), std::string::npos) << text.out;
  Cli({"cancel", id});
  status = WaitForEnd(id);
  EXPECT_TRUE(StepOf(status, "ask")["retrying"].is_null()) << status.dump(2);
}

}  // namespace
}  // namespace aetherflow::testing
