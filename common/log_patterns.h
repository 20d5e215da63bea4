// The built-in log patterns (SPEC §6, §14) as one reviewed table: each rule
// names the library it comes from, a real line it matches and its kind.
// common/log_analysis.cc compiles the table once and reads every line
// against all of it in one pass; tests/common/log_patterns_test.cc checks
// each rule against its example line, and tests/data/logs/ holds the corpus
// of real excerpts the table is measured on (bench/checkin_corpus.sh).
//
// How a line's kinds combine (precedence, first to last):
//  1. harmless: the text a harmless rule matches is blanked before the
//     error, critical and warning rules read the line ("0 Error(s)", a
//     mixed-precision loss scaler skipping a step, LightGBM's "No further
//     splits"). Only rules marked `beats_harmless` read the whole line.
//  2. critical > error > warning among what the rules matched.
//  3. a severity prefix on the line (glog "W0712", c10 "[W file.cpp:1]",
//     "WARNING:", "[WARNING]", TF's "... : W tensorflow/") decides between
//     warning and error: W makes the line a warning (never an error, never
//     critical); E makes it an error at least; F/FATAL/CRITICAL make it
//     critical; I/INFO/DEBUG make an error word a warning.
//  4. a rule marked `goes_on` (the line says the job skips or retries and
//     goes on) makes the line a warning at most: never critical.
//  5. discovery and progress rules are read whatever the severity.
//
// Progress rules capture `done` and `total` (or `pct`); a rule with only
// `total` announces the total of a later rule with only `done` (Hugging
// Face's "Total optimization steps = 564", then "'step': 10"); `label` names the
// counter ("Epoch") and `outer` an enclosing counter without a total
// (OpenMMLab's "Epoch [3][20/500]"). Their `level` says how far out the
// counter is (0 trials, 1 epochs, 2 steps/tasks, 3 batches/bars): a step's
// progress is its outermost counter (see StepCursor::progress_level).
//
// Discovery rules: an `event` rule's line itself says a new best was reached
// (Keras "improved from 0.40 to 0.35", Lightning "reached 0.91 (best
// 0.91)"); a `state` rule's line states the best so far (Optuna "Best is
// trial 31"), which is news only when it changes: the first one a step's
// cursor sees is the baseline. Groups: `value` and `best` (news when equal),
// `trial` and `best_trial` (news when equal, else a state).
#ifndef AETHERFLOW_COMMON_LOG_PATTERNS_H_
#define AETHERFLOW_COMMON_LOG_PATTERNS_H_

#include <span>
#include <string_view>

namespace aetherflow {

enum class RuleKind {
  kProgress,
  kError,
  kCritical,
  kWarning,
  kDiscovery,
  kHarmless,
  kSeverityPrefix,  // captures the line's own severity in group `sev`
};

// "progress", "error", "critical", "warning", "discovery", "harmless",
// "severity".
std::string_view RuleKindName(RuleKind kind);

struct LogRule {
  std::string_view name;     // stable id, "keras.checkpoint_improved"
  std::string_view library;  // where the line comes from
  RuleKind kind;
  std::string_view pattern;  // RE2 syntax
  std::string_view example;  // a real line it matches (see tests/data/logs)
  // Progress: 0 trials, 1 epochs, 2 steps or tasks, 3 batches or bars;
  // -1: from the `label` group (trial 0, epoch 1, step/iter 2, batch 3).
  int level = 0;
  // Progress: shown before the numbers when the rule has no `label` group.
  std::string_view display = {};
  // Warning: the line says the job skips or retries and goes on, so it is
  // never critical (SPEC §14).
  bool goes_on = false;
  // Warning: read on the whole line even where a harmless rule matched
  // (a loss scale that reached its minimum, inside a harmless overflow line).
  bool beats_harmless = false;
  // Discovery: the line states the best so far rather than a new one.
  bool state = false;
};

// The table, in order: for progress, the first rule of the outermost level
// that matches a line wins. Static storage; never empty.
std::span<const LogRule> BuiltinLogRules();

}  // namespace aetherflow

#endif  // AETHERFLOW_COMMON_LOG_PATTERNS_H_
