// `aetherflow doctor` (issue 16): what the client would talk to and why,
// and what in this set-up would stop a plan. Looks only; never starts a
// daemon, never prints a key.
#include <sys/statvfs.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "aetherflow/v1/aetherflow.grpc.pb.h"
#include "client/connection.h"
#include "client/ship_commands.h"
#include "common/byte_size.h"
#include "common/config.h"
#include "common/paths.h"
#include "common/version.h"

namespace aetherflow {
namespace {

namespace pb = ::aetherflow::v1;

// Below this, a daemon soon cannot write its database or logs.
constexpr int64_t kLowFreeBytes = 256LL * 1024 * 1024;

class Report {
 public:
  void Ok(const std::string& line) { std::printf("ok       %s\n", line.c_str()); }
  void Note(const std::string& line) { std::printf("note     %s\n", line.c_str()); }
  void Problem(const std::string& line) {
    std::printf("problem  %s\n", line.c_str());
    ++problems_;
  }
  int problems() const { return problems_; }

 private:
  int problems_ = 0;
};

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

// `program` in PATH, or "".
std::string InPath(const std::string& program) {
  for (absl::string_view dir : absl::StrSplit(Env("PATH"), ':', absl::SkipEmpty())) {
    std::string candidate = absl::StrCat(dir, "/", program);
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// The daemon binary the client would start: next to this one, else PATH.
std::string DaemonBinary() {
  char self[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    self[n] = '\0';
    std::string dir(self);
    dir.resize(dir.rfind('/'));
    if (::access((dir + "/aetherflowd").c_str(), X_OK) == 0) return dir + "/aetherflowd";
  }
  return InPath("aetherflowd");
}

std::string WhySocket(const GlobalOptions& global) {
  if (global.socket_given) return "--socket";
  if (!Env("AETHERFLOW_SOCKET").empty()) return "$AETHERFLOW_SOCKET";
  if (global.socket == SystemSocketPath()) return "the system service's socket";
  if (!Env("XDG_RUNTIME_DIR").empty()) return "your user daemon's, in $XDG_RUNTIME_DIR";
  return "your user daemon's, without $XDG_RUNTIME_DIR";
}

std::string Space(int64_t bytes) { return FormatByteSize(bytes); }

void CheckFreeSpace(Report& report, const std::string& dir, int64_t free_bytes) {
  const std::string line = absl::StrCat("state directory ", dir, ": ", Space(free_bytes), " free");
  if (free_bytes < kLowFreeBytes) {
    report.Problem(absl::StrCat(line, " (below ", Space(kLowFreeBytes),
                                "; runs' logs and the database need room)"));
  } else {
    report.Ok(line);
  }
}

// The state directory a daemon started now would use, or its nearest
// existing parent for the free space.
void CheckLocalStateDir(Report& report) {
  const std::string dir = DefaultStateDir();
  std::string existing = dir;
  while (!existing.empty() && ::access(existing.c_str(), F_OK) != 0) {
    existing.resize(existing.rfind('/') == 0 ? 1 : existing.rfind('/'));
    if (existing == "/") break;
  }
  if (::access(existing.c_str(), W_OK) != 0) {
    report.Problem(absl::StrCat("state directory ", dir, ": ", existing,
                                " is not writable for you, so a daemon cannot start there"));
    return;
  }
  struct statvfs fs {};
  if (::statvfs(existing.c_str(), &fs) == 0) {
    CheckFreeSpace(report, dir, static_cast<int64_t>(fs.f_bavail) *
                                    static_cast<int64_t>(fs.f_frsize));
  }
}

// Which daemon, its version and its state directory.
void CheckDaemon(Report& report, const GlobalOptions& global, bool* system_daemon) {
  std::unique_ptr<Connection> connection;
  if (global.remote.enabled()) {
    absl::StatusOr<std::unique_ptr<Connection>> opened = Connection::OpenRemote(global.remote);
    if (!opened.ok()) {
      report.Problem(absl::StrCat("daemon: ", opened.status().message()));
      return;
    }
    report.Ok(absl::StrCat("daemon: ", global.remote.address,
                           " over TCP (--connect or $AETHERFLOW_CONNECT), answers"));
    connection = std::move(*opened);
  } else {
    std::string socket = global.socket;
    std::string why = WhySocket(global);
    bool answers = SocketAnswers(socket);
    if (!answers && !global.fallback_socket.empty() && SocketAnswers(global.fallback_socket)) {
      why = absl::StrCat("the system service's: nothing answers on ", socket);
      socket = global.fallback_socket;
      answers = true;
    }
    *system_daemon = socket == SystemSocketPath();
    if (!answers) {
      const std::string no_autostart = Env("AETHERFLOW_NO_AUTOSTART");
      if (global.socket_given || no_autostart == "1") {
        report.Problem(absl::StrCat("daemon: nothing answers at ", socket, " (", why,
                                    "), and the client starts none with ",
                                    global.socket_given ? "--socket"
                                                        : "AETHERFLOW_NO_AUTOSTART=1"));
      } else if (const std::string binary = DaemonBinary(); binary.empty()) {
        report.Problem(absl::StrCat("daemon: nothing answers at ", socket, " (", why,
                                    "), and there is no aetherflowd to start (not next to "
                                    "this client, not in PATH)"));
      } else {
        report.Ok(absl::StrCat("daemon: none running at ", socket, " (", why,
                               "); the next command starts ", binary));
      }
      report.Ok(absl::StrCat("version: aetherflow ", Version()));
      CheckLocalStateDir(report);
      return;
    }
    absl::StatusOr<std::unique_ptr<Connection>> opened = Connection::Open(socket, false);
    if (!opened.ok()) {
      report.Problem(absl::StrCat("daemon: ", opened.status().message()));
      return;
    }
    report.Ok(absl::StrCat("daemon: ", socket, " (", why, "), answers"));
    connection = std::move(*opened);
  }
  pb::GetVersionResponse info;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Status status = connection->stub()->GetVersion(&context, pb::GetVersionRequest(), &info);
  if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
    report.Problem(absl::StrCat("version: aetherflow ", Version(),
                                ", and the daemon is older than GetVersion (0.1.0): "
                                "restart it with this version"));
    return;
  }
  if (!status.ok()) {
    report.Problem(DescribeError(status, connection->where()).substr(sizeof "aetherflow: " - 1));
    return;
  }
  const std::string skew = VersionSkew(Version(), info.version(), connection->where());
  if (skew.empty()) {
    report.Ok(absl::StrCat("version: aetherflow ", Version(), ", aetherflowd ", info.version()));
  } else {
    report.Problem(absl::StrCat("version: ", skew));
  }
  if (!info.state_dir().empty()) {
    CheckFreeSpace(report, info.state_dir(), info.state_dir_free_bytes());
  }
}

// The configuration file, and each provider's key as this environment has
// it (a daemon started from here gets the same; a running one has its own).
void CheckConfig(Report& report, const GlobalOptions& global, bool system_daemon) {
  const std::string path =
      !global.config.empty() ? global.config : DefaultConfigPath(system_daemon);
  Config config = BuiltinConfig();
  absl::StatusOr<Config> loaded = LoadConfigFile(path);
  if (loaded.ok()) {
    report.Ok(absl::StrCat("config: ", path));
    config = *loaded;
  } else if (absl::IsNotFound(loaded.status()) && global.config.empty()) {
    report.Ok(absl::StrCat("config: ", path, " does not exist (the built-in providers apply)"));
  } else {
    for (absl::string_view line : absl::StrSplit(loaded.status().message(), '\n')) {
      if (!line.empty()) report.Problem(absl::StrCat("config: ", line));
    }
  }
  GetenvFn getenv = [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
  for (const auto& [name, provider] : config.providers) {
    if (!provider.needs_key) {
      report.Ok(absl::StrCat("provider ", name, ": needs no key"));
      continue;
    }
    absl::StatusOr<std::string> key = ProviderKey(provider, getenv);
    if (key.ok()) {
      const bool from_env = !provider.api_key_env.empty() && getenv(provider.api_key_env);
      report.Ok(absl::StrCat("provider ", name, ": key present (",
                             from_env ? "$" + provider.api_key_env : provider.api_key_file,
                             ")"));
    } else {
      report.Note(absl::StrCat("provider ", name, ": key missing (set $", provider.api_key_env,
                               " or api_key_file; only its LLM steps need it)"));
    }
  }
}

void CheckTools(Report& report, const GlobalOptions& global) {
  if (const std::string sbatch = InPath("sbatch"); !sbatch.empty()) {
    report.Ok(absl::StrCat("slurm: ", sbatch));
  } else {
    report.Note("slurm: no sbatch in PATH (only Slurm plans need it)");
  }
  std::string terminal;
  if (!global.stdout_tty) {
    terminal = "not a terminal: plain lines, no colours";
  } else {
    terminal = absl::StrCat("TERM=", Env("TERM").empty() ? "(unset)" : Env("TERM"), ", ",
                            global.utf8 ? "UTF-8" : "not UTF-8 (the monitor draws ASCII)",
                            ", ", global.color ? "colours" : "no colours");
    if (!Env("NO_COLOR").empty()) terminal += " (NO_COLOR)";
  }
  if (global.stdout_tty && !global.utf8) report.Note(absl::StrCat("terminal: ", terminal));
  else report.Ok(absl::StrCat("terminal: ", terminal));
}

}  // namespace

int CmdDoctor(const GlobalOptions& global) {
  SuppressVersionWarning();  // doctor says it in its own line
  Report report;
  bool system_daemon = false;
  CheckDaemon(report, global, &system_daemon);
  CheckConfig(report, global, system_daemon);
  CheckTools(report, global);
  std::fflush(stdout);
  if (report.problems() > 0) {
    std::fprintf(stderr, "aetherflow: doctor found %d problem%s\n", report.problems(),
                 report.problems() == 1 ? "" : "s");
    return kExitFailed;
  }
  return kExitOk;
}

}  // namespace aetherflow
