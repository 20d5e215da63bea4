#include "common/byte_size.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace aetherflow {
namespace {

constexpr std::string_view kUnits = "KMGT";

absl::Status Bad(std::string_view text) {
  // The text is the user's: shown quoted and on one line.
  std::string shown;
  for (char c : text.substr(0, 40)) {
    shown += static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c;
  }
  if (text.size() > 40) shown += "...";
  return absl::InvalidArgumentError(
      absl::StrCat("expected a size such as \"8G\", \"512M\" or a number of "
                   "bytes, got \"",
                   shown, "\""));
}

}  // namespace

absl::StatusOr<int64_t> ParseByteSize(std::string_view text) {
  std::string_view rest = text;
  auto skip_spaces = [&rest] {
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) {
      rest.remove_prefix(1);
    }
  };
  skip_spaces();
  // The number: digits, optionally a '.' and more digits. No sign, no
  // exponent: "1e9" is more likely a typo than a size.
  size_t n = 0;
  size_t digits = 0;
  while (n < rest.size() && absl::ascii_isdigit(rest[n])) ++n, ++digits;
  if (n < rest.size() && rest[n] == '.') {
    ++n;
    while (n < rest.size() && absl::ascii_isdigit(rest[n])) ++n, ++digits;
  }
  if (digits == 0 || n > 64) return Bad(text);
  const std::string number(rest.substr(0, n));
  rest.remove_prefix(n);
  skip_spaces();
  double multiplier = 1;
  if (!rest.empty()) {
    const size_t unit = kUnits.find(absl::ascii_toupper(rest.front()));
    if (unit != std::string_view::npos) {
      multiplier = std::ldexp(1.0, 10 * static_cast<int>(unit + 1));
      rest.remove_prefix(1);
      if (!rest.empty() && (rest.front() == 'i' || rest.front() == 'I')) {
        rest.remove_prefix(1);
        if (rest.empty() || absl::ascii_toupper(rest.front()) != 'B') {
          return Bad(text);  // "8Gi": say "8G" or "8GiB"
        }
      }
    }
    if (!rest.empty() && absl::ascii_toupper(rest.front()) == 'B') {
      rest.remove_prefix(1);
    }
    skip_spaces();
    if (!rest.empty()) return Bad(text);
  }
  const double bytes = std::strtod(number.c_str(), nullptr) * multiplier;
  if (!std::isfinite(bytes) || bytes > static_cast<double>(kMaxByteSize)) {
    return absl::InvalidArgumentError(
        absl::StrCat("size too large (the limit is ",
                     FormatByteSize(kMaxByteSize), ")"));
  }
  const int64_t rounded = std::llround(bytes);
  if (rounded <= 0) {
    return absl::InvalidArgumentError("expected a size of at least 1 byte");
  }
  return rounded;
}

std::string FormatByteSize(int64_t bytes) {
  if (bytes <= 0) return "0";
  for (int unit = static_cast<int>(kUnits.size()); unit >= 1; --unit) {
    const int64_t size = int64_t{1} << (10 * unit);
    if (bytes < size) continue;
    if (bytes % size == 0) return absl::StrCat(bytes / size, std::string(1, kUnits[unit - 1]));
    const double value = static_cast<double>(bytes) / static_cast<double>(size);
    return absl::StrFormat("%.1f%c", value, kUnits[unit - 1]);
  }
  return absl::StrCat(bytes);
}

}  // namespace aetherflow
