#include "common/control_line.h"

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/plan.h"

namespace aetherflow {
namespace {

bool ValidProgress(absl::string_view value) {
  if (absl::ConsumeSuffix(&value, "%")) {
    double percent;
    return absl::SimpleAtod(value, &percent) && percent >= 0 && percent <= 100;
  }
  std::pair<absl::string_view, absl::string_view> parts =
      absl::StrSplit(value, absl::MaxSplits('/', 1));
  int64_t done, total;
  return absl::SimpleAtoi(parts.first, &done) &&
         absl::SimpleAtoi(parts.second, &total) && done >= 0 && total > 0 &&
         done <= total;
}

}  // namespace

absl::StatusOr<Figures> ParseControlLine(std::string_view text) {
  // Debian's Abseil has its own string_view type, distinct from std's.
  absl::string_view line = absl::StripAsciiWhitespace(
      absl::string_view(text.data(), text.size()));
  absl::ConsumePrefix(&line, "::aetherflow");
  Figures figures;
  bool any = false;
  for (absl::string_view field : absl::StrSplit(line, ' ', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(field, absl::MaxSplits('=', 1));
    auto bad = [&] {
      return absl::InvalidArgumentError(
          absl::StrCat("bad value in ::aetherflow line: ", field));
    };
    if (kv.first == "tokens") {
      int64_t tokens;
      if (!absl::SimpleAtoi(kv.second, &tokens) || tokens < 0 ||
          tokens > kMaxTokens) {
        return bad();
      }
      figures.tokens = tokens;
    } else if (kv.first == "cost") {
      double cost;
      if (!absl::SimpleAtod(kv.second, &cost) || !std::isfinite(cost) || cost < 0) {
        return bad();
      }
      figures.cost = cost;
    } else if (kv.first == "progress") {
      if (!ValidProgress(kv.second)) return bad();
      figures.progress = std::string(kv.second);
    } else {
      continue;  // a key from a newer version
    }
    any = true;
  }
  if (!any) {
    return absl::InvalidArgumentError(
        "::aetherflow line with no tokens=, cost= or progress=");
  }
  return figures;
}

}  // namespace aetherflow
