// Where the client and the daemon look for the socket (SPEC §1), and where
// the client turns when the user's own daemon is not there.
#include "common/paths.h"

#include <unistd.h>

#include <cstdlib>
#include <map>
#include <optional>
#include <string>

#include "gtest/gtest.h"

namespace aetherflow {
namespace {

// Sets (or, with nullopt, unsets) variables for one test and puts back what
// was there.
class ScopedEnv {
 public:
  explicit ScopedEnv(std::map<std::string, std::optional<std::string>> vars) {
    for (const auto& [name, value] : vars) {
      const char* old = std::getenv(name.c_str());
      saved_[name] = old ? std::optional<std::string>(old) : std::nullopt;
      Set(name, value);
    }
  }
  ~ScopedEnv() {
    for (const auto& [name, value] : saved_) Set(name, value);
  }

 private:
  static void Set(const std::string& name, const std::optional<std::string>& value) {
    if (value) {
      ::setenv(name.c_str(), value->c_str(), 1);
    } else {
      ::unsetenv(name.c_str());
    }
  }
  std::map<std::string, std::optional<std::string>> saved_;
};

TEST(PathsTest, ANamedSocketWinsAndHasNoFallback) {
  ScopedEnv env({{"AETHERFLOW_SOCKET", "/srv/af.sock"},
                 {"XDG_RUNTIME_DIR", "/run/user/1000"},
                 {"AETHERFLOW_SYSTEM_SOCKET", std::nullopt}});
  EXPECT_EQ(DefaultSocketPath(), "/srv/af.sock");
  EXPECT_EQ(FallbackSocketPath(), "");
}

TEST(PathsTest, ALoginSessionUsesItsUserSocketAndFallsBackToTheSystemOne) {
  ScopedEnv env({{"AETHERFLOW_SOCKET", std::nullopt},
                 {"XDG_RUNTIME_DIR", "/run/user/1000"},
                 {"AETHERFLOW_SYSTEM_SOCKET", std::nullopt}});
  EXPECT_EQ(DefaultSocketPath(), "/run/user/1000/aetherflow/aetherflowd.sock");
  EXPECT_EQ(FallbackSocketPath(), "/run/aetherflow/aetherflowd.sock");
}

TEST(PathsTest, TheSystemSocketCanBeMovedAndIsUsedWhenItExists) {
  ScopedEnv env({{"AETHERFLOW_SOCKET", std::nullopt},
                 {"XDG_RUNTIME_DIR", std::nullopt},
                 {"AETHERFLOW_SYSTEM_SOCKET", "/proc/self/status"}});  // exists
  EXPECT_EQ(SystemSocketPath(), "/proc/self/status");
  EXPECT_EQ(DefaultSocketPath(), "/proc/self/status");
  EXPECT_EQ(FallbackSocketPath(), "") << "already the system socket";
}

TEST(PathsTest, WithoutASessionOrAServiceTheSocketIsPerUserInTmp) {
  ScopedEnv env({{"AETHERFLOW_SOCKET", std::nullopt},
                 {"XDG_RUNTIME_DIR", std::nullopt},
                 {"AETHERFLOW_SYSTEM_SOCKET", "/nonexistent/aetherflowd.sock"}});
  EXPECT_EQ(DefaultSocketPath(),
            "/tmp/aetherflow-" + std::to_string(::getuid()) + "/aetherflowd.sock");
  EXPECT_EQ(FallbackSocketPath(), "");
}

}  // namespace
}  // namespace aetherflow
