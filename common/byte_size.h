// Sizes as users write them: "8G", "512M", "1.5G", "64K", "2TiB" or a
// number of bytes ("1048576"). Used by `steps[].resources.mem` (plans),
// `--resources mem=` and `[resources] mem` (the daemon's capacity).
#ifndef AETHERFLOW_COMMON_BYTE_SIZE_H_
#define AETHERFLOW_COMMON_BYTE_SIZE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace aetherflow {

// The largest size accepted (8 PiB, exactly representable in a double):
// sums over the steps that fit a machine stay far from overflowing.
inline constexpr int64_t kMaxByteSize = int64_t{1} << 53;

// A decimal number (fractions allowed) then an optional unit: K, M, G or T
// (powers of 1024, any case), optionally followed by "B" or "iB"; a bare
// "B" means bytes; spaces around the number and between it and the unit
// are allowed. Returns the size in bytes, rounded to the nearest byte.
// InvalidArgumentError for anything else, for a size that rounds to 0
// bytes, and for one above kMaxByteSize.
absl::StatusOr<int64_t> ParseByteSize(std::string_view text);

// "64G", "512M", "1.5G", "100" (bytes): the largest unit that gives an
// integer or, failing that, one decimal ("15.6G"). Negative: as 0.
std::string FormatByteSize(int64_t bytes);

}  // namespace aetherflow

#endif  // AETHERFLOW_COMMON_BYTE_SIZE_H_
