// Limits the client and the daemon must agree on, so that what `--help`
// promises is what the daemon accepts.
#ifndef AETHERFLOW_COMMON_LIMITS_H_
#define AETHERFLOW_COMMON_LIMITS_H_

namespace aetherflow {

// The most lines `logs --tail N` may ask for (ReadLogs' tail_lines).
inline constexpr int kMaxTailLines = 1'000'000;

}  // namespace aetherflow

#endif  // AETHERFLOW_COMMON_LIMITS_H_
