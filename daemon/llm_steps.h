// LLM steps between the engine and the HTTP edge: preparing a step's
// request (prompt from its description, criteria, files and its
// dependencies' outputs) and turning an answer into outputs (the answer in
// <output>/<step>.md, fenced code blocks in the step's context.files,
// inside the output directory only) and figures (tokens, cost).
#ifndef AETHERFLOW_DAEMON_LLM_STEPS_H_
#define AETHERFLOW_DAEMON_LLM_STEPS_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/config.h"
#include "common/plan.h"
#include "common/llm.h"
#include "daemon/llm_runner.h"
#include "daemon/project_writer.h"

namespace aetherflow {

// Builds the request for `step`: reads the context files and input files
// that exist under `cwd`, and the answers of `dependencies` from
// `output_dir`. Errors: a prompt that cannot be built (bad context).
absl::StatusOr<LlmRequest> PrepareLlmRequest(const Step& step,
                                             const std::vector<std::string>& dependencies,
                                             const std::string& cwd,
                                             const std::string& output_dir,
                                             const ProviderConfig& provider,
                                             const std::string& api_key, int64_t key);

// As PrepareLlmRequest, for a step that edits the project (SPEC §11):
// the request's one user message, also appended to `conversation`, is
// BuildApplyPrompt with `files` as the caller read them from the project.
absl::StatusOr<LlmRequest> PrepareEditRequest(const Step& step,
                                              const std::vector<std::string>& dependencies,
                                              const std::string& cwd,
                                              const std::string& output_dir,
                                              const ProviderConfig& provider,
                                              const std::string& api_key, int64_t key,
                                              const std::vector<ProjectFile>& files,
                                              std::vector<ChatMessage>* conversation);

// What one answer means for its step.
struct LlmOutcome {
  enum class Kind { kSucceeded, kRetry, kFailed, kCancelled } kind = Kind::kFailed;
  std::string message;                  // for the step (no secrets)
  std::optional<int64_t> tokens;        // prompt + completion
  std::optional<double> cost;           // USD; unknown without prices
  std::optional<int64_t> retry_after_ms;
  bool throttled = false;               // a 429
  // With kRetry: why, in a few words ("connection refused", "HTTP 503").
  std::string retry_reason;
  // With kSucceeded: the answer's text.
  std::string text;
};

// Interprets `response` for `step` (attempt `http_attempt` of this step
// attempt, 1-based; retries stop after kMaxHttpAttempts). On success writes
// the outputs, with the submitter's `umask` when given (the daemon's
// otherwise); a failure to write them fails the step. With `edits` (a step
// that applies), only the answer is written (<output>/<step>.md, the
// latest answer): its code goes to the project, not the output folder.
inline constexpr int kMaxHttpAttempts = 6;
LlmOutcome HandleLlmResponse(const LlmResponse& response, const Step& step,
                             const std::string& output_dir,
                             const ProviderConfig& provider, int http_attempt,
                             int64_t now_ms,
                             std::optional<mode_t> umask = std::nullopt,
                             bool edits = false);

}  // namespace aetherflow

#endif  // AETHERFLOW_DAEMON_LLM_STEPS_H_
