// Acting as the user who submitted a run. A system daemon (root) runs each
// command step with the submitter's uid, gid and supplementary groups (see
// ProcessRunner), and does its own file work for their runs (LLM prompts
// read, outputs written, folders made) with their file-system identity, so
// that a user can never make the daemon read or write what they could not.
#ifndef AETHERFLOW_DAEMON_IDENTITY_H_
#define AETHERFLOW_DAEMON_IDENTITY_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"

namespace aetherflow {

struct Credentials {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> groups;  // supplementary
};

// Until destroyed, file-system access by the calling thread is checked as
// `who` (fsuid, fsgid, supplementary groups), as NFS servers do: these are
// per-thread in Linux when set by raw system calls, so other threads keep
// the daemon's identity. Does nothing when `who` is nullopt.
class ScopedFileIdentity {
 public:
  explicit ScopedFileIdentity(const std::optional<Credentials>& who);
  ~ScopedFileIdentity();
  ScopedFileIdentity(const ScopedFileIdentity&) = delete;
  ScopedFileIdentity& operator=(const ScopedFileIdentity&) = delete;
  // Not OK when the switch failed; then nothing may be done on their behalf.
  const absl::Status& status() const { return status_; }

 private:
  bool active_ = false;
  uid_t saved_uid_ = 0;
  gid_t saved_gid_ = 0;
  std::vector<gid_t> saved_groups_;
  absl::Status status_;
};

}  // namespace aetherflow

#endif  // AETHERFLOW_DAEMON_IDENTITY_H_
