// SPEC §9 pause: `aetherflow pause` and `resume` on a real daemon, and `p`
// in the curses monitor (the real client inside tmux, as terminal_test.cc).
// Needs the daemon's PauseRun: add it to integration_test in
// tests/CMakeLists.txt once the daemon answers it.
#include <algorithm>
#include <filesystem>
#include <fstream>

#include "tests/integration/harness.h"
#include "tests/integration/tmux.h"

namespace aetherflow::testing {
namespace {

using nlohmann::json;

bool Over(const json& status) {
  const std::string state = status["run"]["state"];
  return state != "queued" && state != "running" && state != "paused";
}

int CountLines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

// `hold` runs until the file `go` exists; three steps wait behind it.
constexpr char kHoldPlan[] = R"({
  "task_id": "pause", "description": "Pause and go on",
  "steps": [
    {"id": "hold", "run": "while [ ! -f go ]; do sleep 0.05; done; echo held"},
    {"id": "next_a", "dependencies": ["hold"], "run": "touch next_a.ran"},
    {"id": "next_b", "dependencies": ["hold"], "run": "touch next_b.ran"},
    {"id": "last", "dependencies": ["next_a", "next_b"], "run": "touch last.ran"}
  ]})";

class PauseTest : public DaemonTest {
 protected:
  // Waits until the engine has had its turn after what the tests saw last:
  // a run submitted now has started and ended, so every step that could
  // start before it has had the chance (no sleep, SPEC §3's fair share).
  void Barrier() {
    std::string barrier = Submit(WritePlan(
        "barrier-" + std::to_string(++barriers_) + ".json",
        R"({"task_id": "barrier", "steps": [{"id": "b", "run": "true"}]})"));
    json status = WaitFor(barrier, Over);
    ASSERT_EQ(status["run"]["state"], "succeeded") << status.dump(2);
  }

  bool Exists(const std::string& name) {
    return std::filesystem::exists(dir_ + "/" + name);
  }

  int barriers_ = 0;
};

TEST_F(PauseTest, RunningStepEndsNoNewStepStartsUntilResume) {
  std::string id = Submit(WritePlan("hold.json", kHoldPlan));
  WaitFor(id, [](const json& s) { return StepOf(s, "hold")["state"] == "running"; });

  CliResult paused = Cli({"pause", id});
  ASSERT_EQ(paused.exit_code, 0) << paused.err;
  EXPECT_EQ(paused.err, "");
  EXPECT_NE(paused.out.find("run " + id + " paused"), std::string::npos) << paused.out;
  EXPECT_NE(paused.out.find("aetherflow resume " + id), std::string::npos) << paused.out;
  EXPECT_EQ(CountLines(paused.out), 1) << paused.out;

  json status = Status(id);
  EXPECT_EQ(status["run"]["state"], "paused") << status.dump(2);
  EXPECT_EQ(StepOf(status, "hold")["state"], "running") << "a running step goes on";
  EXPECT_EQ(StepOf(status, "next_a")["state"], "pending");
  EXPECT_TRUE(status["run"]["finished_at"].is_null()) << "a paused run is not over";
  EXPECT_TRUE(StepOf(status, "next_a").contains("waiting_for"));
  EXPECT_TRUE(StepOf(status, "next_a").contains("resources"));
  EXPECT_TRUE(StepOf(status, "next_a")["resources"].is_null())
      << "the plan asks for no resources";

  // The paused state shows in the table, `ls` and the --json of `ls`.
  CliResult table = Cli({"status", id});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("State: paused"), std::string::npos) << table.out;
  CliResult list = Cli({"ls"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find(" paused "), std::string::npos) << list.out;

  // The running step goes on to its end; nothing after it starts.
  std::ofstream(dir_ + "/go") << "";
  status = WaitFor(id, [](const json& s) {
    return StepOf(s, "hold")["state"] != "running";
  });
  EXPECT_EQ(StepOf(status, "hold")["state"], "completed") << status.dump(2);
  Barrier();
  status = Status(id);
  EXPECT_EQ(status["run"]["state"], "paused") << status.dump(2);
  for (const char* step : {"next_a", "next_b", "last"}) {
    EXPECT_EQ(StepOf(status, step)["state"], "pending") << step << "\n" << status.dump(2);
  }
  EXPECT_EQ(status["run"]["running"], 0);
  EXPECT_FALSE(Exists("next_a.ran"));
  EXPECT_FALSE(Exists("next_b.ran"));

  // A second pause leaves it paused, whatever the daemon answers.
  Cli({"pause", id});
  EXPECT_EQ(Status(id)["run"]["state"], "paused");

  CliResult resumed = Cli({"resume", id});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(resumed.out, id + "\n");
  status = WaitFor(id, Over);
  EXPECT_EQ(status["run"]["state"], "succeeded") << status.dump(2);
  EXPECT_TRUE(Exists("next_a.ran"));
  EXPECT_TRUE(Exists("next_b.ran"));
  EXPECT_TRUE(Exists("last.ran"));
  EXPECT_EQ(StepOf(status, "hold")["attempt"], 1) << "the completed step never reran";
}

TEST_F(PauseTest, PauseOfAFinishedRunFailsWithOneLine) {
  std::string id = Submit(WritePlan("quick.json", R"({"task_id": "quick",
    "steps": [{"id": "only", "run": "true"}]})"));
  ASSERT_EQ(WaitFor(id, Over)["run"]["state"], "succeeded");

  CliResult r = Cli({"pause", id});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(CountLines(r.err), 1) << "one line: " << r.err;
  EXPECT_EQ(r.err.rfind("aetherflow: ", 0), 0u) << r.err;
  EXPECT_EQ(Status(id)["run"]["state"], "succeeded");

  CliResult unknown = Cli({"pause", "deadbeef"});
  EXPECT_EQ(unknown.exit_code, 2) << unknown.err;
  EXPECT_EQ(CountLines(unknown.err), 1) << unknown.err;
  CliResult usage = Cli({"pause"});
  EXPECT_EQ(usage.exit_code, 2) << "RUN is required";
}

TEST_F(PauseTest, PauseByPrefixAndLast) {
  std::string id = Submit(WritePlan("hold.json", kHoldPlan));
  WaitFor(id, [](const json& s) { return StepOf(s, "hold")["state"] == "running"; });
  CliResult by_prefix = Cli({"pause", id.substr(0, 6)});
  ASSERT_EQ(by_prefix.exit_code, 0) << by_prefix.err;
  EXPECT_EQ(Status(id)["run"]["state"], "paused");
  CliResult resumed = Cli({"resume", "last"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  WaitFor(id, [](const json& s) { return s["run"]["state"] == "running"; });
  CliResult by_last = Cli({"pause", "last", "--json"});
  ASSERT_EQ(by_last.exit_code, 0) << by_last.err;
  json answer = json::parse(by_last.out, nullptr, false);
  ASSERT_FALSE(answer.is_discarded()) << by_last.out;
  EXPECT_EQ(answer["run"]["id"], id);
  EXPECT_EQ(answer["run"]["state"], "paused");
  Cli({"cancel", id});
  EXPECT_EQ(WaitFor(id, Over)["run"]["state"], "cancelled") << "a paused run can be cancelled";
}

// The monitor: `p`, `y` pauses; the header says so; `p`, `y` goes on.
class PauseTerminalTest : public PauseTest {
 protected:
  void SetUp() override {
    PauseTest::SetUp();
    if (!TmuxSession::Installed()) {
      GTEST_SKIP() << "tmux is not installed (scripts/setup.sh installs it)";
    }
  }
  void TearDown() override {
    tmux_.End();
    PauseTest::TearDown();
  }

  // WaitForScreen for ASSERT_TRUE: what the rest of a test stands on.
  bool Saw(const std::string& text) {
    return tmux_.WaitForScreen(text).find(text) != std::string::npos;
  }

  TmuxSession tmux_;
};

TEST_F(PauseTerminalTest, PAndYPausesThenPAndYGoesOn) {
  std::string id = Submit(WritePlan("hold.json", kHoldPlan));
  WaitFor(id, [](const json& s) { return StepOf(s, "hold")["state"] == "running"; });
  tmux_.Start(dir_, socket_, "attach " + id, 110, 24);
  ASSERT_TRUE(Saw("⟳ Running"));
  std::string screen = tmux_.WaitForScreen("p pause");

  // n keeps the run going: the question goes, the state stays.
  tmux_.SendKeys("p");
  ASSERT_TRUE(Saw("Pause run " + id + "? y/n"));
  tmux_.SendKeys("n");
  ASSERT_TRUE(Saw("p pause"));
  EXPECT_EQ(Status(id)["run"]["state"], "running");

  tmux_.SendKeys("p");
  ASSERT_TRUE(Saw("Pause run " + id + "? y/n"));
  tmux_.SendKeys("y");
  ASSERT_TRUE(Saw("State: ⏸ Paused"));
  // The daemon's answer reaches the footer.
  tmux_.WaitForScreen("run " + id + " paused");
  EXPECT_EQ(Status(id)["run"]["state"], "paused");

  // The running step ends; the monitor stays, the run paused.
  std::ofstream(dir_ + "/go") << "";
  WaitFor(id, [](const json& s) { return StepOf(s, "hold")["state"] == "completed"; });
  screen = tmux_.WaitForScreen("✓ Completed");
  EXPECT_NE(screen.find("State: ⏸ Paused"), std::string::npos) << screen;
  EXPECT_EQ(screen.find("EXIT="), std::string::npos) << "a paused run is not over\n"
                                                     << screen;

  tmux_.SendKeys("p");
  ASSERT_TRUE(Saw("Resume run " + id + "? y/n"));
  tmux_.SendKeys("y");
  // The rest runs; the monitor ends with the run and its summary.
  screen = tmux_.WaitForScreen("EXIT=");
  EXPECT_NE(screen.find("EXIT=0"), std::string::npos) << screen;
  EXPECT_NE(screen.find("succeeded"), std::string::npos) << screen;
  json status = Status(id);
  EXPECT_EQ(status["run"]["state"], "succeeded") << status.dump(2);
  EXPECT_TRUE(Exists("last.ran"));
}

}  // namespace
}  // namespace aetherflow::testing
