// Step and run states (SPEC §3, §9) and their stable lower-case names, which
// are part of the --json interface.
//
// One enum family: the numeric values are those of aetherflow.v1.StepState
// and RunState (and what SQLite stores), so that the RPC edge converts with
// a plain cast (daemon/proto_states.h checks the equality at compile time).
// Append, never renumber.
#ifndef AETHERFLOW_COMMON_STATES_H_
#define AETHERFLOW_COMMON_STATES_H_

#include <optional>
#include <string_view>

namespace aetherflow {

enum class StepState {
  kPending = 1,
  kRunning = 2,
  kCompleted = 3,
  kFailed = 4,
  kSkipped = 5,      // a dependency failed or was cancelled
  kCancelled = 6,
  kInterrupted = 7,  // the daemon stopped while it ran
};

enum class RunState {
  kQueued = 1,
  kRunning = 2,
  kSucceeded = 3,
  kFailed = 4,
  kCancelled = 5,
  kInterrupted = 6,
  kPaused = 7,  // no new step starts until resumed (SPEC §9)
};

// "unknown" for a value outside the enum (a newer daemon's state).
std::string_view StepStateName(StepState state);
std::string_view RunStateName(RunState state);
std::optional<StepState> StepStateFromName(std::string_view name);
std::optional<RunState> RunStateFromName(std::string_view name);

// True for states a step or run never leaves by itself (resume aside).
// A paused run is not final: it waits for the user.
bool IsFinal(StepState state);
bool IsFinal(RunState state);

}  // namespace aetherflow

#endif  // AETHERFLOW_COMMON_STATES_H_
