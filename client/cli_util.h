// Small helpers every client command shares.
#ifndef AETHERFLOW_CLIENT_CLI_UTIL_H_
#define AETHERFLOW_CLIENT_CLI_UTIL_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "client/commands.h"
#include "client/connection.h"
#include "client/render.h"

namespace aetherflow {

// Wall-clock milliseconds since the epoch (event times are on that clock).
int64_t WallNowMs();

// Rendering options from the global options, at the current time.
RenderOptions RenderOptionsFor(const GlobalOptions& global);

// This process's environment, as `submit` and `resume` send it (SPEC §3).
std::map<std::string, std::string> ShellEnvironment();

// Connects to the daemon: over TCP with --connect, else on the socket,
// starting a daemon unless --socket was given or AETHERFLOW_NO_AUTOSTART=1.
// Prints the one-line error and returns null when it cannot (exit code 3).
std::unique_ptr<Connection> ConnectOrExplain(const GlobalOptions& global);

}  // namespace aetherflow

#endif  // AETHERFLOW_CLIENT_CLI_UTIL_H_
