// A run's attempts on parallel lanes: what the Perfetto trace
// (client/export.h) and the web page's timeline (client/web_view.h) draw.
// Pure: the snapshot and events are passed in, time too.
#ifndef AETHERFLOW_CLIENT_TIMELINE_H_
#define AETHERFLOW_CLIENT_TIMELINE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "aetherflow/v1/aetherflow.pb.h"

namespace aetherflow {

namespace pb = ::aetherflow::v1;

// One execution of a step.
struct TimelineAttempt {
  std::string step_id;
  const pb::Step* step = nullptr;  // null when the snapshot lacks the step
  int attempt = 0;
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  std::string state = "running";  // a step state word, "retrying", "unknown"
  bool has_exit_code = false;
  int exit_code = 0;
  std::string message;
  bool has_tokens = false;
  int64_t tokens = 0;
  bool has_cost = false;
  double cost = 0;
  int order = 0;  // tie-break: the order attempts started in
  int slot = 0;   // 1-based lane, set by AssignSlots
};

// Events in seq order, each seq once (a stream may repeat after a gap
// refill). Points into `events`.
std::vector<const pb::Event*> EventsInOrder(const std::vector<pb::Event>& events);

// Attempts rebuilt from STEP_STATE_CHANGED events (`events` in seq order):
// one starts at a RUNNING event and ends at the step's next non-running
// event; one still open ends at now_ms (state "running"). A step the
// events do not show running but whose snapshot has a start gets one
// attempt from the snapshot. Sorted by start, then start order. Points
// into `snapshot`.
std::vector<TimelineAttempt> RebuildAttempts(const pb::RunSnapshot& snapshot,
                                             const std::vector<const pb::Event*>& events,
                                             int64_t now_ms);

// Lanes: each attempt, in start order, takes the lowest-numbered slot free
// at its start (a slot frees when its attempt ends, so back-to-back
// attempts share a lane). Overlapping attempts get different slots and the
// number of slots is the peak parallelism, which it returns.
int AssignSlots(std::vector<TimelineAttempt>* attempts);

}  // namespace aetherflow

#endif  // AETHERFLOW_CLIENT_TIMELINE_H_
