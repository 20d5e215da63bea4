// aetherflowd: the AetherFlow daemon. Parses options and wires the pieces.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "common/paths.h"
#include "daemon/engine.h"
#include "daemon/event_hub.h"
#include "daemon/log.h"
#include "daemon/process_runner.h"
#include "daemon/server.h"
#include "daemon/state_store.h"

namespace {

using aetherflow::LogError;
using aetherflow::LogInfo;

// True when something accepts connections on the Unix socket `path`.
bool SocketAnswers(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  bool answers = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return answers;
}

int Fail(const std::string& message) {
  LogError(message);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"aetherflowd: runs AetherFlow plans and records every state change"};
  std::string socket_path = aetherflow::DefaultSocketPath();
  std::string state_dir = aetherflow::DefaultStateDir();
  std::string config;
  int max_parallel = 0;
  bool foreground = false;
  int64_t kill_grace_ms = 5000;
  app.add_option("--socket", socket_path, "Unix socket to listen on")
      ->capture_default_str();
  app.add_option("--state-dir", state_dir, "database and logs")
      ->capture_default_str();
  app.add_option("--config", config, "TOML configuration file");
  app.add_option("--max-parallel", max_parallel,
                 "steps running at once over all runs (default: CPUs + 2)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--kill-grace-ms", kill_grace_ms,
                 "SIGTERM to SIGKILL delay when a step is stopped")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_flag("--foreground", foreground,
               "stay in the foreground (always the case; kept for scripts)");
  app.set_version_flag("--version", "aetherflowd 0.1.0");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  // Signals are taken synchronously by this thread (sigwait); every thread
  // created from here on inherits the block. Steps get a clean mask from
  // the process runner.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  if (!aetherflow::MakeDirs(state_dir, 0700)) {
    return Fail(absl::StrCat("cannot create state directory ", state_dir, ": ",
                             std::strerror(errno)));
  }
  // One daemon per state directory.
  std::string lock_path = state_dir + "/aetherflowd.lock";
  int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0 || ::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    return Fail(absl::StrCat("another aetherflowd is using ", state_dir));
  }
  std::string socket_dir = socket_path.substr(0, socket_path.rfind('/'));
  if (!socket_dir.empty() && !aetherflow::MakeDirs(socket_dir, 0700)) {
    return Fail(absl::StrCat("cannot create ", socket_dir, ": ",
                             std::strerror(errno)));
  }
  if (SocketAnswers(socket_path)) {
    return Fail(absl::StrCat("another aetherflowd is listening on ", socket_path));
  }
  ::unlink(socket_path.c_str());  // stale, from a daemon that died

  // Configuration: --config, else the user's (or, for root with the system
  // socket, /etc/aetherflow/aetherflowd.toml) when it exists, else built-ins.
  bool explicit_config = !config.empty();
  if (!explicit_config) {
    config = aetherflow::DefaultConfigPath(::getuid() == 0 &&
                                           socket_path.rfind("/run/aetherflow/", 0) == 0);
  }
  auto load_config = [&]() -> absl::StatusOr<aetherflow::Config> {
    absl::StatusOr<aetherflow::Config> loaded = aetherflow::LoadConfigFile(config);
    if (!loaded.ok() && absl::IsNotFound(loaded.status()) && !explicit_config) {
      return aetherflow::BuiltinConfig();
    }
    return loaded;
  };
  absl::StatusOr<aetherflow::Config> loaded_config = load_config();
  if (!loaded_config.ok()) return Fail(std::string(loaded_config.status().message()));

  auto store = aetherflow::StateStore::Open(state_dir + "/aetherflow.db");
  if (!store.ok()) return Fail(store.status().ToString());
  aetherflow::EventHub hub;
  aetherflow::EngineOptions options;
  options.state_dir = state_dir;
  options.max_parallel = max_parallel;
  options.kill_grace_ms = kill_grace_ms;
  options.uid = ::getuid();
  if (max_parallel == 0) options.max_parallel = loaded_config->max_parallel;
  options.config = *loaded_config;
  options.getenv = [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    return value ? std::optional<std::string>(value) : std::nullopt;
  };
  auto engine = aetherflow::Engine::Start(options, store->get(), &hub,
                                          aetherflow::NewPosixProcessRunner());
  if (!engine.ok()) return Fail(engine.status().ToString());
  aetherflow::ServerOptions server_options;
  server_options.socket_path = socket_path;
  auto server = aetherflow::Server::Start(server_options, engine->get(),
                                          store->get(), &hub);
  if (!server.ok()) return Fail(server.status().ToString());
  LogInfo(absl::StrCat("listening on ", socket_path, ", state in ", state_dir,
                       ", configuration ", loaded_config->source));
  sd_notify(0, "READY=1");

  while (true) {
    int signal = 0;
    sigwait(&signals, &signal);
    if (signal == SIGHUP) {
      sd_notify(0, "RELOADING=1");
      absl::StatusOr<aetherflow::Config> reloaded = load_config();
      if (reloaded.ok()) {
        (*engine)->ReloadConfig(*reloaded);
      } else {
        LogError(absl::StrCat("SIGHUP: keeping the old configuration: ",
                              reloaded.status().message()));
      }
      sd_notify(0, "READY=1");
      continue;
    }
    LogInfo(absl::StrCat("received ", strsignal(signal), ", stopping"));
    break;
  }
  sd_notify(0, "STOPPING=1");
  (*engine)->Stop();
  (*server)->Shutdown();
  ::unlink(socket_path.c_str());
  LogInfo("stopped");
  return 0;
}
