#include "client/run_times.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/render.h"
#include "common/duration.h"

namespace aetherflow {

RunTimes ComputeRunTimes(const pb::RunSnapshot& snapshot, int64_t now_ms) {
  RunTimes times;
  times.running_ms = RunElapsedMs(snapshot.run(), now_ms);
  times.wall_ms = RunWallMs(snapshot.run(), now_ms);
  for (const pb::Step& step : snapshot.steps()) {
    times.step_ms += StepElapsedMs(step, now_ms);
  }
  return times;
}

std::optional<std::string> ParallelismLine(const RunTimes& times, bool utf8) {
  if (times.running_ms < kMeasurableMs || times.step_ms < kMeasurableMs) {
    return std::nullopt;
  }
  const double factor = static_cast<double>(times.step_ms) / times.running_ms;
  if (factor < kWorthSaying) return std::nullopt;
  return absl::StrFormat(
      "Parallelism: %.1f s of step time in %.1f s (%.1f%s faster than one at a time)",
      times.step_ms / 1000.0, times.running_ms / 1000.0, factor, utf8 ? "×" : "x");
}

std::string ElapsedText(const RunTimes& times) {
  std::string text = FormatDurationMs(times.running_ms);
  // Shown only when the two read differently.
  if (times.wall_ms > times.running_ms &&
      FormatDurationMs(times.wall_ms) != text) {
    absl::StrAppend(&text, " (", FormatDurationMs(times.wall_ms), " since it started)");
  }
  return text;
}

}  // namespace aetherflow
