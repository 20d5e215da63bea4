// The client's commands. Each returns the process exit code (SPEC §4) and
// prints its own one-line errors.
#ifndef AETHERFLOW_CLIENT_COMMANDS_H_
#define AETHERFLOW_CLIENT_COMMANDS_H_

#include <string>
#include <vector>

#include "client/remote.h"

namespace aetherflow {

struct GlobalOptions {
  std::string socket;        // resolved socket path
  bool socket_given = false; // --socket: never autostart
  std::string fallback_socket;  // the system service's, when `socket` is a
                                // user daemon's that nothing answers on
  RemoteOptions remote;      // --connect: TCP instead of the socket, never autostart
  bool json = false;
  bool color = false;        // on a terminal, unless NO_COLOR / --no-color
  bool utf8 = true;          // the locale's codeset
  bool stdout_tty = false;
  bool interactive = false;  // the curses monitor: a terminal, not dumb, no --plain
  int width = 120;
  std::string config;        // --config: providers and prices for dry runs

  // Where the daemon is, for messages: HOST:PORT or the socket path.
  const std::string& where() const {
    return remote.enabled() ? remote.address : socket;
  }
};

struct SubmitOptions {
  std::string plan_path;              // empty with `command`
  std::vector<std::string> command;   // `submit -- CMD ARGS`
  std::string output_dir;
  bool dry_run = false;
  // SPEC §11: LLM steps' edits go to the project (the current directory);
  // files with uncommitted changes may be touched; each applied step is
  // committed to git.
  bool apply = false;
  bool allow_dirty = false;
  bool commit = false;
  std::string profile;  // SPEC §12: [profiles.NAME.routing] instead of [routing]
};

int CmdSubmit(const GlobalOptions& global, const SubmitOptions& options);
// `submit --stdin-batch`: one one-step run per line of stdin (sh -c LINE),
// their ids in order, on one connection.
int CmdSubmitBatch(const GlobalOptions& global, const SubmitOptions& options);
int CmdRun(const GlobalOptions& global, const SubmitOptions& options);
int CmdAttach(const GlobalOptions& global, const std::string& run);
int CmdList(const GlobalOptions& global, int limit);
int CmdStatus(const GlobalOptions& global, const std::string& run);
int CmdLogs(const GlobalOptions& global, const std::string& run,
            const std::string& step, bool follow, int tail);
int CmdCancel(const GlobalOptions& global, const std::string& run);
// SPEC §9: no new step of the run starts; running steps go on. `resume`
// lets a paused run go on.
int CmdPause(const GlobalOptions& global, const std::string& run);
// A finished or interrupted run: runs again what did not complete (SPEC
// §3); a paused run: lets it go on (§9). Prints the run id.
int CmdResume(const GlobalOptions& global, const std::string& run, bool follow);
// SPEC §6: one check-in; exit 0 ok, 10 succeeded, 11 failed, 12
// attention, 13 discovery (1, 2, 3 for errors as everywhere).
int CmdPoll(const GlobalOptions& global, const std::string& run,
            const std::string& wait, const std::string& schedule, bool from_start);
// The check-in loop: silent while ok, a line per discovery; exit 12 on
// attention, 0 on success, 1 on failure.
int CmdWatch(const GlobalOptions& global, const std::string& run,
             const std::string& schedule, const std::string& notify,
             bool cancel_on_critical, bool from_start);
int CmdRemove(const GlobalOptions& global, const std::vector<std::string>& runs);
int CmdPrune(const GlobalOptions& global, const std::string& older_than);
int CmdExport(const GlobalOptions& global, const std::string& run,
              const std::string& format, const std::string& output);

}  // namespace aetherflow

#endif  // AETHERFLOW_CLIENT_COMMANDS_H_
