// Tests of the real POSIX ProcessRunner against /bin/sh and coreutils, in
// the manner of ninja's subprocess_test.cc. No assertion is about speed:
// waits loop with a generous safety limit.
#include "daemon/process_runner.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "gtest/gtest.h"

extern char** environ;

namespace aetherflow {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kSafetyLimit = std::chrono::seconds(20);

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The state letter of /proc/PID/stat and the command name, or "" if gone.
std::string ProcState(pid_t pid, std::string* comm) {
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  size_t open = stat.find('(');
  size_t close = stat.rfind(')');
  if (open == std::string::npos || close == std::string::npos ||
      close + 2 >= stat.size()) {
    return "";
  }
  if (comm != nullptr) *comm = stat.substr(open + 1, close - open - 1);
  return stat.substr(close + 2, 1);
}

// Whether `pid` is a live (not zombie) process named `name`. The name check
// keeps a recycled pid from passing for the process we mean.
bool AliveAs(pid_t pid, const std::string& name) {
  std::string comm;
  std::string state = ProcState(pid, &comm);
  return !state.empty() && state != "Z" && state != "X" && comm == name;
}

// Zombie children of this process, found by scanning /proc.
int CountZombieChildren() {
  int zombies = 0;
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return -1;
  while (dirent* entry = readdir(dir)) {
    char* end;
    long pid = std::strtol(entry->d_name, &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
    size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(stat.substr(close + 1));
    std::string state;
    long ppid = 0;
    fields >> state >> ppid;
    if (ppid == getpid() && state == "Z") ++zombies;
  }
  closedir(dir);
  return zombies;
}

struct Outcome {
  bool exited = false;
  ProcessExited exit;
  std::vector<std::string> control_lines;
  int activity = 0;
};

class ProcessRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/process_runner_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    // Physical path, so that `pwd` output compares equal.
    char* real = realpath(tmpl, nullptr);
    ASSERT_NE(real, nullptr);
    dir_ = real;
    std::free(real);
    runner_ = NewPosixProcessRunner();
  }

  void TearDown() override {
    runner_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  LaunchSpec Spec(int64_t key, std::vector<std::string> argv) {
    LaunchSpec spec;
    spec.key = key;
    spec.argv = std::move(argv);
    spec.env = {"PATH=/usr/bin:/bin"};
    spec.cwd = dir_;
    spec.log_path = LogPath(key);
    return spec;
  }
  LaunchSpec Sh(int64_t key, const std::string& script) {
    return Spec(key, {"/bin/sh", "-c", script});
  }
  std::string LogPath(int64_t key) {
    return dir_ + "/" + std::to_string(key) + ".log";
  }

  // Collects events for `key` until it exits (or `stop` says so), failing
  // the test after kSafetyLimit. Events of other keys are ignored.
  template <typename Stop>
  void Collect(int64_t key, Outcome* out, Stop stop) {
    Clock::time_point limit = Clock::now() + kSafetyLimit;
    while (!out->exited && !stop(*out)) {
      if (Clock::now() > limit) {
        ADD_FAILURE() << "process " << key << " did not finish in time";
        return;
      }
      std::vector<RunnerEvent> events;
      runner_->Wait(100, &events);
      for (RunnerEvent& event : events) {
        if (auto* e = std::get_if<ProcessExited>(&event); e && e->key == key) {
          out->exited = true;
          out->exit = *e;
        } else if (auto* c = std::get_if<ControlLine>(&event);
                   c && c->key == key) {
          EXPECT_FALSE(out->exited) << "control line after exit";
          out->control_lines.push_back(c->line);
        } else if (auto* a = std::get_if<OutputActivity>(&event);
                   a && a->key == key) {
          EXPECT_FALSE(out->exited) << "output after exit";
          ++out->activity;
        }
      }
    }
  }
  Outcome RunToExit(int64_t key) {
    Outcome out;
    Collect(key, &out, [](const Outcome&) { return false; });
    return out;
  }
  Outcome Run(const LaunchSpec& spec) {
    absl::StatusOr<ProcessIdentity> id = runner_->Start(spec);
    EXPECT_TRUE(id.ok()) << id.status();
    if (!id.ok()) return Outcome{};
    return RunToExit(spec.key);
  }

  std::string dir_;
  std::unique_ptr<ProcessRunner> runner_;
};

TEST_F(ProcessRunnerTest, StdoutAndStderrShareTheLogInOrder) {
  Outcome out = Run(Sh(1, "echo out; echo err >&2; echo out2"));
  ASSERT_TRUE(out.exited);
  EXPECT_EQ(out.exit.exit_code, 0);
  EXPECT_EQ(out.exit.signal, 0);
  EXPECT_GE(out.activity, 1);
  EXPECT_EQ(ReadFile(LogPath(1)), "out\nerr\nout2\n");
  EXPECT_EQ(runner_->running(), 0u);
}

TEST_F(ProcessRunnerTest, LogIsAppendedAndPrivate) {
  ASSERT_TRUE(Run(Sh(1, "echo first")).exited);
  ASSERT_TRUE(Run(Sh(1, "echo second")).exited);
  EXPECT_EQ(ReadFile(LogPath(1)), "first\nsecond\n");
  struct stat st;
  ASSERT_EQ(stat(LogPath(1).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

// posix_spawn cannot set a umask; the runner forks when the step's differs
// from the daemon's, and uses posix_spawn when they agree.
TEST_F(ProcessRunnerTest, StepsCreateFilesWithTheirOwnUmask) {
  const mode_t ours = ::umask(022);
  runner_ = NewPosixProcessRunner();  // reads the daemon's umask: 022
  for (mode_t mask : {mode_t{077}, mode_t{002}, mode_t{022}}) {
    const std::string file = dir_ + "/made-" + std::to_string(mask);
    LaunchSpec spec = Sh(1, "touch '" + file + "'; mkdir '" + file + ".d'");
    spec.umask = mask;
    Outcome out = Run(spec);
    ASSERT_TRUE(out.exited);
    EXPECT_EQ(out.exit.exit_code, 0) << ReadFile(LogPath(1));
    struct stat st;
    ASSERT_EQ(stat(file.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0666u & ~mask) << "umask " << mask;
    ASSERT_EQ(stat((file + ".d").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0777u & ~mask) << "umask " << mask;
  }
  // Without one the step has the daemon's, and the daemon keeps its own.
  ASSERT_TRUE(Run(Sh(2, "touch '" + dir_ + "/plain'")).exited);
  struct stat st;
  ASSERT_EQ(stat((dir_ + "/plain").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  EXPECT_EQ(::umask(ours), 022u);
}

TEST_F(ProcessRunnerTest, ExitCodeRecorded) {
  Outcome out = Run(Sh(1, "exit 3"));
  ASSERT_TRUE(out.exited);
  EXPECT_EQ(out.exit.key, 1);
  EXPECT_EQ(out.exit.exit_code, 3);
  EXPECT_EQ(out.exit.signal, 0);
}

TEST_F(ProcessRunnerTest, KilledBySignalRecorded) {
  Outcome out = Run(Sh(1, "kill -9 $$"));
  ASSERT_TRUE(out.exited);
  EXPECT_EQ(out.exit.signal, SIGKILL);
}

TEST_F(ProcessRunnerTest, StdinIsDevNull) {
  Outcome out = Run(Sh(1, "cat; echo rc=$?"));
  ASSERT_TRUE(out.exited);
  EXPECT_EQ(ReadFile(LogPath(1)), "rc=0\n");
}

TEST_F(ProcessRunnerTest, SignalMaskAndIgnoredSignalsReset) {
  // The daemon may block or ignore signals; the step must not inherit that.
  sigset_t block, old_mask;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &block, &old_mask), 0);
  struct sigaction ignore = {}, old_pipe = {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGPIPE, &ignore, &old_pipe), 0);
  Outcome out =
      Run(Spec(1, {"/bin/grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"}));
  sigaction(SIGPIPE, &old_pipe, nullptr);
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  ASSERT_TRUE(out.exited);
  unsigned long long blocked = ~0ull, ignored = ~0ull;
  ASSERT_EQ(std::sscanf(ReadFile(LogPath(1)).c_str(),
                        "SigBlk: %llx SigIgn: %llx", &blocked, &ignored),
            2);
  EXPECT_EQ(blocked, 0u);
  // Only the classic signals: glibc's posix_spawn leaves its internal
  // signals 32 and 33 (SIGCANCEL, SIGSETXID) ignored, which is harmless.
  EXPECT_EQ(ignored & 0x7fffffffull, 0u);  // signals 1-31
}

TEST_F(ProcessRunnerTest, LogWriteFailureKeepsDrainingThePipe) {
  // /dev/full fails every write with ENOSPC. 1 MB is far more than a pipe
  // holds, so the child only finishes if we keep reading.
  LaunchSpec spec =
      Sh(1, "head -c 1000000 /dev/zero; echo; echo '::aetherflow done=1'");
  spec.log_path = "/dev/full";
  Outcome out = Run(spec);
  ASSERT_TRUE(out.exited);
  EXPECT_EQ(out.exit.exit_code, 0);
  EXPECT_EQ(out.control_lines, std::vector<std::string>{"::aetherflow done=1"});
}

TEST_F(ProcessRunnerTest, ControlLinesReportedExactly) {
  Outcome out = Run(Sh(1,
                       "echo hello\n"
                       "echo '::aetherflow tokens=5 cost=0.1 progress=1/2'\n"
                       "echo ' ::aetherflow indented'\n"
                       "echo '::aetherflowx=1'\n"
                       "echo '::aetherflow'\n"
                       "printf '::aetherflow crlf=1\\r\\n'\n"
                       "echo '::aetherflow tokens=7' >&2\n"));
  ASSERT_TRUE(out.exited);
  EXPECT_EQ(out.control_lines,
            (std::vector<std::string>{
                "::aetherflow tokens=5 cost=0.1 progress=1/2",
                "::aetherflow crlf=1", "::aetherflow tokens=7"}));
}

TEST_F(ProcessRunnerTest, ControlLineSplitAcrossWritesReportedOnce) {
  Outcome out =
      Run(Sh(1, "printf '::aeth'; sleep 0.2; printf 'erflow x=1\\n'; echo y"));
  ASSERT_TRUE(out.exited);
  EXPECT_EQ(out.control_lines, std::vector<std::string>{"::aetherflow x=1"});
}

TEST_F(ProcessRunnerTest, FinalControlLineWithoutNewlineReported) {
  Outcome out = Run(Sh(1, "echo a; printf '::aetherflow last=1'"));
  ASSERT_TRUE(out.exited);
  EXPECT_EQ(out.control_lines, std::vector<std::string>{"::aetherflow last=1"});
}

TEST_F(ProcessRunnerTest, OverlongLineIsNotAControlLine) {
  Outcome out = Run(
      Sh(1,
         "printf '::aetherflow '; head -c 70000 /dev/zero | tr '\\0' x; echo;"
         "echo '::aetherflow ok=1'"));
  ASSERT_TRUE(out.exited);
  EXPECT_EQ(out.control_lines, std::vector<std::string>{"::aetherflow ok=1"});
  EXPECT_EQ(ReadFile(LogPath(1)).size(), 13u + 70000u + 1u + 18u);
}

TEST_F(ProcessRunnerTest, OutputReachesLogWhileRunning) {
  ASSERT_TRUE(runner_->Start(Sh(1, "echo hi; sleep 100")).ok());
  Outcome out;
  Collect(1, &out, [](const Outcome& o) { return o.activity > 0; });
  ASSERT_FALSE(out.exited);
  EXPECT_EQ(ReadFile(LogPath(1)), "hi\n");
  runner_->Terminate(1, 5000);
  EXPECT_TRUE(RunToExit(1).exited);
}

TEST_F(ProcessRunnerTest, EnvironmentIsExactlyTheSpec) {
  ASSERT_EQ(setenv("AETHERFLOW_TEST_DAEMON_ONLY", "leak", 1), 0);
  LaunchSpec spec = Spec(1, {"/usr/bin/env"});
  spec.env = {"PATH=/usr/bin:/bin", "FOO=bar"};
  Outcome out = Run(spec);
  unsetenv("AETHERFLOW_TEST_DAEMON_ONLY");
  ASSERT_TRUE(out.exited);
  EXPECT_EQ(ReadFile(LogPath(1)), "PATH=/usr/bin:/bin\nFOO=bar\n");
}

TEST_F(ProcessRunnerTest, WorkingDirectoryHonoured) {
  std::string sub = dir_ + "/sub dir";
  ASSERT_EQ(mkdir(sub.c_str(), 0700), 0);
  LaunchSpec spec = Spec(1, {"/bin/pwd", "-P"});
  spec.cwd = sub;
  ASSERT_TRUE(Run(spec).exited);
  EXPECT_EQ(ReadFile(LogPath(1)), sub + "\n");
}

TEST_F(ProcessRunnerTest, ArgvPassedWithoutShell) {
  ASSERT_TRUE(Run(Spec(1, {"printf", "%s|", "a b", "c"})).exited);
  EXPECT_EQ(ReadFile(LogPath(1)), "a b|c|");
}

TEST_F(ProcessRunnerTest, PathSearchUsesSpecEnvironment) {
  std::string bin = dir_ + "/bin";
  ASSERT_EQ(mkdir(bin.c_str(), 0700), 0);
  {
    std::ofstream script(bin + "/aetherflow-test-tool");
    script << "#!/bin/sh\necho tool ran \"$1\"\n";
  }
  ASSERT_EQ(chmod((bin + "/aetherflow-test-tool").c_str(), 0755), 0);

  LaunchSpec spec = Spec(1, {"aetherflow-test-tool", "x"});
  spec.env = {"PATH=" + bin + ":/usr/bin:/bin"};
  ASSERT_TRUE(Run(spec).exited);
  EXPECT_EQ(ReadFile(LogPath(1)), "tool ran x\n");

  // A relative path with a '/' is relative to the step's cwd.
  ASSERT_TRUE(Run(Spec(2, {"./bin/aetherflow-test-tool", "y"})).exited);
  EXPECT_EQ(ReadFile(LogPath(2)), "tool ran y\n");

  // The test process's own PATH does not count.
  std::string old_path = std::getenv("PATH") ? std::getenv("PATH") : "";
  setenv("PATH", bin.c_str(), 1);
  absl::StatusOr<ProcessIdentity> id =
      runner_->Start(Spec(3, {"aetherflow-test-tool"}));
  setenv("PATH", old_path.c_str(), 1);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ProcessRunnerTest, ProgramNotFound) {
  absl::StatusOr<ProcessIdentity> id =
      runner_->Start(Spec(1, {"no-such-program-aetherflow"}));
  EXPECT_EQ(id.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(id.status().message().find(
                "program \"no-such-program-aetherflow\" not found in PATH"),
            std::string::npos)
      << id.status();
  id = runner_->Start(Spec(2, {"./no-such-program"}));
  EXPECT_EQ(id.status().code(), absl::StatusCode::kNotFound) << id.status();
  EXPECT_EQ(runner_->running(), 0u);
}

// A step with its own umask starts through clone(CLONE_VM | CLONE_VFORK);
// what its child cannot do comes back as the error of Start, as from
// posix_spawn, and leaves nothing running.
TEST_F(ProcessRunnerTest, ChildErrorsOfTheClonedStartAreReported) {
  const mode_t ours = ::umask(022);
  runner_ = NewPosixProcessRunner();
  ::umask(ours);
  LaunchSpec missing = Spec(1, {"./no-such-program"});
  missing.umask = 077;
  absl::StatusOr<ProcessIdentity> id = runner_->Start(missing);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kNotFound) << id.status();

  std::string not_executable = dir_ + "/data.txt";
  std::ofstream(not_executable) << "echo no\n";
  LaunchSpec denied = Spec(2, {not_executable});
  denied.umask = 077;
  id = runner_->Start(denied);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kPermissionDenied) << id.status();
  EXPECT_EQ(runner_->running(), 0u);

  LaunchSpec fine = Sh(3, "echo cloned");
  fine.umask = 077;
  Outcome out = Run(fine);
  ASSERT_TRUE(out.exited);
  EXPECT_EQ(out.exit.exit_code, 0);
  EXPECT_EQ(ReadFile(LogPath(3)), "cloned\n");
}

TEST_F(ProcessRunnerTest, BadWorkingDirectory) {
  LaunchSpec spec = Sh(1, "true");
  spec.cwd = dir_ + "/missing";
  absl::StatusOr<ProcessIdentity> id = runner_->Start(spec);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(id.status().message(), "working directory \"" + dir_ +
                                       "/missing\": No such file or directory");

  spec.cwd = LogPath(1);  // a file, created by nobody yet
  std::ofstream(spec.cwd) << "x";
  id = runner_->Start(spec);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(runner_->running(), 0u);
}

TEST_F(ProcessRunnerTest, UnwritableLogFailsStart) {
  LaunchSpec spec = Sh(1, "true");
  spec.log_path = dir_ + "/no/such/dir.log";
  EXPECT_FALSE(runner_->Start(spec).ok());
  EXPECT_EQ(runner_->running(), 0u);
}

TEST_F(ProcessRunnerTest, DuplicateKeyRefused) {
  ASSERT_TRUE(runner_->Start(Spec(1, {"sleep", "100"})).ok());
  EXPECT_EQ(runner_->Start(Spec(1, {"true"})).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(runner_->running(), 1u);
}

TEST_F(ProcessRunnerTest, TerminateStopsTheGroup) {
  // sh waits for sleep: both must get SIGTERM.
  ASSERT_TRUE(runner_->Start(Sh(1, "sleep 100; echo not reached")).ok());
  runner_->Terminate(1, 10000);
  Outcome out = RunToExit(1);
  ASSERT_TRUE(out.exited);
  EXPECT_EQ(out.exit.signal, SIGTERM);
  EXPECT_EQ(ReadFile(LogPath(1)), "");
  runner_->Terminate(1, 0);  // unknown key by now: a no-op
}

TEST_F(ProcessRunnerTest, TerminateEscalatesToSigkillAfterGrace) {
  ASSERT_TRUE(runner_
                  ->Start(Sh(1,
                             "trap '' TERM; echo '::aetherflow ready=1';"
                             "sleep 100"))
                  .ok());
  // Terminate only once the trap is in place.
  Outcome out;
  Collect(1, &out, [](const Outcome& o) { return !o.control_lines.empty(); });
  ASSERT_FALSE(out.exited);
  Clock::time_point start = Clock::now();
  runner_->Terminate(1, 300);
  // Long waits: Wait() must shorten its own timeout to escalate on time.
  while (!out.exited && Clock::now() - start < kSafetyLimit) {
    std::vector<RunnerEvent> events;
    runner_->Wait(60000, &events);
    for (const RunnerEvent& e : events) {
      if (const auto* x = std::get_if<ProcessExited>(&e)) {
        out.exited = true;
        out.exit = *x;
      }
    }
  }
  ASSERT_TRUE(out.exited);
  EXPECT_EQ(out.exit.signal, SIGKILL);
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(300));
}

TEST_F(ProcessRunnerTest, BackgroundedGrandchildKilledWhenLeaderExits) {
  // The leader exits only once the grandchild has exec'd sleep, so that the
  // name check below cannot pass on a still-forking "sh".
  Outcome out = Run(Sh(1,
                       "sleep 100 & echo $!;"
                       "until read c < /proc/$!/comm && [ \"$c\" = sleep ];"
                       "do :; done; exit 0"));
  ASSERT_TRUE(out.exited);
  EXPECT_EQ(out.exit.exit_code, 0);
  pid_t grandchild = std::atoi(ReadFile(LogPath(1)).c_str());
  ASSERT_GT(grandchild, 0);
  // SIGKILL is asynchronous and init reaps at its own pace: a zombie or a
  // vanished pid both count as dead.
  Clock::time_point limit = Clock::now() + kSafetyLimit;
  while (AliveAs(grandchild, "sleep") && Clock::now() < limit) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(AliveAs(grandchild, "sleep"));
  if (AliveAs(grandchild, "sleep")) kill(grandchild, SIGKILL);  // hygiene
}

TEST_F(ProcessRunnerTest, NoDescriptorLeaks) {
  // A descriptor of ours without O_CLOEXEC, and another running process
  // whose pipe and pidfd are open: none may reach the child.
  int stray = open("/dev/null", O_RDONLY);
  ASSERT_GE(stray, 0);
  ASSERT_TRUE(runner_->Start(Spec(1, {"sleep", "100"})).ok());
  Outcome out = Run(Spec(2, {"/bin/ls", "/proc/self/fd"}));
  close(stray);
  ASSERT_TRUE(out.exited);
  EXPECT_EQ(ReadFile(LogPath(2)), "0\n1\n2\n3\n");  // 3 is ls's own dir fd
}

TEST_F(ProcessRunnerTest, NoZombiesAfterManyProcesses) {
  constexpr int kTotal = 200;
  constexpr int kBatch = 20;
  int exited = 0;
  for (int next = 0; next < kTotal;) {
    for (; next < kTotal && runner_->running() < kBatch; ++next) {
      ASSERT_TRUE(runner_->Start(Sh(next, "echo $$")).ok());
    }
    Clock::time_point limit = Clock::now() + kSafetyLimit;
    while (runner_->running() >= kBatch ||
           (next == kTotal && runner_->running() > 0)) {
      ASSERT_LT(Clock::now(), limit);
      std::vector<RunnerEvent> events;
      runner_->Wait(100, &events);
      for (const RunnerEvent& e : events) {
        if (const auto* x = std::get_if<ProcessExited>(&e)) {
          EXPECT_EQ(x->exit_code, 0);
          ++exited;
        }
      }
    }
  }
  EXPECT_EQ(exited, kTotal);
  EXPECT_EQ(CountZombieChildren(), 0);
}

TEST_F(ProcessRunnerTest, KillAllAndDestructorKillAndReap) {
  absl::StatusOr<ProcessIdentity> first =
      runner_->Start(Spec(1, {"sleep", "100"}));
  ASSERT_TRUE(first.ok());
  runner_->KillAll();
  EXPECT_EQ(runner_->running(), 0u);
  absl::StatusOr<ProcessIdentity> second =
      runner_->Start(Spec(2, {"sleep", "100"}));
  ASSERT_TRUE(second.ok());
  runner_.reset();
  for (pid_t pid : {first->pid, second->pid}) {
    int status;
    errno = 0;
    EXPECT_EQ(waitpid(pid, &status, WNOHANG), -1);  // already reaped
    EXPECT_EQ(errno, ECHILD);
  }
}

TEST_F(ProcessRunnerTest, WakeupFromAnotherThread) {
  runner_->Wakeup();  // before: the next Wait returns at once
  std::vector<RunnerEvent> events;
  runner_->Wait(-1, &events);
  EXPECT_TRUE(events.empty());

  std::thread waker([this] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    runner_->Wakeup();
  });
  runner_->Wait(-1, &events);  // hangs (ctest TIMEOUT) if Wakeup is broken
  waker.join();
  EXPECT_TRUE(events.empty());
}

TEST_F(ProcessRunnerTest, ProcessStartTicks) {
  uint64_t self = ProcessStartTicks(getpid());
  EXPECT_GT(self, 0u);
  EXPECT_EQ(ProcessStartTicks(0), 0u);
  EXPECT_EQ(ProcessStartTicks(-1), 0u);
  EXPECT_EQ(ProcessStartTicks(4194304 + 1), 0u);  // above any pid_max

  // A command name with spaces and parentheses must not shift the fields.
  std::string odd = dir_ + "/a) (b c";
  std::filesystem::copy_file("/bin/sleep", odd);
  ASSERT_EQ(chmod(odd.c_str(), 0755), 0);
  absl::StatusOr<ProcessIdentity> id = runner_->Start(Spec(1, {odd, "100"}));
  ASSERT_TRUE(id.ok()) << id.status();
  std::string comm;
  EXPECT_EQ(ProcState(id->pid, &comm).empty(), false);
  EXPECT_EQ(comm, "a) (b c");
  EXPECT_EQ(id->start_ticks, 0u) << "left to the caller";
  uint64_t ticks = ProcessStartTicks(id->pid);
  // Started after us, and not after now (uptime in ticks).
  EXPECT_GE(ticks, self);
  double uptime = std::atof(ReadFile("/proc/uptime").c_str());
  EXPECT_LE(ticks, static_cast<uint64_t>((uptime + 1) * sysconf(_SC_CLK_TCK)));

  runner_->Terminate(1, 0);
  ASSERT_TRUE(RunToExit(1).exited);
  EXPECT_EQ(ProcessStartTicks(id->pid), 0u);  // reaped
}

TEST_F(ProcessRunnerTest, KillOrphanGroup) {
  // A group left by "an earlier daemon": spawned outside the runner.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  pid_t pid = 0;
  char* argv[] = {const_cast<char*>("/bin/sleep"), const_cast<char*>("100"),
                  nullptr};
  ASSERT_EQ(posix_spawn(&pid, "/bin/sleep", nullptr, &attr, argv, environ), 0);
  posix_spawnattr_destroy(&attr);

  ProcessIdentity id{pid, ProcessStartTicks(pid)};
  ASSERT_GT(id.start_ticks, 0u);
  EXPECT_FALSE(KillOrphanGroup({pid, id.start_ticks + 1}));
  EXPECT_FALSE(KillOrphanGroup({pid, 0}));
  EXPECT_TRUE(AliveAs(pid, "sleep"));
  EXPECT_TRUE(KillOrphanGroup(id));
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  EXPECT_FALSE(KillOrphanGroup(id));  // gone now
}

}  // namespace
}  // namespace aetherflow
