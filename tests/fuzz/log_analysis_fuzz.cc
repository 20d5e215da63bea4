// libFuzzer target: the log analyser reads whatever steps print. Any bytes
// must be analysed without a crash or undefined behaviour, and the findings
// must not depend on how the log is cut into reads (the daemon reads it in
// pieces, at check-ins): the first two bytes of the input choose the cuts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/log_analysis.h"
#include "nlohmann/json.hpp"

namespace {

const aetherflow::WatchSpec& Spec() {
  static const aetherflow::WatchSpec spec = [] {
    auto parsed = aetherflow::WatchSpecFromJson(nlohmann::json::parse(R"json({
      "discovery": "FOUND (\\w+)", "metric": "val_loss[=:] *([0-9.eE+-]+)",
      "goal": "min"})json"));
    if (!parsed.ok()) std::abort();
    return *parsed;
  }();
  return spec;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t step_a = 1 + data[0];
  const size_t step_b = 1 + data[1] * 97;
  std::string_view log(reinterpret_cast<const char*>(data) + 2, size - 2);

  aetherflow::StepCursor whole;
  aetherflow::StepAnalysis once = aetherflow::AnalyzeLog(Spec(), log, &whole);

  aetherflow::StepCursor cursor;
  std::array<int64_t, aetherflow::kFindingKinds> counts{};
  size_t end = 0;
  for (int i = 0; end < log.size(); ++i) {
    end = std::min(log.size(), end + (i % 2 ? step_b : step_a));
    size_t from = static_cast<size_t>(cursor.offset);
    if (from > end) std::abort();  // the cursor never runs ahead of the data
    aetherflow::StepAnalysis part =
        aetherflow::AnalyzeLog(Spec(), log.substr(from, end - from), &cursor);
    for (int k = 0; k < aetherflow::kFindingKinds; ++k) counts[k] += part.counts[k];
  }
  if (counts != once.counts || cursor.offset != whole.offset ||
      cursor.line != whole.line || cursor.best != whole.best) {
    std::abort();
  }
  (void)aetherflow::StripAnsi(log);
  return 0;
}
