#include "daemon/caller.h"

#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/server_context.h"

namespace aetherflow {
namespace {

// The login name of `uid`, "" when it has none.
std::string UserName(uid_t uid) {
  std::vector<char> buffer(16384);
  passwd pw;
  passwd* found = nullptr;
  if (getpwuid_r(uid, &pw, buffer.data(), buffer.size(), &found) != 0 ||
      found == nullptr) {
    return "";
  }
  return pw.pw_name;
}

absl::StatusOr<Caller> FromPasswd(const passwd& pw) {
  Caller caller;
  caller.uid = pw.pw_uid;
  caller.gid = pw.pw_gid;
  caller.user = pw.pw_name;
  int count = 64;
  std::vector<gid_t> groups(count);
  while (getgrouplist(pw.pw_name, pw.pw_gid, groups.data(), &count) < 0) {
    groups.resize(count + 64);
    count = static_cast<int>(groups.size());
  }
  for (int i = 0; i < count; ++i) {
    if (groups[i] != pw.pw_gid) caller.groups.push_back(groups[i]);
  }
  return caller;
}

}  // namespace

absl::StatusOr<Caller> PeerOfSocket(int fd) {
  ucred cred{};
  socklen_t length = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0) {
    return absl::ErrnoToStatus(errno, "SO_PEERCRED");
  }
  Caller caller;
  caller.uid = cred.uid;
  caller.gid = cred.gid;
  // The peer's supplementary groups as they were at connect(), like its uid.
  std::vector<gid_t> groups(64);
  length = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
  if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &length) != 0) {
    if (errno != ERANGE) return absl::ErrnoToStatus(errno, "SO_PEERGROUPS");
    groups.resize(length / sizeof(gid_t));
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &length) != 0) {
      return absl::ErrnoToStatus(errno, "SO_PEERGROUPS");
    }
  }
  groups.resize(length / sizeof(gid_t));
  for (gid_t g : groups) caller.groups.push_back(g);
  caller.user = UserName(cred.uid);
  return caller;
}

absl::StatusOr<Caller> CallerForUser(const std::string& name) {
  std::vector<char> buffer(16384);
  passwd pw;
  passwd* found = nullptr;
  if (getpwnam_r(name.c_str(), &pw, buffer.data(), buffer.size(), &found) != 0 ||
      found == nullptr) {
    return absl::NotFoundError(absl::StrCat("no user \"", name, "\""));
  }
  return FromPasswd(pw);
}

absl::StatusOr<Caller> CallerForUid(uint32_t uid) {
  std::vector<char> buffer(16384);
  passwd pw;
  passwd* found = nullptr;
  if (getpwuid_r(uid, &pw, buffer.data(), buffer.size(), &found) != 0 ||
      found == nullptr) {
    // A uid without a name (a container, a deleted account): itself alone.
    Caller caller;
    caller.uid = uid;
    caller.gid = uid == ::getuid() ? ::getgid() : uid;
    return caller;
  }
  return FromPasswd(pw);
}

bool ConstantTimeEquals(const std::string& a, const std::string& b) {
  unsigned char difference = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) {
    difference |= static_cast<unsigned char>(a[i] ^ b[i % (b.empty() ? 1 : b.size())]);
  }
  return difference == 0 && !b.empty();
}

absl::StatusOr<Caller> CallerResolver::Resolve(
    const grpc::ServerContextBase& context) const {
  std::string peer = context.peer();
  if (absl::StartsWith(peer, "fd:")) {
    // A Unix connection the Listener accepted and handed to gRPC. The call
    // holds its transport, so the descriptor is still this connection's.
    int fd = -1;
    struct stat st;
    if (!absl::SimpleAtoi(peer.substr(3), &fd) || fstat(fd, &st) != 0 ||
        !S_ISSOCK(st.st_mode)) {
      return absl::PermissionDeniedError("cannot identify the caller");
    }
    return PeerOfSocket(fd);
  }
  if (!remote_user_.has_value() || token_.empty()) {
    return absl::PermissionDeniedError("cannot identify the caller");
  }
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  std::string presented =
      it == metadata.end() ? "" : std::string(it->second.data(), it->second.size());
  constexpr absl::string_view kBearer = "Bearer ";
  if (!absl::StartsWith(presented, kBearer) ||
      !ConstantTimeEquals(presented.substr(kBearer.size()), token_)) {
    return absl::UnauthenticatedError("missing or wrong bearer token");
  }
  Caller caller = *remote_user_;
  caller.remote = true;
  return caller;
}

}  // namespace aetherflow
