#include "common/states.h"

#include <array>

namespace aetherflow {
namespace {

constexpr std::array<std::string_view, 7> kStepNames = {
    "pending", "running", "completed", "failed",
    "skipped", "cancelled", "interrupted"};
constexpr std::array<std::string_view, 6> kRunNames = {
    "queued", "running", "succeeded", "failed", "cancelled", "interrupted"};

}  // namespace

std::string_view StepStateName(StepState state) {
  return kStepNames[static_cast<int>(state)];
}

std::string_view RunStateName(RunState state) {
  return kRunNames[static_cast<int>(state)];
}

std::optional<StepState> StepStateFromName(std::string_view name) {
  for (std::size_t i = 0; i < kStepNames.size(); ++i) {
    if (kStepNames[i] == name) return static_cast<StepState>(i);
  }
  return std::nullopt;
}

std::optional<RunState> RunStateFromName(std::string_view name) {
  for (std::size_t i = 0; i < kRunNames.size(); ++i) {
    if (kRunNames[i] == name) return static_cast<RunState>(i);
  }
  return std::nullopt;
}

bool IsFinal(StepState state) {
  return state != StepState::kPending && state != StepState::kRunning;
}

bool IsFinal(RunState state) {
  return state != RunState::kQueued && state != RunState::kRunning;
}

}  // namespace aetherflow
