// The POSIX ProcessRunner: each step cloned (as posix_spawn does) into a new process
// group, one pipe for stdout+stderr, poll() over pipes, pidfds and an eventfd (see
// STYLE.md rule 5 for why this differs from ninja's ppoll loop).
#include "daemon/process_runner.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"
#include "daemon/identity.h"

namespace aetherflow {
namespace {

using Clock = std::chrono::steady_clock;  // CLOCK_MONOTONIC on Linux

constexpr absl::string_view kControlPrefix = "::aetherflow ";
constexpr size_t kReadChunk = 64 * 1024;
// A partial line longer than this cannot be a control line; we stop
// buffering it so a child printing one endless line costs no memory.
constexpr size_t kMaxLineBytes = 64 * 1024;
// Reads per process per poll round, so one chatty process cannot starve the
// others (or the exit reports) inside a single Wait().
constexpr int kMaxReadsPerRound = 16;
// At exit the group has been SIGKILLed, so the pipe ends soon; the cap only
// guards against a writer that escaped the group (setsid) and keeps going.
constexpr int kMaxReadsAtExit = 1024;
// What execvp assumes when the environment has no PATH.
constexpr absl::string_view kDefaultPath = "/bin:/usr/bin";

// Owns a file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~Fd() { Reset(); }
  int get() const { return fd_; }
  // No retry on EINTR: on Linux the descriptor is released anyway.
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// The NULL-terminated array that exec wants; valid while `strings` lives.
std::vector<char*> CStrings(const std::vector<std::string>& strings) {
  std::vector<char*> result;
  for (const std::string& s : strings) {
    result.push_back(const_cast<char*>(s.c_str()));
  }
  result.push_back(nullptr);
  return result;
}

pid_t WaitPidRetrying(pid_t pid, int* status, int options) {
  pid_t r;
  do {
    r = waitpid(pid, status, options);
  } while (r < 0 && errno == EINTR);
  return r;
}

// Resolves argv[0] as execvp would, but against the PATH of the step's own
// environment: the daemon's PATH must not decide which program a step runs.
absl::StatusOr<std::string> ResolveProgram(
    const std::string& name, const std::vector<std::string>& env,
    const std::vector<std::string>* shared_env, const std::string& cwd) {
  if (name.empty()) return absl::InvalidArgumentError("empty program name");
  // With a '/', execve resolves it after the chdir, i.e. relative
  // to cwd, and reports ENOENT itself.
  if (name.find('/') != std::string::npos) return name;
  absl::string_view path = kDefaultPath;
  bool found = false;
  for (const std::vector<std::string>* list : {&env, shared_env}) {
    if (list == nullptr || found) continue;
    for (const std::string& entry : *list) {
      if (absl::StartsWith(entry, "PATH=")) {
        path = absl::string_view(entry).substr(5);
        found = true;
        break;  // getenv() semantics: the first one wins
      }
    }
  }
  for (absl::string_view dir : absl::StrSplit(path, ':')) {
    // An empty entry means the current directory, which is the step's cwd.
    std::string candidate = dir.empty() ? absl::StrCat(cwd, "/", name)
                            : dir.front() == '/'
                                ? absl::StrCat(dir, "/", name)
                                : absl::StrCat(cwd, "/", dir, "/", name);
    struct stat st;
    // AT_EACCESS: checked as the file-system identity in force, where
    // access() would check the real uid (root in a system daemon).
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        faccessat(AT_FDCWD, candidate.c_str(), X_OK, AT_EACCESS) == 0) {
      return candidate;
    }
  }
  return absl::NotFoundError(
      absl::StrCat("program \"", name, "\" not found in PATH"));
}

absl::Status WorkingDirectoryError(const std::string& cwd, int error) {
  return absl::FailedPreconditionError(
      absl::StrCat("working directory \"", cwd, "\": ", std::strerror(error)));
}

absl::Status CheckWorkingDirectory(const std::string& cwd) {
  struct stat st;
  if (stat(cwd.c_str(), &st) != 0) return WorkingDirectoryError(cwd, errno);
  if (!S_ISDIR(st.st_mode)) return WorkingDirectoryError(cwd, ENOTDIR);
  return absl::OkStatus();
}

// The process's umask, read without changing it (umask() would, for a
// moment, for every thread).
mode_t CurrentUmask() {
  if (FILE* status = std::fopen("/proc/self/status", "re")) {
    char line[256];
    unsigned mask = 0;
    while (std::fgets(line, sizeof line, status) != nullptr) {
      if (std::sscanf(line, "Umask: %o", &mask) == 1) {
        std::fclose(status);
        return static_cast<mode_t>(mask);
      }
    }
    std::fclose(status);
  }
  return 022;
}

// What the child of SpawnCloned needs, prepared by the parent: the child
// shares the parent's memory and must not allocate.
struct ChildArgs {
  const Credentials* who = nullptr;  // null: keep the daemon's identity
  std::optional<mode_t> umask;       // unset: keep the daemon's umask
  int output_fd = -1;
  const char* cwd = nullptr;
  const char* program = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  int error = 0;  // set by the child when it cannot become the step
  bool in_chdir = false;  // ... and whether it was the chdir that failed
};

// The child of SpawnCloned, on its own small stack in the parent's memory,
// while the parent waits. Only system calls: no allocation, no locks, no
// sanitizer bookkeeping (its shadow memory would describe the parent's).
__attribute__((no_sanitize("address", "undefined"))) int ChildMain(void* arg) {
  auto* a = static_cast<ChildArgs*>(arg);
  // Signals are blocked (by the parent) until the daemon's handlers are
  // gone: one must never run here, on this stack, in the parent's memory.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);
  sigset_t empty;
  sigemptyset(&empty);
  int error = 0;
  // Own process group: kill(-pid, sig) then reaches the whole tree, and a
  // Ctrl-C on the daemon's terminal does not. dup2 before opening fd 0, so
  // that this also works if the daemon runs with 0-2 closed and the pipe
  // landed there; dup2 onto itself would keep the pipe close-on-exec.
  auto to = [&](int fd) {
    return a->output_fd == fd ? fcntl(fd, F_SETFD, 0) : dup2(a->output_fd, fd);
  };
  if (setpgid(0, 0) != 0 || to(1) < 0 || to(2) < 0) error = errno;
  if (error == 0) {
    int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd < 0 || (null_fd != 0 && (dup2(null_fd, 0) < 0 || close(null_fd) != 0))) {
      error = errno;
    }
  }
  // Groups, then gid, then uid: each needs the privilege the next drops.
  // Raw system calls: glibc's would try to reach threads the child does not
  // have.
  static_assert(sizeof(gid_t) == sizeof(uint32_t), "setgroups takes the groups as they are");
  const Credentials* who = a->who;
  if (error == 0 && who != nullptr &&
      (syscall(SYS_setgroups, who->groups.size(), who->groups.data()) != 0 ||
       syscall(SYS_setresgid, who->gid, who->gid, who->gid) != 0 ||
       syscall(SYS_setresuid, who->uid, who->uid, who->uid) != 0)) {
    error = errno;
  }
  if (error == 0) {
    if (a->umask) umask(*a->umask);
    if (chdir(a->cwd) != 0) {
      error = errno;
      a->in_chdir = true;
    }
  }
  if (error == 0) {
    // Descriptors opened elsewhere without O_CLOEXEC must not leak.
    if (syscall(SYS_close_range, 3, ~0U, 0) != 0) {
      for (int fd = 3; fd < 1024; ++fd) close(fd);
    }
    sigprocmask(SIG_SETMASK, &empty, nullptr);
    execve(a->program, a->argv, a->envp);
    error = errno;
  }
  a->error = error;  // the parent reads it once we are gone
  _exit(127);
}

// Every step starts here. It is what posix_spawn does inside glibc:
// clone(CLONE_VM | CLONE_VFORK) with the parent suspended until the exec,
// but on a stack the runner keeps (posix_spawn maps and unmaps one per call,
// and the unmap flushes the TLB of every CPU the daemon's threads ran on),
// without its per-action descriptor checks (six getrlimit calls a step), and
// able to do what posix_spawn cannot: a step that runs as another user, or
// with another umask. A fork would copy the daemon's page tables and then
// fault in copies of every page it writes: 10,000 `true` steps took 8 times
// as long.
int SpawnCloned(void* stack, size_t stack_size, const std::optional<Credentials>& who,
                std::optional<mode_t> mask, int output_fd, const std::string& cwd,
                const std::string& program, char* const argv[], char* const envp[],
                pid_t* pid_out, bool* in_chdir) {
  ChildArgs args;
  args.who = who ? &*who : nullptr;
  args.umask = mask;
  args.output_fd = output_fd;
  args.cwd = cwd.c_str();
  args.program = program.c_str();
  args.argv = argv;
  args.envp = envp;

  sigset_t all, saved;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &saved);
  pid_t pid = clone(ChildMain, static_cast<char*>(stack) + stack_size,
                    CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
  int clone_error = errno;
  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  if (pid < 0) return clone_error;
  if (args.error != 0) {
    // The child never became the step: reap it here.
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    *in_chdir = args.in_chdir;
    return args.error;
  }
  *pid_out = pid;
  return 0;
}

struct Process {
  int64_t key = 0;
  pid_t pid = 0;
  Fd pipe;   // read end, O_NONBLOCK; reset at EOF
  Fd pidfd;  // readable once the process has exited
  Fd log;
  std::string log_path;
  bool log_failed = false;
  std::string line;           // the current line, while it may be control
  bool discard_line = false;  // the current line cannot be a control line
  std::optional<Clock::time_point> kill_at;  // pending SIGKILL escalation
  uint64_t activity_round = 0;  // last Wait() that emitted OutputActivity
};

class PosixProcessRunner : public ProcessRunner {
 public:
  PosixProcessRunner()
      : event_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
        buffer_(new char[kReadChunk]) {
    if (event_fd_.get() < 0) {
      std::fprintf(stderr, "aetherflowd: eventfd: %s; Wakeup() disabled\n",
                   std::strerror(errno));
    }
  }
  ~PosixProcessRunner() override {
    KillAll();
    if (stack_ != MAP_FAILED) munmap(stack_, kStackSize);
  }

  absl::StatusOr<ProcessIdentity> Start(const LaunchSpec& spec) override;
  void Terminate(int64_t key, int64_t grace_ms) override;
  void Wait(int timeout_ms, std::vector<RunnerEvent>* events) override;
  void Wakeup() override;
  std::size_t running() const override { return processes_.size(); }
  void KillAll() override;

 private:
  void EscalateDue(Clock::time_point now);
  int PollTimeout(Clock::time_point now,
                  std::optional<Clock::time_point> until) const;
  void ReadOutput(Process& p, int max_reads, std::vector<RunnerEvent>* events);
  void AppendToLog(Process& p, const char* data, size_t size);
  static void FeedLines(Process& p, absl::string_view data,
                        std::vector<RunnerEvent>* events);
  static void EmitIfControl(Process& p, std::vector<RunnerEvent>* events);
  // Handles an exit signalled by the pidfd; false if not yet reapable.
  bool Finish(Process& p, std::vector<RunnerEvent>* events);

  const Fd event_fd_;  // only this is touched by Wakeup() from other threads
  const mode_t daemon_umask_ = CurrentUmask();
  // The stack every spawned child runs on until its exec: one child at a
  // time, as the parent is suspended until then (CLONE_VFORK).
  static constexpr size_t kStackSize = 64 * 1024;
  void* stack_ = mmap(nullptr, kStackSize, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  std::unique_ptr<char[]> buffer_;
  std::map<int64_t, std::unique_ptr<Process>> processes_;
  uint64_t round_ = 0;
};

absl::StatusOr<ProcessIdentity> PosixProcessRunner::Start(
    const LaunchSpec& spec) {
  if (spec.argv.empty()) return absl::InvalidArgumentError("empty argv");
  if (processes_.count(spec.key) != 0) {
    return absl::AlreadyExistsError(
        absl::StrCat("process key ", spec.key, " is already running"));
  }
  std::string program = spec.argv[0];
  if (program.find('/') == std::string::npos) {
    // A PATH search, with the rights of the step's user: a root daemon must
    // not tell a user whether a path they cannot reach exists. A program
    // named by its path (every `run` string is /bin/sh's) needs no search,
    // and the child's chdir, made as the user, checks the directory.
    ScopedFileIdentity as_user(spec.credentials);
    AF_RETURN_IF_ERROR(as_user.status());
    AF_RETURN_IF_ERROR(CheckWorkingDirectory(spec.cwd));
    AF_ASSIGN_OR_RETURN(program, ResolveProgram(spec.argv[0], spec.env,
                                                spec.shared_env.get(), spec.cwd));
  }

  // The log is created on the first output (a step that prints nothing
  // costs no file: 10,000 `true` steps would otherwise create 10,000), but
  // its directory is checked now so that a bad path fails Start.
  std::string log_dir = spec.log_path.substr(0, spec.log_path.rfind('/') + 1);
  if (access(log_dir.empty() ? "." : log_dir.c_str(), W_OK) != 0) {
    return absl::ErrnoToStatus(errno,
                               absl::StrCat("log \"", spec.log_path, "\""));
  }
  // Both ends close-on-exec: a process spawned concurrently by another
  // thread must not inherit them and hold our pipe open.
  int ends[2];
  if (pipe2(ends, O_CLOEXEC) != 0) return absl::ErrnoToStatus(errno, "pipe2");
  Fd read_end(ends[0]);
  Fd write_end(ends[1]);
  // Only the read end, which the child never sees, becomes non-blocking.
  if (fcntl(read_end.get(), F_SETFL, O_NONBLOCK) != 0) {
    return absl::ErrnoToStatus(errno, "fcntl(O_NONBLOCK)");
  }

  std::vector<char*> argv = CStrings(spec.argv);
  std::vector<char*> envp = CStrings(spec.env);
  if (spec.shared_env) {
    // `env` first and whole; shared entries only where `env` has no
    // variable of that name (a child must never see a name twice).
    envp.pop_back();  // the terminating null
    for (const std::string& entry : *spec.shared_env) {
      absl::string_view name = absl::string_view(entry).substr(0, entry.find('='));
      bool overridden = false;
      for (const std::string& own : spec.env) {
        if (own.size() > name.size() && own[name.size()] == '=' &&
            absl::StartsWith(own, name)) {
          overridden = true;
          break;
        }
      }
      if (!overridden) envp.push_back(const_cast<char*>(entry.c_str()));
    }
    envp.push_back(nullptr);
  }
  pid_t pid = 0;
  std::optional<mode_t> mask;
  if (spec.umask && (*spec.umask & 0777) != daemon_umask_) mask = *spec.umask & 0777;
  if (stack_ == MAP_FAILED) return absl::ResourceExhaustedError("no stack to spawn on");
  bool in_chdir = false;
  int err = SpawnCloned(stack_, kStackSize, spec.credentials, mask, write_end.get(),
                        spec.cwd, program, argv.data(), envp.data(), &pid, &in_chdir);
  if (err != 0 && in_chdir) return WorkingDirectoryError(spec.cwd, err);
  if (err != 0) {
    return absl::ErrnoToStatus(err,
                               absl::StrCat("spawn \"", spec.argv[0], "\""));
  }
  // Our copy of the write end must go, or the pipe would never reach EOF.
  write_end.Reset();

  // The child is not reaped yet, so its pid cannot have been reused.
  Fd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  if (pidfd.get() < 0) {
    int error = errno;
    kill(-pid, SIGKILL);
    int status;
    WaitPidRetrying(pid, &status, 0);
    return absl::ErrnoToStatus(error, "pidfd_open");
  }

  auto p = std::make_unique<Process>();
  p->key = spec.key;
  p->pid = pid;
  p->pipe = std::move(read_end);
  p->pidfd = std::move(pidfd);
  p->log_path = spec.log_path;
  processes_[spec.key] = std::move(p);
  // start_ticks is left to the caller (ProcessStartTicks): most steps end
  // before anyone needs it.
  return ProcessIdentity{pid, 0};
}

void PosixProcessRunner::Terminate(int64_t key, int64_t grace_ms) {
  auto it = processes_.find(key);
  if (it == processes_.end()) return;
  Process& p = *it->second;
  // Safe even if the leader has exited: until we reap it, the zombie keeps
  // its pid, and so its group id, from being reused.
  if (grace_ms <= 0) {
    kill(-p.pid, SIGKILL);
    p.kill_at.reset();
    return;
  }
  kill(-p.pid, SIGTERM);
  Clock::time_point at = Clock::now() + std::chrono::milliseconds(grace_ms);
  if (!p.kill_at || at < *p.kill_at) p.kill_at = at;
}

void PosixProcessRunner::Wakeup() {
  uint64_t one = 1;
  // EAGAIN means the counter is saturated: a wakeup is pending anyway.
  [[maybe_unused]] ssize_t n = write(event_fd_.get(), &one, sizeof(one));
}

void PosixProcessRunner::EscalateDue(Clock::time_point now) {
  for (auto& [key, p] : processes_) {
    if (p->kill_at && now >= *p->kill_at) {
      kill(-p->pid, SIGKILL);
      p->kill_at.reset();
    }
  }
}

int PosixProcessRunner::PollTimeout(
    Clock::time_point now, std::optional<Clock::time_point> until) const {
  // Rounded up, so that we never wake just before a deadline and spin.
  auto ms_until = [now](Clock::time_point t) -> int64_t {
    if (t <= now) return 0;
    return std::chrono::ceil<std::chrono::milliseconds>(t - now).count();
  };
  int64_t timeout = until ? ms_until(*until) : -1;
  for (const auto& [key, p] : processes_) {
    if (!p->kill_at) continue;
    int64_t ms = ms_until(*p->kill_at);
    timeout = timeout < 0 ? ms : std::min(timeout, ms);
  }
  return static_cast<int>(std::min<int64_t>(timeout, INT_MAX));
}

void PosixProcessRunner::Wait(int timeout_ms,
                              std::vector<RunnerEvent>* events) {
  const size_t first_event = events->size();
  std::optional<Clock::time_point> until;
  if (timeout_ms >= 0) {
    until = Clock::now() + std::chrono::milliseconds(timeout_ms);
  }
  ++round_;
  std::vector<pollfd> fds;
  std::vector<Process*> polled;
  while (true) {
    EscalateDue(Clock::now());
    fds.clear();
    polled.clear();
    fds.push_back({event_fd_.get(), POLLIN, 0});
    for (auto& [key, p] : processes_) {
      polled.push_back(p.get());
      // poll() ignores negative fds, i.e. a pipe that has reached EOF.
      fds.push_back({p->pipe.get(), POLLIN, 0});
      fds.push_back({p->pidfd.get(), POLLIN, 0});
    }
    int ready = poll(fds.data(), fds.size(), PollTimeout(Clock::now(), until));
    if (ready < 0 && errno != EINTR) {
      std::fprintf(stderr, "aetherflowd: poll: %s\n", std::strerror(errno));
      return;  // rather than spin; the caller will call again
    }
    bool woken = false;
    if (ready > 0) {
      if (fds[0].revents != 0) {
        uint64_t count;
        [[maybe_unused]] ssize_t n =
            read(event_fd_.get(), &count, sizeof(count));
        woken = true;
      }
      std::vector<int64_t> finished;
      for (size_t i = 0; i < polled.size(); ++i) {
        Process& p = *polled[i];
        if (fds[1 + 2 * i].revents != 0)
          ReadOutput(p, kMaxReadsPerRound, events);
        if (fds[2 + 2 * i].revents != 0 && Finish(p, events)) {
          finished.push_back(p.key);
        }
      }
      for (int64_t key : finished) processes_.erase(key);
    }
    if (woken || events->size() > first_event) return;
    if (until && Clock::now() >= *until) return;
  }
}

void PosixProcessRunner::ReadOutput(Process& p, int max_reads,
                                    std::vector<RunnerEvent>* events) {
  for (int i = 0; i < max_reads && p.pipe.get() >= 0; ++i) {
    ssize_t n = read(p.pipe.get(), buffer_.get(), kReadChunk);
    if (n > 0) {
      if (p.activity_round != round_) {
        p.activity_round = round_;
        events->push_back(OutputActivity{p.key});
      }
      AppendToLog(p, buffer_.get(), static_cast<size_t>(n));
      FeedLines(p, absl::string_view(buffer_.get(), n), events);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return;
    } else {
      // EOF: every writer is gone. (A read error is treated alike; the exit
      // is still reported through the pidfd.)
      p.pipe.Reset();
    }
  }
}

void PosixProcessRunner::AppendToLog(Process& p, const char* data,
                                     size_t size) {
  // After a failure (ENOSPC...) we keep draining the pipe so the child never
  // blocks on a full pipe, but write no more: a log with a silent hole would
  // be worse than one that stops.
  if (p.log_failed) return;
  if (p.log.get() < 0) {
    p.log = Fd(open(p.log_path.c_str(),
                    O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
    if (p.log.get() < 0) {
      p.log_failed = true;
      std::fprintf(stderr, "aetherflowd: opening %s: %s; output is dropped\n",
                   p.log_path.c_str(), std::strerror(errno));
      return;
    }
  }
  while (size > 0) {
    ssize_t n = write(p.log.get(), data, size);
    if (n > 0) {
      data += n;
      size -= static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      p.log_failed = true;
      std::fprintf(
          stderr, "aetherflowd: writing %s: %s; further output is dropped\n",
          p.log_path.c_str(), n < 0 ? std::strerror(errno) : "no progress");
      return;
    }
  }
}

void PosixProcessRunner::FeedLines(Process& p, absl::string_view data,
                                   std::vector<RunnerEvent>* events) {
  while (!data.empty()) {
    size_t newline = data.find('\n');
    absl::string_view piece = data.substr(0, newline);
    if (!p.discard_line) {
      p.line.append(piece.data(), piece.size());
      // Only a line that still matches the prefix is worth keeping.
      size_t n = std::min(p.line.size(), kControlPrefix.size());
      if (p.line.size() > kMaxLineBytes ||
          absl::string_view(p.line).substr(0, n) !=
              kControlPrefix.substr(0, n)) {
        p.discard_line = true;
        p.line.clear();
      }
    }
    if (newline == absl::string_view::npos) return;
    EmitIfControl(p, events);
    data.remove_prefix(newline + 1);
  }
}

void PosixProcessRunner::EmitIfControl(Process& p,
                                       std::vector<RunnerEvent>* events) {
  if (!p.discard_line && absl::StartsWith(p.line, kControlPrefix)) {
    if (p.line.back() == '\r') p.line.pop_back();
    events->push_back(ControlLine{p.key, std::move(p.line)});
  }
  p.line.clear();
  p.discard_line = false;
}

bool PosixProcessRunner::Finish(Process& p, std::vector<RunnerEvent>* events) {
  // Kill the rest of the group before reaping: the unreaped leader pins the
  // group id, so this cannot hit a group that reused the pid. It also bounds
  // the drain below, as no writer survives.
  kill(-p.pid, SIGKILL);
  int status = 0;
  pid_t r = WaitPidRetrying(p.pid, &status, WNOHANG);
  if (r == 0) return false;  // not waitable yet; poll will report it again
  ProcessExited exited{p.key};
  if (r < 0) {
    // ECHILD: someone else reaped it (SIGCHLD set to SIG_IGN?); the status
    // is lost, exit_code stays -1.
  } else if (WIFEXITED(status)) {
    exited.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    exited.signal = WTERMSIG(status);
  }
  ReadOutput(p, kMaxReadsAtExit, events);
  // A control line without a final newline still counts.
  if (!p.line.empty()) EmitIfControl(p, events);
  events->push_back(exited);
  return true;
}

void PosixProcessRunner::KillAll() {
  for (auto& [key, p] : processes_) kill(-p->pid, SIGKILL);
  for (auto& [key, p] : processes_) {
    int status;
    WaitPidRetrying(p->pid, &status, 0);
  }
  processes_.clear();  // closes pipes, pidfds and logs
}

}  // namespace

std::unique_ptr<ProcessRunner> NewPosixProcessRunner() {
  return std::make_unique<PosixProcessRunner>();
}

uint64_t ProcessStartTicks(pid_t pid) {
  if (pid <= 0) return 0;
  std::string path = absl::StrCat("/proc/", pid, "/stat");
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return 0;
  char buf[4096];
  size_t size = 0;
  while (size < sizeof(buf)) {
    ssize_t n = read(fd.get(), buf + size, sizeof(buf) - size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    size += static_cast<size_t>(n);
  }
  // Field 2, comm, is "(name)" and the name may hold spaces and parentheses,
  // so count fields from the last ')'.
  absl::string_view text(buf, size);
  size_t paren = text.rfind(')');
  if (paren == absl::string_view::npos) return 0;
  std::vector<absl::string_view> fields =
      absl::StrSplit(text.substr(paren + 1), ' ', absl::SkipEmpty());
  constexpr size_t kStartTimeIndex = 22 - 3;  // fields[0] is field 3, state
  uint64_t ticks = 0;
  if (fields.size() <= kStartTimeIndex ||
      !absl::SimpleAtoi(fields[kStartTimeIndex], &ticks)) {
    return 0;
  }
  return ticks;
}

bool KillOrphanGroup(const ProcessIdentity& id) {
  if (id.pid <= 0 || id.start_ticks == 0) return false;
  // The start time tells the process we started from one that reused its pid.
  if (ProcessStartTicks(id.pid) != id.start_ticks) return false;
  return kill(-id.pid, SIGKILL) == 0;
}

}  // namespace aetherflow
