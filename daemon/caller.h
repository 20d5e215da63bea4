// Who is calling: every RPC is tied to a uid. Over the Unix socket the
// kernel says who (SO_PEERCRED and SO_PEERGROUPS on the connection, which
// the daemon accepts itself; see listener.h). Over TCP the bearer token
// stands for one configured user.
#ifndef AETHERFLOW_DAEMON_CALLER_H_
#define AETHERFLOW_DAEMON_CALLER_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace grpc {
class ServerContextBase;
}

namespace aetherflow {

struct Caller {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> groups;  // supplementary
  std::string user;              // login name, "" if the uid has none
  bool remote = false;           // came over TCP

  bool is_root() const { return uid == 0; }
  // Root sees and touches every run; everyone else only their own.
  bool MaySee(uint32_t owner_uid) const { return is_root() || uid == owner_uid; }
  // The uid whose runs this caller lists and resolves; nullopt: all.
  std::optional<uint32_t> Scope() const {
    return is_root() ? std::nullopt : std::optional<uint32_t>(uid);
  }
};

// The credentials of the peer on a connected Unix socket.
absl::StatusOr<Caller> PeerOfSocket(int fd);

// The login name, primary group and supplementary groups of `uid` from the
// user database (for remote callers, who bring no kernel credentials).
absl::StatusOr<Caller> CallerForUser(const std::string& name);
absl::StatusOr<Caller> CallerForUid(uint32_t uid);

// Identifies the caller of an RPC. Unix connections carry the peer "fd:N"
// (accepted by the Listener); TCP ones must present `token` as
// "authorization: Bearer <token>" and then act as `remote_user`.
class CallerResolver {
 public:
  CallerResolver(std::string token, std::optional<Caller> remote_user)
      : token_(std::move(token)), remote_user_(std::move(remote_user)) {}
  // Unauthenticated for a TCP call without the right token, PermissionDenied
  // for a peer the daemon cannot identify.
  absl::StatusOr<Caller> Resolve(const grpc::ServerContextBase& context) const;

 private:
  std::string token_;
  std::optional<Caller> remote_user_;
};

// Compares without leaking, through timing, how much of `a` matched `b`.
bool ConstantTimeEquals(const std::string& a, const std::string& b);

}  // namespace aetherflow

#endif  // AETHERFLOW_DAEMON_CALLER_H_
