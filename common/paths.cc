#include "common/paths.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace aetherflow {
namespace {

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

std::string HomeDir() {
  std::string home = Env("HOME");
  if (!home.empty()) return home;
  if (const passwd* pw = getpwuid(getuid())) return pw->pw_dir;
  return "/tmp";
}

}  // namespace

std::string DefaultSocketPath() {
  if (std::string socket = Env("AETHERFLOW_SOCKET"); !socket.empty()) {
    return socket;
  }
  if (std::string runtime = Env("XDG_RUNTIME_DIR"); !runtime.empty()) {
    return runtime + "/aetherflow/aetherflowd.sock";
  }
  struct stat st;
  if (std::string system = SystemSocketPath(); ::stat(system.c_str(), &st) == 0) {
    return system;
  }
  return "/tmp/aetherflow-" + std::to_string(getuid()) + "/aetherflowd.sock";
}

std::string SystemSocketPath() {
  std::string socket = Env("AETHERFLOW_SYSTEM_SOCKET");
  return socket.empty() ? "/run/aetherflow/aetherflowd.sock" : socket;
}

std::string FallbackSocketPath() {
  if (!Env("AETHERFLOW_SOCKET").empty() || Env("XDG_RUNTIME_DIR").empty()) return "";
  return SystemSocketPath();
}

std::string DefaultStateDir() {
  if (std::string dir = Env("AETHERFLOW_STATE_DIR"); !dir.empty()) return dir;
  if (std::string state = Env("XDG_STATE_HOME"); !state.empty()) {
    return state + "/aetherflow";
  }
  return HomeDir() + "/.local/state/aetherflow";
}

bool MakeDirs(const std::string& dir, unsigned mode) {
  for (std::size_t pos = 1; pos != std::string::npos;) {
    pos = dir.find('/', pos + 1);
    std::string prefix = dir.substr(0, pos);
    if (prefix.empty()) continue;
    if (::mkdir(prefix.c_str(), pos == std::string::npos ? mode : 0755) != 0 &&
        errno != EEXIST) {
      return false;
    }
  }
  struct stat st;
  return ::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace aetherflow
