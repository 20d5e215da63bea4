#include "common/duration.h"

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace aetherflow {
namespace {

constexpr int64_t kMaxInt64 = std::numeric_limits<int64_t>::max();

absl::Status InvalidDuration(std::string_view text) {
  // CHexEscape keeps the message on one line whatever the user typed.
  // (Debian's Abseil has its own string_view, hence the explicit conversion.)
  return absl::InvalidArgumentError(absl::StrCat(
      "invalid duration \"",
      absl::CHexEscape(absl::string_view(text.data(), text.size())),
      "\" (use e.g. 500ms, 30s, 5m, 2h)"));
}

// Milliseconds per unit; 0 for an unknown unit. No unit means seconds, as
// the original tool's timeouts were plain numbers of seconds.
int64_t UnitMs(std::string_view unit) {
  if (unit == "ms") return 1;
  if (unit.empty() || unit == "s") return 1000;
  if (unit == "m") return 60 * 1000;
  if (unit == "h") return 60 * 60 * 1000;
  if (unit == "d") return 24 * 60 * 60 * 1000;
  return 0;
}

}  // namespace

absl::StatusOr<int64_t> ParseDurationMs(std::string_view text) {
  std::string_view s = text;
  while (!s.empty() && absl::ascii_isspace(s.front())) s.remove_prefix(1);
  while (!s.empty() && absl::ascii_isspace(s.back())) s.remove_suffix(1);
  // Grammar: DIGITS [ "." DIGITS ] [ UNIT ]. Parsed by hand rather than with
  // strtod so that signs, exponents, "inf", "nan" and inner spaces are
  // refused, and so that integer durations are exact.
  size_t i = 0;
  int64_t whole = 0;
  while (i < s.size() && absl::ascii_isdigit(s[i])) {
    const int digit = s[i] - '0';
    if (whole > (kMaxInt64 - digit) / 10) return InvalidDuration(text);
    whole = whole * 10 + digit;
    ++i;
  }
  if (i == 0) return InvalidDuration(text);  // empty, sign, letter, ".5"
  // Fraction: keep at most 9 digits (sub-nanosecond precision is
  // meaningless here), which keeps fraction * unit within int64.
  int64_t fraction = 0;
  int64_t scale = 1;
  if (i < s.size() && s[i] == '.') {
    ++i;
    const size_t first = i;
    while (i < s.size() && absl::ascii_isdigit(s[i])) {
      if (scale < 1'000'000'000) {
        fraction = fraction * 10 + (s[i] - '0');
        scale *= 10;
      }
      ++i;
    }
    if (i == first) return InvalidDuration(text);  // "1." or "1.s"
  }
  const int64_t unit = UnitMs(s.substr(i));
  if (unit == 0) return InvalidDuration(text);
  if (whole > kMaxInt64 / unit) return InvalidDuration(text);
  // Round the fractional part to the nearest millisecond.
  const int64_t fraction_ms = (fraction * unit + scale / 2) / scale;
  if (whole * unit > kMaxInt64 - fraction_ms) return InvalidDuration(text);
  return whole * unit + fraction_ms;
}

std::string FormatDurationMs(int64_t ms) {
  if (ms < 0) {
    return absl::StrCat(
        "-", FormatDurationMs(
                 ms == std::numeric_limits<int64_t>::min() ? kMaxInt64 : -ms));
  }
  constexpr int64_t kMinute = 60 * 1000;
  constexpr int64_t kHour = 60 * kMinute;
  // Tenths are truncated, not rounded, so 59.96 s shows "59.9s" rather
  // than a confusing "60.0s" that belongs to the next format.
  if (ms < kMinute)
    return absl::StrFormat("%d.%ds", ms / 1000, ms % 1000 / 100);
  if (ms < kHour) {
    return absl::StrFormat("%dm%02ds", ms / kMinute, ms % kMinute / 1000);
  }
  return absl::StrFormat("%dh%02dm", ms / kHour, ms % kHour / kMinute);
}

}  // namespace aetherflow
