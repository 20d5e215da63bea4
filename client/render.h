// Turning run snapshots and events into text: the status table, the plain
// (non-terminal) follow lines, the final summary, `ls`, and --json. Pure:
// no I/O, time passed in, so that tests check the exact text.
#ifndef AETHERFLOW_CLIENT_RENDER_H_
#define AETHERFLOW_CLIENT_RENDER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "aetherflow/v1/aetherflow.pb.h"
#include "nlohmann/json.hpp"

namespace aetherflow {

namespace pb = ::aetherflow::v1;

// The width when stdout is not a terminal (a file, a pipe, CI): lines are
// never cut there, so that a reason or a path is read whole.
inline constexpr int kUnlimitedWidth = 1 << 24;

struct RenderOptions {
  int width = 120;       // terminal columns, or kUnlimitedWidth
  bool utf8 = true;      // else ASCII symbols
  bool color = false;    // ANSI colours on the status cell
  int64_t now_ms = 0;    // for the time of running steps
};

// "✓ Completed", "⟳ Running"... ("v Completed", "> Running"... in ASCII).
std::string StatusLabel(pb::StepState state, bool utf8);
// A step's status as shown: StatusLabel, "↻ Retrying" while it waits to run
// again, "⏸ Throttled" while an LLM step waits out a rate limit; a pending
// step that is ready but cannot start says what it waits for (SPEC §9):
// "○ Pending (gpu)", "↻ Retrying (a deepseek slot)".
std::string StepStatusLabel(const pb::Step& step, bool utf8);

// An applying LLM step's phase as the table shows it: "validating" ->
// "⟳ Validating", "repairing 1/2" -> "⟳ Repairing 1/2".
std::string PhaseLabel(const std::string& phase, bool utf8);
// `label` followed by " (waiting_for)" unless that is empty.
std::string WithWaitingFor(std::string label, const std::string& waiting_for);
// The run's state for a header: "⏸ Paused" ("|| Paused" in ASCII) for a
// paused run, else RunStateWord.
std::string RunStateLabel(pb::RunState state, bool utf8);
// The stable lower-case words of common/states.h ("unknown" for a value a
// newer daemon may send).
const char* StepStateWord(pb::StepState state);  // "completed"
const char* RunStateWord(pb::RunState state);    // "succeeded", "paused"

// "-" when unknown, else "12,345".
std::string FormatTokens(bool known, int64_t tokens);
// "-" when unknown, else "$0.0123".
std::string FormatCost(bool known, double cost);

// Every attempt of the step, added up.
int64_t StepElapsedMs(const pb::Step& step, int64_t now_ms);
// The attempt that counted: the last one (the one running, or the one whose
// end is the step's).
int64_t AttemptElapsedMs(const pb::Step& step, int64_t now_ms);
// Time running: from its start to its end (or now), less the time it sat
// ended before a resume (Run.stopped_ms).
int64_t RunElapsedMs(const pb::Run& run, int64_t now_ms);
// From its start to its end (or now), whatever it did in between.
int64_t RunWallMs(const pb::Run& run, int64_t now_ms);

// The header lines (plan, run, progress bar, counts, batch, time, tokens,
// cost) and the step table: Step, Type, Provider, Status, Time, Tokens,
// Cost, Description (cut to the width by display columns).
std::string RenderStatus(const pb::RunSnapshot& snapshot,
                         const RenderOptions& options);

// Why each step that ended badly (failed, interrupted) did, one line each
// under "Reasons:" ("  broken  exit code 3"); empty when none did. At most
// kMaxReasonLines steps, then how many more. Reasons are never cut.
inline constexpr int kMaxReasonLines = 20;
std::string RenderStepReasons(const pb::RunSnapshot& snapshot,
                              const RenderOptions& options);

// What the end of a run prints below the table: the result, what
// parallelism bought, the failed steps with the last lines of their logs
// (`log_tails[i]` for steps(i), may be empty).
std::string RenderSummary(const pb::RunSnapshot& snapshot,
                          const std::vector<std::string>& log_tails,
                          const RenderOptions& options);

// One plain-mode line for a state change, e.g.
// "[  12.3s] step_4  refactoring  deepseek  ⟳ Running"; empty for events
// that are not worth a line.
std::string RenderEventLine(const pb::Event& event,
                            const pb::RunSnapshot& snapshot,
                            const RenderOptions& options);

// Column widths of plain-mode lines, computed once per run (a 10,000-step
// run must not rescan its steps for each of its 20,000 events).
struct LineLayout {
  int step_w = 4, type_w = 4, provider_w = 5;
};
LineLayout ComputeLineLayout(const pb::RunSnapshot& snapshot);
// The same line as RenderEventLine; `step` is the event's step (null for
// run events) as it is after the event was applied.
std::string RenderEventLine(const pb::Event& event, const pb::Step* step,
                            const pb::Run& run, const LineLayout& layout,
                            const RenderOptions& options);

// Plain mode's "still alive" line when nothing changed for a while:
// "[  90.0s] … 3/7 steps completed; running: train (85.2s), eval (12.0s)".
std::string RenderProgressLine(const pb::RunSnapshot& snapshot,
                               const RenderOptions& options);

// `aetherflow ls`: id, state, progress, elapsed, cost, description.
std::string RenderRunList(const std::vector<pb::Run>& runs,
                          const RenderOptions& options);

// ISO 8601 UTC ("2026-01-26T10:00:00Z"), null when 0.
nlohmann::json IsoTime(int64_t ms);
// SPEC §4 `status --json`.
nlohmann::json StatusJson(const pb::RunSnapshot& snapshot, int64_t now_ms);
nlohmann::json RunJson(const pb::Run& run, int64_t now_ms);
// A step's `resources` in `status --json`: {"cpu", "mem_bytes", "gpu",
// "gpu_ids"}, null when the step asked for none.
nlohmann::json ResourcesJson(const pb::Step& step);

}  // namespace aetherflow

#endif  // AETHERFLOW_CLIENT_RENDER_H_
