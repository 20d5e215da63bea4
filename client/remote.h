// Reaching a daemon over TCP (`--connect HOST:PORT`): the options, the
// bearer token and their checks (SPEC §7). No gRPC here: client/connection
// builds the channel from a RemoteOptions.
#ifndef AETHERFLOW_CLIENT_REMOTE_H_
#define AETHERFLOW_CLIENT_REMOTE_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace aetherflow {

// The remote-access options as given on the command line; empty: not given.
struct RemoteFlags {
  std::string connect;          // --connect HOST:PORT
  std::string tls_ca;           // --tls-ca FILE
  std::string tls_server_name;  // --tls-server-name NAME
  std::string token_file;       // --token-file FILE
  bool insecure_plaintext = false;
  bool socket_given = false;    // --socket: the Unix socket wins over AETHERFLOW_CONNECT
};

// How to reach the daemon over TCP, checked and resolved.
struct RemoteOptions {
  std::string address;          // HOST:PORT as given; empty: the Unix socket
  std::string host;             // without brackets ("::1")
  std::string port;
  std::string tls_ca_pem;       // the CA certificates; empty: the system roots
  std::string tls_ca_path;      // where they came from, for messages
  std::string tls_server_name;  // checked in the certificate instead of host
  std::string token;            // the bearer token, trimmed; empty: none
  bool plaintext = false;       // --insecure-plaintext (loopback only)

  bool enabled() const { return !address.empty(); }
};

// Resolves `flags` and the environment (AETHERFLOW_CONNECT,
// AETHERFLOW_TLS_CA, AETHERFLOW_TOKEN_FILE, AETHERFLOW_TOKEN; flags win,
// a variable set to "" counts as unset).
// `getenv` looks a variable up (nullptr: unset). InvalidArgumentError with a
// one-line message (exit 2) for: --socket with --connect, remote flags
// without --connect, a bad HOST:PORT, --insecure-plaintext to a host that
// is not loopback or together with TLS options, an unreadable CA file, a
// token file others may read, an empty token. Reads the files it names.
absl::StatusOr<RemoteOptions> ResolveRemote(
    const RemoteFlags& flags,
    const std::function<const char*(const char*)>& getenv);

// Splits "HOST:PORT" or "[IPV6]:PORT". InvalidArgumentError when either
// part is missing or the port is not 1..65535.
absl::Status SplitHostPort(const std::string& address, std::string* host,
                           std::string* port);

// True for "localhost", 127.0.0.0/8 and ::1 (no name lookup).
bool IsLoopbackHost(const std::string& host);

// The token in `path`, without surrounding whitespace. InvalidArgumentError
// when the file cannot be read, is not a regular file, may be read by group
// or others (mode & 077), is empty, or holds control characters.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

}  // namespace aetherflow

#endif  // AETHERFLOW_CLIENT_REMOTE_H_
