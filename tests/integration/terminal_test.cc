// The curses monitor in a real terminal: the real client runs inside tmux,
// the test types keys with send-keys and reads the screen with
// capture-pane.
#include <algorithm>
#include <chrono>
#include <fstream>
#include <thread>

#include "common/text.h"
#include "tests/integration/harness.h"
#include "tests/integration/tmux.h"

namespace aetherflow::testing {
namespace {

class TerminalTest : public TmuxTest {
 protected:
  // Starts the client in a detached tmux session of the given size (ending
  // the one before).
  void Start(const std::string& client_args, int width, int height) {
    tmux_.Start(dir_, socket_, client_args, width, height);
  }

  static int WidestLine(const std::string& screen) {
    int widest = 0;
    std::size_t start = 0;
    while (start < screen.size()) {
      std::size_t end = screen.find('\n', start);
      if (end == std::string::npos) end = screen.size();
      widest = std::max(widest, DisplayWidth(screen.substr(start, end - start)));
      start = end + 1;
    }
    return widest;
  }
};

TEST_F(TerminalTest, MonitorShowsHeaderAndRowsLiveAfterResizeAndAtTheEnd) {
  std::string plan = WritePlan("tty.json", R"({
    "task_id": "tty", "description": "Démo du moniteur — café",
    "steps": [
      {"id": "prep", "type": "prepare", "run": "true"},
      {"id": "wait_go", "type": "compute", "dependencies": ["prep"],
       "run": "while [ ! -f go ]; do sleep 0.05; done"},
      {"id": "fails", "type": "check", "dependencies": ["prep"], "run": "exit 3"},
      {"id": "after", "type": "report", "dependencies": ["wait_go"], "run": "true"}
    ]})");
  Start("run " + plan, 110, 30);
  std::string screen = tmux_.WaitForScreen("⟳ Running");
  EXPECT_NE(screen.find("Démo du moniteur — café"), std::string::npos) << screen;
  EXPECT_NE(screen.find("Progress:"), std::string::npos) << screen;
  EXPECT_NE(screen.find("Batch"), std::string::npos) << screen;
  screen = tmux_.WaitForScreen("✗ Failed");
  EXPECT_NE(screen.find("✓ Completed"), std::string::npos) << screen;
  EXPECT_NE(screen.find("○ Pending"), std::string::npos) << screen;
  EXPECT_NE(screen.find("wait_go"), std::string::npos) << screen;
  EXPECT_LE(WidestLine(screen), 110);

  tmux_.Resize(60, 16);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  screen = tmux_.WaitForScreen("Progress:");
  EXPECT_LE(WidestLine(screen), 60) << screen;
  EXPECT_NE(screen.find("wait_go"), std::string::npos) << screen;

  tmux_.SendKeys("?");
  tmux_.WaitForScreen("detach");
  tmux_.SendKeys("Escape");

  std::ofstream(dir_ + "/go") << "";
  screen = tmux_.WaitForScreen("EXIT=");
  // Curses is gone; the final summary stays in the terminal.
  EXPECT_NE(screen.find("EXIT=1"), std::string::npos) << "a step failed\n" << screen;
  EXPECT_NE(screen.find("failed in"), std::string::npos) << screen;
  // One step ran at a time: parallelism bought nothing, so nothing is said.
  EXPECT_EQ(screen.find("Parallelism:"), std::string::npos) << screen;
}

TEST_F(TerminalTest, CancelFromTheMonitorAfterConfirmationAndDetachWithQ) {
  std::string id = Submit(WritePlan("c.json", R"({"task_id": "c", "steps": [
    {"id": "sleepy", "run": "sleep 60"}]})"));
  WaitFor(id, [](const nlohmann::json& s) { return s["run"]["state"] == "running"; });
  Start("attach " + id, 100, 24);
  tmux_.WaitForScreen("⟳ Running");
  tmux_.SendKeys("c");
  tmux_.WaitForScreen("y/n");
  tmux_.SendKeys("n");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(Status(id)["run"]["state"], "running") << "n keeps the run";
  tmux_.SendKeys("c");
  tmux_.WaitForScreen("y/n");
  tmux_.SendKeys("y");
  std::string screen = tmux_.WaitForScreen("EXIT=");
  EXPECT_NE(screen.find("EXIT=1"), std::string::npos) << screen;
  EXPECT_EQ(Status(id)["run"]["state"], "cancelled");

  // q detaches: the run goes on.
  std::string other = Submit(WritePlan("d.json", R"({"task_id": "d", "steps": [
    {"id": "sleepy", "run": "sleep 60"}]})"));
  WaitFor(other, [](const nlohmann::json& s) { return s["run"]["state"] == "running"; });
  Start("attach " + other, 100, 24);  // a fresh tmux server: see TmuxSession::Start
  tmux_.WaitForScreen("⟳ Running");
  tmux_.SendKeys("q");
  screen = tmux_.WaitForScreen("EXIT=");
  EXPECT_NE(screen.find("EXIT=130"), std::string::npos) << screen;
  EXPECT_EQ(Status(other)["run"]["state"], "running");
  Cli({"cancel", other});
}

}  // namespace
}  // namespace aetherflow::testing
