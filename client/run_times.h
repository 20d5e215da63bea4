// What a run's times say, for the status header and the final summary
// (SPEC §5): how long it ran, how long since it started when it sat ended
// before a resume, and what parallelism bought, said only when it bought
// something measurable. Pure: time passed in.
#ifndef AETHERFLOW_CLIENT_RUN_TIMES_H_
#define AETHERFLOW_CLIENT_RUN_TIMES_H_

#include <cstdint>
#include <optional>
#include <string>

#include "aetherflow/v1/aetherflow.pb.h"

namespace aetherflow {

namespace pb = ::aetherflow::v1;

struct RunTimes {
  int64_t running_ms = 0;  // start to end (or now), less the time it sat ended
  int64_t wall_ms = 0;     // start to end (or now)
  int64_t step_ms = 0;     // every attempt of every step, added up
};

// Below this, a run is too short for a speed-up to mean anything (process
// start-up and rounding to tenths dominate).
inline constexpr int64_t kMeasurableMs = 1000;
// Below this factor, parallelism bought nothing worth a line.
inline constexpr double kWorthSaying = 1.1;

RunTimes ComputeRunTimes(const pb::RunSnapshot& snapshot, int64_t now_ms);

// "Parallelism: 245.3 s of step time in 120.5 s (2.0× faster than one at a
// time)", or nullopt when the run or its steps took less than
// kMeasurableMs, or steps ran less than kWorthSaying times faster than one
// at a time would have.
std::optional<std::string> ParallelismLine(const RunTimes& times, bool utf8);

// "4.0s"; for a run that sat ended before a resume, "4.0s (4h51m since it
// started)".
std::string ElapsedText(const RunTimes& times);

}  // namespace aetherflow

#endif  // AETHERFLOW_CLIENT_RUN_TIMES_H_
