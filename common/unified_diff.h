// Unified diffs of two texts (SPEC §11, `aetherflow diff`), in the format of
// `diff -u` / `git diff`, with `--stat` counts. Pure; thread-safe.
#ifndef AETHERFLOW_COMMON_UNIFIED_DIFF_H_
#define AETHERFLOW_COMMON_UNIFIED_DIFF_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aetherflow {

struct DiffOptions {
  int context = 3;     // unchanged lines around each change
  bool colour = false; // ANSI: headers bold, @@ cyan, - red, + green
};

struct DiffCounts {
  int added = 0;    // lines
  int removed = 0;
  bool binary = false;  // a side holds a NUL byte: no line counts
};

// The diff from `before` to `after` of the file `path`: "--- a/PATH",
// "+++ b/PATH" (or /dev/null for a side that is nullopt: a created or
// removed file), then the hunks "@@ -l,n +l,n @@" with `context` lines
// around changes, and "\ No newline at end of file" where one is missing.
// Empty when both sides are equal. A side with a NUL byte gives the single
// line "Binary files a/PATH and b/PATH differ". The line matching is a
// shortest edit script (Myers) after the common head and tail are taken
// off; past 2,000 differing lines in the middle, that middle is shown as
// removed then added rather than searched further.
std::string UnifiedDiff(const std::optional<std::string>& before,
                        const std::optional<std::string>& after,
                        std::string_view path, const DiffOptions& options = {});

// The lines added and removed from `before` to `after` (nullopt: no file).
DiffCounts CountChanges(const std::optional<std::string>& before,
                        const std::optional<std::string>& after);

struct StatLine {
  std::string path;
  DiffCounts counts;
};

// `git diff --stat`: " PATH | N +++--" per file (bars scaled to fit
// `width` columns), then " F files changed, A insertions(+), D
// deletions(-)". Empty for no files.
std::string FormatDiffStat(const std::vector<StatLine>& files, int width = 80);

}  // namespace aetherflow

#endif  // AETHERFLOW_COMMON_UNIFIED_DIFF_H_
