// How an LLM step's answer changes project files (SPEC §11): the prompt
// section that asks for edits, parsing the answer into edits, and applying
// an edit to a file's text. Pure: no I/O, no clocks; thread-safe.
//
// The answer format is the one coding assistants use (aider's "diff"
// format). For a file that exists:
//
//   src/api.py
//   ```python
//   <<<<<<< SEARCH
//   def add(a, b):
//   =======
//   def add(a: int, b: int) -> int:
//   >>>>>>> REPLACE
//   ```
//
// (several blocks per fence or per file are fine; they apply in order). For
// a new file: its path on the line before a fenced block of the whole
// content (or on the fence line: ```python src/new.py). A fenced block of
// the whole content under the path of an existing file replaces it (a
// fallback for answers that do not use SEARCH/REPLACE).
#ifndef AETHERFLOW_COMMON_EDIT_FORMAT_H_
#define AETHERFLOW_COMMON_EDIT_FORMAT_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace aetherflow {

// ---------------------------------------------------------------- prompt

struct EditableFile {
  std::string path;                    // normalised project path
  std::optional<std::string> content;  // nullopt: the file does not exist yet
};

enum class LineNumbers {
  kNever,
  kLongFiles,  // files of more than kNumberLinesFrom lines
  kAlways,
};
inline constexpr std::size_t kNumberLinesFrom = 100;

// The prompt section for a step that edits the project: the files it may
// write (existing or new), the answer format with an example naming the
// step's first file, and the current content of each existing file in a
// fence longer than any it holds. With line numbers, each line is shown as
// "  12| text" and the prompt says not to copy the numbers (ApplyEdit also
// strips them from a SEARCH that has them on every line). Contents longer
// than `max_content_bytes` are cut at a line boundary with a note.
// Deterministic.
std::string BuildEditPrompt(const std::vector<EditableFile>& files,
                            LineNumbers numbers = LineNumbers::kLongFiles,
                            std::size_t max_content_bytes = 200 * 1024);

// ---------------------------------------------------------------- answers

struct SearchReplace {
  std::string search;   // lines, each ending in '\n'; empty: create/append
  std::string replace;  // lines, each ending in '\n'
};

struct FileEdit {
  std::string path;  // one of the step's files, normalised
  // SEARCH/REPLACE blocks in answer order; empty when whole_file is set.
  std::vector<SearchReplace> blocks;
  // A fenced block of the file's whole content (new file, or fallback).
  std::optional<std::string> whole_file;
};

// The edits in `answer` for `files` (the step's context.files, normalised):
// one FileEdit per file the answer touches, in the order of `files`.
// A block's path is the fence line's path or the last non-blank line before
// the fence ("src/a.py", "**src/a.py**", "`src/a.py`:", "### src/a.py"); a
// SEARCH without a path of its own belongs to the file of the previous one.
// A name matches a file exactly or as a '/'-suffix ("api.py" for
// "src/api.py") when only one file has that suffix. SEARCH/REPLACE blocks
// win over a whole-file block for the same file; of two whole-file blocks
// the last wins. A fenced block that names no file goes to the only file
// when the step has exactly one and the answer has no other block.
// Errors (InvalidArgumentError, one line): a SEARCH/REPLACE block whose
// file is not one of `files` ("... may write only a.py, b.py"), with no
// file at all, or left unterminated (no ======= or >>>>>>> REPLACE).
// Fenced blocks naming other files are ignored (examples, usage).
absl::StatusOr<std::vector<FileEdit>> ParseEdits(
    std::string_view answer, const std::vector<std::string>& files);

// OK when `edits` has an edit for every path of `required`; otherwise
// InvalidArgumentError, one line, naming the files without one ("the
// answer has no SEARCH/REPLACE or file block for src/a.py").
absl::Status CheckEditsCover(const std::vector<FileEdit>& edits,
                             const std::vector<std::string>& required);

// ---------------------------------------------------------------- applying

// The new text of `edit.path`, from `current` (nullopt: the file does not
// exist). A whole-file edit gives its content. SEARCH/REPLACE blocks apply
// in order, each to the result of the ones before: a SEARCH matches whole
// lines, first exactly (line endings aside), then ignoring trailing
// whitespace and a consistent difference of indentation (the REPLACE lines
// are then re-indented the same way), then without "  12| " line-number
// prefixes copied from the prompt. The file's line ending ("\r\n" or "\n")
// and a missing final newline are kept. An empty SEARCH creates a missing
// or empty file and appends to one with content.
// Errors (FailedPreconditionError; the first line is the reason, naming
// the file and block): SEARCH/REPLACE on a file that does not exist; a
// SEARCH found nowhere, followed by the closest lines of the file (best
// window by line similarity, numbered); a SEARCH found more than once, with
// the line numbers of each place.
absl::StatusOr<std::string> ApplyEdit(const FileEdit& edit,
                                      const std::optional<std::string>& current);

}  // namespace aetherflow

#endif  // AETHERFLOW_COMMON_EDIT_FORMAT_H_
