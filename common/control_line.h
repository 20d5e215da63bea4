// `::aetherflow tokens=N cost=X progress=A/B` lines that command steps print
// to report figures the monitor shows (SPEC §3).
#ifndef AETHERFLOW_COMMON_CONTROL_LINE_H_
#define AETHERFLOW_COMMON_CONTROL_LINE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace aetherflow {

inline constexpr std::string_view kControlPrefix = "::aetherflow ";

struct Figures {
  std::optional<int64_t> tokens;  // total so far for the step
  std::optional<double> cost;     // USD, total so far for the step
  std::optional<std::string> progress;  // "3/10" or "45%"
};

// Parses one line (with or without the prefix). Unknown keys are ignored so
// that newer steps work with older daemons; a known key with a bad value,
// or a line with no known key, is InvalidArgumentError.
absl::StatusOr<Figures> ParseControlLine(std::string_view line);

}  // namespace aetherflow

#endif  // AETHERFLOW_COMMON_CONTROL_LINE_H_
