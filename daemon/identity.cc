#include "daemon/identity.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "daemon/log.h"

namespace aetherflow {
namespace {

// glibc's setgroups() changes every thread; the system call only this one.
long ThreadSetGroups(const std::vector<gid_t>& groups) {
  return syscall(SYS_setgroups, groups.size(), groups.data());
}

// setfsuid reports no error: read back what is in force.
bool ThreadSetFsUid(uid_t uid) {
  syscall(SYS_setfsuid, uid);
  return static_cast<uid_t>(syscall(SYS_setfsuid, static_cast<uid_t>(-1))) == uid;
}

bool ThreadSetFsGid(gid_t gid) {
  syscall(SYS_setfsgid, gid);
  return static_cast<gid_t>(syscall(SYS_setfsgid, static_cast<gid_t>(-1))) == gid;
}

}  // namespace

ScopedFileIdentity::ScopedFileIdentity(const std::optional<Credentials>& who) {
  if (!who.has_value()) return;
  saved_uid_ = static_cast<uid_t>(syscall(SYS_setfsuid, static_cast<uid_t>(-1)));
  saved_gid_ = static_cast<gid_t>(syscall(SYS_setfsgid, static_cast<gid_t>(-1)));
  int count = getgroups(0, nullptr);
  saved_groups_.resize(count > 0 ? count : 0);
  if (count > 0) getgroups(count, saved_groups_.data());
  active_ = true;
  std::vector<gid_t> groups(who->groups.begin(), who->groups.end());
  // Groups first: once the fsuid is not root, changing them is not allowed.
  if (ThreadSetGroups(groups) != 0 || !ThreadSetFsGid(who->gid) ||
      !ThreadSetFsUid(who->uid)) {
    status_ = absl::PermissionDeniedError(
        absl::StrCat("cannot act as uid ", who->uid, " gid ", who->gid));
  }
}

ScopedFileIdentity::~ScopedFileIdentity() {
  if (!active_) return;
  // The daemon must never go on with a user's identity: if it cannot get
  // its own back, it stops (systemd restarts it; no completed work is lost).
  if (!ThreadSetFsUid(saved_uid_) || !ThreadSetFsGid(saved_gid_) ||
      ThreadSetGroups(saved_groups_) != 0) {
    LogError("cannot restore the daemon's own file-system identity; aborting");
    std::abort();
  }
}

}  // namespace aetherflow
