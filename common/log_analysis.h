// Reading a step's log for check-ins (SPEC §6): progress, errors, warnings
// and discoveries in what the step wrote since the previous check-in.
//
// Pure: no I/O, no clock, no global state. The caller reads the log from
// StepCursor::offset to its end and keeps the cursor between check-ins (it
// travels, as JSON, inside the poller's opaque cursor, so the daemon keeps no
// per-poller state). Work is linear in the bytes read, and memory is bounded
// whatever the input: a 10 GB log costs only what was appended since the
// previous check-in.
#ifndef AETHERFLOW_COMMON_LOG_ANALYSIS_H_
#define AETHERFLOW_COMMON_LOG_ANALYSIS_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json_fwd.hpp"

namespace aetherflow {

// A line is matched on its first kMaxLineBytes bytes; the rest is skipped.
// This also bounds what a caller re-reads of an unfinished last line.
inline constexpr std::size_t kMaxLineBytes = 16 * 1024;
// Finding::text is cut to this many bytes (on a UTF-8 boundary, "..." added).
inline constexpr std::size_t kMaxFindingTextBytes = 300;
// Per kind and per AnalyzeLog call, the first and the last this many
// findings are kept; those in between are only counted.
inline constexpr int kFindingsKeptAtEachEnd = 10;

// A step's `watch` object (SPEC §2). An empty pattern means "the default".
// A given pattern replaces the default of its family:
//  - progress: 2 capture groups = done/total, 1 = a percentage, 0 = text
//    only. `::aetherflow progress=` lines count whatever is set.
//  - error: replaces the generic error lines (`ValueError: ...`, `ERROR`,
//    `error:`). Python tracebacks and critical lines (out of memory,
//    `Killed`, `FATAL`, `panic:`, segfaults, a `nan` loss) are always on.
//  - warning, discovery: replace theirs. The built-in discoveries are new
//    bests as libraries print them (Keras "improved from", Lightning
//    "reached X (best X)", Optuna "Best is trial N", ...: the table in
//    common/log_patterns.h).
//  - metric: its first capture group is a number; with `goal`, a strictly
//    better value is a new best. A metric replaces the built-in new-best
//    detectors.
struct WatchSpec {
  enum class Goal { kNone, kMin, kMax };
  std::string progress;
  std::string error;
  std::string warning;
  std::string discovery;
  std::string metric;
  Goal goal = Goal::kNone;
};

// Reads a step's "watch" object; null means no watch (all defaults). Each
// pattern is a string or an array of strings (alternatives). Unknown keys
// are ignored. InvalidArgumentError naming the key (e.g. "watch.error: ...")
// for a wrong type, an empty pattern, a regex RE2 rejects, a metric without
// a capture group, a goal other than min/max (or minimize/maximize), or a
// metric without a goal (and the reverse).
absl::StatusOr<WatchSpec> WatchSpecFromJson(const nlohmann::json& watch);

enum class FindingKind {
  kError,     // an error line, or a Python traceback's final exception line
  kCritical,  // out of memory, killed, FATAL, panic, segfault, a nan loss
  kWarning,
  kDiscovery,  // watch.discovery matched, or Optuna's best trial changed
  kNewBest,    // watch.metric reached a new best for its goal
};
inline constexpr int kFindingKinds = 5;

// "error", "critical", "warning", "discovery", "new_best" (stable: --json).
std::string_view FindingKindName(FindingKind kind);

struct Finding {
  FindingKind kind = FindingKind::kError;
  int64_t line = 0;  // 1-based: 1 + the number of '\n' before it in the log
  std::string text;  // colour-free, trimmed, valid UTF-8, <= ~300 bytes
};

struct Progress {
  double fraction = -1;  // in [0, 1]; negative when unknown
  std::string text;      // as shown: "Trial 5/100", "45/100", "45%"

  bool known() const { return fraction >= 0; }
  friend bool operator==(const Progress&, const Progress&) = default;
};

// Where the analysis of one step's log stands. Plain data; start with a
// default-constructed cursor (or one from StepCursorFromJson).
struct StepCursor {
  // Bytes of the log fully analysed. The next AnalyzeLog call takes the log
  // from here on.
  int64_t offset = 0;
  // Number of '\n' in the first `offset` bytes.
  int64_t line = 0;
  // Bytes after `offset` already seen: an unfinished last line, which the
  // next call reads again (it is at most kMaxLineBytes long).
  int64_t pending = 0;
  // Inside a line longer than kMaxLineBytes, already analysed: skip to its end.
  bool skipping = false;
  // Between "Traceback (most recent call last):" and its exception line.
  bool in_traceback = false;
  // Best value of watch.metric so far, and its text as the log wrote it
  // ("0.5120"; empty in cursors from before it was kept).
  std::optional<double> best;
  std::string best_text;
  // Optuna's best trial so far ("Best is trial N ..."). The first one seen
  // is the baseline unless its own trial just reached it.
  std::optional<int64_t> optuna_best_trial;
  // The best value a built-in "state" rule stated so far (Optuna < 2.0's
  // "Current best value is X").
  std::optional<double> builtin_best;
  // Progress of the outermost counter read from the log, and how far out it
  // is (common/log_patterns.h: 0 trials ... 3 batches; 9 when none yet): a
  // counter further in does not replace it.
  Progress progress;
  int progress_level = 9;
  // A total announced before its counter (Hugging Face's "Total
  // optimization steps = 564", then "'step': 10" in each log dict); 0 when
  // none was.
  int64_t announced_total = 0;
  // Consecutive check-ins (AnalyzeLog calls) without new output, counted
  // only once the step has written something: a step silent from the start
  // is not "stalled".
  int quiet_checkins = 0;

  friend bool operator==(const StepCursor&, const StepCursor&) = default;
};

// A JSON object; only ASCII/valid UTF-8 inside, so dump() cannot throw.
nlohmann::json StepCursorToJson(const StepCursor& cursor);
// InvalidArgumentError for anything but an object with fields of the right
// types and ranges. Missing fields take their defaults; unknown ones are
// ignored (cursors outlive daemon upgrades).
absl::StatusOr<StepCursor> StepCursorFromJson(const nlohmann::json& json);

// What the new bests of watch.metric in one AnalyzeLog call (or, merged,
// one check-in) add up to: the last one, the best it beat, and how many
// came in between, so that a 1,000-epoch run says one line, not 1,000.
struct NewBestNews {
  // The metric's name: the first capture group's name ("(?P<val_loss>...)"),
  // else the word before the number in the matched text ("val_loss: 0.47"),
  // else "metric".
  std::string metric;
  std::string value;          // the new best as the log wrote it: "0.4783"
  // The best it beat (the step's first value when that came in the same
  // call: it is not counted as a new best); none: this is the first value.
  std::optional<std::string> was;
  // The step's progress when the last new best was read ("Epoch 7/20");
  // empty when the log showed none.
  std::string where;
  int64_t line = 0;   // the last new best's line
  int64_t count = 0;  // new bests, >= 1; count - 1 were intermediate

  friend bool operator==(const NewBestNews&, const NewBestNews&) = default;
};

// Adds `later` (the next call's news of the same step) to *into: the best
// beaten stays the earlier one's, the rest is the later one's, counts add.
void MergeNewBest(std::optional<NewBestNews>* into,
                  const std::optional<NewBestNews>& later);

struct StepAnalysis {
  // Kept findings in log order: per kind, the first and the last
  // kFindingsKeptAtEachEnd of this call.
  std::vector<Finding> findings;
  // All findings of this call per kind, kept or not; index by
  // static_cast<int>(FindingKind).
  std::array<int64_t, kFindingKinds> counts{};
  // Latest known progress (the cursor's, when this call saw none).
  Progress progress;
  bool progress_changed = false;
  // The log grew since the previous call.
  bool new_output = false;
  // The new bests of watch.metric in this call (their findings are in
  // `findings` and `counts` as well); none when there were none.
  std::optional<NewBestNews> new_best;

  int64_t count(FindingKind kind) const {
    return counts[static_cast<int>(kind)];
  }
};

// Analyses `data`, the step's log from cursor->offset on, and advances
// *cursor. `data` may stop short of the log's end (a read cap): the rest is
// read next time. If the log is now shorter than cursor->offset (it was
// rewritten), start again from a fresh cursor. Lines end at '\n' or '\r'
// (each '\r'-rewrite of a progress bar is a line of its own; line numbers
// count '\n' only). ANSI escape sequences are removed before matching. An
// unfinished last line is left for the next call (its progress, e.g. a tqdm
// bar, is read now), so findings are the same however the log is cut into
// calls. Each call counts towards cursor->quiet_checkins, as if it were one
// check-in; a caller that reads several times per check-in should set that
// count itself. Invalid patterns in `spec` (not from WatchSpecFromJson)
// match nothing. Thread-safe: it touches nothing but *cursor.
StepAnalysis AnalyzeLog(const WatchSpec& spec, std::string_view data,
                        StepCursor* cursor);

// One step's progress as `poll`, `status` and the monitor show it: the text
// with its share and, when `step_elapsed_ms` > 0 and the share is known, an
// ETA: "Epoch 3/10 (30%, eta 4m40s)", "Epoch 3 [43/43]", "45%"; empty when
// nothing is known. For the daemon: keep a StepCursor per running step,
// feed AnalyzeLog what the step wrote since (from cursor.offset), and
// publish StepProgressText(cursor.progress, now - step start).
std::string StepProgressText(const Progress& progress, int64_t step_elapsed_ms);

// `text` without ANSI escape sequences (CSI, OSC, DCS and 2-3 byte escapes).
std::string StripAnsi(std::string_view text);

}  // namespace aetherflow

#endif  // AETHERFLOW_COMMON_LOG_ANALYSIS_H_
