// The client's commands. Each returns the process exit code (SPEC §4) and
// prints its own one-line errors.
#ifndef AETHERFLOW_CLIENT_COMMANDS_H_
#define AETHERFLOW_CLIENT_COMMANDS_H_

#include <string>
#include <vector>

namespace aetherflow {

struct GlobalOptions {
  std::string socket;        // resolved socket path
  bool socket_given = false; // --socket: never autostart
  bool json = false;
  bool color = false;        // on a terminal, unless NO_COLOR / --no-color
  bool utf8 = true;          // the locale's codeset
  bool stdout_tty = false;
  int width = 120;
};

struct SubmitOptions {
  std::string plan_path;              // empty with `command`
  std::vector<std::string> command;   // `submit -- CMD ARGS`
  std::string output_dir;
  bool dry_run = false;
};

int CmdSubmit(const GlobalOptions& global, const SubmitOptions& options);
int CmdRun(const GlobalOptions& global, const SubmitOptions& options);
int CmdAttach(const GlobalOptions& global, const std::string& run);
int CmdList(const GlobalOptions& global, int limit);
int CmdStatus(const GlobalOptions& global, const std::string& run);
int CmdLogs(const GlobalOptions& global, const std::string& run,
            const std::string& step, bool follow, int tail);
int CmdCancel(const GlobalOptions& global, const std::string& run);
int CmdResume(const GlobalOptions& global, const std::string& run, bool follow);

}  // namespace aetherflow

#endif  // AETHERFLOW_CLIENT_COMMANDS_H_
