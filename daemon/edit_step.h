// One LLM step that changes the project (SPEC §11), between the HTTP edge
// and the project writer: which steps apply, the request (the step's
// prompt, then the edit section of common/edit_format.h with the files as
// they are now), turning an answer into one atomic attempt with its syntax
// checks, and the message that sends a failure back to the model.
//
// The functions that touch files run on the LLM executor's worker; the
// writer switches to the submitter's rights for every file it touches.
#ifndef AETHERFLOW_DAEMON_EDIT_STEP_H_
#define AETHERFLOW_DAEMON_EDIT_STEP_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/llm.h"
#include "common/plan.h"
#include "common/project_path.h"
#include "daemon/project_writer.h"

namespace aetherflow {

// The files as the step sees them now, read through `writer` (so with the
// same checks as a write): InvalidArgument / FailedPrecondition naming the
// file that may not be written.
absl::StatusOr<std::vector<ProjectFile>> ReadWritableFiles(const ProjectWriter& writer,
                                                           const std::vector<std::string>& files);

// The first user message: BuildPrompt of `inputs` without the files to
// write (they are in the edit section, with their current content), then
// BuildEditPrompt of `files`.
std::string BuildApplyPrompt(PromptInputs inputs, const std::vector<ProjectFile>& files);

// What became of one answer.
struct RoundResult {
  // "applied" (in place, checks to run), "rejected" (nothing written: no
  // usable edit, a SEARCH that does not match), "syntax" (applied, a
  // syntax check failed, rolled back), or "failed" (the step cannot go on:
  // a file changed on disk since it was read, a link out of the project;
  // nothing written).
  std::string outcome;
  std::string reason;    // one line naming the file; empty when applied
  std::string feedback;  // for the model: the reason with its detail
  std::vector<std::string> files;  // the files the answer's edits touch
  std::optional<AppliedAttempt> applied;  // when "applied"
};

// Parses `answer` into edits of `files` (as read), applies them all or
// none through `writer`, then checks the syntax of every changed file
// (rolled back when one fails). An answer must give an edit for every file
// that does not exist yet, and at least one edit.
RoundResult ApplyAnswer(ProjectWriter& writer, std::string_view answer,
                        const std::vector<ProjectFile>& files);

// The user message of repair round `repair` of `repairs`: what failed
// (`feedback`), that the files are back as first shown, and to answer again
// in the same format.
std::string RepairPrompt(std::string_view feedback, int repair, int repairs);

// The most useful part of a failed check's output for the model: its last
// lines, at most `max_bytes`, cut at a line start, with a note of what was
// left out.
std::string OutputTail(std::string_view output, std::size_t max_bytes = 4000);

}  // namespace aetherflow

#endif  // AETHERFLOW_DAEMON_EDIT_STEP_H_
