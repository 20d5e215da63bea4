// The real client inside tmux, for tests of the curses monitor: the test
// types keys with send-keys and reads the screen with capture-pane.
#ifndef AETHERFLOW_TESTS_INTEGRATION_TMUX_H_
#define AETHERFLOW_TESTS_INTEGRATION_TMUX_H_

#include <string>

#include "gtest/gtest.h"
#include "tests/integration/harness.h"

namespace aetherflow::testing {

// One detached tmux session "t" at a time, each on a tmux server of its own
// (a name unique in this process). Not thread-safe.
class TmuxSession {
 public:
  TmuxSession() = default;
  ~TmuxSession() { End(); }
  TmuxSession(const TmuxSession&) = delete;
  TmuxSession& operator=(const TmuxSession&) = delete;

  // Whether the tmux command is installed (scripts/setup.sh installs it).
  static bool Installed();

  // Ends the session started before, if any; writes `dir`/client.sh, which
  // runs `aetherflow --socket SOCKET CLIENT_ARGS` in `dir`, then prints
  // "EXIT=<its exit code>" and stays; starts it in a new session of
  // `width` x `height` on a new server.
  void Start(const std::string& dir, const std::string& socket,
             const std::string& client_args, int width, int height);
  // Kills the server of the session, if one was started.
  void End();

  // Types one key: a character or a tmux key name such as Escape.
  void SendKeys(const std::string& key);
  void Resize(int width, int height);
  // What the pane shows now.
  std::string Screen();
  // Polls the screen until it contains `text` (60 s at most, then adds a
  // test failure); returns the last screen read.
  std::string WaitForScreen(const std::string& text);

 private:
  // Runs `tmux -L <server> ARGS` through the shell; returns its stdout.
  std::string Tmux(const std::string& args);

  std::string server_;  // empty until Start, and again after End
};

// A daemon and the client in a terminal: skipped where tmux is missing.
class TmuxTest : public DaemonTest {
 protected:
  void SetUp() override {
    DaemonTest::SetUp();
    if (!TmuxSession::Installed()) {
      GTEST_SKIP() << "tmux is not installed (scripts/setup.sh installs it)";
    }
  }
  void TearDown() override {
    tmux_.End();
    DaemonTest::TearDown();
  }

  TmuxSession tmux_;
};

}  // namespace aetherflow::testing

#endif  // AETHERFLOW_TESTS_INTEGRATION_TMUX_H_
