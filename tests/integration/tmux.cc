#include "tests/integration/tmux.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "gtest/gtest.h"
#include "tests/integration/harness.h"

namespace aetherflow::testing {

bool TmuxSession::Installed() {
  return std::system("command -v tmux >/dev/null 2>&1") == 0;
}

void TmuxSession::Start(const std::string& dir, const std::string& socket,
                        const std::string& client_args, int width, int height) {
  // Each session gets its own tmux server. Reusing a name right after
  // kill-server races with the old server's exit: tmux connects to the dying
  // server and says "server exited unexpectedly".
  End();
  static int counter = 0;
  server_ = "af-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
  std::string script = dir + "/client.sh";
  std::ofstream(script) << "#!/bin/sh\n"
                        << "export LANG=C.UTF-8 LC_ALL=C.UTF-8 AETHERFLOW_NO_AUTOSTART=1\n"
                        << "cd " << dir << "\n"
                        << BinDir() << "/aetherflow --socket " << socket << " "
                        << client_args << "\n"
                        << "echo \"EXIT=$?\"\n"
                        << "sleep 600\n";
  ::chmod(script.c_str(), 0755);
  Tmux("new-session -d -s t -x " + std::to_string(width) + " -y " +
       std::to_string(height) + " " + script);
}

void TmuxSession::End() {
  if (server_.empty()) return;
  Tmux("kill-server 2>/dev/null");
  server_.clear();
}

void TmuxSession::SendKeys(const std::string& key) {
  Tmux("send-keys -t t '" + key + "'");
}

void TmuxSession::Resize(int width, int height) {
  Tmux("resize-window -t t -x " + std::to_string(width) + " -y " +
       std::to_string(height));
}

std::string TmuxSession::Screen() { return Tmux("capture-pane -p -t t"); }

std::string TmuxSession::WaitForScreen(const std::string& text) {
  std::string screen;
  for (int i = 0; i < 600; ++i) {
    screen = Screen();
    if (screen.find(text) != std::string::npos) return screen;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ADD_FAILURE() << "never saw \"" << text << "\"; screen:\n" << screen;
  return screen;
}

std::string TmuxSession::Tmux(const std::string& args) {
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

}  // namespace aetherflow::testing
