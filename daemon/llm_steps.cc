#include "daemon/llm_steps.h"

#include <sys/stat.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "common/llm.h"
#include "daemon/edit_step.h"

namespace aetherflow {
namespace {

constexpr std::size_t kMaxInputBytes = 200 * 1024;

// The file's text, at most kMaxInputBytes; nullopt when it does not exist.
std::optional<std::string> ReadSmall(const std::filesystem::path& path) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  std::string text(kMaxInputBytes, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return text;
}

// Creates `dir` and its missing parents. With `umask`, the folders it
// creates get the mode the submitter's shell would give them.
absl::Status MakeFolders(const std::filesystem::path& dir, std::optional<mode_t> umask) {
  std::error_code error;
  if (dir.empty() || std::filesystem::is_directory(dir, error)) return absl::OkStatus();
  if (dir.has_relative_path() && dir.parent_path() != dir) {
    if (absl::Status parent = MakeFolders(dir.parent_path(), umask); !parent.ok()) {
      return parent;
    }
  }
  if (::mkdir(dir.c_str(), 0777) != 0) {
    if (errno == EEXIST && std::filesystem::is_directory(dir, error)) return absl::OkStatus();
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot create folder ", dir.string()));
  }
  if (umask && ::chmod(dir.c_str(), 0777 & ~*umask & 0777) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot create folder ", dir.string()));
  }
  return absl::OkStatus();
}

// Writes `content` to `path` atomically (tmp + rename), creating folders.
// With `umask`, the file's mode is what the submitter's shell would give it.
absl::Status WriteFile(const std::string& path, const std::string& content,
                       std::optional<mode_t> umask) {
  if (absl::Status made = MakeFolders(std::filesystem::path(path).parent_path(), umask);
      !made.ok()) {
    return made;
  }
  std::error_code error;
  std::string tmp = path + ".aetherflow-tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out.good()) return absl::InternalError(absl::StrCat("cannot write ", path));
  }
  if (umask && ::chmod(tmp.c_str(), 0666 & ~*umask & 0777) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot write ", path));
  }
  std::filesystem::rename(tmp, path, error);
  if (error) return absl::InternalError(absl::StrCat("cannot write ", path, ": ", error.message()));
  return absl::OkStatus();
}

}  // namespace

namespace {

// The step's prompt inputs with their contents read: the files that exist
// under `cwd` (else in the output folder, made by an earlier step) and the
// dependencies' answers. With `only_inputs`, context.files are left empty
// (an applying step shows them from the project).
absl::StatusOr<PromptInputs> ReadPromptInputs(const Step& step,
                                              const std::vector<std::string>& dependencies,
                                              const std::string& cwd,
                                              const std::string& output_dir,
                                              bool only_inputs) {
  absl::StatusOr<PromptInputs> inputs = PromptInputsFromStep(step);
  if (!inputs.ok()) return inputs.status();
  for (PromptFile& file : inputs->files) {
    if (only_inputs && !file.input_only) continue;
    // Files the step writes may not exist yet; inputs may have been made by
    // an earlier step in the output folder.
    std::optional<std::string> text = ReadSmall(std::filesystem::path(cwd) / file.path);
    if (!text) {
      absl::StatusOr<std::string> in_output = SafeJoin(output_dir, file.path);
      if (in_output.ok()) text = ReadSmall(*in_output);
    }
    if (text) file.content = std::move(*text);
  }
  for (const std::string& dep : dependencies) {
    if (std::optional<std::string> answer = ReadSmall(output_dir + "/" + dep + ".md")) {
      inputs->dependency_outputs.emplace_back(dep, std::move(*answer));
    }
  }
  return inputs;
}

LlmRequest NewRequest(const ProviderConfig& provider, const std::string& api_key, int64_t key,
                      std::string body) {
  LlmRequest request;
  request.key = key;
  std::string base = provider.base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  request.url = base + "/chat/completions";
  request.api_key = api_key;
  request.body = std::move(body);
  request.timeout_ms = provider.timeout_ms;
  return request;
}

}  // namespace

absl::StatusOr<LlmRequest> PrepareLlmRequest(const Step& step,
                                             const std::vector<std::string>& dependencies,
                                             const std::string& cwd,
                                             const std::string& output_dir,
                                             const ProviderConfig& provider,
                                             const std::string& api_key, int64_t key) {
  absl::StatusOr<PromptInputs> inputs =
      ReadPromptInputs(step, dependencies, cwd, output_dir, /*only_inputs=*/false);
  if (!inputs.ok()) return inputs.status();
  return NewRequest(provider, api_key, key, BuildChatRequest(provider.model, BuildPrompt(*inputs)));
}

absl::StatusOr<LlmRequest> PrepareEditRequest(const Step& step,
                                              const std::vector<std::string>& dependencies,
                                              const std::string& cwd,
                                              const std::string& output_dir,
                                              const ProviderConfig& provider,
                                              const std::string& api_key, int64_t key,
                                              const std::vector<ProjectFile>& files,
                                              std::vector<ChatMessage>* conversation) {
  absl::StatusOr<PromptInputs> inputs =
      ReadPromptInputs(step, dependencies, cwd, output_dir, /*only_inputs=*/true);
  if (!inputs.ok()) return inputs.status();
  conversation->push_back({"user", BuildApplyPrompt(std::move(*inputs), files)});
  return NewRequest(provider, api_key, key,
                    BuildChatRequest(provider.model, kEditSystemMessage, *conversation));
}

LlmOutcome HandleLlmResponse(const LlmResponse& response, const Step& step,
                             const std::string& output_dir,
                             const ProviderConfig& provider, int http_attempt,
                             int64_t now_ms, std::optional<mode_t> umask, bool edits) {
  LlmOutcome outcome;
  if (response.cancelled) {
    outcome.kind = LlmOutcome::Kind::kCancelled;
    outcome.message = "cancelled";
    return outcome;
  }
  bool ok_status = response.http_status >= 200 && response.http_status < 300;
  if (!ok_status) {
    std::string why;
    if (response.http_status == 0) {
      why = absl::StrCat(provider.name, ": ", response.error);
    } else {
      absl::StatusOr<Completion> error = ParseCompletion(response.body);
      why = absl::StrCat(provider.name, " answered ", response.http_status,
                         error.ok() ? "" : absl::StrCat(": ", error.status().message()));
    }
    if (IsRetryableHttpStatus(response.http_status) && http_attempt < kMaxHttpAttempts) {
      outcome.kind = LlmOutcome::Kind::kRetry;
      outcome.throttled = response.http_status == 429;
      outcome.retry_after_ms = ParseRetryAfterMs(response.retry_after, now_ms);
      outcome.message = why;
      outcome.retry_reason =
          response.http_status != 0 ? absl::StrCat("HTTP ", response.http_status)
          : response.reason.empty() ? response.error
                                    : response.reason;
      return outcome;
    }
    outcome.kind = LlmOutcome::Kind::kFailed;
    outcome.message = http_attempt >= kMaxHttpAttempts
                          ? absl::StrCat(why, " (gave up after ", http_attempt, " tries)")
                          : why;
    return outcome;
  }
  absl::StatusOr<Completion> completion = ParseCompletion(response.body);
  if (!completion.ok()) {
    outcome.kind = LlmOutcome::Kind::kFailed;
    outcome.message = absl::StrCat(provider.name, ": ", completion.status().message());
    return outcome;
  }
  if (completion->usage_reported) {
    outcome.tokens = completion->usage.prompt_tokens + completion->usage.completion_tokens;
    outcome.cost = ComputeCost(completion->usage, provider);
  }  // else both unknown: never a made-up zero
  absl::Status written =
      WriteFile(output_dir + "/" + step.id + ".md", completion->text, umask);
  if (edits) {
    if (!written.ok()) {
      outcome.kind = LlmOutcome::Kind::kFailed;
      outcome.message = std::string(written.message());
      return outcome;
    }
    outcome.kind = LlmOutcome::Kind::kSucceeded;
    outcome.text = std::move(completion->text);
    return outcome;
  }
  absl::StatusOr<PromptInputs> inputs = PromptInputsFromStep(step);
  std::vector<std::string> files;
  if (inputs.ok()) {
    for (const PromptFile& file : inputs->files) {
      if (!file.input_only) files.push_back(file.path);
    }
  }
  absl::StatusOr<std::vector<FileWrite>> writes =
      AssignCodeBlocks(ExtractCodeBlocks(completion->text), files);
  if (written.ok() && writes.ok()) {
    for (const FileWrite& write : *writes) {
      absl::StatusOr<std::string> path = SafeJoin(output_dir, write.path);
      if (!path.ok()) {
        written = path.status();
        break;
      }
      written = WriteFile(*path, write.content, umask);
      if (!written.ok()) break;
    }
  } else if (written.ok()) {
    written = writes.status();
  }
  if (!written.ok()) {
    outcome.kind = LlmOutcome::Kind::kFailed;
    outcome.message = std::string(written.message());
    return outcome;
  }
  outcome.kind = LlmOutcome::Kind::kSucceeded;
  return outcome;
}

}  // namespace aetherflow
