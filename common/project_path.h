// Paths of project files that an LLM step may write (SPEC §11): checked and
// normalised lexically, before anything touches the disk. Symbolic and hard
// links are the writer's business (daemon/project_writer.h). Pure.
#ifndef AETHERFLOW_COMMON_PROJECT_PATH_H_
#define AETHERFLOW_COMMON_PROJECT_PATH_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/plan.h"

namespace aetherflow {

// `path` as written in a step's context.files, normalised: "." components
// and repeated or leading "./" dropped ("./src//a.py" -> "src/a.py").
// InvalidArgumentError, one line naming the path, when it is empty, longer
// than 4096 bytes, holds a NUL or another control character, is absolute
// ("/etc/x"), has a ".." component anywhere (even "a/../b": a plan names
// files plainly), has a component longer than 255 bytes, ends in '/'
// (a directory), names the project itself ("."), or goes into a ".git"
// directory (writing hooks there would run code on the next git command).
absl::StatusOr<std::string> NormalizeProjectPath(std::string_view path);

// True when `a` and `b` normalise to the same path (both valid).
bool SameProjectPath(std::string_view a, std::string_view b);

// Whether `step` writes its edits to the project in a run submitted with
// `run_apply`: an LLM step with context.files, not opted out with
// context.auto_apply: false.
bool StepApplies(const Step& step, bool run_apply);

// The step's context.files, normalised, without repeats. InvalidArgument
// naming the step and the first path that may not be written.
absl::StatusOr<std::vector<std::string>> WritableFiles(const Step& step);

}  // namespace aetherflow

#endif  // AETHERFLOW_COMMON_PROJECT_PATH_H_
