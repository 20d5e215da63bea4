// The daemon's Unix socket. gRPC would accept connections itself and keep
// who connected to itself; so the daemon accepts them (on a socket it bound
// or one systemd passed) and hands each one to gRPC as a channel. gRPC
// then names the call's peer "fd:N", from which caller.h reads the kernel's
// credentials for that connection.
#ifndef AETHERFLOW_DAEMON_LISTENER_H_
#define AETHERFLOW_DAEMON_LISTENER_H_

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace grpc {
class Server;
}

namespace aetherflow {

class Listener {
 public:
  // Binds `path` with `mode` (and group `gid` unless -1). A stale socket
  // file is replaced; the caller checks first that no daemon answers on it.
  static absl::StatusOr<std::unique_ptr<Listener>> Bind(const std::string& path,
                                                        mode_t mode, gid_t gid);
  // Takes a listening socket passed by systemd (socket activation): it is
  // not ours to unlink or chmod.
  static absl::StatusOr<std::unique_ptr<Listener>> Adopt(int fd);
  ~Listener();

  // Accepts connections on a thread of its own and gives them to `server`,
  // which must outlive Stop().
  void Serve(grpc::Server* server);
  // Stops accepting; unlinks the socket file if this listener made it.
  void Stop();

  const std::string& path() const { return path_; }

 private:
  Listener(int fd, std::string path, bool owned);
  void AcceptLoop(grpc::Server* server);

  int fd_;
  int stop_fd_;  // eventfd: wakes the accept loop
  std::string path_;
  bool owned_;
  std::thread thread_;
};

}  // namespace aetherflow

#endif  // AETHERFLOW_DAEMON_LISTENER_H_
