// Reaching the daemon: the socket, starting a user daemon when none answers
// (as build tools with a server do), TCP with TLS and a bearer token
// (--connect), and gRPC statuses as exit codes.
#ifndef AETHERFLOW_CLIENT_CONNECTION_H_
#define AETHERFLOW_CLIENT_CONNECTION_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "aetherflow/v1/aetherflow.grpc.pb.h"
#include "client/remote.h"
#include "grpcpp/grpcpp.h"

namespace aetherflow {

// Exit codes of every command (SPEC §4).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitUnreachable = 3;

class Connection {
 public:
  // Connects to the daemon on `socket_path`. When nothing answers there, a
  // daemon answering on `fallback_path` (the system service's, if any) is
  // used; else, with `autostart`, starts `aetherflowd --socket socket_path`
  // in the background (found next to this binary, else in PATH) and waits
  // for it. UnavailableError with a one-line explanation when it cannot.
  static absl::StatusOr<std::unique_ptr<Connection>> Open(
      const std::string& socket_path, bool autostart,
      const std::string& fallback_path = "");

  // Connects to the daemon at `remote.address` over TCP: TLS unless
  // `remote.plaintext`, and `authorization: Bearer <token>` on every call
  // when `remote.token` is set. Checks that a daemon answers there (TCP,
  // then TLS and HTTP/2, within 10 s); UnavailableError with a one-line
  // explanation when not. A wrong token shows on the first call
  // (UNAUTHENTICATED). Never starts a daemon.
  static absl::StatusOr<std::unique_ptr<Connection>> OpenRemote(
      const RemoteOptions& remote);

  ::aetherflow::v1::AetherFlow::Stub* stub() { return stub_.get(); }
  // The socket path, or HOST:PORT.
  const std::string& where() const { return where_; }

 private:
  Connection(std::string where, std::shared_ptr<grpc::Channel> channel);
  std::string where_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<::aetherflow::v1::AetherFlow::Stub> stub_;
};

// A client of another minor version than the daemon's says so once, on
// stderr, at the first answer (common/version.h). After this call it does
// not (doctor reports it itself).
void SuppressVersionWarning();

// True when a process accepts connections on the Unix socket.
bool SocketAnswers(const std::string& path);

// The exit code for a failed RPC: 3 when the daemon could not be reached,
// 2 for bad input (invalid argument, unknown run, too large, not
// available) and a missing or wrong token (unauthenticated), 1 otherwise.
int ExitCodeFor(const grpc::Status& status);

// "aetherflow: <message>" for a failed RPC, one line. `where` is the
// socket path or HOST:PORT.
std::string DescribeError(const grpc::Status& status, const std::string& where);

}  // namespace aetherflow

#endif  // AETHERFLOW_CLIENT_CONNECTION_H_
