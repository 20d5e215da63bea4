// aetherflowd: the AetherFlow daemon. Parses options and wires the pieces.
#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <grp.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "absl/synchronization/mutex.h"
#include "absl/strings/str_cat.h"
#include "daemon/caller.h"
#include "daemon/listener.h"
#include "common/config.h"
#include "common/paths.h"
#include "common/version.h"
#include "client/cli_doc.h"
#include "daemon/capacity.h"
#include "daemon/engine.h"
#include "daemon/event_hub.h"
#include "daemon/log.h"
#include "daemon/process_runner.h"
#include "daemon/server.h"
#include "daemon/state_store.h"

namespace {

using aetherflow::LogError;
using aetherflow::LogInfo;
using aetherflow::LogWarning;

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

// The bearer token for TCP callers: a file only its owner can read.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    return absl::NotFoundError(
        absl::StrCat("token file ", path, ": ", std::strerror(errno)));
  }
  struct stat st;
  std::string token;
  bool safe = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
              (st.st_mode & 077) == 0 &&
              (st.st_uid == ::getuid() || st.st_uid == 0);
  if (safe) {
    char buffer[4096];
    ssize_t n;
    while ((n = ::read(fd, buffer, sizeof buffer)) > 0 && token.size() < 65536) {
      token.append(buffer, n);
    }
  }
  ::close(fd);
  if (!safe) {
    return absl::PermissionDeniedError(absl::StrCat(
        "token file ", path, " must be a regular file of ours readable by us "
        "alone (chmod 600 ", path, ")"));
  }
  token = std::string(absl::StripAsciiWhitespace(token));
  if (token.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("token file ", path, " is empty"));
  }
  return token;
}

// The host part of HOST:PORT, [V6]:PORT.
std::string HostOf(const std::string& address) {
  if (!address.empty() && address[0] == '[') {
    return address.substr(1, address.find(']') - 1);
  }
  return address.substr(0, address.rfind(':'));
}

// A literal loopback address, or "localhost"; a name that merely starts
// with "127." is not one.
bool IsLoopback(const std::string& host) {
  if (host == "localhost") return true;
  in_addr v4;
  in6_addr v6;
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  return inet_pton(AF_INET6, host.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

absl::StatusOr<std::string> ReadPem(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().find("-----BEGIN") == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(what, " ", path, " is not PEM"));
  }
  return text.str();
}

// The gid of `name`, nullopt if there is no such group.
std::optional<gid_t> GroupId(const std::string& name) {
  std::vector<char> buffer(16384);
  group gr;
  group* found = nullptr;
  if (getgrnam_r(name.c_str(), &gr, buffer.data(), buffer.size(), &found) != 0 ||
      found == nullptr) {
    return std::nullopt;
  }
  return gr.gr_gid;
}

// systemd's watchdog (WatchdogSec=): pings at half the interval, and only
// while the engine thread answers, so a stuck engine gets the daemon
// restarted.
class Watchdog {
 public:
  explicit Watchdog(aetherflow::Engine* engine) {
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return;
    auto interval = std::chrono::microseconds(usec / 2);
    thread_ = std::thread([this, engine, interval] {
      std::unique_lock<std::mutex> lock(mu_);
      while (!stop_) {
        auto alive = std::make_shared<std::atomic<bool>>(false);
        auto deadline = std::chrono::steady_clock::now() + interval;
        lock.unlock();
        engine->Ping([this, alive] {
          alive->store(true);
          std::lock_guard<std::mutex> l(mu_);
          cv_.notify_all();
        });
        lock.lock();
        cv_.wait_until(lock, deadline, [&] { return stop_ || alive->load(); });
        if (stop_) break;
        if (alive->load()) sd_notify(0, "WATCHDOG=1");
        cv_.wait_until(lock, deadline, [&] { return stop_; });
      }
    });
  }
  ~Watchdog() { Stop(); }
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace

int main(int argc, char** argv) {
  // Debian's Abseil checks every Mutex acquisition for lock-order cycles (a
  // debugging aid: a global graph updated under a global lock), and gRPC
  // takes several per call (GraphCycles was 3 % of what a call cost). The
  // daemon's own locks are std::mutex, which it never checked.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  CLI::App app{"aetherflowd: runs AetherFlow plans and records every state change"};
  std::string socket_path = aetherflow::DefaultSocketPath();
  std::string state_dir = aetherflow::DefaultStateDir();
  std::string config;
  int max_parallel = 0;
  bool foreground = false;
  int64_t kill_grace_ms = 5000;
  std::string socket_group;
  std::string listen_address, tls_cert, tls_key, token_file, remote_user;
  bool insecure_plaintext = false;
  int max_runs_per_user = 100;
  app.add_option("--socket", socket_path,
                 "Unix socket to listen on (unless systemd passes one)")
      ->capture_default_str();
  app.add_option("--socket-group", socket_group,
                 "group allowed to use the socket (0660); default for root: "
                 "aetherflow, when it exists");
  app.add_option("--listen", listen_address,
                 "also serve over TCP on HOST:PORT (needs --token-file, and TLS "
                 "or --insecure-plaintext on loopback)");
  app.add_option("--tls-cert", tls_cert, "TLS certificate chain (PEM) for --listen");
  app.add_option("--tls-key", tls_key, "TLS private key (PEM) for --listen");
  app.add_option("--token-file", token_file,
                 "bearer token that TCP callers must present (file mode 0600)");
  app.add_flag("--insecure-plaintext", insecure_plaintext,
               "allow --listen without TLS, on a loopback address only");
  app.add_option("--remote-user", remote_user,
                 "the user TCP callers act as (default: the daemon's own)");
  app.add_option("--max-runs-per-user", max_runs_per_user,
                 "runs queued or running per user; 0: no limit")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--state-dir", state_dir, "database and logs")
      ->capture_default_str();
  app.add_option("--config", config, "TOML configuration file");
  app.add_option("--max-parallel", max_parallel,
                 "steps running at once over all runs (default: CPUs + 2)")
      ->check(CLI::NonNegativeNumber);
  std::string resources_spec;
  CLI::Option* resources_option = app.add_option(
      "--resources", resources_spec,
      "capacity for steps' resources, e.g. cpu=16,mem=64G,gpu=2 (default: "
      "[resources] in the config, else the machine's CPUs, memory and GPUs)");
  app.add_option("--kill-grace-ms", kill_grace_ms,
                 "SIGTERM to SIGKILL delay when a step is stopped")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_flag("--foreground", foreground,
               "stay in the foreground (always the case; kept for scripts)");
  app.set_version_flag("--version", absl::StrCat("aetherflowd ", aetherflow::Version()));
  // The man page's OPTIONS section (aetherflowd(8)), from this definition.
  bool manual = false;
  app.add_flag("--manual", manual)->group("");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (manual) {
    std::cout << aetherflow::ManualSections(app);
    return 0;
  }
  aetherflow::ResourceCapacity resources_flag;
  if (*resources_option) {
    absl::StatusOr<aetherflow::ResourceCapacity> parsed =
        aetherflow::ParseResourceSpec(resources_spec);
    if (!parsed.ok()) {
      LogError(absl::StrCat("--resources: ", parsed.status().message()));
      return 2;
    }
    resources_flag = *parsed;
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
  // Remote access is checked before anything listens.
  aetherflow::ServerOptions server_options;
  server_options.state_dir = state_dir;
  if (!listen_address.empty()) {
    if (token_file.empty()) return Fail("--listen needs --token-file");
    absl::StatusOr<std::string> token = ReadTokenFile(token_file);
    if (!token.ok()) return Fail(std::string(token.status().message()));
    server_options.token = *token;
    if (tls_cert.empty() != tls_key.empty()) {
      return Fail("--tls-cert and --tls-key go together");
    }
    if (tls_cert.empty()) {
      if (!insecure_plaintext) {
        return Fail("--listen needs --tls-cert and --tls-key (or, on loopback "
                    "only, --insecure-plaintext)");
      }
      if (!IsLoopback(HostOf(listen_address))) {
        return Fail(absl::StrCat("--insecure-plaintext is only allowed on a "
                                 "loopback address, not ", listen_address));
      }
    } else {
      absl::StatusOr<std::string> cert = ReadPem(tls_cert, "TLS certificate");
      if (!cert.ok()) return Fail(std::string(cert.status().message()));
      absl::StatusOr<std::string> key = ReadPem(tls_key, "TLS key");
      if (!key.ok()) return Fail(std::string(key.status().message()));
      server_options.tls_cert_pem = *cert;
      server_options.tls_key_pem = *key;
    }
    absl::StatusOr<aetherflow::Caller> remote =
        remote_user.empty() ? aetherflow::CallerForUid(::getuid())
                            : aetherflow::CallerForUser(remote_user);
    if (!remote.ok()) return Fail(absl::StrCat("--remote-user: ", remote.status().message()));
    if (::getuid() != 0 && remote->uid != ::getuid()) {
      return Fail("--remote-user: only a root daemon can act as another user");
    }
    server_options.remote_user = *remote;
    server_options.tcp_address = listen_address;
  } else if (!tls_cert.empty() || !tls_key.empty() || insecure_plaintext ||
             !remote_user.empty()) {
    return Fail("--tls-cert, --tls-key, --insecure-plaintext and --remote-user "
                "go with --listen");
  }

  // The Unix socket: the one systemd passed (socket activation), else ours.
  std::unique_ptr<aetherflow::Listener> listener;
  int passed = sd_listen_fds(1);
  if (passed > 0) {
    auto adopted = aetherflow::Listener::Adopt(SD_LISTEN_FDS_START);
    if (!adopted.ok()) return Fail(std::string(adopted.status().message()));
    listener = std::move(*adopted);
    socket_path = listener->path();
  } else {
    bool root = ::getuid() == 0;
    std::string socket_dir = socket_path.substr(0, socket_path.rfind('/'));
    if (!socket_dir.empty() && !aetherflow::MakeDirs(socket_dir, root ? 0755 : 0700)) {
      return Fail(absl::StrCat("cannot create ", socket_dir, ": ",
                               std::strerror(errno)));
    }
    if (SocketAnswers(socket_path)) {
      return Fail(absl::StrCat("another aetherflowd is listening on ", socket_path));
    }
    // Root serves everyone in the group (SPEC §7: 0660, group aetherflow);
    // each call is still tied to its caller's uid.
    gid_t gid = static_cast<gid_t>(-1);
    if (root && socket_group.empty()) socket_group = "aetherflow";
    if (!socket_group.empty()) {
      std::optional<gid_t> found = GroupId(socket_group);
      if (found.has_value()) {
        gid = *found;
      } else if (root && socket_group == "aetherflow") {
        aetherflow::LogWarning("no group aetherflow: only root can use the socket "
                               "(see systemd/aetherflow.sysusers.conf)");
      } else {
        return Fail(absl::StrCat("--socket-group: no group \"", socket_group, "\""));
      }
    }
    auto bound = aetherflow::Listener::Bind(
        socket_path, gid == static_cast<gid_t>(-1) ? 0600 : 0660, gid);
    if (!bound.ok()) return Fail(std::string(bound.status().message()));
    listener = std::move(*bound);
  }

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
  options.max_runs_per_user = max_runs_per_user;
  if (max_parallel == 0) options.max_parallel = loaded_config->max_parallel;
  options.config = *loaded_config;
  options.config_path = config;
  const aetherflow::Capacity detected = aetherflow::DetectCapacity();
  options.capacity = aetherflow::ResolveCapacity(
      resources_flag, loaded_config->resources, detected);
  options.getenv = [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    return value ? std::optional<std::string>(value) : std::nullopt;
  };
  auto engine = aetherflow::Engine::Start(options, store->get(), &hub,
                                          aetherflow::NewPosixProcessRunner());
  if (!engine.ok()) return Fail(engine.status().ToString());
  server_options.listener = listener.get();
  auto server = aetherflow::Server::Start(server_options, engine->get(),
                                          store->get(), &hub);
  if (!server.ok()) return Fail(std::string(server.status().message()));
  LogInfo(absl::StrCat("listening on ", socket_path,
                       passed > 0 ? " (from systemd)" : "", ", state in ", state_dir,
                       ", configuration ", loaded_config->source));
  LogInfo(absl::StrCat("resources: ", aetherflow::DescribeCapacity(options.capacity)));
  if (!listen_address.empty()) {
    LogInfo(absl::StrCat("listening on TCP ", HostOf(listen_address), ":",
                         (*server)->tcp_port(),
                         server_options.tls_cert_pem.empty() ? " (plaintext)" : " (TLS)"));
  }
  sd_notify(0, "READY=1");
  Watchdog watchdog(engine->get());

  while (true) {
    int signal = 0;
    sigwait(&signals, &signal);
    if (signal == SIGHUP) {
      sd_notify(0, "RELOADING=1");
      absl::StatusOr<aetherflow::Config> reloaded = load_config();
      if (reloaded.ok()) {
        // [resources] applies to steps that start from now on; --resources
        // still wins over it.
        const aetherflow::Capacity capacity = aetherflow::ResolveCapacity(
            resources_flag, reloaded->resources, detected);
        LogInfo(absl::StrCat("resources: ", aetherflow::DescribeCapacity(capacity)));
        (*engine)->ReloadConfig(*reloaded, capacity);
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
  watchdog.Stop();
  (*engine)->Stop();
  (*server)->Shutdown();
  LogInfo("stopped");
  return 0;
}
