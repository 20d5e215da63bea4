// `aetherflow mcp` end to end: the real client binary speaking MCP on its
// stdin/stdout to this test, against a real daemon.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/integration/harness.h"

namespace aetherflow::testing {
namespace {

using nlohmann::json;

// `aetherflow [--socket S] mcp` with pipes on its stdin, stdout and stderr.
class McpProcess {
 public:
  McpProcess(const std::vector<std::string>& args, const std::string& cwd,
             const std::map<std::string, std::string>& env) {
    int in[2], out[2], err[2];
    EXPECT_EQ(::pipe2(in, O_CLOEXEC), 0);
    EXPECT_EQ(::pipe2(out, O_CLOEXEC), 0);
    EXPECT_EQ(::pipe2(err, O_CLOEXEC), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      ::dup2(err[1], 2);
      if (::chdir(cwd.c_str()) != 0) ::_exit(126);
      for (const auto& [name, value] : env) ::setenv(name.c_str(), value.c_str(), 1);
      std::vector<char*> argv;
      for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    ::close(err[1]);
    in_ = in[1];
    out_ = out[0];
    err_ = err[0];
  }
  ~McpProcess() {
    CloseInput();
    if (pid_ > 0) Wait();
    ::close(out_);
    ::close(err_);
  }

  void Send(const json& message) {
    std::string line = message.dump() + "\n";
    ASSERT_EQ(::write(in_, line.data(), line.size()), static_cast<ssize_t>(line.size()));
  }
  void SendRaw(const std::string& text) {
    ASSERT_EQ(::write(in_, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  }
  // The next message on stdout (blocks); null at its end.
  json Next() {
    std::string line;
    if (!ReadLine(out_, &out_buffer_, &line)) return nullptr;
    json message = json::parse(line, nullptr, false);
    EXPECT_FALSE(message.is_discarded()) << "not JSON on stdout: " << line;
    return message;
  }
  // Sends a request; returns its response, keeping what came before it.
  json Request(const std::string& method, json params = json::object()) {
    const int id = ++next_id_;
    Send({{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}});
    return ResponseTo(id);
  }
  json ResponseTo(const json& id) {
    while (true) {
      json message = Next();
      if (message.is_null()) return message;
      if (message.contains("id") && message["id"] == id && !message.contains("method")) {
        return message;
      }
      seen_.push_back(message);
    }
  }
  json Tool(const std::string& name, json arguments) {
    json response = Request("tools/call", {{"name", name}, {"arguments", arguments}});
    EXPECT_TRUE(response.contains("result")) << response.dump();
    return response["result"];
  }
  void Initialize() {
    json response = Request("initialize", {{"protocolVersion", "2025-06-18"},
                                           {"capabilities", json::object()},
                                           {"clientInfo", {{"name", "test"}, {"version", "1"}}}});
    ASSERT_EQ(response["result"]["protocolVersion"], "2025-06-18") << response.dump();
    Send({{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}});
  }
  // Reads stderr until a line contains `text`; false at its end.
  bool WaitForLog(const std::string& text) {
    std::string line;
    while (ReadLine(err_, &err_buffer_, &line)) {
      log_ += line + "\n";
      if (line.find(text) != std::string::npos) return true;
    }
    return false;
  }
  void CloseInput() {
    if (in_ >= 0) ::close(in_);
    in_ = -1;
  }
  int Wait() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  int next_id() { return ++next_id_; }
  const std::vector<json>& seen() const { return seen_; }
  const std::string& log() const { return log_; }

 private:
  static bool ReadLine(int fd, std::string* buffer, std::string* line) {
    while (true) {
      std::size_t newline = buffer->find('\n');
      if (newline != std::string::npos) {
        *line = buffer->substr(0, newline);
        buffer->erase(0, newline + 1);
        return true;
      }
      char chunk[65536];
      ssize_t n = ::read(fd, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      buffer->append(chunk, static_cast<std::size_t>(n));
    }
  }

  pid_t pid_ = 0;
  int in_ = -1, out_ = -1, err_ = -1;
  std::string out_buffer_, err_buffer_, log_;
  int next_id_ = 0;
  std::vector<json> seen_;
};

std::string Text(const json& result) { return result["content"][0]["text"].get<std::string>(); }

class McpTest : public DaemonTest {
 protected:
  std::unique_ptr<McpProcess> Start(const std::string& socket = "") {
    auto process = std::make_unique<McpProcess>(
        std::vector<std::string>{BinDir() + "/aetherflow", "--socket",
                                 socket.empty() ? socket_ : socket, "mcp"},
        dir_, std::map<std::string, std::string>{{"AETHERFLOW_NO_AUTOSTART", "1"}});
    process->Initialize();
    return process;
  }
};

TEST_F(McpTest, ListsEveryToolWithASchemaThatTeachesTheLoop) {
  auto mcp = Start();
  json tools = mcp->Request("tools/list")["result"]["tools"];
  std::vector<std::string> names;
  for (const json& tool : tools) {
    names.push_back(tool["name"]);
    EXPECT_EQ(tool["inputSchema"]["type"], "object") << tool.dump();
    EXPECT_FALSE(tool["description"].get<std::string>().empty());
  }
  EXPECT_EQ(names, (std::vector<std::string>{"submit_plan", "run_command", "check_in", "status",
                                             "logs", "list_runs", "cancel", "pause", "resume"}));
  const std::string check_in = tools[2]["description"];
  for (const char* words : {"T+30s, T+90s, then every 5 minutes", "300", "ok", "discovery",
                            "attention", "succeeded", "failed"}) {
    EXPECT_NE(check_in.find(words), std::string::npos) << words << " in: " << check_in;
  }
  EXPECT_EQ(tools[2]["inputSchema"]["required"], json::array({"run"}));
  EXPECT_EQ(mcp->Request("ping")["result"], json::object());
  mcp->CloseInput();
  EXPECT_EQ(mcp->Wait(), 0) << "a clean exit when stdin closes";
}

TEST_F(McpTest, ACrashIsAFailedCheckInWithTheExceptionLine) {
  auto mcp = Start();
  json run = mcp->Tool("run_command",
                       {{"argv", {"sh", "-c",
                                  "sleep 1; echo 'Traceback (most recent call last):'; "
                                  "echo 'ZeroDivisionError: division by zero'; exit 1"}}});
  ASSERT_EQ(run["isError"], false) << run.dump();
  const std::string id = run["structuredContent"]["run"];
  EXPECT_NE(Text(run).find("check_in"), std::string::npos) << "says what to do next";
  // Its first check-in is 30 s away: only the crash can answer before.
  json report = mcp->Tool("check_in", {{"run", id}});
  ASSERT_EQ(report["isError"], false) << report.dump();
  EXPECT_EQ(report["structuredContent"]["verdict"], "failed") << report.dump(2);
  EXPECT_EQ(report["structuredContent"]["run"], id);
  EXPECT_NE(Text(report).find("ZeroDivisionError: division by zero"), std::string::npos)
      << Text(report);
  EXPECT_EQ(Text(report).rfind("FAILED run=" + id, 0), 0u) << Text(report);
}

TEST_F(McpTest, ANewBestIsADiscoveryOnceThenOk) {
  WritePlan("search.json", R"J({"task_id": "search", "checkin": {"schedule": "1s"}, "steps": [
    {"id": "optuna", "run": "echo '[I 2026-01-26 10:00:01] Trial 0 finished with value: 0.5 and parameters: {}. Best is trial 0 with value: 0.5.'; while [ ! -f next ]; do sleep 0.05; done; echo '[I 2026-01-26 10:00:02] Trial 1 finished with value: 0.7 and parameters: {}. Best is trial 0 with value: 0.5.'; while [ ! -f end ]; do sleep 0.05; done"}]})J");
  auto mcp = Start();
  json run = mcp->Tool("submit_plan", {{"plan_path", "search.json"}});
  ASSERT_EQ(run["isError"], false) << run.dump();
  const std::string id = run["structuredContent"]["run"];
  WaitFor(id, [](const json& s) { return s["run"]["state"] == "running"; });
  json first = mcp->Tool("check_in", {{"run", id}, {"wait_s", 30}});
  EXPECT_EQ(first["structuredContent"]["verdict"], "discovery") << first.dump(2);
  EXPECT_NE(first["structuredContent"]["next_action"].get<std::string>().find("once"),
            std::string::npos);
  std::ofstream(dir_ + "/next") << "";
  json second = mcp->Tool("check_in", {{"run", id}, {"wait_s", 30}});
  EXPECT_EQ(second["structuredContent"]["verdict"], "ok")
      << "0.5 was announced, 0.7 is no better: " << second.dump(2);
  std::ofstream(dir_ + "/end") << "";
  WaitForEnd(id);
  json last = mcp->Tool("check_in", {{"run", id.substr(0, 8)}});
  EXPECT_EQ(last["structuredContent"]["verdict"], "succeeded") << last.dump(2);
}

TEST_F(McpTest, ACancelledCheckInEndsAtOnceAndPingIsAnsweredWhileItWaits) {
  auto mcp = Start();
  json run = mcp->Tool("run_command",
                       {{"argv", {"sh", "-c", "while [ ! -f end ]; do sleep 0.05; done"}}});
  const std::string id = run["structuredContent"]["run"];
  const int call = mcp->next_id();
  mcp->Send({{"jsonrpc", "2.0"},
             {"id", call},
             {"method", "tools/call"},
             {"params", {{"name", "check_in"},
                         {"arguments", {{"run", id}, {"wait_s", 300}}},
                         {"_meta", {{"progressToken", "p1"}}}}}});
  // It waits: a progress notification says so.
  json progress = mcp->Next();
  EXPECT_EQ(progress["method"], "notifications/progress") << progress.dump();
  EXPECT_EQ(progress["params"]["progressToken"], "p1");
  EXPECT_EQ(progress["params"]["total"], 300);
  EXPECT_EQ(mcp->Request("ping")["result"], json::object()) << "not blocked by the wait";
  mcp->Send({{"jsonrpc", "2.0"},
             {"method", "notifications/cancelled"},
             {"params", {{"requestId", call}, {"reason", "the user stopped it"}}}});
  EXPECT_TRUE(mcp->WaitForLog("check_in on run " + id + " cancelled")) << mcp->log();
  // Nothing answers the cancelled call; the next request is answered.
  // Cancelling the call is not cancelling the run: it has not ended (it
  // may not have started yet either).
  json status = mcp->Tool("status", {{"run", id}});
  const std::string state = status["structuredContent"]["run"]["state"];
  EXPECT_TRUE(state == "running" || state == "queued") << status.dump();
  for (const json& message : mcp->seen()) {
    EXPECT_FALSE(message.contains("id") && message["id"] == call) << message.dump();
  }
  std::ofstream(dir_ + "/end") << "";
  WaitForEnd(id);
}

TEST_F(McpTest, SubmitPlanWithApplyRefusesAPathOutOfTheProject) {
  auto mcp = Start();
  json plan = {{"steps", json::array({{{"id", "w"},
                                        {"description", "write"},
                                        {"context", {{"files", {"../outside.py"}}}}}})}};
  json refused = mcp->Tool("submit_plan", {{"plan", plan}, {"apply", true}});
  EXPECT_EQ(refused["isError"], true) << refused.dump();
  EXPECT_NE(refused.dump().find("../outside.py"), std::string::npos) << refused.dump();
  plan["steps"][0]["context"]["files"] = {"inside.md"};
  json dry = mcp->Tool("submit_plan", {{"plan", plan}, {"apply", true}, {"dry_run", true}});
  EXPECT_EQ(dry["isError"], false) << dry.dump();
}

TEST_F(McpTest, AWaitAbove300IsClampedAndSaysSo) {
  std::string id = Submit(WritePlan("ok.json", R"J({"task_id": "ok", "steps": [
    {"id": "a", "run": "echo done"}]})J"));
  WaitForEnd(id);
  auto mcp = Start();
  json report = mcp->Tool("check_in", {{"run", "last"}, {"wait_s", 1000}});
  ASSERT_EQ(report["isError"], false) << report.dump();
  EXPECT_EQ(report["structuredContent"]["verdict"], "succeeded");
  EXPECT_EQ(report["structuredContent"]["wait_s"], 300);
  EXPECT_NE(report["structuredContent"]["note"].get<std::string>().find("wait_s 1000"),
            std::string::npos);
  EXPECT_NE(Text(report).find("waited at most 300 s"), std::string::npos) << Text(report);
  json huge = mcp->Tool("check_in", {{"run", id}, {"wait_s", 1e300}});
  EXPECT_EQ(huge["structuredContent"]["wait_s"], 300) << huge.dump();
  json bad = mcp->Tool("check_in", {{"run", id}, {"wait_s", -1}});
  EXPECT_EQ(bad["isError"], true);
  EXPECT_EQ(Text(bad), "aetherflow: check_in: wait_s: must be at least 0");
}

TEST_F(McpTest, StatusLogsListAndActions) {
  std::string id = Submit(WritePlan("two.json", R"J({"task_id": "two", "steps": [
    {"id": "a", "run": "for i in 1 2 3; do echo line $i; done"},
    {"id": "b", "dependencies": ["a"], "run": "while [ ! -f go ]; do sleep 0.05; done"}]})J"));
  WaitFor(id, [](const json& s) { return StepOf(s, "b")["state"] == "running"; });
  auto mcp = Start();
  json status = mcp->Tool("status", {});
  EXPECT_EQ(status["structuredContent"]["run"]["id"], id) << "default: the last run";
  EXPECT_EQ(status["structuredContent"]["steps"].size(), 2u);
  json logs = mcp->Tool("logs", {{"run", id}, {"step", "a"}, {"tail", 2}});
  EXPECT_EQ(logs["structuredContent"]["log"], "line 2\nline 3\n") << logs.dump();
  json all = mcp->Tool("logs", {{"run", id}});
  EXPECT_NE(Text(all).find("a | line 1\n"), std::string::npos) << Text(all);
  json list = mcp->Tool("list_runs", {{"limit", 5}});
  ASSERT_EQ(list["structuredContent"]["runs"].size(), 1u);
  EXPECT_EQ(list["structuredContent"]["runs"][0]["id"], id);
  json paused = mcp->Tool("pause", {{"run", id}});
  EXPECT_EQ(paused["structuredContent"]["state"], "paused") << paused.dump();
  json resumed = mcp->Tool("resume", {{"run", id}});
  EXPECT_EQ(resumed["isError"], false) << resumed.dump();
  json cancelled = mcp->Tool("cancel", {{"run", id}});
  EXPECT_EQ(cancelled["isError"], false) << cancelled.dump();
  EXPECT_EQ(WaitForEnd(id)["run"]["state"], "cancelled");
}

TEST_F(McpTest, UnknownRunsAndBadArgumentsAreToolErrors) {
  auto mcp = Start();
  json unknown = mcp->Tool("check_in", {{"run", "nosuchrun"}});
  EXPECT_EQ(unknown["isError"], true);
  EXPECT_EQ(Text(unknown).rfind("aetherflow: ", 0), 0u) << Text(unknown);
  EXPECT_NE(Text(unknown).find("nosuchrun"), std::string::npos) << Text(unknown);
  json extra = mcp->Tool("status", {{"run", "last"}, {"verbose", true}});
  EXPECT_EQ(extra["isError"], true);
  EXPECT_NE(Text(extra).find("verbose: unknown argument"), std::string::npos) << Text(extra);
  json both = mcp->Tool("submit_plan", {{"plan_path", "a.json"}, {"plan", json::object()}});
  EXPECT_EQ(Text(both), "aetherflow: submit_plan: give plan_path or plan (not both)");
  json bad_plan = mcp->Tool("submit_plan", {{"plan", {{"steps", json::array()}}}});
  EXPECT_EQ(bad_plan["isError"], true);
  EXPECT_NE(Text(bad_plan).find("nothing was submitted"), std::string::npos) << Text(bad_plan);
  // Protocol errors stay protocol errors.
  EXPECT_EQ(mcp->Request("tools/call", {{"name", "nope"}})["error"]["code"], -32602);
  mcp->SendRaw("{oops\n");
  EXPECT_EQ(mcp->Next()["error"]["code"], -32700);
  // A line over the 4 MiB bound is refused, not held.
  mcp->SendRaw(std::string(5 * 1024 * 1024, 'x') + "\n");
  json big = mcp->Next();
  EXPECT_EQ(big["error"]["code"], -32700);
  EXPECT_EQ(big["error"]["message"], "message longer than 4 MiB");
  EXPECT_EQ(mcp->Request("ping")["result"], json::object());
}

TEST_F(McpTest, APlanOutsideTheWorkingDirectoryMustBeGivenByItsAbsolutePath) {
  const std::string work = dir_ + "/project";
  const std::string elsewhere = dir_ + "/elsewhere";
  std::filesystem::create_directories(work);
  std::filesystem::create_directories(elsewhere);
  std::ofstream(elsewhere + "/plan.json") << R"({"task_id": "x", "steps": [{"id": "a", "run": "true"}]})";
  McpProcess mcp({BinDir() + "/aetherflow", "--socket", socket_, "mcp"}, work,
                 {{"AETHERFLOW_NO_AUTOSTART", "1"}});
  mcp.Initialize();
  json relative = mcp.Tool("submit_plan", {{"plan_path", "../elsewhere/plan.json"}});
  EXPECT_EQ(relative["isError"], true);
  EXPECT_NE(Text(relative).find("outside the working directory"), std::string::npos)
      << Text(relative);
  json absolute =
      mcp.Tool("submit_plan", {{"plan_path", elsewhere + "/plan.json"}, {"dry_run", true}});
  EXPECT_EQ(absolute["isError"], false) << absolute.dump();
  EXPECT_EQ(absolute["structuredContent"]["batches"], json::parse(R"([["a"]])"));
  json missing = mcp.Tool("submit_plan", {{"plan_path", elsewhere + "/none.json"}});
  EXPECT_EQ(missing["isError"], true);
  EXPECT_NE(Text(missing).find("cannot read plan"), std::string::npos) << Text(missing);
  json escaped_cwd = mcp.Tool("submit_plan", {{"plan_path", "plan.json"}, {"cwd", elsewhere}});
  EXPECT_EQ(escaped_cwd["isError"], true) << "relative to a cwd outside: still outside";
}

TEST_F(McpTest, ADaemonThatIsDownGivesTheCliMessage) {
  const std::string dead = dir_ + "/nobody.sock";
  CliResult cli = RawCli({"--socket", dead, "status", "last"}, {{"AETHERFLOW_NO_AUTOSTART", "1"}});
  ASSERT_EQ(cli.exit_code, 3) << cli.err;
  auto mcp = Start(dead);
  json status = mcp->Tool("status", {});
  EXPECT_EQ(status["isError"], true);
  EXPECT_EQ(Text(status) + "\n", cli.err);
  json check = mcp->Tool("check_in", {{"run", "last"}});
  EXPECT_EQ(Text(check) + "\n", cli.err);
}

// The official TypeScript SDK (tests/mcp/sdk_client.cjs) as the client:
// list tools, a crash, a new best, a cancelled check_in, a wait_s of 1000.
TEST_F(McpTest, TheOfficialTypeScriptSdkDrivesTheCheckInLoop) {
  const std::string modules = std::string(AETHERFLOW_MCP_SDK_DIR) + "/node_modules";
  ASSERT_TRUE(std::filesystem::exists(modules + "/@modelcontextprotocol/sdk/package.json"))
      << "the MCP SDK is not installed in " << modules << ": run scripts/setup.sh";
  const std::string work = dir_ + "/agent";
  std::filesystem::create_directories(work);
  const std::string out = dir_ + "/sdk.out", err = dir_ + "/sdk.err";
  pid_t pid = ::fork();
  if (pid == 0) {
    int out_fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err_fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    ::setenv("NODE_PATH", modules.c_str(), 1);
    const std::string script = std::string(AETHERFLOW_SOURCE_DIR) + "/tests/mcp/sdk_client.cjs";
    const std::string binary = BinDir() + "/aetherflow";
    ::execlp("node", "node", script.c_str(), binary.c_str(), socket_.c_str(), work.c_str(),
             static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  const std::string output = ReadFile(out), errors = ReadFile(err);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "node exited " << status << "\n" << output << errors;
  EXPECT_NE(output.find("sdk test: all checks passed"), std::string::npos) << output;
}

}  // namespace
}  // namespace aetherflow::testing
