// Durations as users write them: "500ms", "30s", "5m", "2h", "1d", or plain
// seconds ("90", "1.5").
#ifndef AETHERFLOW_COMMON_DURATION_H_
#define AETHERFLOW_COMMON_DURATION_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace aetherflow {

// Returns the duration in milliseconds. InvalidArgumentError for anything
// else (negative, empty, unknown unit, overflow).
absl::StatusOr<int64_t> ParseDurationMs(std::string_view text);

// "0.4s", "12.3s", "4m05s", "2h03m" — compact, for tables.
std::string FormatDurationMs(int64_t ms);

}  // namespace aetherflow

#endif  // AETHERFLOW_COMMON_DURATION_H_
