// One version number (issue 16): both binaries say the CMake project
// version, and a client that meets a daemon of another minor version says so
// once, on stderr, whatever it then does.
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/harness.h"

extern char** environ;

namespace aetherflow::testing {
namespace {

int CountOf(const std::string& text, const std::string& part) {
  int n = 0;
  for (std::size_t at = text.find(part); at != std::string::npos;
       at = text.find(part, at + part.size())) {
    ++n;
  }
  return n;
}

bool Answers(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

class VersionSkewTest : public DaemonTest {
 protected:
  // A daemon that says it is `version` (tests/tools/other_version_daemon),
  // on socket_; TearDown stops it like a real one.
  void StartOtherVersion(const std::string& version) {
    StopDaemon();  // the harness's own
    ::unlink(socket_.c_str());
    std::string tool = std::string(AETHERFLOW_TOOLS_DIR) + "/other_version_daemon";
    std::vector<char*> argv = {tool.data(), socket_.data(),
                               const_cast<char*>(version.c_str()), nullptr};
    ASSERT_EQ(posix_spawn(&daemon_pid_, tool.c_str(), nullptr, nullptr, argv.data(),
                          environ),
              0);
    for (int i = 0; i < 1000 && !Answers(socket_); ++i) {
      int status;
      ASSERT_EQ(::waitpid(daemon_pid_, &status, WNOHANG), 0) << "fake daemon died";
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_TRUE(Answers(socket_));
  }
};

TEST_F(VersionSkewTest, BothBinariesSayTheProjectVersion) {
  CliResult client = RawCli({"--version"}, {});
  EXPECT_EQ(client.exit_code, 0);
  EXPECT_EQ(client.out, std::string("aetherflow ") + AETHERFLOW_PROJECT_VERSION + "\n");
  FILE* daemon = ::popen((BinDir() + "/aetherflowd --version").c_str(), "r");
  ASSERT_NE(daemon, nullptr);
  char line[200] = {};
  ASSERT_NE(std::fgets(line, sizeof line, daemon), nullptr);
  EXPECT_EQ(::pclose(daemon), 0);
  EXPECT_EQ(std::string(line), std::string("aetherflowd ") + AETHERFLOW_PROJECT_VERSION + "\n");
}

TEST_F(VersionSkewTest, SameVersionSaysNothing) {
  CliResult ls = Cli({"ls"});
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_EQ(ls.err, "");
}

TEST_F(VersionSkewTest, OtherMinorVersionIsSaidOnce) {
  StartOtherVersion("0.99.0");
  CliResult ls = Cli({"ls"});
  EXPECT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_EQ(CountOf(ls.err, "aetherflow: warning: this client is "), 1) << ls.err;
  EXPECT_NE(ls.err.find(std::string("this client is ") + AETHERFLOW_PROJECT_VERSION +
                        " and aetherflowd at " + socket_ + " is 0.99.0: different minor"),
            std::string::npos)
      << ls.err;
  EXPECT_EQ(CountOf(ls.err, "\n"), 1) << ls.err;  // one line, nothing else
}

TEST_F(VersionSkewTest, DoctorCountsOtherMinorVersionAsAProblem) {
  StartOtherVersion("0.99.0");
  CliResult doctor = Cli({"doctor"}, {{"XDG_CONFIG_HOME", dir_}});
  EXPECT_EQ(doctor.exit_code, 1) << doctor.out << doctor.err;
  EXPECT_NE(doctor.out.find(std::string("problem  version: this client is ") +
                            AETHERFLOW_PROJECT_VERSION + " and aetherflowd at " + socket_ +
                            " is 0.99.0"),
            std::string::npos)
      << doctor.out;
  EXPECT_EQ(doctor.err, "aetherflow: doctor found 1 problem\n");  // said once
}

TEST_F(VersionSkewTest, OtherPatchVersionSaysNothing) {
  std::string version = AETHERFLOW_PROJECT_VERSION;
  version = version.substr(0, version.rfind('.')) + ".999";
  StartOtherVersion(version);
  CliResult ls = Cli({"ls"});
  EXPECT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_EQ(ls.err, "");
}

}  // namespace
}  // namespace aetherflow::testing
