// The curses monitor in a real terminal: the real client runs inside tmux,
// the test types keys with send-keys and reads the screen with
// capture-pane.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "common/text.h"
#include "tests/integration/harness.h"

namespace aetherflow::testing {
namespace {

class TerminalTest : public DaemonTest {
 protected:
  void SetUp() override {
    DaemonTest::SetUp();
    if (std::system("command -v tmux >/dev/null 2>&1") != 0) {
      GTEST_SKIP() << "tmux is not installed (scripts/setup.sh installs it)";
    }
    NewServer();
  }
  // Each session gets its own tmux server. Reusing a name right after
  // kill-server races with the old server's exit: tmux connects to the dying
  // server and says "server exited unexpectedly".
  void NewServer() {
    if (!server_.empty()) Tmux("kill-server 2>/dev/null");
    server_ = "af-" + std::to_string(::getpid()) + "-" + std::to_string(++counter_);
  }
  void TearDown() override {
    Tmux("kill-server 2>/dev/null");
    DaemonTest::TearDown();
  }

  std::string Tmux(const std::string& args) {
    std::string command = "tmux -L " + server_ + " " + args;
    std::string out;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (!pipe) return out;
    char buffer[4096];
    std::size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
    ::pclose(pipe);
    return out;
  }

  // Starts the client in a detached tmux session of the given size.
  void Start(const std::string& client_args, int width, int height) {
    std::string script = dir_ + "/client.sh";
    std::ofstream(script) << "#!/bin/sh\n"
                          << "export LANG=C.UTF-8 LC_ALL=C.UTF-8 AETHERFLOW_NO_AUTOSTART=1\n"
                          << "cd " << dir_ << "\n"
                          << BinDir() << "/aetherflow --socket " << socket_ << " "
                          << client_args << "\n"
                          << "echo \"EXIT=$?\"\n"
                          << "sleep 600\n";
    ::chmod(script.c_str(), 0755);
    Tmux("new-session -d -s t -x " + std::to_string(width) + " -y " +
         std::to_string(height) + " " + script);
  }

  std::string Screen() { return Tmux("capture-pane -p -t t"); }

  // Polls the screen until it contains `text` (60 s at most).
  std::string WaitForScreen(const std::string& text) {
    std::string screen;
    for (int i = 0; i < 600; ++i) {
      screen = Screen();
      if (screen.find(text) != std::string::npos) return screen;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "never saw \"" << text << "\"; screen:\n" << screen;
    return screen;
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

  std::string server_;
  static inline int counter_ = 0;
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
  std::string screen = WaitForScreen("⟳ Running");
  EXPECT_NE(screen.find("Démo du moniteur — café"), std::string::npos) << screen;
  EXPECT_NE(screen.find("Progress:"), std::string::npos) << screen;
  EXPECT_NE(screen.find("Batch"), std::string::npos) << screen;
  screen = WaitForScreen("✗ Failed");
  EXPECT_NE(screen.find("✓ Completed"), std::string::npos) << screen;
  EXPECT_NE(screen.find("○ Pending"), std::string::npos) << screen;
  EXPECT_NE(screen.find("wait_go"), std::string::npos) << screen;
  EXPECT_LE(WidestLine(screen), 110);

  Tmux("resize-window -t t -x 60 -y 16");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  screen = WaitForScreen("Progress:");
  EXPECT_LE(WidestLine(screen), 60) << screen;
  EXPECT_NE(screen.find("wait_go"), std::string::npos) << screen;

  Tmux("send-keys -t t '?'");
  WaitForScreen("detach");
  Tmux("send-keys -t t Escape");

  std::ofstream(dir_ + "/go") << "";
  screen = WaitForScreen("EXIT=");
  // Curses is gone; the final summary stays in the terminal.
  EXPECT_NE(screen.find("EXIT=1"), std::string::npos) << "a step failed\n" << screen;
  EXPECT_NE(screen.find("Parallelism:"), std::string::npos) << screen;
}

TEST_F(TerminalTest, CancelFromTheMonitorAfterConfirmationAndDetachWithQ) {
  std::string id = Submit(WritePlan("c.json", R"({"task_id": "c", "steps": [
    {"id": "sleepy", "run": "sleep 60"}]})"));
  WaitFor(id, [](const nlohmann::json& s) { return s["run"]["state"] == "running"; });
  Start("attach " + id, 100, 24);
  WaitForScreen("⟳ Running");
  Tmux("send-keys -t t c");
  WaitForScreen("y/n");
  Tmux("send-keys -t t n");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(Status(id)["run"]["state"], "running") << "n keeps the run";
  Tmux("send-keys -t t c");
  WaitForScreen("y/n");
  Tmux("send-keys -t t y");
  std::string screen = WaitForScreen("EXIT=");
  EXPECT_NE(screen.find("EXIT=1"), std::string::npos) << screen;
  EXPECT_EQ(Status(id)["run"]["state"], "cancelled");

  // q detaches: the run goes on.
  std::string other = Submit(WritePlan("d.json", R"({"task_id": "d", "steps": [
    {"id": "sleepy", "run": "sleep 60"}]})"));
  WaitFor(other, [](const nlohmann::json& s) { return s["run"]["state"] == "running"; });
  NewServer();
  Start("attach " + other, 100, 24);
  WaitForScreen("⟳ Running");
  Tmux("send-keys -t t q");
  screen = WaitForScreen("EXIT=");
  EXPECT_NE(screen.find("EXIT=130"), std::string::npos) << screen;
  EXPECT_EQ(Status(other)["run"]["state"], "running");
  Cli({"cancel", other});
}

}  // namespace
}  // namespace aetherflow::testing
