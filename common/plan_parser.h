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
//
// Under PlanRules::kNew (a plan being submitted or dry-run), an unknown
// field that is a near miss of a known one, or a common other name for it,
// is a problem, not a warning, since the typo changes what a step does
// (`"command"` for `"run"` would send the step to an LLM; `"dependecies"`
// would run it at once): `steps[0].command: unknown field (did you mean
// "run"?)`. So is a step with no `run`, no `prompt` and no `description`:
// there is nothing to run nor to ask. PlanRules::kStored reads a plan that
// a daemon accepted before (resume, check-ins, a restart): those two checks
// only warn, so that no stored run becomes unreadable after an upgrade.
enum class PlanRules { kNew, kStored };
absl::StatusOr<Plan> ParsePlan(std::string_view text, std::string_view filename,
                               PlanRules rules = PlanRules::kNew);

}  // namespace aetherflow

#endif  // AETHERFLOW_COMMON_PLAN_PARSER_H_
