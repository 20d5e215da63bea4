// The typed plan and the daemon's capacity (SPEC §9) through the real
// binaries: the client's dry run refuses what the daemon refuses, and
// aetherflowd takes --resources.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/integration/harness.h"

extern char** environ;

namespace aetherflow::testing {
namespace {

class ResourcesTest : public DaemonTest {
 protected:
  // Everything the daemons of this test wrote to stderr.
  std::string DaemonLogs() {
    std::string logs;
    for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
      const std::string name = entry.path().filename();
      if (name.rfind("daemon.err", 0) == 0) logs += ReadFile(entry.path());
    }
    return logs;
  }

  // Waits (at most 30 s) until the daemons' logs hold `text`.
  bool WaitForLog(const std::string& text) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      if (DaemonLogs().find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  // Runs aetherflowd with its own socket and state and `args`; its exit
  // code once it ended by itself, or -1 if it still ran after 30 s.
  int DaemonExitCode(const std::vector<std::string>& args, std::string* err) {
    const std::string tag = dir_ + "/refused";
    std::vector<std::string> argv = {BinDir() + "/aetherflowd", "--socket",
                                     tag + ".sock", "--state-dir", tag + ".state"};
    argv.insert(argv.end(), args.begin(), args.end());
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, (tag + ".out").c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, 2, (tag + ".err").c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    std::vector<char*> cargv;
    for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, cargv[0], &actions, nullptr, cargv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) return -2;
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    *err = ReadFile(tag + ".err");
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
};

int CountLines(const std::string& text) {
  int n = 0;
  for (char c : text) n += c == '\n';
  return n;
}

// A bad watch pattern used to pass `--dry-run` (the client only parsed)
// and be refused by the daemon; a typo in resources ran a GPU job on none.
TEST_F(ResourcesTest, DryRunRefusesWhatTheDaemonRefuses) {
  const std::string plan = WritePlan("bad.json", R"j({"steps": [
  {"id": "train", "run": "true", "watch": {"progress": "epoch (\\d+"}},
  {"id": "eval", "run": "true", "resources": {"gpus": 1, "mem": "8X"}}
]})j");
  CliResult dry = Cli({"submit", "--dry-run", plan});
  CliResult submit = Cli({"submit", plan});
  for (const CliResult* r : {&dry, &submit}) {
    EXPECT_EQ(r->exit_code, 2) << r->err;
    EXPECT_NE(r->err.find("bad.json:2:56: steps[0].watch.progress: invalid regex"),
              std::string::npos)
        << r->err;
    EXPECT_NE(r->err.find("bad.json:3:55: steps[1].resources.gpus: unknown resource "
                          "\"gpus\" (cpu, mem, gpu)"),
              std::string::npos)
        << r->err;
    EXPECT_NE(r->err.find("steps[1].resources.mem: expected a size"), std::string::npos)
        << r->err;
  }

  // The same plan, fixed, passes both.
  const std::string good = WritePlan("good.json", R"j({"steps": [
  {"id": "train", "run": "true", "watch": {"progress": "epoch (\\d+)"}},
  {"id": "eval", "run": "true", "resources": {"gpu": 0, "mem": "8M"}}
]})j");
  CliResult good_dry = Cli({"submit", "--dry-run", good});
  EXPECT_EQ(good_dry.exit_code, 0) << good_dry.err;
  const std::string run = Submit(good);
  EXPECT_EQ(WaitForEnd(run)["run"]["state"], "succeeded");
  // Counted once the daemon has answered (its database exists): the bad
  // plan left nothing.
  EXPECT_EQ(CountRows("runs"), 1);
}

TEST_F(ResourcesTest, DaemonLogsTheCapacityItWasGiven) {
  // The fixture's daemon: what the machine has.
  EXPECT_TRUE(WaitForLog("resources: cpu=")) << DaemonLogs();
  StopDaemon();
  StartDaemon({"--resources", " cpu=3, mem=1.5G ,gpu=2"});
  EXPECT_TRUE(WaitForLog("resources: cpu=3, mem=1.5G, gpu=2 (0,1)")) << DaemonLogs();
}

TEST_F(ResourcesTest, BadResourcesFlagIsOneLineAndExitTwo) {
  for (const char* spec : {"cpu=16,gpus=2", "mem=lots", "cpu=1,cpu=2", ""}) {
    std::string err;
    EXPECT_EQ(DaemonExitCode({"--resources", spec}, &err), 2) << spec << ": " << err;
    EXPECT_EQ(CountLines(err), 1) << spec << ": " << err;
    EXPECT_NE(err.find("--resources: "), std::string::npos) << err;
  }
  std::string err;
  DaemonExitCode({"--resources", "cpu=16,gpus=2"}, &err);
  EXPECT_NE(err.find("\"gpus=2\": unknown resource \"gpus\" (cpu, mem, gpu)"),
            std::string::npos)
      << err;
}

}  // namespace
}  // namespace aetherflow::testing
