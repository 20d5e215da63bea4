// A step's log as `logs`, the monitor's log pane and the final summary show
// it: the daemon's attempt markers (common/attempt_log.h) become headings,
//
//   ── attempt 2 of 3, 12:03:04, exit 1 ──
//
// and the step's own output passes through unchanged, as it comes. Pure: no
// I/O, the time zone passed in.
#ifndef AETHERFLOW_CLIENT_STEP_LOG_VIEW_H_
#define AETHERFLOW_CLIENT_STEP_LOG_VIEW_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "common/attempt_log.h"

namespace aetherflow {

struct StepLogViewOptions {
  bool utf8 = true;  // "──" or "--"
  // Hold an attempt's output until its end marker (at most kHoldBytes), so
  // that its heading can say how it ended. Off for `logs -f`, which shows
  // output as it comes (the heading then says when it started).
  bool hold = true;
  absl::TimeZone zone = absl::LocalTimeZone();
};

// "── attempt 2 of 3, 12:03:04, exit 1 ──"; without `result` (not ended,
// or not known yet) and without what an older marker lacks.
std::string AttemptHeading(const AttemptStart& start,
                           const std::optional<std::string>& result,
                           const StepLogViewOptions& options);

class StepLogView {
 public:
  // How much of an attempt's output is held waiting for its end.
  static constexpr std::size_t kHoldBytes = 1 << 20;

  explicit StepLogView(StepLogViewOptions options = {}) : options_(std::move(options)) {}

  // The next bytes of the log; returns what to show for them now. Output
  // that cannot be a marker is never delayed past the next call unless
  // held (see `hold`).
  std::string Feed(std::string_view data);
  // The log ended (or the reader stops): whatever is still held.
  std::string Finish();

 private:
  void Line(std::string_view line, std::string* out);  // with its newline
  void Text(std::string_view text, std::string* out);
  void CloseSection(const std::optional<std::string>& result, std::string* out);

  StepLogViewOptions options_;
  bool at_line_start_ = true;
  std::string partial_;                // a line start that may be a marker
  std::optional<AttemptStart> open_;   // held section's start
  std::string held_;                   // held section's output
};

// The whole of `text` through a StepLogView with `options`.
std::string RenderStepLog(std::string_view text, const StepLogViewOptions& options);

}  // namespace aetherflow

#endif  // AETHERFLOW_CLIENT_STEP_LOG_VIEW_H_
