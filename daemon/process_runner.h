// Runs command steps as child processes, the ninja way (posix_spawn, own
// process group, stdout+stderr into one pipe), and reports what they do.
// This is the I/O edge of the engine: the scheduler never sees a pid.
#ifndef AETHERFLOW_DAEMON_PROCESS_RUNNER_H_
#define AETHERFLOW_DAEMON_PROCESS_RUNNER_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/identity.h"

namespace aetherflow {

struct LaunchSpec {
  int64_t key = 0;                // the caller's handle for this process
  std::vector<std::string> argv;  // argv[0] without '/' is searched in the
                                  // PATH of `env` (not the daemon's)
  std::vector<std::string> env;   // "NAME=value"
  // Entries shared by many launches (a run's environment), built once by
  // the caller; an entry of `env` with the same name wins over one here.
  std::shared_ptr<const std::vector<std::string>> shared_env;
  std::string cwd;                // absolute; must exist
  std::string log_path;           // stdout+stderr appended here (created 0600)
  // Run as this user instead of the daemon's (a root daemon running a
  // user's step): uid, gid and supplementary groups are set before the
  // chdir and exec, so both are checked as that user.
  std::optional<Credentials> credentials;
  // The file mode creation mask the process starts with; unset, the
  // daemon's.
  std::optional<mode_t> umask;
};

// The process exited (or was killed). Its output has been drained to the log.
struct ProcessExited {
  int64_t key = 0;
  int exit_code = -1;  // valid when signal == 0
  int signal = 0;      // the signal that killed it, 0 if it exited
};

// A complete output line starting with "::aetherflow " (without the newline).
struct ControlLine {
  int64_t key = 0;
  std::string line;
};

// The process wrote output (at most one per process per Wait call); lets
// log followers wake up.
struct OutputActivity {
  int64_t key = 0;
};

using RunnerEvent = std::variant<ProcessExited, ControlLine, OutputActivity>;

// Identity of a started process, persisted so that a restarted daemon can
// kill what a crashed one left behind.
struct ProcessIdentity {
  pid_t pid = 0;              // also its process group id
  uint64_t start_ticks = 0;   // /proc/PID/stat field 22, guards pid reuse;
                              // 0 from Start (see ProcessStartTicks)
};

class ProcessRunner {
 public:
  virtual ~ProcessRunner() = default;

  // Starts a process: stdin /dev/null, stdout and stderr into one pipe whose
  // contents are appended to spec.log_path, in a new process group, with no
  // descriptor of ours leaked. Errors: NotFound (no such program in PATH),
  // FailedPrecondition (bad cwd), or the errno of the failing call.
  virtual absl::StatusOr<ProcessIdentity> Start(const LaunchSpec& spec) = 0;

  // Sends SIGTERM to the process group of `key`, then SIGKILL once
  // `grace_ms` has passed if it is still alive. No-op for unknown keys.
  virtual void Terminate(int64_t key, int64_t grace_ms) = 0;

  // Waits up to `timeout_ms` (0: poll, -1: forever) for output, exits or a
  // Wakeup(), and appends what happened to `events`. Also escalates pending
  // terminations to SIGKILL. When the group leader exits, whatever else is
  // left in its process group is killed (no leaked processes).
  virtual void Wait(int timeout_ms, std::vector<RunnerEvent>* events) = 0;

  // Makes a concurrent or the next Wait() return early. Thread-safe; the
  // only method that may be called from another thread.
  virtual void Wakeup() = 0;

  // Number of processes started and not yet reported as exited.
  virtual std::size_t running() const = 0;

  // SIGKILLs every process group still running and reaps them (shutdown).
  virtual void KillAll() = 0;
};

// The real runner (posix_spawn, poll over pipes and pidfds, eventfd).
std::unique_ptr<ProcessRunner> NewPosixProcessRunner();

// Kills the process group `id` left by an earlier daemon, if a process with
// that pid and start time still exists. Returns whether it signalled.
bool KillOrphanGroup(const ProcessIdentity& id);

// The start time of `pid` in clock ticks since boot, 0 if it does not exist.
uint64_t ProcessStartTicks(pid_t pid);

}  // namespace aetherflow

#endif  // AETHERFLOW_DAEMON_PROCESS_RUNNER_H_
