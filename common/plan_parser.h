// Parsing and validation of plan files (SPEC §2).
#ifndef AETHERFLOW_COMMON_PLAN_PARSER_H_
#define AETHERFLOW_COMMON_PLAN_PARSER_H_

#include <string_view>

#include "absl/status/statusor.h"
#include "common/plan.h"

namespace aetherflow {

// Parses `text`, the contents of the plan file `filename` (used only in
// messages), and validates it: JSON syntax, types, required and duplicate
// ids, step id syntax (letters, digits, '_', '-', '.'; not "." or ".."; at
// most kMaxStepIdLength), unknown dependencies, cycles, size, depth and step
// count limits, durations, retries.
//
// On success the Plan has its deps, batches (topological levels) and
// warnings (one line naming every unknown plan or step field; `context` and
// `metadata` are free-form and never warned about) filled in.
//
// On failure returns InvalidArgumentError whose message lists EVERY problem
// found, one per line, each as
//   FILE:LINE:COL: JSON.PATH: problem
// e.g. `plan.json:7:25: steps[3].dependencies[0]: unknown step "step_9"`.
// A JSON syntax error is reported alone (nothing else can be checked).
// A cycle is reported as `cycle: a -> b -> c -> a`.
absl::StatusOr<Plan> ParsePlan(std::string_view text, std::string_view filename);

}  // namespace aetherflow

#endif  // AETHERFLOW_COMMON_PLAN_PARSER_H_
