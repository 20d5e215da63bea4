// The pure parts of LLM steps (SPEC §3): the prompt, the OpenAI-compatible
// /chat/completions request and answer, cost, code blocks to files, safe
// output paths and retry timing. No I/O, no clocks (time is passed in), no
// exceptions; every function is thread-safe.
#ifndef AETHERFLOW_COMMON_LLM_H_
#define AETHERFLOW_COMMON_LLM_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/config.h"
#include "common/plan.h"

namespace aetherflow {

// Each file content and dependency output is cut to this many bytes in a
// prompt, with a note saying so.
inline constexpr std::size_t kMaxPromptPartBytes = 200 * 1024;

// ---------------------------------------------------------------- prompt

struct PromptFile {
  std::string path;     // as written in the plan
  std::string content;  // filled by the caller; may be empty
  bool input_only;      // context.input_files: read, never written
};

struct PromptInputs {
  std::string description;
  std::vector<std::string> validation_criteria;
  std::string language;  // context.language
  // context.files (input_only false: the files to write; a content, when
  // the caller found the file already there, is shown as the current
  // version) then context.input_files (input_only true).
  std::vector<PromptFile> files;
  // (step id, answer) of the step's dependencies, in dependency order;
  // filled by the caller.
  std::vector<std::pair<std::string, std::string>> dependency_outputs;
  std::string explicit_prompt;  // `prompt`: replaces the built prompt
};

// Description, criteria, explicit prompt and, from step.context (typed by
// ParsePlan), the language, files and input_files (contents left empty for
// the caller to read). Duplicates are dropped; a path in both lists is a
// file to write. InvalidArgumentError when a file list holds an empty path
// or a NUL character (possible only in a Step built in code).
absl::StatusOr<PromptInputs> PromptInputsFromStep(const Step& step);

// The user message: explicit_prompt verbatim when non-empty; otherwise, in
// this order and leaving out empty sections:
//   # Task                     the description
//   # Language
//   # Validation criteria      one "- " line each
//   # Files to write           the paths, the answer format ("one fenced
//                              code block per file, the path after the
//                              language on the fence line, e.g.
//                              ```python api.py") and current contents
//   # Input files (read-only)  each path and its content
//   # Outputs of previous steps  each step id and its answer
// Contents are fenced with a fence longer than any they contain, and cut to
// kMaxPromptPartBytes (at a UTF-8 boundary) with a note when longer.
// Deterministic: the same inputs give the same bytes.
std::string BuildPrompt(const PromptInputs& inputs);

// ---------------------------------------------------------------- API

// The JSON body of an OpenAI-compatible POST {base_url}/chat/completions:
// {"model": model, "messages": [{"role": "system", ...}, {"role": "user",
// "content": prompt}], "stream": false}. Invalid UTF-8 is replaced by
// U+FFFD rather than failing.
std::string BuildChatRequest(const std::string& model,
                             const std::string& prompt);

// One turn of a conversation (a step's repair rounds, SPEC §11).
struct ChatMessage {
  std::string role;  // "user" or "assistant"
  std::string content;
};

// The system message for steps that edit the project (the answer format is
// in the user message, common/edit_format.h).
extern const std::string_view kEditSystemMessage;

// As above, for a whole conversation after `system`.
std::string BuildChatRequest(const std::string& model, std::string_view system,
                             const std::vector<ChatMessage>& conversation);

struct Usage {
  int64_t prompt_tokens = 0;  // all input tokens, cached included
  int64_t completion_tokens = 0;
  int64_t cached_prompt_tokens = 0;  // the part of prompt_tokens from cache
};

struct Completion {
  std::string text;  // choices[0].message.content
  Usage usage;
  std::string model;          // as the provider reports it; may be empty
  std::string finish_reason;  // "stop", "length"...; may be empty
  // False when the answer had no `usage` object: the tokens are then
  // unknown (zeros), and so is the cost.
  bool usage_reported = false;
};

// Parses a /chat/completions response body. The text is
// choices[0].message.content (a string, or an array of {"type": "text",
// "text": ...} parts, concatenated). Cached tokens come from DeepSeek's
// usage.prompt_cache_hit_tokens or OpenAI's
// usage.prompt_tokens_details.cached_tokens, clamped to prompt_tokens.
// InvalidArgumentError for malformed JSON, for no choices or a null content
// (naming finish_reason, e.g. "content_filter"), and for an API error object
// {"error": {"message": ...}} (also a bare string, or inside a one-element
// array as Gemini sends): `provider error: MESSAGE` (type/code added when
// given; cut to 1000 bytes, one line). Only the body is ever quoted.
absl::StatusOr<Completion> ParseCompletion(std::string_view body);

// USD: ((prompt - cached) * price_input + cached * price_cached_input +
// completion * price_output) / 1e6; price_cached_input falls back to
// price_input. nullopt when price_input or price_output is unknown: an
// unknown cost is never reported as $0.
std::optional<double> ComputeCost(const Usage& usage,
                                  const ProviderConfig& provider);

// A step's cost before it runs (dry runs, budgets), from its
// estimated_tokens: the estimate counts as that many output tokens PLUS as
// many uncached input tokens, i.e. estimated_tokens * (price_input +
// price_output) / 1e6. nullopt when a price is unknown or the estimate is
// negative.
std::optional<double> EstimateCost(int64_t estimated_tokens,
                                   const ProviderConfig& provider);

// ---------------------------------------------------------------- answers

struct CodeBlock {
  std::string info;  // the fence line after the fence, trimmed
  // The path the info string names: "python api.py" (the words after the
  // first, so "python my file.py" names "my file.py"), "api.py" (one word
  // with a '.' or '/'), "python title=api.py" (also file=, filename=,
  // path=, name=; quotes allowed), "python:api.py". May be empty.
  std::string path;
  // When `path` is empty: a path-like text on the line just before the
  // fence ("**api.py**", "### `src/api.py`", "File: api.py",
  // "Here is `api.py`:"). May be empty.
  std::string hint;
  std::string code;  // the lines between the fences, each ending in '\n'
};

// The fenced code blocks of a Markdown text, in order: a fence is 3 or more
// '`' or '~' (any indentation); the block ends at a line of the same
// character, at least as long, and nothing else, or at the end of the text
// (an answer cut by max_tokens). "\r\n" counts as "\n". Indentation up to
// the opening fence's is removed from the code lines.
std::vector<CodeBlock> ExtractCodeBlocks(std::string_view markdown);

struct FileWrite {
  std::string path;  // relative, as in context.files
  std::string content;
};

// Which block goes to which of `files` (a step's context.files), in the
// order of `files`: first every block that names one of them (by path,
// whole info string, a word of the info string, or hint; the first such
// block wins; "src/api.py" and "api.py" match each other when one is a
// suffix of the other at a '/'), then the remaining files take the
// remaining blocks in order. Extra blocks are ignored; a file left without
// a block is not in the result. InvalidArgumentError when an entry of
// `files` is not a safe relative path (see SafeJoin).
absl::StatusOr<std::vector<FileWrite>> AssignCodeBlocks(
    const std::vector<CodeBlock>& blocks,
    const std::vector<std::string>& files);

// output_dir + "/" + relative, after checking `relative`: non-empty, not
// absolute, no ".." component, no NUL or other control character, not
// naming the directory itself ("." or "a/"), components of at most 255
// bytes, at most 4096 bytes. Spaces are fine ("my file.py"). "." components
// and repeated '/' are dropped, so the result is lexically inside
// output_dir. Symbolic links are not looked at: the writer must not follow
// them (O_NOFOLLOW, or check after creating). InvalidArgumentError naming
// the path otherwise (also for an empty output_dir).
absl::StatusOr<std::string> SafeJoin(const std::string& output_dir,
                                     const std::string& relative);

// ---------------------------------------------------------------- retries

// The wait a Retry-After header asks for, in ms from `now_ms` (Unix ms):
// delta seconds ("120", "1.5") or an HTTP-date ("Wed, 21 Oct 2015 07:28:00
// GMT"); a date in the past gives 0. nullopt for anything else.
std::optional<int64_t> ParseRetryAfterMs(std::string_view value,
                                         int64_t now_ms);

// True for statuses worth retrying: 0 (no HTTP answer: transport error,
// timeout), 408, 409, 425, 429 and 500-599. Other statuses (400, 401, 403,
// 404, 422...) will fail again.
bool IsRetryableHttpStatus(int status);

// Wait before retry number `attempt` (1-based): retry_after_ms when given
// (clamped to 0..5 min), else 1 s, 2 s, 4 s... capped at 60 s. No jitter,
// so that tests are deterministic; per-provider concurrency caps already
// spread the requests.
int64_t LlmBackoffMs(int attempt, std::optional<int64_t> retry_after_ms);

}  // namespace aetherflow

#endif  // AETHERFLOW_COMMON_LLM_H_
