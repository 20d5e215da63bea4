// The gRPC front of the daemon: the aetherflow.v1.AetherFlow service (callback
// API), health checking and reflection, on a Unix socket.
#ifndef AETHERFLOW_DAEMON_SERVER_H_
#define AETHERFLOW_DAEMON_SERVER_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "daemon/caller.h"

namespace aetherflow {

class Engine;
class EventHub;
class StateStore;

class Listener;

struct ServerOptions {
  // The Unix socket (bound or passed by systemd); its connections are
  // accepted there so that each call's caller is known.
  Listener* listener = nullptr;
  // TCP, off when empty: "HOST:PORT". With TLS unless both PEMs are empty
  // (main allows that only on loopback, when asked for).
  std::string tcp_address;
  std::string tls_cert_pem;
  std::string tls_key_pem;
  // Calls over TCP must bring this bearer token, and act as remote_user.
  std::string token;
  std::optional<Caller> remote_user;
  // Any message larger is refused by gRPC (RESOURCE_EXHAUSTED).
  int max_message_bytes = 32 * 1024 * 1024;
  // Reported by GetVersion, with the space free there.
  std::string state_dir;
};

class Server {
 public:
  // Starts serving. `engine`, `store` and `hub` must outlive the server.
  static absl::StatusOr<std::unique_ptr<Server>> Start(
      const ServerOptions& options, Engine* engine, StateStore* store,
      EventHub* hub);
  virtual ~Server() = default;
  // The TCP port actually bound (useful with port 0), 0 without TCP.
  virtual int tcp_port() const = 0;
  // Stops accepting calls, ends open streams, waits for handlers.
  virtual void Shutdown() = 0;
};

}  // namespace aetherflow

#endif  // AETHERFLOW_DAEMON_SERVER_H_
