// A step that ends badly says why wherever one looks (the daemon's closing
// line in its log, `status`, `status --json`, the exports, the monitor's log
// pane); attempts read as headed sections; a run's times count time
// running; the monitor's footer says what Ctrl-C does. The real daemon and
// client, real processes.
#include <signal.h>

#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "tests/integration/harness.h"
#include "tests/integration/tmux.h"

namespace aetherflow::testing {
namespace {

using nlohmann::json;

constexpr auto npos = std::string::npos;

class StepReasonsTest : public DaemonTest {
 protected:
  // The client in a UTF-8 locale (headings drawn with "──"), or in C.
  CliResult U(std::vector<std::string> args) {
    return Cli(std::move(args), {{"LC_ALL", "C.UTF-8"}});
  }
  CliResult Ascii(std::vector<std::string> args) {
    return Cli(std::move(args), {{"LC_ALL", "C"}});
  }
  std::string SubmitCommand(std::vector<std::string> command) {
    std::vector<std::string> args = {"submit", "--"};
    args.insert(args.end(), command.begin(), command.end());
    CliResult r = Cli(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out.substr(0, r.out.find('\n'));
  }
  // The position of each of `parts` in `text`, which must hold them in
  // this order.
  static void ExpectInOrder(const std::string& text, const std::vector<std::string>& parts) {
    std::size_t at = 0;
    for (const std::string& part : parts) {
      std::size_t found = text.find(part, at);
      ASSERT_NE(found, npos) << "\"" << part << "\" (in order) in:\n" << text;
      at = found + part.size();
    }
  }
  static double Seconds(const json& iso) {
    absl::Time t;
    std::string err;
    EXPECT_TRUE(absl::ParseTime("%Y-%m-%dT%H:%M:%E*SZ", iso.get<std::string>(), &t, &err))
        << err;
    return absl::ToDoubleSeconds(t - absl::UnixEpoch());
  }
};

TEST_F(StepReasonsTest, AProgramNotFoundSaysSoInLogsStatusAndExports) {
  std::string id = SubmitCommand({"nonexistent_cmd_xyz"});
  json status = WaitForEnd(id);
  const std::string why =
      "could not start: program \"nonexistent_cmd_xyz\" not found in PATH";
  ASSERT_EQ(status["steps"][0]["message"], why) << status.dump(2);

  // The daemon's closing line is the step's log.
  CliResult logs = Cli({"logs", id, "nonexistent_cmd_xyz"});
  EXPECT_EQ(logs.exit_code, 0) << logs.err;
  EXPECT_EQ(logs.out, "aetherflow: " + why + "\n");
  CliResult all = Cli({"logs", id});
  EXPECT_NE(all.out.find("nonexistent_cmd_xyz | aetherflow: " + why), npos) << all.out;
  CliResult tail = Cli({"logs", id, "nonexistent_cmd_xyz", "--tail", "1"});
  EXPECT_EQ(tail.out, "aetherflow: " + why + "\n");

  // status names the step and its reason, whole, even off a terminal.
  CliResult text = Cli({"status", id});
  EXPECT_NE(text.out.find("Reasons:"), npos) << text.out;
  EXPECT_NE(text.out.find("nonexistent_cmd_xyz  " + why), npos) << text.out;

  CliResult csv = Cli({"export", id, "--format", "csv"});
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  EXPECT_NE(csv.out.find(",message\r\n"), npos) << csv.out;
  EXPECT_NE(csv.out.find("\"could not start: program \"\"nonexistent_cmd_xyz\"\" not found in "
                         "PATH\"\r\n"),
            npos)
      << csv.out;
  CliResult exported = Cli({"export", id, "--format", "json"});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_EQ(json::parse(exported.out)["steps"][0]["message"], why);
}

TEST_F(StepReasonsTest, TimeoutsKillsAndExitCodesCloseTheLog) {
  std::string plan = WritePlan("bad.json", R"({"task_id": "bad", "steps": [
    {"id": "slow", "timeout": "1s", "run": "echo started; sleep 60"},
    {"id": "stubborn", "timeout": "1s", "run": "trap '' TERM; echo started; sleep 60"},
    {"id": "killed", "run": "echo before; kill -9 $$"},
    {"id": "exits", "run": "printf 'no newline'; exit 4"},
    {"id": "fine", "run": "echo fine"}]})");
  std::string id = Submit(plan);
  json status = WaitForEnd(id);
  EXPECT_EQ(Cli({"logs", id, "slow"}).out,
            "started\naetherflow: timed out after 1s (killed by SIGTERM)\n");
  EXPECT_EQ(Cli({"logs", id, "stubborn"}).out,
            "started\naetherflow: timed out after 1s (killed by SIGKILL)\n")
      << "TERM ignored: the kill says so";
  EXPECT_EQ(Cli({"logs", id, "killed"}).out, "before\naetherflow: killed by SIGKILL\n");
  EXPECT_EQ(StepOf(status, "killed")["message"], "killed by SIGKILL");
  EXPECT_EQ(Cli({"logs", id, "exits"}).out, "no newline\naetherflow: exit code 4\n")
      << "the closing line starts a line of its own";
  EXPECT_EQ(Cli({"logs", id, "fine"}).out, "fine\n") << "nothing added to a success";
  // logs -f of ended steps reads the same lines.
  EXPECT_EQ(Cli({"logs", id, "killed", "-f"}).out, "before\naetherflow: killed by SIGKILL\n");

  CliResult text = Cli({"status", id});
  for (const char* line : {"slow      timed out after 1s", "stubborn  timed out after 1s",
                           "killed    killed by SIGKILL", "exits     exit code 4"}) {
    EXPECT_NE(text.out.find(line), npos) << line << "\n" << text.out;
  }
  EXPECT_EQ(text.out.substr(text.out.find("Reasons:")).find("fine"), npos) << text.out;
}

TEST_F(StepReasonsTest, AttemptsAreHeadedSectionsAndStatusCountsThem) {
  std::string plan = WritePlan("tries.json", R"({"task_id": "tries", "steps": [
    {"id": "flaky", "retries": 2,
     "run": "echo x >> tries; n=$(wc -l < tries); echo \"try $n\"; [ $n -ge 3 ]"},
    {"id": "plain", "run": "echo once"}]})");
  std::string id = Submit(plan);
  json status = WaitForEnd(id);
  ASSERT_EQ(status["run"]["state"], "succeeded") << status.dump(2);

  CliResult logs = U({"logs", id, "flaky"});
  EXPECT_EQ(logs.out.find("::aetherflow"), npos) << "no raw markers\n" << logs.out;
  const std::regex headed(
      "── attempt 1 of 3, \\d\\d:\\d\\d:\\d\\d, exit 1 ──\ntry 1\naetherflow: exit code 1\n"
      "── attempt 2 of 3, \\d\\d:\\d\\d:\\d\\d, exit 1 ──\ntry 2\naetherflow: exit code 1\n"
      "── attempt 3 of 3, \\d\\d:\\d\\d:\\d\\d, exit 0 ──\ntry 3\n");
  EXPECT_TRUE(std::regex_match(logs.out, headed)) << logs.out;
  // Followed, a heading is shown as its attempt starts: it says when.
  CliResult followed = U({"logs", id, "flaky", "-f"});
  EXPECT_EQ(followed.out.find("::aetherflow"), npos) << followed.out;
  ExpectInOrder(followed.out, {"── attempt 1 of 3, ", "try 1", "── attempt 2 of 3, ",
                               "try 2", "── attempt 3 of 3, ", "try 3"});
  // All steps at once: each line under its step's name.
  CliResult ascii = Ascii({"logs", id, "flaky"});
  EXPECT_NE(ascii.out.find("-- attempt 2 of 3, "), npos) << ascii.out;
  CliResult all = U({"logs", id});
  ExpectInOrder(all.out, {"flaky | ── attempt 1 of 3, ", "flaky | try 1",
                          "flaky | ── attempt 3 of 3, "});
  EXPECT_NE(all.out.find("plain | once\n"), npos) << all.out;
  EXPECT_EQ(all.out.find("plain | ──"), npos) << "one attempt needs no heading\n" << all.out;

  const json& flaky = StepOf(status, "flaky");
  EXPECT_EQ(flaky["attempts"], 3);
  EXPECT_LE(flaky["attempt_elapsed_s"].get<double>(), flaky["elapsed_s"].get<double>());
  CliResult text = Cli({"status", id});
  EXPECT_NE(text.out.find("Attempts"), npos) << text.out;
  std::string row = text.out.substr(text.out.find("\nflaky") + 1);
  row = row.substr(0, row.find('\n'));
  EXPECT_NE(row.find("3/3"), npos) << row;
}

TEST_F(StepReasonsTest, AResumedStepsLogIsSeparatedAndItsRunCountsTimeRunning) {
  std::string plan = WritePlan("again.json", R"({"task_id": "again", "steps": [
    {"id": "twice", "run": "echo go >> runs; n=$(wc -l < runs); echo \"go $n\"; [ $n -ge 2 ]"}]})");
  std::string id = Submit(plan);
  json first = WaitForEnd(id);
  ASSERT_EQ(first["run"]["state"], "failed");
  EXPECT_EQ(first["run"]["stopped_s"], 0.0);
  CliResult resumed = Cli({"resume", id});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  json status = WaitFor(id, [](const json& s) { return s["run"]["state"] == "succeeded"; });

  const std::regex separated(
      "go 1\naetherflow: exit code 1\n"
      "── attempt 1 of 1 \\(after a resume\\), \\d\\d:\\d\\d:\\d\\d, exit 0 ──\ngo 2\n");
  CliResult logs = U({"logs", id, "twice"});
  EXPECT_TRUE(std::regex_match(logs.out, separated)) << logs.out;

  // The time it sat failed is not time it ran.
  const json& run = status["run"];
  EXPECT_GT(run["stopped_s"].get<double>(), 0.0) << run.dump(2);
  double since_start = Seconds(run["finished_at"]) - Seconds(run["started_at"]);
  EXPECT_NEAR(run["elapsed_s"].get<double>() + run["stopped_s"].get<double>(), since_start,
              0.002)
      << run.dump(2);
}

TEST_F(StepReasonsTest, AQuickRunSaysNothingAboutParallelism) {
  std::string plan = WritePlan("quick.json", R"({"task_id": "quick", "steps": [
    {"id": "a", "run": "true"}, {"id": "b", "run": "true"}]})");
  CliResult r = Cli({"run", plan});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("succeeded in"), npos) << r.out;
  EXPECT_EQ(r.out.find("Parallelism"), npos) << "too short to measure\n" << r.out;
  EXPECT_EQ(r.out.find("faster"), npos) << r.out;
}

using StepReasonsTerminalTest = TmuxTest;

TEST_F(StepReasonsTerminalTest, RunSaysCtrlCCancelsAndTheLogPaneSaysWhyAStepFailed) {
  std::string plan = WritePlan("pane.json", R"({"task_id": "pane", "steps": [
    {"id": "missing", "run": ["nonexistent_cmd_xyz"]},
    {"id": "wait_go", "run": "while [ ! -f go ]; do sleep 0.05; done"}]})");
  tmux_.Start(dir_, socket_, "run " + plan, 110, 24);
  std::string screen = tmux_.WaitForScreen("✗ Failed");
  screen = tmux_.WaitForScreen("^C cancel");
  EXPECT_NE(screen.find("q detach"), npos) << screen;
  // The failed step's log pane shows the daemon's reason.
  tmux_.SendKeys("g");
  tmux_.SendKeys("Enter");
  tmux_.WaitForScreen("aetherflow: could not start: program \"nonexistent_cmd_xyz\"");
  // And Ctrl-C does what the footer says: the run is cancelled.
  tmux_.SendKeys("C-c");
  json status = WaitFor("last", [](const json& s) {
    return s["run"]["state"] != "running" && s["run"]["state"] != "queued";
  });
  EXPECT_EQ(StepOf(status, "wait_go")["state"], "cancelled") << status.dump(2);
}

// The notice of the first Ctrl-C goes to the monitor's footer: a line on
// stderr would be written over the middle of the curses screen.
TEST_F(StepReasonsTerminalTest, TheCtrlCThatCancelsSaysSoInTheFooter) {
  StopDaemon();
  StartDaemon({"--kill-grace-ms", "600000"});
  // A step that ignores SIGTERM keeps the run cancelling until it is told.
  std::string plan = WritePlan("stubborn.json", R"({"task_id": "stubborn", "steps": [
    {"id": "stubborn", "run": "trap '' TERM; while [ ! -f go ]; do sleep 0.05; done"}]})");
  tmux_.Start(dir_, socket_, "run " + plan, 110, 24);
  tmux_.WaitForScreen("⟳ Running");
  tmux_.SendKeys("C-c");
  std::string screen = tmux_.WaitForScreen("(Ctrl-C again to detach)");
  std::vector<std::string> lines = absl::StrSplit(screen, '\n');
  while (!lines.empty() && absl::StripAsciiWhitespace(lines.back()).empty()) lines.pop_back();
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines.back().find("cancelling run"), npos) << "in the footer\n" << screen;
  EXPECT_EQ(screen.find("aetherflow: cancelling"), npos) << "not over the screen\n" << screen;
  std::ofstream(dir_ + "/go") << "";
  // It ends on its own, after the cancel: the run is cancelled.
  json status = WaitFor("last", [](const json& s) { return s["run"]["state"] == "cancelled"; });
  EXPECT_EQ(status["run"]["reason"], "cancelled by the user") << status.dump(2);
}

TEST_F(StepReasonsTerminalTest, AttachDoesNotSayCtrlCCancels) {
  std::string id = Submit(WritePlan("a.json", R"({"task_id": "a", "steps": [
    {"id": "sleepy", "run": "sleep 60"}]})"));
  WaitFor(id, [](const json& s) { return s["run"]["state"] == "running"; });
  tmux_.Start(dir_, socket_, "attach " + id, 110, 24);
  std::string screen = tmux_.WaitForScreen("q detach");
  EXPECT_EQ(screen.find("^C cancel"), npos) << "in attach, Ctrl-C detaches\n" << screen;
  EXPECT_NE(screen.find("c cancel"), npos) << screen;
  tmux_.SendKeys("?");
  screen = tmux_.WaitForScreen("Ctrl-C");
  EXPECT_NE(screen.find("Ctrl-C      detach (the run goes on)"), npos) << screen;
  tmux_.SendKeys("q");
  tmux_.WaitForScreen("EXIT=130");
  EXPECT_EQ(Status(id)["run"]["state"], "running");
  Cli({"cancel", id});
}

}  // namespace
}  // namespace aetherflow::testing
