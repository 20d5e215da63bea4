// The client's side of LLM steps that change the project (SPEC §11): the
// checks `run|submit --apply` makes in the submitting shell (paths, git),
// what `--dry-run --apply` lists, and `diff` / `revert`.
#ifndef AETHERFLOW_CLIENT_APPLY_COMMANDS_H_
#define AETHERFLOW_CLIENT_APPLY_COMMANDS_H_

#include <string>
#include <vector>

#include "client/commands.h"
#include "common/plan.h"

namespace aetherflow {

// One file an applying step may write, as a dry run lists it.
struct ApplyTarget {
  std::string step;
  std::string path;     // normalised, project-relative
  bool exists = false;  // in `project` now
  std::string problem;  // why it may not be written; empty: it may
};

// Every file each applying step of `plan` may touch (plan order), looked
// up in `project`.
std::vector<ApplyTarget> ApplyTargets(const Plan& plan, const std::string& project);

// Why `--apply` must not go ahead from `project`, one line each (empty:
// it may): a path that may not be written; when `project` is in a git
// work tree, a file with uncommitted changes (unless `allow_dirty`); with
// `commit`, a project outside any git work tree.
std::vector<std::string> ApplyRefusals(const Plan& plan, const std::string& project,
                                       bool allow_dirty, bool commit);

// `aetherflow diff RUN [STEP]`: the unified diff (colour on a terminal) or
// with `stat` the --stat summary; --json gives the files. Exit 0.
int CmdDiff(const GlobalOptions& global, const std::string& run, const std::string& step,
            bool stat);

// `aetherflow revert RUN [STEP]`: every file back as it was; prints what
// it put back. Exit 0; 1 when a file changed since (named, nothing of that
// step put back).
int CmdRevert(const GlobalOptions& global, const std::string& run, const std::string& step);

}  // namespace aetherflow

#endif  // AETHERFLOW_CLIENT_APPLY_COMMANDS_H_
