// systemd integration: the units as `cmake --install` writes them pass
// `systemd-analyze verify`, the daemon serves on a socket systemd passes
// (LISTEN_FDS), and it tells systemd where it stands (sd_notify: READY,
// WATCHDOG, RELOADING, STOPPING). Real binaries, real processes; systemd
// itself need not run (in a container it is not PID 1).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/harness.h"

extern char** environ;

namespace aetherflow::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

// Generous: a loaded CI machine is slow, and no test here measures time.
constexpr auto kPatience = std::chrono::seconds(60);

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// This process's environment as NAME -> value, without what would make a
// child believe it runs under systemd or talk to another daemon.
std::map<std::string, std::string> CleanEnvironment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string entry(*e);
    std::size_t eq = entry.find('=');
    if (eq == std::string::npos) continue;
    std::string name = entry.substr(0, eq);
    if (name.find("API_KEY") != std::string::npos) continue;
    env[name] = entry.substr(eq + 1);
  }
  for (const char* name :
       {"LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "NOTIFY_SOCKET", "WATCHDOG_USEC",
        "WATCHDOG_PID", "AETHERFLOW_SOCKET", "AETHERFLOW_STATE_DIR", "DESTDIR"}) {
    env.erase(name);
  }
  return env;
}

struct ProgramResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `argv` (looked up in PATH) with this process's clean environment plus
// `env`, output captured through files in `scratch_dir`; waits for it.
ProgramResult RunProgram(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& env,
                         const std::string& scratch_dir) {
  static int counter = 0;
  std::string base = scratch_dir + "/prog" + std::to_string(++counter);
  std::map<std::string, std::string> all = CleanEnvironment();
  for (const auto& [k, v] : env) all[k] = v;
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : all) env_strings.push_back(k + "=" + v);
  std::vector<char*> cargv, cenv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const auto& e : env_strings) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, (base + ".out").c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, (base + ".err").c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, cargv[0], &actions, nullptr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&actions);
  ProgramResult result;
  if (rc != 0) {
    result.err = std::string("cannot start ") + argv[0] + ": " + std::strerror(rc);
    return result;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = Slurp(base + ".out");
  result.err = Slurp(base + ".err");
  return result;
}

std::string Describe(const std::vector<std::string>& argv, const ProgramResult& r) {
  std::string text = "$";
  for (const auto& a : argv) text += " " + a;
  return text + "\nexit " + std::to_string(r.exit_code) + "\nstdout:\n" + r.out +
         "\nstderr:\n" + r.err;
}

// Every value of `key` in `section` of a unit file, in order (systemd
// applies them in order; an empty assignment resets a list).
std::vector<std::string> UnitValues(const std::string& unit_text,
                                    const std::string& section, const std::string& key) {
  std::vector<std::string> values;
  std::istringstream lines(unit_text);
  std::string line, current;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line[0] == '[') {
      current = line.substr(1, line.find(']') - 1);
      continue;
    }
    std::size_t eq = line.find('=');
    if (current == section && eq != std::string::npos && line.substr(0, eq) == key) {
      values.push_back(line.substr(eq + 1));
    }
  }
  return values;
}

std::string LastValue(const std::string& unit_text, const std::string& section,
                      const std::string& key) {
  std::vector<std::string> values = UnitValues(unit_text, section, key);
  return values.empty() ? "" : values.back();
}

// ---------------------------------------------------------------------------
// The installed units.

class SystemdInstallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/af-sd-install-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    for (const char* tool : {"systemd-analyze", "systemd-sysusers"}) {
      ProgramResult found = RunProgram({"sh", "-c", std::string("command -v ") + tool},
                                       {}, dir_);
      ASSERT_EQ(found.exit_code, 0)
          << tool << " is missing: install the Debian package systemd "
          << "(scripts/setup.sh does)";
    }
  }
  void TearDown() override {
    std::error_code ignored;
    if (!HasFailure()) fs::remove_all(dir_, ignored);
    else std::fprintf(stderr, "test files kept in %s\n", dir_.c_str());
  }

  // `cmake --install` of this build into `prefix`, under `destdir` if not
  // empty. Only the default component: cmake then writes
  // install_manifest_Unspecified.txt, not the install_manifest.txt of a real
  // installation someone may want to uninstall with. Test processes run in
  // parallel and share the build directory, hence the lock.
  void Install(const std::string& prefix, const std::string& destdir = "") {
    std::string lock_path = std::string(AETHERFLOW_BUILD_DIR) + "/systemd_test.lock";
    int lock = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    ASSERT_GE(lock, 0) << lock_path << ": " << std::strerror(errno);
    ::flock(lock, LOCK_EX);
    std::vector<std::string> argv = {AETHERFLOW_CMAKE, "--install", AETHERFLOW_BUILD_DIR,
                                     "--component", "Unspecified", "--prefix", prefix};
    std::map<std::string, std::string> env;
    if (!destdir.empty()) env["DESTDIR"] = destdir;
    ProgramResult r = RunProgram(argv, env, dir_);
    ::close(lock);
    ASSERT_EQ(r.exit_code, 0) << Describe(argv, r);
  }

  // `systemd-analyze verify` of one unit file. `root`: look for the unit's
  // programs under this root (a DESTDIR install); `user`: as a user unit.
  // verify exits 0 even on errors unless told otherwise: --recursive-errors=no
  // makes errors in the named unit fail it (not those of units it merely
  // mentions, which belong to the host). --man=no: no man pages here.
  ProgramResult Verify(const std::string& unit, bool user = false,
                       const std::string& root = "") {
    std::vector<std::string> argv = {"systemd-analyze"};
    if (user) argv.push_back("--user");
    argv.insert(argv.end(), {"verify", "--man=no", "--recursive-errors=no"});
    if (!root.empty()) argv.push_back("--root=" + root);
    argv.push_back(unit);
    std::map<std::string, std::string> env;
    if (user) {
      // A user manager needs a runtime directory (%t), even offline.
      std::string runtime = dir_ + "/xdg-runtime";
      fs::create_directories(runtime);
      fs::permissions(runtime, fs::perms::owner_all);
      env["XDG_RUNTIME_DIR"] = runtime;
    }
    ProgramResult r = RunProgram(argv, env, dir_);
    last_command_ = Describe(argv, r);
    return r;
  }

  // The unit passed: exit 0 and not a word about any of our units.
  void ExpectVerified(const std::string& unit, bool user = false,
                      const std::string& root = "") {
    ProgramResult r = Verify(unit, user, root);
    EXPECT_EQ(r.exit_code, 0) << last_command_;
    EXPECT_EQ((r.out + r.err).find("aetherflow"), std::string::npos) << last_command_;
  }

  std::string dir_;
  std::string last_command_;
};

TEST_F(SystemdInstallTest, SystemUnitsInstalledUnderUsrPassVerify) {
  // As a package would: prefix /usr, staged under DESTDIR.
  std::string root = dir_ + "/root";
  Install("/usr", root);
  if (HasFatalFailure()) return;
  std::string units = root + "/usr/lib/systemd/system";
  for (const std::string& path :
       {root + "/usr/bin/aetherflowd", root + "/usr/bin/aetherflow",
        units + "/aetherflowd.service", units + "/aetherflowd.socket",
        root + "/usr/lib/systemd/user/aetherflowd.service",
        root + "/usr/lib/systemd/user/aetherflowd.socket",
        root + "/usr/lib/sysusers.d/aetherflow.conf"}) {
    EXPECT_TRUE(fs::exists(path)) << path;
  }
  std::string service = Slurp(units + "/aetherflowd.service");
  std::string exec_start = LastValue(service, "Service", "ExecStart");
  EXPECT_EQ(exec_start.rfind("/usr/bin/aetherflowd ", 0), 0u)
      << "ExecStart names the final path, not the staging one: " << exec_start;
  EXPECT_EQ(service.find(root), std::string::npos) << "no DESTDIR in the units";
  EXPECT_EQ(service.find("@AETHERFLOW_"), std::string::npos) << "a template variable is left";

  ExpectVerified(units + "/aetherflowd.service", false, root);
  ExpectVerified(units + "/aetherflowd.socket", false, root);

  // systemd-sysusers finds the file there and makes the socket's group.
  std::vector<std::string> argv = {"systemd-sysusers", "--root=" + root, "--dry-run"};
  ProgramResult sysusers = RunProgram(argv, {}, dir_);
  EXPECT_EQ(sysusers.exit_code, 0) << Describe(argv, sysusers);
  EXPECT_NE((sysusers.out + sysusers.err).find("group 'aetherflow'"), std::string::npos)
      << Describe(argv, sysusers);
}

TEST_F(SystemdInstallTest, SystemAndUserUnitsInstalledUnderAPrefixPassVerify) {
  // As `cmake --install build` does for /usr/local, into a prefix of ours
  // (systemd-analyze cannot combine --user with --root, so the user units
  // are checked here, with their programs where ExecStart says).
  std::string prefix = dir_ + "/prefix";
  Install(prefix);
  if (HasFatalFailure()) return;
  std::string system_units = prefix + "/lib/systemd/system";
  std::string user_units = prefix + "/lib/systemd/user";
  for (const std::string& service :
       {system_units + "/aetherflowd.service", user_units + "/aetherflowd.service"}) {
    std::string exec_start = LastValue(Slurp(service), "Service", "ExecStart");
    EXPECT_EQ(exec_start.rfind(prefix + "/bin/aetherflowd ", 0), 0u)
        << service << ": " << exec_start;
  }
  ExpectVerified(system_units + "/aetherflowd.service");
  ExpectVerified(system_units + "/aetherflowd.socket");
  ExpectVerified(user_units + "/aetherflowd.service", /*user=*/true);
  ExpectVerified(user_units + "/aetherflowd.socket", /*user=*/true);
}

TEST_F(SystemdInstallTest, VerifyRejectsABrokenUnit) {
  // The check above must be able to fail: a misspelt option, a missing
  // program and a bad value each make verify fail on this systemd.
  std::string prefix = dir_ + "/prefix";
  Install(prefix);
  if (HasFatalFailure()) return;
  struct Breakage {
    std::string unit, from, to, says;
    bool user;
  };
  std::vector<Breakage> breakages = {
      {"system/aetherflowd.service", "ProtectSystem=full", "ProtectSystm=full",
       "ProtectSystm", false},
      {"system/aetherflowd.service", prefix + "/bin/aetherflowd",
       prefix + "/bin/no-such-aetherflowd", "no-such-aetherflowd", false},
      {"system/aetherflowd.socket", "SocketMode=0660", "SocketMode=rw", ": rw",
       false},
      {"user/aetherflowd.service", "Type=notify", "Type=notfy", "notfy", true},
  };
  for (const Breakage& b : breakages) {
    SCOPED_TRACE(b.unit + ": " + b.to);
    // A copy of the unit directory: verify loads a unit's neighbours from
    // where it is.
    std::string copy = dir_ + "/broken";
    fs::remove_all(copy);
    std::string kind = b.unit.substr(0, b.unit.find('/'));
    fs::copy(prefix + "/lib/systemd/" + kind, copy);
    std::string path = copy + "/" + b.unit.substr(b.unit.find('/') + 1);
    std::string text = Slurp(path);
    std::size_t at = text.find(b.from);
    ASSERT_NE(at, std::string::npos) << b.from << " not in " << path;
    text.replace(at, b.from.size(), b.to);
    std::ofstream(path, std::ios::trunc) << text;
    ProgramResult r = Verify(path, b.user);
    EXPECT_NE(r.exit_code, 0) << last_command_;
    EXPECT_NE((r.out + r.err).find(b.says), std::string::npos) << last_command_;
  }
}

// SPEC §7 and what the system daemon needs to run steps as their users, as
// the units state it (read from the templates; installing only fills in
// paths).
TEST(SystemdUnitsTest, UnitsKeepTheSecurityContract) {
  std::string src = std::string(AETHERFLOW_SOURCE_DIR) + "/systemd/";
  std::string socket = Slurp(src + "aetherflowd.socket");
  EXPECT_EQ(LastValue(socket, "Socket", "ListenStream"), "/run/aetherflow/aetherflowd.sock");
  EXPECT_EQ(LastValue(socket, "Socket", "SocketMode"), "0660");
  EXPECT_EQ(LastValue(socket, "Socket", "SocketGroup"), "aetherflow");
  std::string user_socket = Slurp(src + "user/aetherflowd.socket");
  EXPECT_EQ(LastValue(user_socket, "Socket", "ListenStream"),
            "%t/aetherflow/aetherflowd.sock");
  EXPECT_EQ(LastValue(user_socket, "Socket", "SocketMode"), "0600");
  std::string sysusers = Slurp(src + "aetherflow.sysusers.conf");
  EXPECT_NE(sysusers.find("\ng aetherflow "), std::string::npos) << sysusers;

  for (const char* name : {"aetherflowd.service.in", "user/aetherflowd.service.in"}) {
    SCOPED_TRACE(name);
    std::string service = Slurp(src + name);
    EXPECT_EQ(LastValue(service, "Service", "Type"), "notify");
    EXPECT_EQ(LastValue(service, "Service", "NotifyAccess"), "main");
    EXPECT_FALSE(LastValue(service, "Service", "WatchdogSec").empty());
    EXPECT_EQ(LastValue(service, "Service", "OOMPolicy"), "continue")
        << "a step killed for memory must not stop the daemon";
    EXPECT_EQ(LastValue(service, "Unit", "Requires"), "aetherflowd.socket");
    EXPECT_EQ(LastValue(service, "Install", "Also"), "aetherflowd.socket");
  }

  // The system daemon runs steps as their users, in their homes and /tmp,
  // and they may run setuid helpers: nothing may take that away.
  std::string service = Slurp(src + "aetherflowd.service.in");
  for (const char* key : {"NoNewPrivileges", "ProtectHome", "PrivateTmp", "PrivateDevices",
                          "DynamicUser", "User", "PrivateUsers", "SystemCallFilter"}) {
    std::string value = LastValue(service, "Service", key);
    EXPECT_TRUE(value.empty() || value == "no" || value == "false") << key << "=" << value;
  }
  // CapabilityBoundingSet=: "~A B" drops A and B, "A B" keeps only them;
  // an empty assignment resets. Unset keeps everything.
  std::vector<std::string> caps;
  bool deny_list = false;
  for (const std::string& value : UnitValues(service, "Service", "CapabilityBoundingSet")) {
    std::istringstream words(value);
    std::vector<std::string> tokens;
    for (std::string word; words >> word;) tokens.push_back(word);
    if (tokens.empty()) {
      caps.clear();
      continue;
    }
    deny_list = tokens[0][0] == '~';
    if (deny_list) tokens[0].erase(0, 1);
    caps = tokens;
  }
  for (const char* cap : {"CAP_SETUID", "CAP_SETGID", "CAP_KILL", "CAP_CHOWN",
                          "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER"}) {
    if (caps.empty()) break;
    bool listed = std::find(caps.begin(), caps.end(), cap) != caps.end();
    EXPECT_EQ(listed, !deny_list) << cap << " must stay in the bounding set";
  }
}

// ---------------------------------------------------------------------------
// The daemon under systemd's protocols, without systemd: the test plays its
// part (passes a listening socket, reads notifications).

// A listening Unix stream socket at `path` with `mode`, as systemd makes
// one for a socket unit. Close-on-exec: only the daemon gets it, as fd 3.
int ListenUnix(const std::string& path, mode_t mode) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::chmod(path.c_str(), mode) != 0 || ::listen(fd, SOMAXCONN) != 0) {
    ADD_FAILURE() << "cannot listen on " << path << ": " << std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return -1;
  }
  return fd;
}

// One datagram from sd_notify(): its sender and its NAME=value lines.
struct Notification {
  pid_t pid = 0;
  std::vector<std::string> lines;
  bool Says(const std::string& line) const {
    return std::find(lines.begin(), lines.end(), line) != lines.end();
  }
};

// The NOTIFY_SOCKET end that systemd would hold: a datagram socket that
// learns each sender's pid (SO_PASSCRED), as NotifyAccess=main checks it.
class NotifyReceiver {
 public:
  explicit NotifyReceiver(std::string path) : path_(std::move(path)) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
    int on = 1;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::setsockopt(fd_, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) != 0) {
      ADD_FAILURE() << "notify socket " << path_ << ": " << std::strerror(errno);
    }
  }
  ~NotifyReceiver() {
    if (fd_ >= 0) ::close(fd_);
  }
  const std::string& path() const { return path_; }

  // Reads notifications until one says `line` (returns true) or the
  // deadline passes or `alive` says the sender is gone (false). Everything
  // read is appended to `seen_`.
  bool WaitFor(const std::string& line, const std::function<bool()>& alive) {
    auto deadline = Clock::now() + kPatience;
    while (Clock::now() < deadline) {
      std::optional<Notification> n = Receive(std::chrono::milliseconds(200));
      if (n.has_value()) {
        seen_.push_back(*n);
        if (n->Says(line)) return true;
      } else if (!alive()) {
        // Drain what it sent before it went.
        while ((n = Receive(std::chrono::milliseconds(0))).has_value()) {
          seen_.push_back(*n);
          if (n->Says(line)) return true;
        }
        return false;
      }
    }
    return false;
  }

  int Count(const std::string& line) const {
    int count = 0;
    for (const Notification& n : seen_) count += n.Says(line) ? 1 : 0;
    return count;
  }
  const std::vector<Notification>& seen() const { return seen_; }
  std::string Transcript() const {
    std::string text;
    for (const Notification& n : seen_) {
      text += "[pid " + std::to_string(n.pid) + "]";
      for (const std::string& l : n.lines) text += " " + l;
      text += "\n";
    }
    return text.empty() ? "(nothing received)\n" : text;
  }

 private:
  std::optional<Notification> Receive(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
    char data[4096];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred)) + CMSG_SPACE(64 * sizeof(int))];
    iovec iov{data, sizeof data - 1};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = ::recvmsg(fd_, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0) return std::nullopt;
    Notification note;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
        ucred cred;
        std::memcpy(&cred, CMSG_DATA(c), sizeof cred);
        note.pid = cred.pid;
      } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        // No fd store is offered; close what would leak.
        int count = static_cast<int>((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (int i = 0; i < count; ++i) {
          int fd;
          std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
          ::close(fd);
        }
      }
    }
    std::istringstream lines(std::string(data, static_cast<std::size_t>(n)));
    std::string line;
    while (std::getline(lines, line)) {
      if (!line.empty()) note.lines.push_back(line);
    }
    return note;
  }

  std::string path_;
  int fd_ = -1;
  std::vector<Notification> seen_;
};

// Writes `value` in decimal after `prefix` into `buffer` without allocating:
// the child of fork() in a process that may have threads may only do
// async-signal-safe work.
void FormatPid(char* buffer, std::size_t size, const char* prefix, pid_t value) {
  std::size_t at = 0;
  while (prefix[at] != '\0' && at + 1 < size) {
    buffer[at] = prefix[at];
    ++at;
  }
  char digits[16];
  int count = 0;
  do {
    digits[count++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value > 0 && count < 16);
  while (count > 0 && at + 1 < size) buffer[at++] = digits[--count];
  buffer[at] = '\0';
}

class SystemdDaemonTest : public DaemonTest {
 protected:
  // Like DaemonTest, but no daemon is started: each test starts its own.
  void SetUp() override {
    char tmpl[] = "/tmp/af-sd-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    socket_ = dir_ + "/d.sock";
    state_dir_ = dir_ + "/state";
  }
  void TearDown() override {
    if (listen_fd_ >= 0) ::close(listen_fd_);
    DaemonTest::TearDown();
  }

  struct Launch {
    std::vector<std::string> argv;           // default: aetherflowd on socket_
    std::map<std::string, std::string> env;  // added to a clean environment
    int listen_fd = -1;                      // passed as fd 3 with LISTEN_FDS=1
    bool watchdog_pid = false;               // WATCHDOG_PID=<the child>
  };
  static Launch Activated(const std::string& notify_socket, int listen_fd) {
    Launch launch;
    launch.env["NOTIFY_SOCKET"] = notify_socket;
    launch.listen_fd = listen_fd;
    return launch;
  }

  // Starts a process as systemd would start a service: the listening socket
  // (if any) as fd 3 and nothing else beyond 0-2, LISTEN_FDS=1,
  // LISTEN_PID=<its pid>, LISTEN_FDNAMES=aetherflowd.socket. Sets
  // daemon_pid_ (DaemonTest::TearDown stops it).
  void Start(Launch launch) {
    if (launch.argv.empty()) {
      launch.argv = {BinDir() + "/aetherflowd", "--socket", socket_, "--state-dir",
                     state_dir_, "--kill-grace-ms", "500"};
    }
    std::map<std::string, std::string> env = CleanEnvironment();
    // The user's own configuration must not change what is tested.
    env["XDG_CONFIG_HOME"] = dir_ + "/config";
    for (const auto& [k, v] : launch.env) env[k] = v;
    if (launch.listen_fd >= 0) {
      env["LISTEN_FDS"] = "1";
      env["LISTEN_FDNAMES"] = "aetherflowd.socket";
    }
    std::vector<std::string> env_strings;
    for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
    // Filled in by the child, which alone knows its pid.
    char listen_pid[64] = "", watchdog_pid[64] = "";
    std::vector<char*> cargv, cenv;
    for (const auto& a : launch.argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    for (const auto& e : env_strings) cenv.push_back(const_cast<char*>(e.c_str()));
    if (launch.listen_fd >= 0) cenv.push_back(listen_pid);
    if (launch.watchdog_pid) cenv.push_back(watchdog_pid);
    cenv.push_back(nullptr);
    static int counter = 0;
    std::string log = dir_ + "/daemon" + std::to_string(++counter);
    int out = ::open((log + ".out").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int err = ::open((log + ".err").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    ASSERT_TRUE(out >= 0 && err >= 0 && null >= 0);
    daemon_err_ = log + ".err";

    pid_t pid = ::fork();
    if (pid == 0) {
      pid_t self = ::getpid();
      FormatPid(listen_pid, sizeof listen_pid, "LISTEN_PID=", self);
      FormatPid(watchdog_pid, sizeof watchdog_pid, "WATCHDOG_PID=", self);
      // Move the listening socket out of the way of 0-2 before they are
      // replaced, then to 3.
      int listen = launch.listen_fd;
      if (listen >= 0 && listen < 3) listen = ::fcntl(listen, F_DUPFD_CLOEXEC, 10);
      if (::dup2(null, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) ::_exit(126);
      if (listen >= 0) {
        if (listen == 3) {
          ::fcntl(3, F_SETFD, 0);
        } else if (::dup2(listen, 3) < 0) {
          ::_exit(126);
        }
      }
      ::close_range(listen >= 0 ? 4 : 3, ~0U, 0);
      ::execve(cargv[0], cargv.data(), cenv.data());
      ::_exit(127);
    }
    ::close(out);
    ::close(err);
    ::close(null);
    ASSERT_GT(pid, 0) << std::strerror(errno);
    daemon_pid_ = pid;
  }

  bool DaemonAlive() {
    if (daemon_pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(daemon_pid_, &status, WNOHANG) == daemon_pid_) {
      daemon_status_ = status;
      daemon_pid_ = 0;  // reaped: TearDown must not signal a reused pid
      return false;
    }
    return true;
  }

  // SIGTERM, then the exit status (-1: it died of a signal or never ran).
  int Terminate() {
    if (daemon_pid_ > 0) {
      ::kill(daemon_pid_, SIGTERM);
      int status = 0;
      ::waitpid(daemon_pid_, &status, 0);
      daemon_status_ = status;
      daemon_pid_ = 0;
    }
    return WIFEXITED(daemon_status_) ? WEXITSTATUS(daemon_status_) : -1;
  }

  std::string DaemonLog() { return "daemon stderr:\n" + ReadFile(daemon_err_); }

  // The sockfs inode of a socket descriptor, as /proc/PID/fd shows it
  // ("socket:[N]").
  static std::string SocketInode(int fd) {
    struct stat st;
    if (::fstat(fd, &st) != 0) return "?";
    return "socket:[" + std::to_string(st.st_ino) + "]";
  }

  int listen_fd_ = -1;
  int daemon_status_ = 0;
  std::string daemon_err_;
};

// A step that records what it inherited: its open descriptors and whether
// LISTEN_FDS or NOTIFY_SOCKET reached it.
constexpr char kInspectPlan[] = R"({
  "task_id": "systemd",
  "steps": [
    {"id": "inspect",
     "run": "ls -l /proc/$$/fd > fds.txt; echo \"${LISTEN_FDS:-unset} ${LISTEN_PID:-unset} ${NOTIFY_SOCKET:-unset}\" > env.txt"},
    {"id": "after", "dependencies": ["inspect"], "run": "echo done > after.txt"}
  ]})";

TEST_F(SystemdDaemonTest, ServesOnThePassedSocketAndLeavesItToSystemd) {
  // As aetherflowd.socket does: systemd binds, sets the mode and keeps the
  // socket; the daemon gets it as fd 3 with LISTEN_FDS=1.
  listen_fd_ = ListenUnix(socket_, 0660);
  ASSERT_GE(listen_fd_, 0);
  struct stat before;
  ASSERT_EQ(::stat(socket_.c_str(), &before), 0);
  NotifyReceiver notify(dir_ + "/notify.sock");
  Start(Activated(notify.path(), listen_fd_));
  ASSERT_TRUE(notify.WaitFor("READY=1", [&] { return DaemonAlive(); }))
      << notify.Transcript() << DaemonLog();

  std::string plan = WritePlan("inspect.json", kInspectPlan);
  CliResult r = Cli({"run", plan});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << DaemonLog();
  EXPECT_EQ(ReadFile(dir_ + "/after.txt"), "done\n");
  EXPECT_EQ(ReadFile(dir_ + "/fds.txt").find(SocketInode(listen_fd_)), std::string::npos)
      << "the listening socket leaked into a step:\n" << ReadFile(dir_ + "/fds.txt");
  if (std::getenv("LISTEN_FDS") == nullptr && std::getenv("NOTIFY_SOCKET") == nullptr) {
    EXPECT_EQ(ReadFile(dir_ + "/env.txt"), "unset unset unset\n")
        << "the daemon's systemd variables reached a step";
  }

  // It served on our socket: not unlinked, re-bound or chmod'ed.
  struct stat after;
  ASSERT_EQ(::stat(socket_.c_str(), &after), 0) << "the socket file is gone";
  EXPECT_EQ(after.st_ino, before.st_ino) << "the daemon bound a socket of its own";
  EXPECT_EQ(after.st_mode & 07777, 0660u) << "the daemon changed SocketMode=";
  std::string id = Status("last")["run"]["id"];

  // Stopping the daemon leaves the socket to systemd (RemoveOnStop= is
  // systemd's job): clients must still find it to start the next daemon.
  EXPECT_EQ(Terminate(), 0) << DaemonLog();
  ASSERT_EQ(::stat(socket_.c_str(), &after), 0) << "the daemon removed systemd's socket";
  EXPECT_EQ(after.st_ino, before.st_ino);

  // The next daemon serves on the same socket, with the same state.
  NotifyReceiver again(dir_ + "/notify2.sock");
  Start(Activated(again.path(), listen_fd_));
  ASSERT_TRUE(again.WaitFor("READY=1", [&] { return DaemonAlive(); }))
      << again.Transcript() << DaemonLog();
  json status = Status(id);
  EXPECT_EQ(status["run"]["state"], "succeeded") << status.dump(2);
}

TEST_F(SystemdDaemonTest, ClientsQueuedBeforeTheDaemonStartsAreServed) {
  // systemd-socket-activate(1) listens and starts the daemon with the
  // socket, as a socket unit does; the client connects at once and waits in
  // the socket's backlog until the daemon accepts.
  ProgramResult found =
      RunProgram({"sh", "-c", "command -v systemd-socket-activate"}, {}, dir_);
  ASSERT_EQ(found.exit_code, 0)
      << "systemd-socket-activate is missing: install the Debian package systemd";
  std::string activate = found.out.substr(0, found.out.find('\n'));
  // It passes only the variables named with -E.
  std::string path_env = std::getenv("PATH") ? std::getenv("PATH") : "/usr/bin:/bin";
  Launch launch;
  launch.argv = {activate, "-l", socket_, "-E", "PATH=" + path_env, "-E",
                 "HOME=" + dir_, "-E", "XDG_CONFIG_HOME=" + dir_ + "/config",
                 BinDir() + "/aetherflowd", "--socket", socket_, "--state-dir",
                 state_dir_, "--kill-grace-ms", "500"};
  // Under the sanitizer build the daemon reports where the rest of the suite
  // does (scripts/hardening.sh reads them all).
  for (const char* name : {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"}) {
    if (const char* value = std::getenv(name)) {
      launch.argv.insert(launch.argv.begin() + 1, {"-E", std::string(name) + "=" + value});
    }
  }
  Start(launch);
  auto deadline = Clock::now() + kPatience;
  while (!fs::exists(socket_) && DaemonAlive() && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(fs::exists(socket_)) << DaemonLog();

  std::string plan = WritePlan("inspect.json", kInspectPlan);
  CliResult r = Cli({"run", plan});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << DaemonLog();
  EXPECT_EQ(ReadFile(dir_ + "/after.txt"), "done\n");
  EXPECT_EQ(ReadFile(dir_ + "/env.txt").rfind("unset unset ", 0), 0u)
      << ReadFile(dir_ + "/env.txt");
  EXPECT_EQ(Terminate(), 0) << DaemonLog();
}

TEST_F(SystemdDaemonTest, NotifiesReadyWatchdogReloadingAndStopping) {
  // What systemd sets for Type=notify with WatchdogSec=: NOTIFY_SOCKET,
  // WATCHDOG_USEC and WATCHDOG_PID (the main pid). 200 ms: a ping about
  // every 100 ms.
  NotifyReceiver notify(dir_ + "/notify.sock");
  Launch launch;
  launch.env = {{"NOTIFY_SOCKET", notify.path()}, {"WATCHDOG_USEC", "200000"}};
  launch.watchdog_pid = true;
  Start(launch);
  pid_t daemon = daemon_pid_;
  auto alive = [&] { return DaemonAlive(); };
  ASSERT_TRUE(notify.WaitFor("READY=1", alive)) << notify.Transcript() << DaemonLog();
  // Ready means it answers.
  CliResult ls = Cli({"ls"});
  EXPECT_EQ(ls.exit_code, 0) << ls.err;

  // Pings keep coming, before and after the engine has had work.
  while (notify.Count("WATCHDOG=1") < 3) {
    ASSERT_TRUE(notify.WaitFor("WATCHDOG=1", alive)) << notify.Transcript() << DaemonLog();
  }
  std::string plan = WritePlan("inspect.json", kInspectPlan);
  CliResult r = Cli({"run", plan});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  int pings = notify.Count("WATCHDOG=1");
  while (notify.Count("WATCHDOG=1") < pings + 3) {
    ASSERT_TRUE(notify.WaitFor("WATCHDOG=1", alive)) << notify.Transcript() << DaemonLog();
  }

  // SIGHUP reloads the configuration: RELOADING=1, then READY=1 again.
  ::kill(daemon, SIGHUP);
  ASSERT_TRUE(notify.WaitFor("RELOADING=1", alive)) << notify.Transcript() << DaemonLog();
  ASSERT_TRUE(notify.WaitFor("READY=1", alive)) << notify.Transcript() << DaemonLog();

  // SIGTERM: STOPPING=1, then a clean exit.
  ::kill(daemon, SIGTERM);
  EXPECT_TRUE(notify.WaitFor("STOPPING=1", alive)) << notify.Transcript() << DaemonLog();
  EXPECT_EQ(Terminate(), 0) << DaemonLog();

  // NotifyAccess=main: systemd heeds only the main process, so every
  // message, the watchdog thread's too, must come from it.
  for (const Notification& n : notify.seen()) {
    EXPECT_EQ(n.pid, daemon) << notify.Transcript();
  }
}

}  // namespace
}  // namespace aetherflow::testing
