// The one conversion between the domain's states (common/states.h) and the
// wire's (aetherflow.v1): the same numbers, checked here at compile time.
#ifndef AETHERFLOW_DAEMON_PROTO_STATES_H_
#define AETHERFLOW_DAEMON_PROTO_STATES_H_

#include "aetherflow/v1/aetherflow.pb.h"
#include "common/states.h"

namespace aetherflow {

#define AF_SAME_STATE(ours, theirs) \
  static_assert(static_cast<int>(ours) == static_cast<int>(theirs), #ours)
AF_SAME_STATE(StepState::kPending, ::aetherflow::v1::STEP_PENDING);
AF_SAME_STATE(StepState::kRunning, ::aetherflow::v1::STEP_RUNNING);
AF_SAME_STATE(StepState::kCompleted, ::aetherflow::v1::STEP_COMPLETED);
AF_SAME_STATE(StepState::kFailed, ::aetherflow::v1::STEP_FAILED);
AF_SAME_STATE(StepState::kSkipped, ::aetherflow::v1::STEP_SKIPPED);
AF_SAME_STATE(StepState::kCancelled, ::aetherflow::v1::STEP_CANCELLED);
AF_SAME_STATE(StepState::kInterrupted, ::aetherflow::v1::STEP_INTERRUPTED);
AF_SAME_STATE(RunState::kQueued, ::aetherflow::v1::RUN_QUEUED);
AF_SAME_STATE(RunState::kRunning, ::aetherflow::v1::RUN_RUNNING);
AF_SAME_STATE(RunState::kSucceeded, ::aetherflow::v1::RUN_SUCCEEDED);
AF_SAME_STATE(RunState::kFailed, ::aetherflow::v1::RUN_FAILED);
AF_SAME_STATE(RunState::kCancelled, ::aetherflow::v1::RUN_CANCELLED);
AF_SAME_STATE(RunState::kInterrupted, ::aetherflow::v1::RUN_INTERRUPTED);
AF_SAME_STATE(RunState::kPaused, ::aetherflow::v1::RUN_PAUSED);
#undef AF_SAME_STATE

inline ::aetherflow::v1::StepState ToProto(StepState s) {
  return static_cast<::aetherflow::v1::StepState>(s);
}
inline ::aetherflow::v1::RunState ToProto(RunState s) {
  return static_cast<::aetherflow::v1::RunState>(s);
}
inline StepState FromProto(::aetherflow::v1::StepState s) {
  return static_cast<StepState>(s);
}
inline RunState FromProto(::aetherflow::v1::RunState s) {
  return static_cast<RunState>(s);
}

}  // namespace aetherflow

#endif  // AETHERFLOW_DAEMON_PROTO_STATES_H_
