// The lines the daemon writes into a step's log around the step's own
// output, so that a reader can tell attempts apart and see why one ended:
//
//   ::aetherflow-attempt 2 of 3 at 1764850984123     (an attempt starts)
//   ... the attempt's output ...
//   aetherflow: exit code 1                          (why it ended badly)
//   ::aetherflow-attempt-end 2 exit 1                (how it ended)
//
// Lines starting with "::aetherflow-" are markers for readers (the client
// turns them into headings, see client/step_log_view.h); the closing
// "aetherflow: " line is for people and is shown as it is. Pure.
#ifndef AETHERFLOW_COMMON_ATTEMPT_LOG_H_
#define AETHERFLOW_COMMON_ATTEMPT_LOG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace aetherflow {

struct AttemptStart {
  int attempt = 0;          // 1, 2, ...
  int max_attempts = 0;     // 0: not known (a log of an older daemon)
  int64_t started_at_ms = 0;  // 0: not known
  // The step ran before, in an earlier go of the run (before a resume):
  // its log already held output.
  bool resumed = false;
};

struct AttemptEnd {
  int attempt = 0;
  std::string result;  // "exit 1", "ok", "timed out", "killed by SIGKILL"...
};

// "::aetherflow-attempt 2 of 3 at 1764850984123\n" (" resumed" before the
// newline for a resumed step).
std::string FormatAttemptStart(const AttemptStart& start);
// "::aetherflow-attempt-end 2 exit 1\n".
std::string FormatAttemptEnd(const AttemptEnd& end);
// "aetherflow: timed out after 5s\n": one line whatever `reason` holds.
std::string FormatClosingLine(std::string_view reason);

// A line (without its newline) as written by FormatAttemptStart, or by
// older daemons ("::aetherflow-attempt 2"); nullopt for any other line.
std::optional<AttemptStart> ParseAttemptStart(std::string_view line);
std::optional<AttemptEnd> ParseAttemptEnd(std::string_view line);

// True when `partial`, the start of a line not yet ended, may still turn
// out to be a marker ("::aeth" may; "Epoch 1" may not).
bool MayBeAttemptMarker(std::string_view partial);

}  // namespace aetherflow

#endif  // AETHERFLOW_COMMON_ATTEMPT_LOG_H_
