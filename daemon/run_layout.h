// Where a run's files live in the state directory: runs/<id>/ with logs/
// (one log per step) and, unless --output names another, output/.
#ifndef AETHERFLOW_DAEMON_RUN_LAYOUT_H_
#define AETHERFLOW_DAEMON_RUN_LAYOUT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "daemon/identity.h"

namespace aetherflow {

class RunLayout {
 public:
  explicit RunLayout(std::string state_dir) : state_dir_(std::move(state_dir)) {}

  std::string RunDir(const std::string& run_id) const {
    return state_dir_ + "/runs/" + run_id;
  }
  std::string LogPath(const std::string& run_id, const std::string& step_id) const {
    return RunDir(run_id) + "/logs/" + step_id + ".log";
  }
  std::string DefaultOutputDir(const std::string& run_id) const {
    return RunDir(run_id) + "/output";
  }

  // Makes runs/<id>/logs. Internal error naming the folder.
  absl::Status MakeRunDir(const std::string& run_id) const;
  // The run's output folder. Steps that run as their submitter (`as`) must
  // be able to write there: one the user named is made with their rights;
  // the default one, inside the state directory, is made theirs, and the
  // folders above it let them through (0711: they cannot list other runs).
  absl::Status MakeOutputDir(const std::string& run_id, const std::string& output_dir,
                             const std::optional<Credentials>& as) const;
  // runs/<id>/changes, where applying steps keep their pre-images (SPEC
  // §11). Steps that run as their submitter (`as`) write there with their
  // rights: it is made theirs (0700), and the folders above let them
  // through, as for the default output folder.
  absl::Status MakeChangesDir(const std::string& run_id,
                              const std::optional<Credentials>& as) const;
  // Removes the run's folder (not an --output folder elsewhere: the
  // user's). Slow for big runs: call it off the engine thread.
  void RemoveRunDir(const std::string& run_id) const;

 private:
  std::string state_dir_;
};

// The size of the log at `path`, 0 when there is none.
int64_t LogSize(const std::string& path);

// Appends the daemon's own lines (common/attempt_log.h) to the step log at
// `path`, creating it (0600) if need be, on a line of their own: a newline
// first if the step's output did not end with one. Written before the
// commit that publishes the step's end, so that whoever sees the end reads
// them. Failures are logged, not returned: a missing line must not fail a
// step.
void AppendToLog(const std::string& path, std::string_view lines);

}  // namespace aetherflow

#endif  // AETHERFLOW_DAEMON_RUN_LAYOUT_H_
