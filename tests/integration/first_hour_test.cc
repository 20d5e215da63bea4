// Issue 18, points 1, 3, 8 and 11: what a new user trips over in the first
// hour, through the real client and a real daemon.
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/harness.h"

namespace aetherflow::testing {
namespace {

using nlohmann::json;

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A usage error: exit 2, and exactly one line on stderr starting
// "aetherflow:".
void ExpectUsageError(const CliResult& r, const std::string& part) {
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_EQ(r.err.rfind("aetherflow: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_TRUE(Has(r.err, part)) << r.err << "\ndoes not contain: " << part;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

class FirstHourTest : public DaemonTest {
 protected:
  // Runs `sql` on the daemon's database (the daemon must be stopped).
  void Sql(const std::string& sql, const std::string& text) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((state_dir_ + "/aetherflow.db").c_str(), &db), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db);
    sqlite3_bind_text(stmt, 1, text.c_str(), -1, SQLITE_TRANSIENT);
    EXPECT_EQ(sqlite3_step(stmt), SQLITE_DONE) << sqlite3_errmsg(db);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
  }
};

// Point 1: `"command"` made a command step an LLM step (0 tokens, $0, then
// a request for DEEPSEEK_API_KEY); `"dependecies"` only warned.
TEST_F(FirstHourTest, ATypoInAFieldIsRefusedWithTheFieldMeant) {
  std::string plan = WritePlan("typo.json", R"({"steps": [{"id": "b", "command": "echo hi"}]})");
  for (const char* how : {"--dry-run", ""}) {
    std::vector<std::string> args = {"submit", plan};
    if (*how) args.push_back(how);
    CliResult r = Cli(args);
    EXPECT_EQ(r.exit_code, 2) << how << r.out << r.err;
    EXPECT_TRUE(Has(r.err, "typo.json:1:35: steps[0].command: unknown field "
                           "(did you mean \"run\"?)"))
        << r.err;
    EXPECT_FALSE(Has(r.err, "API_KEY")) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
  plan = WritePlan("deps.json", R"({"steps": [{"id": "a", "run": "true"},
    {"id": "b", "run": "true", "dependecies": ["a"]}]})");
  CliResult r = Cli({"submit", plan});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Has(r.err, "steps[1].dependecies: unknown field (did you mean "
                         "\"dependencies\"?)"))
      << r.err;
  // Nothing to run nor to ask.
  plan = WritePlan("empty.json", R"({"steps": [{"id": "a", "type": "analysis"}]})");
  r = Cli({"submit", "--dry-run", plan});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Has(r.err, "steps[0]: nothing to do")) << r.err;
  EXPECT_EQ(CountRows("runs"), 0);
  // Other unknown fields keep their one warning.
  plan = WritePlan("own.json", R"({"steps": [{"id": "a", "run": "true", "owner": "me"}]})");
  r = Cli({"submit", "--dry-run", plan});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Has(r.err, "warning: unknown fields kept and ignored: steps[0].owner")) << r.err;
}

// Point 1: a run stored before the upgrade, whose plan the new rules would
// refuse, is still read: check-ins and resume work on it.
TEST_F(FirstHourTest, AStoredPlanWithATypoStillLoads) {
  std::string id = Submit(WritePlan("old.json", R"({"task_id": "old", "steps": [
    {"id": "a", "run": "exit 1"}, {"id": "b", "run": "true", "dependencies": ["a"]}]})"));
  json end = WaitForEnd(id);
  ASSERT_EQ(end["run"]["state"], "failed");
  StopDaemon();
  // As an older daemon accepted it: a typo'd extra field on each step.
  Sql("UPDATE runs SET plan_json = ?", R"({"task_id": "old", "steps": [
    {"id": "a", "run": "true", "retires": 1},
    {"id": "b", "run": "true", "dependencies": ["a"], "dependecies": ["a"]}]})");
  StartDaemon();
  CliResult poll = Cli({"poll", id, "--wait", "0s"},
                       {{"XDG_STATE_HOME", dir_ + "/client-state"}});
  EXPECT_EQ(poll.exit_code, 11) << poll.out << poll.err;  // the run failed
  CliResult resume = Cli({"resume", id});
  ASSERT_EQ(resume.exit_code, 0) << resume.err;
  end = WaitForEnd(id);
  EXPECT_EQ(end["run"]["state"], "succeeded") << end.dump(2);
}

// Point 3: off a terminal nothing is cut to a width: the reason, a long
// description, a long path.
TEST_F(FirstHourTest, OffATerminalLinesAreNotCut) {
  const std::string nodir = dir_ + "/" + std::string(150, 'd') + "/nodir";
  const std::string description = std::string(200, 'x') + " END";
  std::string plan = WritePlan("long.json", R"({"task_id": "long", "steps": [
    {"id": "s", "run": "true", "cwd": ")" + nodir + R"(", "description": ")" +
                                                  description + R"("}]})");
  CliResult run = Cli({"run", "--plain", plan});
  EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
  EXPECT_TRUE(Has(run.out, "could not start: working directory \"" + nodir +
                               "\": No such file or directory"))
      << run.out;
  CliResult status = Cli({"status", "last"});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_TRUE(Has(status.out, description)) << status.out;
}

// Point 8: every usage error is one line starting "aetherflow:", exit 2.
TEST_F(FirstHourTest, UsageErrorsAreOneLineAndSayWhatWasMeant) {
  ExpectUsageError(Cli({"lss"}), "aetherflow: unknown command \"lss\"; did you mean \"ls\"?");
  ExpectUsageError(Cli({"--json", "stauts", "last"}), "did you mean \"status\"?");
  ExpectUsageError(Cli({"frobnicate"}), "unknown command \"frobnicate\" (commands: run,");
  ExpectUsageError(Cli({}), "aetherflow: a command is required");
  ExpectUsageError(Cli({"ls", "--bogus"}), "--bogus");
  ExpectUsageError(Cli({"logs", "last", "--tail", "abc"}),
                   "aetherflow: --tail: expected a number of lines from 0 to 1,000,000, "
                   "not \"abc\"");
  ExpectUsageError(Cli({"logs", "last", "--tail", "5000000"}), "0 to 1,000,000");
  ExpectUsageError(Cli({"prune", "--older-than", "3", "days"}),
                   "aetherflow: --older-than: \"3 days\" is not a duration; write one "
                   "word such as 3d (days)");
  ExpectUsageError(Cli({"prune", "--older-than", "3 days"}), "such as 3d (days)");
  // What --help promises is what the daemon accepts.
  CliResult help = Cli({"logs", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_TRUE(Has(help.out, "0 to 1,000,000")) << help.out;
  EXPECT_FALSE(Has(help.out, "100000000")) << help.out;
  std::string id = Submit(WritePlan("one.json", R"({"steps": [{"id": "a", "run": "echo hi"}]})"));
  WaitForEnd(id);
  CliResult tail = Cli({"logs", id, "a", "--tail", "1000000"});
  EXPECT_EQ(tail.exit_code, 0) << tail.err;
  EXPECT_EQ(tail.out, "hi\n");
  CliResult prune = Cli({"prune", "--older-than", "3d"});
  EXPECT_EQ(prune.exit_code, 0) << prune.err;
  // `submit -- CMD` is in submit's help.
  help = Cli({"submit", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_TRUE(Has(help.out, "aetherflow submit -- CMD ARGS...")) << help.out;
}

// Point 11: `submit --` steps show "-" for their type, as plan steps do,
// and the command as a shell would read it back.
TEST_F(FirstHourTest, SubmittedCommandIsShownQuotedWithNoType) {
  CliResult r = Cli({"submit", "--", "sh", "-c", "exit 3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string id = r.out.substr(0, r.out.find('\n'));
  json end = WaitForEnd(id);
  EXPECT_EQ(StepOf(end, "sh")["type"], "");
  EXPECT_EQ(end["run"]["description"], "sh -c 'exit 3'");
  CliResult status = Cli({"status", id});
  EXPECT_TRUE(Has(status.out, "Plan: sh -c 'exit 3'\n")) << status.out;
  bool row = false;
  for (std::size_t at = 0; at < status.out.size();) {
    std::size_t end_of_line = status.out.find('\n', at);
    std::string line = status.out.substr(at, end_of_line - at);
    if (line.rfind("sh ", 0) == 0) {
      row = true;
      EXPECT_TRUE(Has(line, "  -  ")) << line;
      EXPECT_FALSE(Has(line, "command")) << line;
    }
    if (end_of_line == std::string::npos) break;
    at = end_of_line + 1;
  }
  EXPECT_TRUE(row) << status.out;
}

// Point 11: a plan with no description prints no dangling "— ".
TEST_F(FirstHourTest, NoDanglingDashWithoutADescription) {
  std::string plan = WritePlan("bare.json", R"({"steps": [{"id": "a", "run": "true"}]})");
  CliResult r = Cli({"run", "--plain", plan});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Has(r.out, ": 1 step in 1 batch\n")) << r.out;
  EXPECT_FALSE(Has(r.out, "— \n")) << r.out;
}

// Point 11: under LANG=C a description reads "na?ve caf?", never split
// bytes.
TEST_F(FirstHourTest, NonUtf8LocaleFallsBackToQuestionMarks) {
  std::string id = Submit(WritePlan("fr.json", R"({"description": "naïve café",
    "steps": [{"id": "a", "run": "true", "description": "crème brûlée"}]})"));
  WaitForEnd(id);
  CliResult r = Cli({"status", id}, {{"LC_ALL", "C"}, {"LANG", "C"}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Has(r.out, "Plan: na?ve caf?\n")) << r.out;
  EXPECT_TRUE(Has(r.out, "cr?me br?l?e")) << r.out;
  for (char c : r.out) ASSERT_LT(static_cast<unsigned char>(c), 0x80) << r.out;
}

// Point 11: a stalled step's check-in says for how long it has been quiet.
TEST_F(FirstHourTest, StallSaysForHowLong) {
  std::string id = Submit(WritePlan("quiet.json", R"({"steps": [
    {"id": "sh", "run": "echo started; while [ ! -f end ]; do sleep 0.05; done"}]})"));
  // Its first line is written before the first check-in reads it.
  for (int i = 0; i < 600 && Cli({"logs", id, "sh"}).out != "started\n"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const std::map<std::string, std::string> env = {{"XDG_STATE_HOME", dir_ + "/client-state"}};
  CliResult r;
  for (int i = 0; i < 3; ++i) r = Cli({"poll", id, "--wait", "0s"}, env);
  EXPECT_EQ(r.exit_code, 12) << r.out << r.err;
  EXPECT_TRUE(Has(r.out, "no output from sh for ")) << r.out;
  EXPECT_TRUE(Has(r.out, "s (2 check-ins)")) << r.out;
  WritePlan("end", "");
  WaitForEnd(id);
}

}  // namespace
}  // namespace aetherflow::testing
