// Multi-user: a root daemon ties every call to the caller's uid, shows each
// user only their own runs, and runs their steps as them. The test creates
// real users and groups (it needs root, as CI has) and runs the real client
// as those users through setpriv.
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/integration/harness.h"

namespace aetherflow::testing {
namespace {

constexpr char kGroup[] = "aftest-users";   // may use the daemon's socket
constexpr char kExtra[] = "aftest-extra";   // alice's supplementary group
constexpr char kAlice[] = "aftest-alice";
constexpr char kBob[] = "aftest-bob";

int Shell(const std::string& command) { return std::system(command.c_str()); }

uid_t UidOf(const std::string& user) {
  passwd* pw = getpwnam(user.c_str());
  return pw ? pw->pw_uid : static_cast<uid_t>(-1);
}

gid_t GidOf(const std::string& group) {
  struct group* gr = getgrnam(group.c_str());
  return gr ? gr->gr_gid : static_cast<gid_t>(-1);
}

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

class OwnershipTest : public DaemonTest {
 protected:
  static void SetUpTestSuite() {
    if (::getuid() != 0) return;
    // Idempotent: a previous run may have left them.
    Shell(absl::StrCat("getent group ", kGroup, " >/dev/null || groupadd ", kGroup));
    Shell(absl::StrCat("getent group ", kExtra, " >/dev/null || groupadd ", kExtra));
    Shell(absl::StrCat("id ", kAlice, " >/dev/null 2>&1 || useradd -M -U -s /bin/sh -G ",
                       kGroup, ",", kExtra, " ", kAlice));
    Shell(absl::StrCat("id ", kBob, " >/dev/null 2>&1 || useradd -M -U -s /bin/sh -G ",
                       kGroup, " ", kBob));
  }

  void SetUp() override {
    if (::getuid() != 0) GTEST_SKIP() << "needs root to create users";
    ASSERT_NE(UidOf(kAlice), static_cast<uid_t>(-1)) << "useradd failed";
    ASSERT_NE(UidOf(kBob), static_cast<uid_t>(-1)) << "useradd failed";
    DaemonTest::SetUp();
    StopDaemon();
    // The users reach the socket through the test folder; each has a home
    // of their own to run plans from.
    ::chmod(dir_.c_str(), 0755);
    for (const char* user : {kAlice, kBob}) {
      std::string home = dir_ + "/" + user;
      std::filesystem::create_directories(home);
      ASSERT_EQ(::chown(home.c_str(), UidOf(user), GidOf(user)), 0);
      ::chmod(home.c_str(), 0700);
    }
    StartDaemon({"--socket-group", kGroup});
  }

  // Runs the client as `user` (uid, primary gid, supplementary groups).
  CliResult As(const std::string& user, const std::vector<std::string>& args) {
    return AsOn(user, socket_, args);
  }
  CliResult AsOn(const std::string& user, const std::string& socket,
                 const std::vector<std::string>& args) {
    std::vector<std::string> words = {
        "cd", Quote(dir_ + "/" + user), "&&", "setpriv", "--reuid=" + user,
        "--regid=" + user, "--init-groups", "env", "AETHERFLOW_NO_AUTOSTART=1",
        "HOME=" + Quote(dir_ + "/" + user), Quote(BinDir() + "/aetherflow"),
        "--socket", Quote(socket)};
    for (const std::string& arg : args) words.push_back(Quote(arg));
    std::string err_path = dir_ + "/as.err";
    std::string command = absl::StrCat("(", absl::StrJoin(words, " "), ") 2>",
                                       Quote(err_path));
    CliResult result;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) return result;
    char buffer[4096];
    size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.out.append(buffer, n);
    int status = ::pclose(pipe);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    result.err = ReadFile(err_path);
    return result;
  }

  std::string WriteUserPlan(const std::string& user, const std::string& name,
                            const std::string& json) {
    std::string path = dir_ + "/" + user + "/" + name;
    std::ofstream(path) << json;
    ::chown(path.c_str(), UidOf(user), GidOf(user));
    return path;
  }

  std::string SubmitAs(const std::string& user, const std::string& plan) {
    CliResult r = As(user, {"submit", plan});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::string id = r.out.substr(0, r.out.find_first_of(" \n"));
    return id;
  }
};

TEST_F(OwnershipTest, StepsRunAsTheirSubmitterWithTheirGroups) {
  std::string plan = WriteUserPlan(kAlice, "id.json", R"({"steps": [
    {"id": "who", "run": "id -u > who.txt; id -g >> who.txt; id -G >> who.txt; touch mine"},
    {"id": "no-root", "run": "touch /root/aftest-should-not-exist"}
  ]})");
  // alice's shell has umask 002 (group-writable files); systemd gives the
  // daemon 022. Her steps create files as her shell would.
  const mode_t ours = ::umask(002);
  std::string run = SubmitAs(kAlice, plan);
  ::umask(ours);
  ASSERT_FALSE(run.empty());
  nlohmann::json status = WaitForEnd(run);
  EXPECT_EQ(StepOf(status, "who")["state"], "completed");
  // Root could write in /root; the step, being alice, could not.
  EXPECT_EQ(StepOf(status, "no-root")["state"], "failed");
  EXPECT_FALSE(std::filesystem::exists("/root/aftest-should-not-exist"));

  std::string home = dir_ + "/" + kAlice;
  std::ifstream who(home + "/who.txt");
  uid_t uid;
  gid_t gid;
  who >> uid >> gid;
  std::string groups_line, rest;
  std::getline(who, rest);
  std::getline(who, groups_line);
  EXPECT_EQ(uid, UidOf(kAlice));
  EXPECT_EQ(gid, GidOf(kAlice));
  EXPECT_NE((" " + groups_line + " ").find(absl::StrCat(" ", GidOf(kExtra), " ")),
            std::string::npos)
      << "supplementary groups: " << groups_line;
  struct stat st;
  ASSERT_EQ(::stat((home + "/mine").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, UidOf(kAlice));
  EXPECT_EQ(st.st_mode & 0777, 0664u) << "alice's umask, not the daemon's";
}

TEST_F(OwnershipTest, AStepsDirectoryIsCheckedWithItsUsersRights) {
  // bob's home is 0700: alice learns nothing of it, not even whether a
  // directory in it exists. Both steps fail alike.
  std::string bob_home = dir_ + "/" + kBob;
  std::filesystem::create_directories(bob_home + "/present");
  std::string plan = WriteUserPlan(kAlice, "cwd.json", absl::StrCat(R"({"steps": [
    {"id": "present", "cwd": ")", bob_home, R"(/present", "run": "true"},
    {"id": "absent", "cwd": ")", bob_home, R"(/absent", "run": "true"}]})"));
  std::string run = SubmitAs(kAlice, plan);
  ASSERT_FALSE(run.empty());
  nlohmann::json status = WaitForEnd(run);
  for (const char* id : {"present", "absent"}) {
    const nlohmann::json& step = StepOf(status, id);
    EXPECT_EQ(step["state"], "failed") << id;
    std::string message = step.value("message", "");
    EXPECT_NE(message.find("Permission denied"), std::string::npos) << id << ": " << message;
    EXPECT_EQ(message.find("No such file"), std::string::npos) << id << ": " << message;
  }
}

TEST_F(OwnershipTest, UsersSeeAndTouchOnlyTheirOwnRuns) {
  std::string long_plan = WriteUserPlan(kAlice, "long.json", R"({"steps": [
    {"id": "wait", "run": "sleep 600"}]})");
  std::string alice_run = SubmitAs(kAlice, long_plan);
  ASSERT_FALSE(alice_run.empty());
  WaitFor(alice_run, [](const nlohmann::json& s) {
    return StepOf(s, "wait")["state"] == "running";
  });
  std::string bob_plan = WriteUserPlan(kBob, "quick.json", R"({"steps": [
    {"id": "hello", "run": "echo hello from bob"}]})");
  std::string bob_run = SubmitAs(kBob, bob_plan);
  ASSERT_FALSE(bob_run.empty());
  WaitForEnd(bob_run);

  // Bob lists only his run; alice's does not exist for him.
  CliResult ls = As(kBob, {"--json", "ls"});
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_NE(ls.out.find(bob_run), std::string::npos);
  EXPECT_EQ(ls.out.find(alice_run), std::string::npos);
  for (std::vector<std::string> args :
       {std::vector<std::string>{"status", alice_run},
        {"logs", alice_run},
        {"cancel", alice_run},
        {"attach", "--plain", alice_run},
        {"rm", alice_run}}) {
    CliResult r = As(kBob, args);
    EXPECT_NE(r.exit_code, 0) << args[0] << ": " << r.out;
    EXPECT_NE(r.err.find("no run"), std::string::npos) << args[0] << ": " << r.err;
  }
  // "last" is each user's own last run.
  CliResult last = As(kBob, {"--json", "status", "last"});
  EXPECT_NE(last.out.find(bob_run), std::string::npos) << last.err;
  // Bob's cancel did nothing.
  EXPECT_EQ(StepOf(Status(alice_run), "wait")["state"], "running");

  // Alice sees her own run and its owner; root sees both runs.
  CliResult mine = As(kAlice, {"--json", "ls"});
  EXPECT_NE(mine.out.find(alice_run), std::string::npos) << mine.err;
  EXPECT_EQ(mine.out.find(bob_run), std::string::npos);
  CliResult all = Cli({"--json", "ls"});
  EXPECT_NE(all.out.find(alice_run), std::string::npos);
  EXPECT_NE(all.out.find(bob_run), std::string::npos);

  // Alice reads her logs and cancels her run.
  CliResult logs = As(kBob, {"logs", bob_run});
  EXPECT_NE(logs.out.find("hello from bob"), std::string::npos) << logs.err;
  CliResult cancel = As(kAlice, {"cancel", alice_run});
  EXPECT_EQ(cancel.exit_code, 0) << cancel.err;
  EXPECT_EQ(WaitForEnd(alice_run)["run"]["state"], "cancelled");
}

TEST_F(OwnershipTest, LlmStepsReadAndWriteFilesWithTheSubmittersRights) {
  // A file only root can read, named as a prompt input by alice, must not
  // reach the provider; her own file does, and the answer is hers.
  std::string secret = dir_ + "/root-only.txt";
  std::ofstream(secret) << "TOPSECRET-ROOT\n";
  ::chmod(secret.c_str(), 0600);
  std::string home = dir_ + "/" + kAlice;
  std::ofstream(home + "/notes.txt") << "ALICE-NOTES\n";
  ::chown((home + "/notes.txt").c_str(), UidOf(kAlice), GidOf(kAlice));
  std::string plan = WriteUserPlan(kAlice, "llm.json", absl::StrCat(R"({"steps": [
    {"id": "summary", "type": "docs", "provider": "local", "description": "summarise",
     "context": {"input_files": ["notes.txt", ")", secret, R"("]}}]})"));

  std::string port_file = dir_ + "/fake.port";
  std::ofstream(dir_ + "/script.json") << "[]";
  pid_t fake = ::fork();
  if (fake == 0) {
    std::string bin = BinDir() + "/tests/fake_openai";
    if (!std::filesystem::exists(bin)) bin = BinDir() + "/fake_openai";
    ::execl(bin.c_str(), "fake_openai", "--port-file", port_file.c_str(), "--script",
            (dir_ + "/script.json").c_str(), "--log", (dir_ + "/requests.log").c_str(),
            nullptr);
    ::_exit(127);
  }
  for (int i = 0; i < 500 && ReadFile(port_file).empty(); ++i) ::usleep(10'000);
  ASSERT_FALSE(ReadFile(port_file).empty()) << "fake_openai did not start";
  std::string config = dir_ + "/config.toml";
  std::ofstream(config) << "[providers.local]\nbase_url = \"http://127.0.0.1:"
                        << std::stoi(ReadFile(port_file))
                        << "/v1\"\nmodel = \"m\"\napi_key_env = \"AFTEST_KEY\"\n";
  StopDaemon();
  StartDaemon({"--socket-group", kGroup, "--config", config}, {{"AFTEST_KEY", "k"}});
  const mode_t ours = ::umask(077);
  std::string run = SubmitAs(kAlice, plan);
  ::umask(ours);
  nlohmann::json status = WaitForEnd(run);
  ::kill(fake, SIGTERM);
  ::waitpid(fake, nullptr, 0);
  ASSERT_EQ(StepOf(status, "summary")["state"], "completed") << status.dump();
  std::string requests = ReadFile(dir_ + "/requests.log");
  EXPECT_NE(requests.find("ALICE-NOTES"), std::string::npos);
  EXPECT_EQ(requests.find("TOPSECRET-ROOT"), std::string::npos);
  struct stat st;
  std::string answer = status["run"]["output_dir"].get<std::string>() + "/summary.md";
  ASSERT_EQ(::stat(answer.c_str(), &st), 0) << answer;
  EXPECT_EQ(st.st_uid, UidOf(kAlice));
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "written with alice's umask (077)";
}

TEST_F(OwnershipTest, ApplyWritesTheProjectAsItsSubmitterWithTheirUmask) {
  // alice's project, a file only root may write next to it, and a step
  // that edits one and creates another: both are alice's, mode from her
  // umask; the root-only file is refused, untouched.
  std::string home = dir_ + "/" + kAlice;
  std::ofstream(home + "/mine.txt") << "old\n";
  ::chown((home + "/mine.txt").c_str(), UidOf(kAlice), GidOf(kAlice));
  // (In a folder of root's: in her own folder, alice may replace any
  // file, as `mv` would.)
  std::filesystem::create_directories(home + "/root");
  ::chmod((home + "/root").c_str(), 0755);
  std::ofstream(home + "/root/roots.txt") << "root's\n";
  ::chmod((home + "/root/roots.txt").c_str(), 0644);
  std::string plan = WriteUserPlan(kAlice, "apply.json", R"({"apply": true, "steps": [
    {"id": "edit", "provider": "local", "description": "edit mine",
     "context": {"files": ["mine.txt", "new/made.txt"]}},
    {"id": "theirs", "provider": "local", "description": "edit roots",
     "context": {"files": ["root/roots.txt"]}}]})");
  std::string port_file = dir_ + "/fake.port";
  std::ofstream(dir_ + "/script.json") << nlohmann::json::array(
      {{{"match", "edit mine"},
        {"content", "mine.txt\n```\n<<<<<<< SEARCH\nold\n=======\nnew\n>>>>>>> REPLACE\n```\n"
                    "new/made.txt\n```\nmade\n```\n"}},
       {{"match", "edit roots"},
        {"content", "root/roots.txt\n```\n<<<<<<< SEARCH\nroot's\n=======\nalice's\n>>>>>>> REPLACE\n```\n"}}})
      .dump();
  pid_t fake = ::fork();
  if (fake == 0) {
    std::string bin = BinDir() + "/tests/fake_openai";
    if (!std::filesystem::exists(bin)) bin = BinDir() + "/fake_openai";
    ::execl(bin.c_str(), "fake_openai", "--port-file", port_file.c_str(), "--script",
            (dir_ + "/script.json").c_str(), nullptr);
    ::_exit(127);
  }
  for (int i = 0; i < 500 && ReadFile(port_file).empty(); ++i) ::usleep(10'000);
  ASSERT_FALSE(ReadFile(port_file).empty()) << "fake_openai did not start";
  std::string config = dir_ + "/config.toml";
  std::ofstream(config) << "[providers.local]\nbase_url = \"http://127.0.0.1:"
                        << std::stoi(ReadFile(port_file))
                        << "/v1\"\nmodel = \"m\"\napi_key_env = \"AFTEST_KEY\"\n";
  StopDaemon();
  StartDaemon({"--socket-group", kGroup, "--config", config}, {{"AFTEST_KEY", "k"}});
  const mode_t ours = ::umask(027);
  std::string run = SubmitAs(kAlice, plan);
  ::umask(ours);
  nlohmann::json status = WaitForEnd(run);
  ::kill(fake, SIGTERM);
  ::waitpid(fake, nullptr, 0);
  ASSERT_EQ(StepOf(status, "edit")["state"], "completed") << status.dump();
  EXPECT_EQ(ReadFile(home + "/mine.txt"), "new\n");
  for (const std::string path : {home + "/mine.txt", home + "/new/made.txt", home + "/new"}) {
    struct stat st;
    ASSERT_EQ(::stat(path.c_str(), &st), 0) << path;
    EXPECT_EQ(st.st_uid, UidOf(kAlice)) << path;
    if (S_ISREG(st.st_mode) && path != home + "/mine.txt") {
      EXPECT_EQ(st.st_mode & 0777, 0640u) << path << ": alice's umask (027)";
    }
  }
  EXPECT_EQ(StepOf(status, "theirs")["state"], "failed") << status.dump();
  EXPECT_EQ(ReadFile(home + "/root/roots.txt"), "root's\n") << "written with alice's rights only";
}

TEST_F(OwnershipTest, ANonRootDaemonRunsOnlyAsItselfAndRefusesOthers) {
  // Alice's own daemon, with its socket open to the group, cannot run bob's
  // steps as bob: it refuses them rather than run them as alice.
  std::string alice_dir = dir_ + "/" + kAlice;
  std::string socket_dir = dir_ + "/alice-socket";
  std::filesystem::create_directories(socket_dir);
  ASSERT_EQ(::chown(socket_dir.c_str(), UidOf(kAlice), GidOf(kAlice)), 0);
  ::chmod(socket_dir.c_str(), 0755);
  std::string socket = socket_dir + "/d.sock";
  std::string command = absl::StrCat(
      "setpriv --reuid=", kAlice, " --regid=", kAlice, " --init-groups ",
      "env -u XDG_CONFIG_HOME -u XDG_STATE_HOME HOME=", Quote(alice_dir), " ",
      Quote(BinDir() + "/aetherflowd"), " --socket ", Quote(socket),
      " --socket-group ", kGroup, " --state-dir ", Quote(alice_dir + "/state"),
      " >/dev/null 2>", Quote(alice_dir + "/d.err"), " & echo $!");
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  int pid = 0;
  ASSERT_EQ(std::fscanf(pipe, "%d", &pid), 1);
  ::pclose(pipe);
  std::string plan = WriteUserPlan(kBob, "bob.json", R"({"steps": [
    {"id": "who", "run": "id -u"}]})");
  CliResult bob;
  for (int i = 0; i < 200; ++i) {
    bob = AsOn(kBob, socket, {"submit", plan});
    if (bob.exit_code != 3) break;  // 3: not up yet
    ::usleep(50'000);
  }
  EXPECT_NE(bob.exit_code, 0);
  EXPECT_NE(bob.err.find("cannot run steps as uid"), std::string::npos) << bob.err;

  // Root may use it (root passes any permission); its steps run as alice.
  std::string root_plan = WritePlan("root.json", R"({"steps": [
    {"id": "who", "run": "id -u"}]})");
  CliResult run = RawCli({"--socket", socket, "--plain", "run", root_plan},
                         {{"AETHERFLOW_NO_AUTOSTART", "1"}});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  CliResult logs = RawCli({"--socket", socket, "logs", "last", "who"},
                          {{"AETHERFLOW_NO_AUTOSTART", "1"}});
  EXPECT_EQ(logs.out, absl::StrCat(UidOf(kAlice), "\n")) << logs.err;
  ::kill(pid, SIGTERM);
}

// `aetherflow mcp` is the user who runs it: another user's run is an
// unknown run, a tool error with the CLI's line.
TEST_F(OwnershipTest, McpToolsSeeOnlyTheirUsersRuns) {
  std::string plan = WriteUserPlan(kAlice, "wait.json", R"({"steps": [
    {"id": "a", "run": "while [ ! -f stop ]; do sleep 0.05; done"}]})");
  std::string run = SubmitAs(kAlice, plan);
  ASSERT_FALSE(run.empty());
  auto serve = [&](const std::string& user) {
    std::vector<nlohmann::json> requests = {
        {{"jsonrpc", "2.0"}, {"id", 1}, {"method", "initialize"},
         {"params", {{"protocolVersion", "2025-06-18"}}}},
        {{"jsonrpc", "2.0"}, {"id", 2}, {"method", "tools/call"},
         {"params", {{"name", "status"}, {"arguments", {{"run", run}}}}}},
        {{"jsonrpc", "2.0"}, {"id", 3}, {"method", "tools/call"},
         {"params", {{"name", "check_in"}, {"arguments", {{"run", run}, {"wait_s", 0}}}}}}};
    std::string input = dir_ + "/" + user + "/mcp.in";
    {
      std::ofstream out(input);
      for (const nlohmann::json& request : requests) out << request.dump() << "\n";
    }
    ::chown(input.c_str(), UidOf(user), GidOf(user));
    std::string command = absl::StrCat(
        "cd ", Quote(dir_ + "/" + user), " && setpriv --reuid=", user, " --regid=", user,
        " --init-groups env AETHERFLOW_NO_AUTOSTART=1 HOME=", Quote(dir_ + "/" + user), " ",
        Quote(BinDir() + "/aetherflow"), " --socket ", Quote(socket_), " mcp < mcp.in 2>/dev/null");
    std::map<int, nlohmann::json> answers;
    FILE* pipe = ::popen(command.c_str(), "r");
    std::string out;
    char buffer[4096];
    size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
    EXPECT_EQ(::pclose(pipe), 0);
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) {
      nlohmann::json message = nlohmann::json::parse(line);
      answers[message["id"].get<int>()] = message["result"];
    }
    return answers;
  };
  auto bob = serve(kBob);
  ASSERT_EQ(bob.size(), 3u);
  for (int id : {2, 3}) {
    EXPECT_EQ(bob[id]["isError"], true) << bob[id].dump();
    EXPECT_EQ(bob[id]["content"][0]["text"], "aetherflow: no run \"" + run + "\"") << bob[id].dump();
  }
  auto alice = serve(kAlice);
  EXPECT_EQ(alice[2]["isError"], false) << alice[2].dump();
  EXPECT_EQ(alice[2]["structuredContent"]["run"]["id"], run);
  CliResult stop = As(kAlice, {"cancel", run});
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
}

}  // namespace
}  // namespace aetherflow::testing
