#include "daemon/edit_step.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/edit_format.h"
#include "common/project_path.h"
#include "daemon/syntax_check.h"

namespace aetherflow {
namespace {

std::string FirstLine(std::string_view s) { return std::string(s.substr(0, s.find('\n'))); }

}  // namespace

absl::StatusOr<std::vector<ProjectFile>> ReadWritableFiles(
    const ProjectWriter& writer, const std::vector<std::string>& files) {
  std::vector<ProjectFile> read;
  read.reserve(files.size());
  for (const std::string& path : files) {
    absl::StatusOr<ProjectFile> file = writer.Read(path);
    if (!file.ok()) return file.status();
    read.push_back(std::move(*file));
  }
  return read;
}

std::string BuildApplyPrompt(PromptInputs inputs, const std::vector<ProjectFile>& files) {
  std::erase_if(inputs.files, [](const PromptFile& f) { return !f.input_only; });
  std::vector<EditableFile> editable;
  editable.reserve(files.size());
  for (const ProjectFile& f : files) editable.push_back({f.path, f.content});
  std::string prompt = BuildPrompt(inputs);
  if (!prompt.empty() && prompt.back() != '\n') prompt += '\n';
  if (!prompt.empty()) prompt += '\n';
  return prompt + BuildEditPrompt(editable);
}

RoundResult ApplyAnswer(ProjectWriter& writer, std::string_view answer,
                        const std::vector<ProjectFile>& files) {
  RoundResult result;
  auto reject = [&result](std::string outcome, absl::string_view message) {
    result.outcome = std::move(outcome);
    result.reason = FirstLine(std::string_view(message.data(), message.size()));
    result.feedback = std::string(message);
    return result;
  };
  std::vector<std::string> paths;
  std::vector<std::string> missing;  // files the answer must create
  for (const ProjectFile& f : files) {
    paths.push_back(f.path);
    if (!f.content) missing.push_back(f.path);
  }
  absl::StatusOr<std::vector<FileEdit>> edits = ParseEdits(answer, paths);
  if (!edits.ok()) return reject("rejected", edits.status().message());
  if (edits->empty()) {
    return reject("rejected",
                  absl::StrCat("the answer has no SEARCH/REPLACE or file block for ",
                               absl::StrJoin(paths, ", ")));
  }
  if (absl::Status covered = CheckEditsCover(*edits, missing); !covered.ok()) {
    return reject("rejected", covered.message());
  }
  std::vector<PlannedWrite> writes;
  for (const FileEdit& edit : *edits) {
    result.files.push_back(edit.path);
    auto file = std::find_if(files.begin(), files.end(),
                             [&edit](const ProjectFile& f) { return f.path == edit.path; });
    if (file == files.end()) continue;  // ParseEdits names only these
    absl::StatusOr<std::string> text = ApplyEdit(edit, file->content);
    if (!text.ok()) return reject("rejected", text.status().message());
    if (file->content && *text == *file->content) continue;  // no change
    writes.push_back({file->path, std::move(*text), file->stamp});
  }
  if (writes.empty()) {
    return reject("rejected", "the answer's edits change nothing in " +
                                  absl::StrJoin(result.files, ", "));
  }
  absl::StatusOr<AppliedAttempt> applied = writer.Apply(writes);
  if (!applied.ok()) return reject("failed", applied.status().message());
  for (const PlannedWrite& w : writes) {
    SyntaxCheckResult check = CheckSyntax(w.path, w.content);
    if (check.ok) continue;
    absl::Status undone = writer.Rollback(*applied);
    if (!undone.ok()) {
      return reject("failed", absl::StrCat(check.reason, "; and putting the files back failed: ",
                                           undone.message()));
    }
    return reject("syntax", check.output.empty()
                                ? check.reason
                                : absl::StrCat(check.reason, "\n", check.output));
  }
  result.outcome = "applied";
  result.applied = std::move(*applied);
  return result;
}

std::string RepairPrompt(std::string_view feedback, int repair, int repairs) {
  return absl::StrCat(
      "Your previous answer did not pass (repair ", repair, " of ", repairs, "):\n\n",
      std::string(feedback),
      feedback.empty() || feedback.back() == '\n' ? "" : "\n",
      "\nNone of its edits were kept: every file is exactly as shown in my first message. "
      "Fix the problem and answer again in the same format (SEARCH/REPLACE blocks against "
      "that content, a fenced block for a new file), for the same files only.");
}

std::string OutputTail(std::string_view output, std::size_t max_bytes) {
  if (output.size() <= max_bytes) return std::string(output);
  std::size_t start = output.size() - max_bytes;
  std::size_t line = output.find('\n', start);
  if (line != std::string_view::npos && line + 1 < output.size()) start = line + 1;
  return absl::StrCat("[... ", start, " bytes before this are left out ...]\n",
                      std::string(output.substr(start)));
}

}  // namespace aetherflow
