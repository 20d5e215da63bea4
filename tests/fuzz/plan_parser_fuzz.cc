// libFuzzer target: the plan parser must turn any bytes into a Plan or a
// clear error, never a crash, a hang or undefined behaviour. A plan it
// accepts must describe a valid DAG (what the scheduler relies on).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/plan_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<aetherflow::Plan> plan = aetherflow::ParsePlan(text, "fuzz.json");
  if (!plan.ok()) {
    if (plan.status().message().empty()) std::abort();  // errors say why
    return 0;
  }
  // Accepted: one entry of deps and batch per step, and every dependency
  // comes from an earlier batch (so no cycle got through).
  if (plan->deps.size() != plan->steps.size() ||
      plan->batch.size() != plan->steps.size()) {
    std::abort();
  }
  for (size_t i = 0; i < plan->steps.size(); ++i) {
    for (auto dep : plan->deps[i]) {
      if (static_cast<size_t>(dep) >= plan->steps.size() ||
          plan->batch[dep] >= plan->batch[i]) {
        std::abort();
      }
    }
  }
  return 0;
}
