// Paths of project files that an LLM step may write (SPEC §11): checked and
// normalised lexically, before anything touches the disk. Symbolic and hard
// links are the writer's business (daemon/project_writer.h). Pure.
#ifndef AETHERFLOW_COMMON_PROJECT_PATH_H_
#define AETHERFLOW_COMMON_PROJECT_PATH_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

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

}  // namespace aetherflow

#endif  // AETHERFLOW_COMMON_PROJECT_PATH_H_
