// Where things live by default (SPEC §1): the socket and the state
// directory of a user daemon or the system one.
#ifndef AETHERFLOW_COMMON_PATHS_H_
#define AETHERFLOW_COMMON_PATHS_H_

#include <string>

namespace aetherflow {

// $AETHERFLOW_SOCKET, else $XDG_RUNTIME_DIR/aetherflow/aetherflowd.sock,
// else the system service's socket when it exists, else
// /tmp/aetherflow-$UID/aetherflowd.sock.
std::string DefaultSocketPath();

// The system service's socket: $AETHERFLOW_SYSTEM_SOCKET, else
// /run/aetherflow/aetherflowd.sock.
std::string SystemSocketPath();

// Where the client turns when DefaultSocketPath() is a user daemon's socket
// chosen from $XDG_RUNTIME_DIR and no daemon answers there: the system
// service's socket. Empty when the socket was named ($AETHERFLOW_SOCKET) or
// is the system one already.
std::string FallbackSocketPath();

// $AETHERFLOW_STATE_DIR, else $XDG_STATE_HOME/aetherflow, else
// ~/.local/state/aetherflow; /var/lib/aetherflow for root when
// /run/aetherflow (the system service's) is the socket's directory.
std::string DefaultStateDir();

// Creates `dir` and its missing parents; `dir` itself gets `mode`.
bool MakeDirs(const std::string& dir, unsigned mode);

}  // namespace aetherflow

#endif  // AETHERFLOW_COMMON_PATHS_H_
