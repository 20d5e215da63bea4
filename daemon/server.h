// The gRPC front of the daemon: the aetherflow.v1.AetherFlow service (callback
// API), health checking and reflection, on a Unix socket.
#ifndef AETHERFLOW_DAEMON_SERVER_H_
#define AETHERFLOW_DAEMON_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace aetherflow {

class Engine;
class EventHub;
class StateStore;

struct ServerOptions {
  std::string socket_path;  // created 0600; its directory must exist
  int max_message_bytes = 32 * 1024 * 1024;
};

class Server {
 public:
  // Starts serving. `engine`, `store` and `hub` must outlive the server.
  static absl::StatusOr<std::unique_ptr<Server>> Start(
      const ServerOptions& options, Engine* engine, StateStore* store,
      EventHub* hub);
  virtual ~Server() = default;
  // Stops accepting calls, ends open streams, waits for handlers.
  virtual void Shutdown() = 0;
};

}  // namespace aetherflow

#endif  // AETHERFLOW_DAEMON_SERVER_H_
