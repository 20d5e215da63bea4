// Reaching the daemon: the socket, starting a user daemon when none answers
// (as build tools with a server do), and gRPC statuses as exit codes.
#ifndef AETHERFLOW_CLIENT_CONNECTION_H_
#define AETHERFLOW_CLIENT_CONNECTION_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "aetherflow/v1/aetherflow.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace aetherflow {

// Exit codes of every command (SPEC §4).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitUnreachable = 3;

class Connection {
 public:
  // Connects to the daemon on `socket_path`. When nothing answers there and
  // `autostart` is set, starts `aetherflowd --socket socket_path` in the
  // background (found next to this binary, else in PATH) and waits for it.
  // UnavailableError with a one-line explanation when it cannot.
  static absl::StatusOr<std::unique_ptr<Connection>> Open(
      const std::string& socket_path, bool autostart);

  ::aetherflow::v1::AetherFlow::Stub* stub() { return stub_.get(); }
  const std::string& socket_path() const { return socket_path_; }

 private:
  Connection(std::string socket_path, std::shared_ptr<grpc::Channel> channel);
  std::string socket_path_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<::aetherflow::v1::AetherFlow::Stub> stub_;
};

// True when a process accepts connections on the Unix socket.
bool SocketAnswers(const std::string& path);

// The exit code for a failed RPC: 3 when the daemon could not be reached,
// 2 for bad input (invalid argument, unknown run, too large, not
// available), 1 otherwise.
int ExitCodeFor(const grpc::Status& status);

// "aetherflow: <message>" for a failed RPC, one line.
std::string DescribeError(const grpc::Status& status,
                          const std::string& socket_path);

}  // namespace aetherflow

#endif  // AETHERFLOW_CLIENT_CONNECTION_H_
