// Check-ins (SPEC §6): when they are due, and the verdict one reaches from a
// run's state and what its steps' logs said since the previous check-in.
// Pure: time is passed in; the daemon's CheckIn RPC and the client's
// `poll`/`watch` do the waiting, the reading and the printing.
#ifndef AETHERFLOW_COMMON_CHECKIN_H_
#define AETHERFLOW_COMMON_CHECKIN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/log_analysis.h"
#include "common/states.h"

namespace aetherflow {

// T+30s, T+90s, then every 300 s.
inline constexpr std::string_view kDefaultSchedule = "30s,90s,300s";
inline constexpr int kMaxScheduleEntries = 100;
// The longest a CheckIn call waits (daemon/checkin_call.cc clamps
// CheckInRequest.wait_ms to it; the client sets its deadline from it).
inline constexpr int64_t kMaxCheckinWaitMs = int64_t{24} * 3600 * 1000;

// "30s,90s,300s" -> {30000, 90000, 300000}: the offsets from the run's start
// of the first check-ins, then the last entry as the interval that repeats
// after them. Entries use ParseDurationMs (spaces around commas allowed).
// InvalidArgumentError for an empty schedule or entry, a bad duration, a
// zero entry, offsets that do not increase, or more than
// kMaxScheduleEntries entries.
absl::StatusOr<std::vector<int64_t>> ParseSchedule(std::string_view text);

// The first check-in due strictly after `after_ms`. Due times are
// start+o[0], ..., start+o[n-2], then every o[n-1] after the last of those
// (or after `start_ms` for a one-entry schedule): {30s,90s,300s} gives
// T+30s, T+90s, T+390s, T+690s... An empty schedule means
// kDefaultSchedule. Saturates at INT64_MAX instead of overflowing.
int64_t NextCheckinMs(int64_t start_ms, const std::vector<int64_t>& schedule,
                      int64_t after_ms);

enum class Verdict { kOk, kSucceeded, kFailed, kAttention, kDiscovery };

// "ok", "succeeded", "failed", "attention", "discovery" (stable: --json).
std::string_view VerdictName(Verdict verdict);
std::optional<Verdict> VerdictFromName(std::string_view name);
// `poll`'s exit code: 0, 10, 11, 12, 13.
int VerdictExitCode(Verdict verdict);

// The run as the daemon sees it at the check-in.
struct RunFacts {
  RunState state = RunState::kRunning;
  int steps_total = 0;
  int completed = 0;
  int failed = 0;
  int running = 0;
  // Since the previous check-in: a step failed with no retry left; a step
  // failed and was scheduled again. (StepFacts has the same per step; either
  // is enough.)
  bool step_failed_since_last = false;
  bool retried_since_last = false;
  // Share of the budget spent now and at the previous check-in (the caller
  // keeps the latter in its cursor), so crossing 90% is reported once.
  std::optional<double> budget_fraction_spent;
  std::optional<double> budget_fraction_at_last_checkin;
  int64_t elapsed_ms = 0;         // since the run started
  std::optional<int64_t> tokens;  // for the summary of a finished run
  std::optional<double> cost;     // USD
};

// One step with something to say: running, or with log output, or that
// failed or was retried since the previous check-in.
struct StepFacts {
  std::string id;
  bool running = false;
  bool failed = false;         // failed for good since the previous check-in
  bool retried = false;        // failed and will run again, since then
  std::string failure;         // how it failed, for the summary: "exit 1"...
  StepAnalysis analysis;       // this check-in's AnalyzeLog result
  int quiet_checkins = 0;      // StepCursor::quiet_checkins after AnalyzeLog
  // How long its log has not grown (since the log last changed), when known.
  std::optional<int64_t> quiet_ms;
  std::optional<double> best;  // StepCursor::best, for the summary
  int64_t elapsed_ms = 0;      // how long this attempt has run, for its ETA
};

// A running step's own progress (SPEC §6: per-step progress in `poll`).
struct StepProgressReport {
  std::string step;
  Progress progress;
  std::optional<int64_t> eta_ms;  // from the step's elapsed time and share
  std::string text;               // StepProgressText()
};

struct Evidence {
  std::string step;
  Finding finding;
};

inline constexpr int kMaxEvidence = 20;

// A discovery as `watch` prints it, one line each: a step's new bests of
// its metric in one line (NewBestLine), or a discovery line of its log.
struct Discovery {
  std::string step;
  FindingKind kind = FindingKind::kDiscovery;  // kNewBest or kDiscovery
  std::string text;   // NewBestLine(), or the finding's text
  int64_t line = 0;
  std::optional<NewBestNews> new_best;  // with kNewBest
};

// One line for a step's new bests since the previous check-in:
//   "new best val_loss 0.4783 (was 0.5120) at Epoch 7/20 (3 intermediate)"
// "(first value)" when it beat nothing; "at line 42" when the log showed no
// progress; no "(N intermediate)" when there were none.
std::string NewBestLine(const NewBestNews& news);

struct CheckinReport {
  Verdict verdict = Verdict::kOk;
  // Log lines behind the verdict first (e.g. critical and error lines for
  // `failed`), then the others; at most kMaxEvidence.
  std::vector<Evidence> evidence;
  // Findings counted (StepAnalysis::counts, all steps) but not in
  // `evidence`.
  int64_t evidence_omitted = 0;
  // One line saying why: "step train failed (exit 1); train: 1 error line".
  std::string summary;
  // Run progress: completed steps plus the running steps' log progress,
  // over all steps; negative when unknown.
  double progress_fraction = -1;
  // "3/7", or "3/7 train: Trial 5/100" when running steps report progress.
  std::string progress_text;
  int64_t elapsed_ms = 0;
  // Unknown, or the verdict is kFailed or kSucceeded.
  std::optional<int64_t> eta_ms;
  // Each running step with progress read from its log, in step order.
  std::vector<StepProgressReport> steps_progress;
  // What was found since the previous check-in, whatever the verdict (an
  // `attention` report still tells of a new best): new bests first, one
  // per step, then discovery lines; at most kMaxEvidence.
  std::vector<Discovery> discoveries;
};

// The verdict, by precedence:
//  1. the run ended: succeeded -> kSucceeded; failed, cancelled or
//     interrupted -> kFailed (the final state wins over log lines);
//  2. a step failed with no retry left, or a critical line -> kFailed;
//  3. error or warning lines, a retry, a running step quiet for two or more
//     check-ins, the budget crossing 90% -> kAttention (a person must
//     decide: it outranks a discovery, which the report still tells, once);
//  4. a new best, a discovery pattern, Optuna's best changed -> kDiscovery;
//  5. otherwise kOk.
// A step's new bests (StepAnalysis::new_best) are one evidence line, the
// NewBestLine, instead of one per intermediate best.
CheckinReport Decide(const RunFacts& run, const std::vector<StepFacts>& steps);

// True when the long poll should answer at once rather than at the next
// due check-in: the run ended, a step failed for good, or a critical line
// showed (all of which make the verdict kSucceeded or kFailed). Discoveries
// and attention wait for the due time.
bool IsDecisive(const CheckinReport& report);

// elapsed * (1 - f) / f; nullopt when f <= 0 or unknown, 0 when f >= 1.
std::optional<int64_t> EstimateEtaMs(double fraction, int64_t elapsed_ms);

// The compact text report, '\n'-terminated lines:
//   FAILED run=ab12 progress=3/7 elapsed=1m05s eta=-
//     train:42: ValueError: bad input
//   step train failed (exit 1); train: 1 error line
// A running step with progress adds "  train progress: Epoch 3/10 (30%,
// eta 4m40s)" after the evidence.
// A progress text with spaces is double-quoted (progress="0/1 train: Trial
// 5/100"); durations use FormatDurationMs; "-" when unknown.
std::string RenderReport(const CheckinReport& report, std::string_view run_id);

}  // namespace aetherflow

#endif  // AETHERFLOW_COMMON_CHECKIN_H_
