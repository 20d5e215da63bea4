// Step and run states (SPEC §3) and their stable lower-case names, which are
// part of the --json interface.
#ifndef AETHERFLOW_COMMON_STATES_H_
#define AETHERFLOW_COMMON_STATES_H_

#include <optional>
#include <string_view>

namespace aetherflow {

// Numeric values match aetherflow.v1.StepState / RunState minus one and are
// stored in SQLite: append, never renumber.
enum class StepState {
  kPending = 0,
  kRunning = 1,
  kCompleted = 2,
  kFailed = 3,
  kSkipped = 4,      // a dependency failed or was cancelled
  kCancelled = 5,
  kInterrupted = 6,  // the daemon stopped while it ran
};

enum class RunState {
  kQueued = 0,
  kRunning = 1,
  kSucceeded = 2,
  kFailed = 3,
  kCancelled = 4,
  kInterrupted = 5,
};

std::string_view StepStateName(StepState state);
std::string_view RunStateName(RunState state);
std::optional<StepState> StepStateFromName(std::string_view name);
std::optional<RunState> RunStateFromName(std::string_view name);

// True for states a step or run never leaves by itself (resume aside).
bool IsFinal(StepState state);
bool IsFinal(RunState state);

}  // namespace aetherflow

#endif  // AETHERFLOW_COMMON_STATES_H_
