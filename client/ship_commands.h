// Commands for shells and set-ups (issue 16): the bare id lists that
// completion asks for, the completion scripts and the man pages' generated
// sections, and `aetherflow doctor`.
#ifndef AETHERFLOW_CLIENT_SHIP_COMMANDS_H_
#define AETHERFLOW_CLIENT_SHIP_COMMANDS_H_

#include <string>

#include "CLI/CLI.hpp"
#include "client/commands.h"

namespace aetherflow {

// `ls --ids`: run ids, newest first, one a line; nothing else is asked or
// formatted (completion calls it on every Tab).
int CmdListIds(const GlobalOptions& global, int limit);
// `status RUN --ids`: the run's step ids in plan order, one a line.
int CmdStepIds(const GlobalOptions& global, const std::string& run);
// `completions bash|zsh|fish`: the script, from `app`'s definition; exit 2
// for another shell.
int CmdCompletions(const CLI::App& app, const std::string& shell);
// `doctor`: one line per check on stdout ("ok", "note" or "problem" first);
// exit 0 when there is no problem, else 1.
int CmdDoctor(const GlobalOptions& global);
// The hidden `manual`: the man page's OPTIONS and COMMANDS sections.
int CmdManual(const CLI::App& app);

}  // namespace aetherflow

#endif  // AETHERFLOW_CLIENT_SHIP_COMMANDS_H_
