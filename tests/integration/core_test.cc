// End-to-end behaviour of issue "Core": a real daemon, the real client,
// real processes.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "absl/time/time.h"
#include "tests/integration/harness.h"

namespace aetherflow::testing {
namespace {

using nlohmann::json;

int64_t Ms(const json& iso) {
  absl::Time t;
  std::string err;
  EXPECT_TRUE(iso.is_string()) << iso.dump();
  if (!iso.is_string()) return 0;
  EXPECT_TRUE(absl::ParseTime("%Y-%m-%dT%H:%M:%E*SZ", iso.get<std::string>(), &t, &err))
      << err;
  return absl::ToUnixMillis(t);
}

int CountLines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

// True while a process with this pid exists and is not a zombie.
bool Alive(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string content((std::istreambuf_iterator<char>(stat)), {});
  if (content.empty()) return false;
  std::size_t paren = content.rfind(')');
  return paren != std::string::npos && content.size() > paren + 2 &&
         content[paren + 2] != 'Z';
}

bool WaitDead(pid_t pid) {
  for (int i = 0; i < 500 && Alive(pid); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return !Alive(pid);
}

class CoreTest : public DaemonTest {};

TEST_F(CoreTest, DiamondFailingBranchIsSkippedJoinCompletesBranchesOverlap) {
  CliResult r = Cli({"run", DataDir() + "/plans/commands_diamond.json"});
  EXPECT_EQ(r.exit_code, 1) << "a failed step fails the run\n" << r.out << r.err;
  EXPECT_NE(r.out.find("broken"), std::string::npos);
  EXPECT_NE(r.out.find("Parallelism:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ValueError: bad input"), std::string::npos)
      << "the summary shows the failed step's last log lines\n" << r.out;
  EXPECT_EQ(r.out.find("\033["), std::string::npos) << "no escapes off a terminal";

  json status = Status("last");
  EXPECT_EQ(status["run"]["state"], "failed");
  EXPECT_EQ(StepOf(status, "broken")["state"], "failed");
  EXPECT_EQ(StepOf(status, "broken")["exit_code"], 3);
  EXPECT_EQ(StepOf(status, "after_broken")["state"], "skipped");
  EXPECT_EQ(StepOf(status, "join")["state"], "completed");
  EXPECT_EQ(StepOf(status, "fetch")["state"], "completed");
  const json& left = StepOf(status, "left");
  const json& right = StepOf(status, "right");
  EXPECT_LT(Ms(left["started_at"]), Ms(right["finished_at"]));
  EXPECT_LT(Ms(right["started_at"]), Ms(left["finished_at"]));
  // The join started only after both branches.
  EXPECT_GE(Ms(StepOf(status, "join")["started_at"]), Ms(left["finished_at"]));
  EXPECT_EQ(status["run"]["batches"], 3);
  EXPECT_EQ(status["run"]["completed"], 4);
  EXPECT_TRUE(status["run"]["tokens"].is_null()) << "unknown is null, never 0";
}

TEST_F(CoreTest, KillNineMidRunThenResumeRerunsOnlyWhatDidNotComplete) {
  std::string plan = WritePlan("resume.json", R"({
    "task_id": "resume",
    "steps": [
      {"id": "first", "run": "echo ran >> first.marks"},
      {"id": "slow", "dependencies": ["first"],
       "run": "echo $$ > slow.pid; echo ran >> slow.marks; if [ -f go ]; then echo done; else sleep 60; fi"},
      {"id": "after", "dependencies": ["slow"], "run": "echo ran >> after.marks"}
    ]})");
  // Submitted with umask 027 to a daemon with 022: the run keeps its
  // submitter's umask through the crash and the resume.
  const mode_t ours = ::umask(027);
  std::string id = Submit(plan);
  ::umask(ours);
  WaitFor(id, [](const json& s) { return StepOf(s, "slow")["state"] == "running"; });
  // Give the shell a moment to write its pid.
  for (int i = 0; i < 500 && !std::filesystem::exists(dir_ + "/slow.pid"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_t slow_pid = std::stoi(ReadFile(dir_ + "/slow.pid"));
  ASSERT_TRUE(Alive(slow_pid));

  StopDaemon(SIGKILL);
  StartDaemon();
  json status = Status(id);
  EXPECT_EQ(status["run"]["state"], "interrupted");
  EXPECT_EQ(StepOf(status, "first")["state"], "completed");
  EXPECT_EQ(StepOf(status, "slow")["state"], "interrupted");
  EXPECT_EQ(StepOf(status, "after")["state"], "pending");
  EXPECT_TRUE(WaitDead(slow_pid)) << "the restarted daemon kills what the old one left";

  std::ofstream(dir_ + "/go") << "";
  CliResult resumed = Cli({"resume", id});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  status = WaitForEnd(id);
  EXPECT_EQ(status["run"]["state"], "succeeded") << status.dump(2);
  EXPECT_EQ(ReadFile(dir_ + "/first.marks"), "ran\n") << "completed work never reruns";
  EXPECT_EQ(ReadFile(dir_ + "/slow.marks"), "ran\nran\n");
  EXPECT_EQ(ReadFile(dir_ + "/after.marks"), "ran\n");
  struct stat st;
  ASSERT_EQ(::stat((dir_ + "/after.marks").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u) << "made after the resume, with the submitter's umask";
}

TEST_F(CoreTest, EveryBadPlanIsRefusedWithItsMessageAndLeavesNoTrace) {
  std::ifstream expect(DataDir() + "/plans/bad/EXPECT.tsv");
  std::string line;
  int cases = 0;
  while (std::getline(expect, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::string file = line.substr(0, line.find('\t'));
    std::string pattern = line.substr(line.find('\t') + 1);
    CliResult r = Cli({"submit", DataDir() + "/plans/bad/" + file});
    EXPECT_EQ(r.exit_code, 2) << file << ": " << r.err;
    EXPECT_TRUE(std::regex_search(r.err, std::regex(pattern, std::regex::icase)))
        << file << " must match " << pattern << ", got: " << r.err;
    EXPECT_NE(r.err.find(file), std::string::npos) << "names the file: " << r.err;
    ++cases;
  }
  EXPECT_EQ(cases, 6);
  EXPECT_EQ(CountRows("runs"), 0);
  EXPECT_EQ(CountRows("events"), 0);
  EXPECT_FALSE(std::filesystem::exists(state_dir_ + "/runs"));
}

TEST_F(CoreTest, MissingPlanFileAndUnknownRunAreUsageErrors) {
  CliResult missing = Cli({"submit", dir_ + "/nope.json"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("nope.json"), std::string::npos) << missing.err;
  CliResult unknown = Cli({"status", "deadbeef"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("no run \"deadbeef\""), std::string::npos) << unknown.err;
  CliResult bad_command = Cli({"frobnicate"});
  EXPECT_EQ(bad_command.exit_code, 2);
}

TEST_F(CoreTest, DeadDaemonIsExitThreeWithAClearMessage) {
  StopDaemon(SIGKILL);
  CliResult r = Cli({"ls"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("cannot reach aetherflowd at " + socket_), std::string::npos)
      << r.err;
  EXPECT_EQ(CountLines(r.err), 1) << "one line: " << r.err;
}

TEST_F(CoreTest, OriginalToolPlansDryRunAndNeedAProviderKeyToRun) {
  int plans = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(DataDir() + "/plans/original")) {
    // Valid, but this daemon has no provider keys: the dry run refuses as
    // the submit would, after the whole estimate.
    CliResult dry = Cli({"submit", "--dry-run", entry.path().string()});
    EXPECT_EQ(dry.exit_code, 2) << entry.path() << dry.err;
    EXPECT_EQ(dry.out.rfind("Plan valid, but a submit would be refused", 0), 0u) << dry.out;
    EXPECT_NE(dry.out.find("Batch 1/"), std::string::npos) << dry.out;
    ++plans;
  }
  EXPECT_EQ(plans, 8);
  CliResult dry = Cli({"submit", "--dry-run", DataDir() + "/plans/original_format.json"});
  EXPECT_EQ(dry.exit_code, 2) << dry.out;
  EXPECT_NE(dry.out.find("7 steps in 6 batches"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("Batch 4/6 (2): step_4 (codestral), step_5 (deepseek)"),
            std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("14,500"), std::string::npos) << "estimated tokens: " << dry.out;

  // This daemon has no provider keys: refused at submit, naming the
  // variable to set, and nothing stored.
  CliResult submit = Cli({"submit", DataDir() + "/plans/original_format.json"});
  EXPECT_EQ(submit.exit_code, 2);
  EXPECT_NE(submit.err.find("has no API key: set DEEPSEEK_API_KEY"), std::string::npos)
      << submit.err;
  EXPECT_EQ(CountRows("runs"), 0);
}

TEST_F(CoreTest, CommandStepsGetTheSubmittersEnvAndCwdNotTheDaemons) {
  std::filesystem::create_directories(dir_ + "/work/sub");
  std::string plan = WritePlan("env.json", R"({
    "task_id": "env",
    "steps": [{"id": "show", "cwd": "sub", "env": {"STEP_VAR": "from-step"},
      "run": "echo \"client=$CLIENT_VAR step=$STEP_VAR daemon=${AF_DAEMON_ONLY:-none} unbuffered=$PYTHONUNBUFFERED\"; pwd; echo '::aetherflow tokens=42 cost=0.5 progress=3/4'; touch made"}]})");
  // The daemon was started without CLIENT_VAR; restart it with a variable
  // of its own that must not reach the step.
  StopDaemon();
  setenv("AF_DAEMON_ONLY", "leaked", 1);
  StartDaemon();
  unsetenv("AF_DAEMON_ONLY");
  const mode_t ours = ::umask(007);
  CliResult r = Cli({"submit", plan}, {{"CLIENT_VAR", "from-client"}}, dir_ + "/work");
  ::umask(ours);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string id = r.out.substr(0, r.out.find('\n'));
  json status = WaitForEnd(id);
  EXPECT_EQ(status["run"]["state"], "succeeded");
  CliResult logs = Cli({"logs", id, "show"});
  EXPECT_EQ(logs.exit_code, 0);
  EXPECT_NE(logs.out.find("client=from-client step=from-step daemon=none unbuffered=1"),
            std::string::npos) << logs.out;
  EXPECT_NE(logs.out.find(dir_ + "/work/sub\n"), std::string::npos) << logs.out;
  struct stat st;
  ASSERT_EQ(::stat((dir_ + "/work/sub/made").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u) << "the client's umask (007), not the daemon's";
  const json& step = StepOf(status, "show");
  EXPECT_EQ(step["tokens"], 42);
  EXPECT_DOUBLE_EQ(step["cost"].get<double>(), 0.5);
  EXPECT_EQ(step["progress"], "3/4");
  EXPECT_EQ(status["run"]["tokens"], 42) << "summed per run";
}

TEST_F(CoreTest, SubmitDashDashWrapsOneCommandAsAOneStepPlan) {
  CliResult r = Cli({"submit", "--", "sh", "-c", "echo wrapped $0 \"$1\"", "x", "a b"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string id = r.out.substr(0, r.out.find('\n'));
  EXPECT_EQ(r.out, id + "\n") << "only the run id on stdout";
  json status = WaitForEnd(id);
  EXPECT_EQ(status["run"]["state"], "succeeded");
  ASSERT_EQ(status["steps"].size(), 1u);
  CliResult logs = Cli({"logs", id});
  EXPECT_NE(logs.out.find("wrapped x a b"), std::string::npos) << logs.out;
}

TEST_F(CoreTest, TimeoutKillsTheStepAndRetriesBackOffThenSucceed) {
  std::string plan = WritePlan("retry.json", R"({
    "task_id": "retry",
    "steps": [
      {"id": "hangs", "timeout": "1s", "run": "trap '' TERM; sleep 60"},
      {"id": "flaky", "retries": 2,
       "run": "echo x >> tries; [ $(wc -l < tries) -ge 3 ]"},
      {"id": "never", "retries": 1, "run": "exit 7"}
    ]})");
  std::string id = Submit(plan);
  json status = WaitForEnd(id);
  const json& hangs = StepOf(status, "hangs");
  EXPECT_EQ(hangs["state"], "failed");
  EXPECT_NE(hangs["message"].get<std::string>().find("timed out"), std::string::npos)
      << hangs.dump();
  EXPECT_EQ(hangs["signal"], SIGKILL) << "TERM ignored: escalated to KILL";
  const json& flaky = StepOf(status, "flaky");
  EXPECT_EQ(flaky["state"], "completed");
  EXPECT_EQ(flaky["attempt"], 3);
  EXPECT_EQ(ReadFile(dir_ + "/tries"), "x\nx\nx\n");
  const json& never = StepOf(status, "never");
  EXPECT_EQ(never["state"], "failed");
  EXPECT_EQ(never["attempt"], 2);
  EXPECT_EQ(never["exit_code"], 7);
  EXPECT_EQ(status["run"]["state"], "failed");
}

TEST_F(CoreTest, CancelStopsRunningStepsAndCancelsTheRest) {
  std::string plan = WritePlan("cancel.json", R"({
    "task_id": "cancel",
    "steps": [
      {"id": "long", "run": "echo $$ > long.pid; sleep 60"},
      {"id": "later", "dependencies": ["long"], "run": "true"}
    ]})");
  std::string id = Submit(plan);
  WaitFor(id, [](const json& s) { return StepOf(s, "long")["state"] == "running"; });
  for (int i = 0; i < 500 && !std::filesystem::exists(dir_ + "/long.pid"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_t pid = std::stoi(ReadFile(dir_ + "/long.pid"));
  CliResult r = Cli({"cancel", id.substr(0, 4)});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  json status = WaitForEnd(id);
  EXPECT_EQ(status["run"]["state"], "cancelled");
  EXPECT_EQ(StepOf(status, "long")["state"], "cancelled");
  EXPECT_EQ(StepOf(status, "later")["state"], "cancelled");
  EXPECT_TRUE(WaitDead(pid));
  CliResult again = Cli({"cancel", id});
  EXPECT_EQ(again.exit_code, 1) << "a finished run cannot be cancelled";
  EXPECT_NE(again.err.find("not running"), std::string::npos) << again.err;
}

TEST_F(CoreTest, FailFastCancelsTheRestOfTheRun) {
  std::string plan = WritePlan("ff.json", R"({
    "task_id": "ff", "fail_fast": true,
    "steps": [
      {"id": "bad", "run": "sleep 0.2; exit 1"},
      {"id": "slow", "run": "sleep 60"},
      {"id": "after", "dependencies": ["slow"], "run": "true"}
    ]})");
  std::string id = Submit(plan);
  json status = WaitForEnd(id);
  EXPECT_EQ(status["run"]["state"], "failed");
  EXPECT_EQ(StepOf(status, "bad")["state"], "failed");
  EXPECT_EQ(StepOf(status, "slow")["state"], "cancelled");
  EXPECT_EQ(StepOf(status, "after")["state"], "cancelled");
}

TEST_F(CoreTest, MaxParallelOfThePlanIsHonoured) {
  // Each step records how many steps run at once, using mkdir as a lock-free
  // counter of live steps.
  std::string plan = WritePlan("cap.json", R"({
    "task_id": "cap", "max_parallel": 2,
    "steps": [
      {"id": "s1", "run": "touch live.$$; ls live.* | wc -l >> seen; sleep 0.5; rm live.$$"},
      {"id": "s2", "run": "touch live.$$; ls live.* | wc -l >> seen; sleep 0.5; rm live.$$"},
      {"id": "s3", "run": "touch live.$$; ls live.* | wc -l >> seen; sleep 0.5; rm live.$$"},
      {"id": "s4", "run": "touch live.$$; ls live.* | wc -l >> seen; sleep 0.5; rm live.$$"}
    ]})");
  std::string id = Submit(plan);
  json status = WaitForEnd(id);
  EXPECT_EQ(status["run"]["state"], "succeeded");
  std::string seen = ReadFile(dir_ + "/seen");
  EXPECT_EQ(CountLines(seen), 4);
  EXPECT_EQ(seen.find('3'), std::string::npos) << "never 3 at once: " << seen;
  EXPECT_NE(seen.find('2'), std::string::npos) << "but 2 at once: " << seen;
}

TEST_F(CoreTest, LogsTailAndFollow) {
  std::string plan = WritePlan("logs.json", R"({
    "task_id": "logs",
    "steps": [{"id": "count", "run": "for i in $(seq 1 100); do echo line $i; done; sleep 1; echo last"}]})");
  std::string id = Submit(plan);
  WaitFor(id, [](const json& s) { return StepOf(s, "count")["state"] == "running"; });
  CliResult follow = Cli({"logs", id, "count", "-f"});
  EXPECT_EQ(follow.exit_code, 0) << follow.err;
  EXPECT_EQ(CountLines(follow.out), 101) << "follow ends when the step ends, with all of it";
  EXPECT_EQ(follow.out.substr(follow.out.size() - 5), "last\n");
  CliResult tail = Cli({"logs", id, "count", "--tail", "3"});
  EXPECT_EQ(tail.out, "line 99\nline 100\nlast\n");
  CliResult all = Cli({"logs", id, "--tail", "1"});
  EXPECT_EQ(all.out, "count | last\n");
  CliResult unknown = Cli({"logs", id, "nope"});
  EXPECT_EQ(unknown.exit_code, 2);
}

TEST_F(CoreTest, ListShowsRunsNewestFirstAndStatusShowsTheTable) {
  std::string first = Submit(WritePlan("a.json", R"({"task_id": "a", "description": "Première étape — café", "steps": [{"id": "x", "type": "compute", "run": "true"}]})"));
  WaitForEnd(first);
  std::string second = Submit(WritePlan("b.json", R"({"task_id": "b", "steps": [{"id": "y", "run": "true"}]})"));
  WaitForEnd(second);
  CliResult ls = Cli({"ls"});
  EXPECT_EQ(ls.exit_code, 0);
  EXPECT_LT(ls.out.find(second), ls.out.find(first)) << ls.out;
  EXPECT_NE(ls.out.find("Première étape — café"), std::string::npos) << ls.out;
  CliResult ls_json = Cli({"ls", "--json"});
  json runs = json::parse(ls_json.out);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0]["id"], second);
  CliResult status = Cli({"--json", "status", first});  // global option first
  EXPECT_EQ(json::parse(status.out)["run"]["id"], first);
  CliResult table = Cli({"status", first});
  EXPECT_NE(table.out.find("Progress: 1/1 steps (100.0%)"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("Step"), std::string::npos);
  EXPECT_NE(table.out.find("Completed"), std::string::npos);
}

TEST_F(CoreTest, CtrlCDuringRunCancelsTheRunAndExitsWithItsResult) {
  std::string plan = WritePlan("ctrlc.json", R"({"task_id": "c", "steps": [{"id": "long", "run": "sleep 60"}]})");
  pid_t cli = StartCli({"run", plan}, "ctrlc");
  std::string id;
  for (int i = 0; i < 1000 && id.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    CliResult ls = Cli({"ls", "--json"});
    json runs = json::parse(ls.out, nullptr, false);
    if (runs.is_array() && !runs.empty() && runs[0]["running"] == 1) id = runs[0]["id"];
  }
  ASSERT_FALSE(id.empty());
  ::kill(cli, SIGINT);
  CliResult r = FinishCli(cli, "ctrlc");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(Status(id)["run"]["state"], "cancelled");
  EXPECT_NE(r.err.find("cancelling run"), std::string::npos) << r.err;
}

TEST_F(CoreTest, SigtermMarksRunningWorkInterruptedAndDatabaseStaysConsistent) {
  std::string id = Submit(WritePlan("term.json", R"({"task_id": "t", "steps": [{"id": "long", "run": "sleep 60"}, {"id": "quick", "run": "true"}]})"));
  WaitFor(id, [](const json& s) {
    return StepOf(s, "long")["state"] == "running" && StepOf(s, "quick")["state"] == "completed";
  });
  StopDaemon(SIGTERM);
  StartDaemon();
  json status = Status(id);
  EXPECT_EQ(status["run"]["state"], "interrupted");
  EXPECT_EQ(StepOf(status, "long")["state"], "interrupted");
  EXPECT_EQ(StepOf(status, "quick")["state"], "completed");
}

}  // namespace
}  // namespace aetherflow::testing

namespace aetherflow::testing {
namespace {

// A login session on a server with the system service: XDG_RUNTIME_DIR is
// set but no user daemon runs. The client uses the service (here the test's
// daemon) instead of starting a private daemon.
TEST_F(DaemonTest, ASessionWithoutAUserDaemonUsesTheSystemService) {
  std::string id = Submit(WritePlan("sys.json", R"({"steps": [{"id": "a", "run": "true"}]})"));
  std::string runtime = dir_ + "/xdg";
  std::filesystem::create_directories(runtime);
  std::map<std::string, std::string> env = {{"XDG_RUNTIME_DIR", runtime},
                                            {"AETHERFLOW_SYSTEM_SOCKET", socket_},
                                            {"AETHERFLOW_STATE_DIR", dir_ + "/user-state"}};
  CliResult ls = RawCli({"ls"}, env);
  EXPECT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_NE(ls.out.find(id.substr(0, 8)), std::string::npos) << "the service's runs\n" << ls.out;
  EXPECT_EQ(ls.err, "") << "no daemon was started";
  EXPECT_FALSE(std::filesystem::exists(runtime + "/aetherflow/aetherflowd.sock"));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/user-state"));
  // Had one been started after all, it must not outlive the test.
  std::system(("pkill -f 'aetherflowd --socket " + runtime + "/' 2>/dev/null").c_str());

  // A socket named with AETHERFLOW_SOCKET is that socket, and nothing else.
  env["AETHERFLOW_SOCKET"] = dir_ + "/none.sock";
  env["AETHERFLOW_NO_AUTOSTART"] = "1";
  CliResult named = RawCli({"ls"}, env);
  EXPECT_EQ(named.exit_code, 3) << named.out;
  EXPECT_NE(named.err.find("none.sock"), std::string::npos) << named.err;
}

TEST_F(DaemonTest, FirstCommandStartsAUserDaemonWhenNoneAnswers) {
  std::string socket = dir_ + "/auto/aetherflowd.sock";
  std::map<std::string, std::string> env = {
      {"AETHERFLOW_SOCKET", socket}, {"AETHERFLOW_STATE_DIR", dir_ + "/auto-state"}};
  CliResult ls = RawCli({"ls"}, env);
  EXPECT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_NE(ls.err.find("started aetherflowd"), std::string::npos) << ls.err;
  // The next command finds it running and says nothing about it.
  std::string plan = WritePlan("p.json", R"({"steps": [{"id": "a", "run": "true"}]})");
  CliResult submit = RawCli({"submit", plan}, env);
  EXPECT_EQ(submit.exit_code, 0) << submit.err;
  EXPECT_EQ(submit.err, "");
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/auto-state/aetherflow.db"));
  // With autostart off, a dead socket is exit 3, not a new daemon.
  env["AETHERFLOW_SOCKET"] = dir_ + "/none.sock";
  env["AETHERFLOW_NO_AUTOSTART"] = "1";
  EXPECT_EQ(RawCli({"ls"}, env).exit_code, 3);
  // Stop the daemon we started (its pid is in no file: find it by socket).
  std::string pids = dir_ + "/auto.pids";
  std::system(("pgrep -f 'aetherflowd --socket " + socket + "' > " + pids).c_str());
  std::ifstream in(pids);
  pid_t pid;
  while (in >> pid) {
    ::kill(pid, SIGTERM);
    EXPECT_TRUE(WaitDead(pid)) << "the autostarted daemon stops on SIGTERM";
  }
}

}  // namespace
}  // namespace aetherflow::testing

namespace aetherflow::testing {
namespace {

TEST_F(DaemonTest, AProgramThatCannotStartFailsItsStepAndEndsTheRun) {
  CliResult r = Cli({"run", "--", "/nonexistent/program", "--flag"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  nlohmann::json status = Status("last");
  EXPECT_EQ(status["run"]["state"], "failed");
  const nlohmann::json& step = status["steps"][0];
  EXPECT_EQ(step["state"], "failed");
  EXPECT_NE(step["message"].get<std::string>().find("could not start"), std::string::npos)
      << step.dump();
}

}  // namespace
}  // namespace aetherflow::testing
