#include "common/states.h"

#include <array>

namespace aetherflow {
namespace {

// Indexed by the enum's value; 0 is the proto's UNSPECIFIED.
constexpr std::array<std::string_view, 8> kStepNames = {
    "unknown", "pending", "running", "completed", "failed",
    "skipped", "cancelled", "interrupted"};
constexpr std::array<std::string_view, 8> kRunNames = {
    "unknown", "queued", "running", "succeeded", "failed",
    "cancelled", "interrupted", "paused"};

template <std::size_t N>
std::string_view Name(const std::array<std::string_view, N>& names, int value) {
  return value > 0 && value < static_cast<int>(N) ? names[value] : names[0];
}

template <typename State, std::size_t N>
std::optional<State> FromName(const std::array<std::string_view, N>& names,
                              std::string_view name) {
  for (std::size_t i = 1; i < N; ++i) {
    if (names[i] == name) return static_cast<State>(i);
  }
  return std::nullopt;
}

}  // namespace

std::string_view StepStateName(StepState state) {
  return Name(kStepNames, static_cast<int>(state));
}

std::string_view RunStateName(RunState state) {
  return Name(kRunNames, static_cast<int>(state));
}

std::optional<StepState> StepStateFromName(std::string_view name) {
  return FromName<StepState>(kStepNames, name);
}

std::optional<RunState> RunStateFromName(std::string_view name) {
  return FromName<RunState>(kRunNames, name);
}

bool IsFinal(StepState state) {
  return state != StepState::kPending && state != StepState::kRunning;
}

bool IsFinal(RunState state) {
  return state != RunState::kQueued && state != RunState::kRunning &&
         state != RunState::kPaused;
}

}  // namespace aetherflow
