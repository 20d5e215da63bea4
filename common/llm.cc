#include "common/llm.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/duration.h"

namespace aetherflow {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kSystemMessage =
    "You are a careful software engineer. Do exactly what the task asks. "
    "When asked to write files, answer with one fenced code block per file "
    "holding its complete content, the path after the language on the fence "
    "line (```python api.py).";
// Provider error messages are cut to this many bytes.
constexpr size_t kMaxErrorMessageBytes = 1000;
constexpr size_t kMaxPathBytes = 4096;
constexpr size_t kMaxComponentBytes = 255;
constexpr int64_t kMaxRetryAfterMs = 5 * 60 * 1000;
constexpr int64_t kMaxBackoffMs = 60 * 1000;

// Debian's Abseil has its own string_view, distinct from std::string_view.
absl::string_view AbslView(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && absl::ascii_isspace(s.front())) s.remove_prefix(1);
  while (!s.empty() && absl::ascii_isspace(s.back())) s.remove_suffix(1);
  return s;
}

bool IsControl(char c) {
  return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
}

// `s` on one line (control characters become spaces), cut to `max` bytes.
std::string OneLine(std::string_view s, size_t max) {
  std::string out;
  for (char c : s.substr(0, max)) out += IsControl(c) ? ' ' : c;
  if (s.size() > max) out += "...";
  return out;
}

// The longest prefix of `s` of at most `max` bytes that does not split a
// UTF-8 character.
std::string_view CutUtf8(std::string_view s, size_t max) {
  if (s.size() <= max) return s;
  size_t cut = max;
  // Back up over continuation bytes (10xxxxxx) to a character start.
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) {
    --cut;
  }
  return s.substr(0, cut);
}

// `text` in a fence of backticks longer than any run inside it, so that
// code blocks in a file or an answer cannot end the fence early. Cut to
// kMaxPromptPartBytes with a note.
std::string Fenced(std::string_view text) {
  const std::string_view shown = CutUtf8(text, kMaxPromptPartBytes);
  size_t longest = 0;
  size_t run = 0;
  for (char c : shown) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  const std::string fence(std::max<size_t>(3, longest + 1), '`');
  std::string out = absl::StrCat(fence, "\n", AbslView(shown));
  if (!shown.empty() && shown.back() != '\n') out += '\n';
  absl::StrAppend(&out, fence, "\n");
  if (shown.size() < text.size()) {
    absl::StrAppend(&out, "(cut: only the first ", shown.size(), " of ",
                    text.size(), " bytes are shown)\n");
  }
  return out;
}

// Appends `paths` (context.`key` of step `step_id`) to `out`, skipping
// those in `seen`. ParsePlan has checked them; a Step built in code may
// still hold an empty path or a NUL.
absl::Status AddPaths(const std::vector<std::string>& paths,
                      const std::string& key, const std::string& step_id,
                      bool input_only, std::vector<std::string>& seen,
                      std::vector<PromptFile>& out) {
  for (size_t i = 0; i < paths.size(); ++i) {
    const std::string& path = paths[i];
    if (path.empty() || path.find('\0') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("step \"", step_id, "\": context.", key, "[", i,
                       "]: expected a non-empty path"));
    }
    if (std::find(seen.begin(), seen.end(), path) != seen.end()) continue;
    seen.push_back(path);
    out.push_back({path, "", input_only});
  }
  return absl::OkStatus();
}

std::optional<int64_t> GetCount(const Json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end()) return std::nullopt;
  // Capped at kMaxTokens: the daemon adds these up over a run's steps.
  if (it->is_number_unsigned()) {
    const uint64_t v = it->get<uint64_t>();
    return static_cast<int64_t>(std::min<uint64_t>(v, kMaxTokens));
  }
  if (it->is_number_integer()) {
    return std::clamp<int64_t>(it->get<int64_t>(), 0, kMaxTokens);
  }
  if (it->is_number_float()) {
    const double v = it->get<double>();
    if (std::isfinite(v) && v >= 0) {
      return v < kMaxTokens ? std::llround(v) : kMaxTokens;
    }
  }
  return std::nullopt;
}

std::string JsonText(const Json& j) {
  if (j.is_string()) return j.get<std::string>();
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

absl::Status ApiError(const Json& error) {
  std::string message;
  std::vector<std::string> details;
  if (error.is_object()) {
    auto m = error.find("message");
    message = m != error.end() ? JsonText(*m) : JsonText(error);
    for (const char* key : {"type", "code", "status"}) {
      auto d = error.find(key);
      if (d != error.end() && !d->is_null()) {
        details.push_back(absl::StrCat(key, ": ", JsonText(*d)));
      }
    }
  } else {
    message = JsonText(error);
  }
  std::string text = absl::StrCat("provider error: ", message);
  if (!details.empty()) {
    absl::StrAppend(&text, " (", absl::StrJoin(details, ", "), ")");
  }
  return absl::InvalidArgumentError(OneLine(text, kMaxErrorMessageBytes));
}

// ---- code blocks

struct Fence {
  size_t indent = 0;
  char ch = 0;
  size_t length = 0;
  std::string_view info;
};

std::optional<Fence> ParseOpener(std::string_view line) {
  Fence f;
  while (f.indent < line.size() &&
         (line[f.indent] == ' ' || line[f.indent] == '\t')) {
    ++f.indent;
  }
  if (f.indent == line.size()) return std::nullopt;
  f.ch = line[f.indent];
  if (f.ch != '`' && f.ch != '~') return std::nullopt;
  size_t end = f.indent;
  while (end < line.size() && line[end] == f.ch) ++end;
  f.length = end - f.indent;
  if (f.length < 3) return std::nullopt;
  f.info = Trim(line.substr(end));
  // CommonMark: a backtick fence's info string has no backtick (```x``` is
  // inline code, not a fence).
  if (f.ch == '`' && f.info.find('`') != std::string_view::npos) {
    return std::nullopt;
  }
  return f;
}

bool IsCloser(std::string_view line, const Fence& opener) {
  line = Trim(line);
  if (line.size() < opener.length) return false;
  return std::all_of(line.begin(), line.end(),
                     [&](char c) { return c == opener.ch; });
}

std::string_view StripQuotes(std::string_view s) {
  s = Trim(s);
  while (s.size() >= 2 &&
         (s.front() == '"' || s.front() == '\'' || s.front() == '`') &&
         s.back() == s.front()) {
    s = Trim(s.substr(1, s.size() - 2));
  }
  return s;
}

bool LooksLikePath(std::string_view s) {
  if (s.empty() || s.size() > kMaxPathBytes) return false;
  if (s.find('`') != std::string_view::npos ||
      std::any_of(s.begin(), s.end(), IsControl)) {
    return false;
  }
  if (absl::StartsWith(AbslView(s), "http://") ||
      absl::StartsWith(AbslView(s), "https://")) {
    return false;
  }
  const size_t slash = s.rfind('/');
  const std::string_view base =
      slash == std::string_view::npos ? s : s.substr(slash + 1);
  const size_t dot = base.rfind('.');
  const bool has_extension =
      dot != std::string_view::npos && dot + 1 < base.size() &&
      std::all_of(base.begin() + dot + 1, base.end(),
                  [](char c) { return absl::ascii_isalnum(c); });
  return has_extension || (slash != std::string_view::npos && !base.empty());
}

std::vector<std::string_view> Words(std::string_view s) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && absl::ascii_isspace(s[i])) ++i;
    const size_t start = i;
    while (i < s.size() && !absl::ascii_isspace(s[i])) ++i;
    if (i > start) words.push_back(s.substr(start, i - start));
  }
  return words;
}

std::string PathFromInfo(std::string_view info) {
  if (info.empty()) return "";
  // title=api.py, file="my file.py"...
  for (std::string_view key :
       {"title=", "file=", "filename=", "path=", "name="}) {
    size_t at = 0;
    while ((at = info.find(key, at)) != std::string_view::npos) {
      if (at == 0 || absl::ascii_isspace(info[at - 1])) break;
      ++at;
    }
    if (at == std::string_view::npos) continue;
    std::string_view value = info.substr(at + key.size());
    if (!value.empty() && (value[0] == '"' || value[0] == '\'')) {
      const size_t close = value.find(value[0], 1);
      value = close == std::string_view::npos ? value.substr(1)
                                              : value.substr(1, close - 1);
    } else {
      value =
          value.substr(0, std::min(value.size(), value.find_first_of(" \t}")));
    }
    return std::string(Trim(value));
  }
  const std::vector<std::string_view> words = Words(info);
  // python:api.py
  const size_t colon = words[0].find(':');
  if (colon != std::string_view::npos && colon > 0 &&
      words[0].find("://") == std::string_view::npos) {
    const size_t at = info.find(':');
    return std::string(StripQuotes(info.substr(at + 1)));
  }
  if (words.size() == 1) {
    return LooksLikePath(words[0]) ? std::string(StripQuotes(words[0])) : "";
  }
  // python api.py, python my file.py; not attributes (python {.numbers}).
  std::string_view rest = Trim(info.substr(words[0].size()));
  if (rest.front() == '{') return "";
  rest = StripQuotes(rest);
  while (!rest.empty() && rest.back() == ':') rest.remove_suffix(1);
  return std::string(rest);
}

// A path named on the prose line before a fence, or "".
std::string HintFromLine(std::string_view line) {
  line = Trim(line);
  if (line.empty()) return "";
  std::string_view candidate;
  const size_t close = line.rfind('`');
  const size_t open = close == std::string_view::npos || close == 0
                          ? std::string_view::npos
                          : line.rfind('`', close - 1);
  if (open != std::string_view::npos) {
    candidate = line.substr(open + 1, close - open - 1);  // last `code span`
  } else {
    std::string_view s = line;
    while (!s.empty() && (s.front() == '#' || s.front() == '-' ||
                          s.front() == '*' || s.front() == '_' ||
                          s.front() == '>' || absl::ascii_isspace(s.front()))) {
      s.remove_prefix(1);
    }
    for (std::string_view prefix : {"file:", "filename:", "path:"}) {
      if (absl::StartsWithIgnoreCase(AbslView(s), AbslView(prefix))) {
        s = Trim(s.substr(prefix.size()));
      }
    }
    const std::vector<std::string_view> words = Words(s);
    if (words.empty()) return "";
    candidate = words.back();  // "Create api.py:" -> "api.py:"
  }
  candidate = Trim(candidate);
  while (!candidate.empty() &&
         std::string_view(":.,;*_\"'").find(candidate.back()) !=
             std::string_view::npos) {
    candidate.remove_suffix(1);
  }
  while (!candidate.empty() &&
         std::string_view("*_\"'").find(candidate.front()) !=
             std::string_view::npos) {
    candidate.remove_prefix(1);
  }
  return LooksLikePath(candidate) ? std::string(candidate) : "";
}

// ---- paths

std::string PrintablePath(std::string_view path) { return OneLine(path, 200); }

// `relative` normalised ("./a//b" -> "a/b"), or why it is refused.
absl::StatusOr<std::string> NormalizeRelative(const std::string& relative) {
  auto refuse = [&](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("unsafe output path \"",
                                                   PrintablePath(relative),
                                                   "\": ", AbslView(why)));
  };
  if (relative.empty()) return refuse("empty");
  if (relative.size() > kMaxPathBytes) return refuse("too long");
  if (std::any_of(relative.begin(), relative.end(), IsControl)) {
    return refuse("control characters (or NUL) are not allowed");
  }
  if (relative[0] == '/') return refuse("absolute paths are not allowed");
  if (relative.back() == '/') return refuse("names a directory");
  std::string out;
  size_t start = 0;
  while (start <= relative.size()) {
    size_t end = relative.find('/', start);
    if (end == std::string::npos) end = relative.size();
    const std::string_view part =
        std::string_view(relative).substr(start, end - start);
    start = end + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") return refuse("\"..\" is not allowed");
    if (part.size() > kMaxComponentBytes) return refuse("name too long");
    if (!out.empty()) out += '/';
    out.append(part.data(), part.size());
  }
  if (out.empty()) return refuse("names the output directory itself");
  return out;
}

bool PathMatches(std::string_view name, std::string_view file) {
  if (name.empty()) return false;
  while (absl::StartsWith(AbslView(name), "./")) name.remove_prefix(2);
  while (absl::StartsWith(AbslView(file), "./")) file.remove_prefix(2);
  if (name == file) return true;
  auto suffix = [](std::string_view longer, std::string_view shorter) {
    return longer.size() > shorter.size() &&
           longer.substr(longer.size() - shorter.size()) == shorter &&
           longer[longer.size() - shorter.size() - 1] == '/';
  };
  return suffix(name, file) || suffix(file, name);
}

}  // namespace

absl::StatusOr<PromptInputs> PromptInputsFromStep(const Step& step) {
  PromptInputs in;
  in.description = step.description;
  in.validation_criteria = step.validation_criteria;
  in.explicit_prompt = step.prompt;
  in.language = step.context.language;
  std::vector<std::string> seen;
  absl::Status s =
      AddPaths(step.context.files, "files", step.id, false, seen, in.files);
  if (s.ok()) {
    s = AddPaths(step.context.input_files, "input_files", step.id, true, seen,
                 in.files);
  }
  if (!s.ok()) return s;
  return in;
}

std::string BuildPrompt(const PromptInputs& in) {
  if (!in.explicit_prompt.empty()) return in.explicit_prompt;
  std::string out;
  auto section = [&out](std::string_view title) {
    if (!out.empty()) out += '\n';
    absl::StrAppend(&out, "# ", AbslView(title), "\n\n");
  };
  if (!in.description.empty()) {
    section("Task");
    absl::StrAppend(&out, in.description, "\n");
  }
  if (!in.language.empty()) {
    section("Language");
    absl::StrAppend(&out, "Use ", in.language, ".\n");
  }
  if (!in.validation_criteria.empty()) {
    section("Validation criteria");
    out += "Your answer must meet every one of these criteria:\n";
    for (const std::string& c : in.validation_criteria) {
      absl::StrAppend(&out, "- ", c, "\n");
    }
  }
  std::vector<const PromptFile*> outputs;
  std::vector<const PromptFile*> inputs;
  for (const PromptFile& f : in.files) {
    (f.input_only ? inputs : outputs).push_back(&f);
  }
  if (!outputs.empty()) {
    section("Files to write");
    out += "Write the complete content of each of these files:\n";
    for (const PromptFile* f : outputs)
      absl::StrAppend(&out, "- ", f->path, "\n");
    // The example uses the step's own language and first file, so that the
    // model copies the right thing.
    std::string lang = in.language.empty()
                           ? "python"
                           : absl::AsciiStrToLower(AbslView(in.language));
    lang.erase(std::remove_if(lang.begin(), lang.end(),
                              [](char c) { return absl::ascii_isspace(c); }),
               lang.end());
    absl::StrAppend(&out,
                    "\nAnswer with one fenced code block per file, the path "
                    "after the language on the fence line, e.g. ```",
                    lang, " ", outputs[0]->path, "\n");
    for (const PromptFile* f : outputs) {
      if (f->content.empty()) continue;
      absl::StrAppend(&out, "\n## Current content of ", f->path, "\n\n",
                      Fenced(f->content));
    }
  }
  if (!inputs.empty()) {
    section("Input files (read-only)");
    out += "Use these files as input; do not rewrite them.\n";
    for (const PromptFile* f : inputs) {
      absl::StrAppend(&out, "\n## ", f->path, "\n\n",
                      f->content.empty() ? "(empty)\n" : Fenced(f->content));
    }
  }
  if (!in.dependency_outputs.empty()) {
    section("Outputs of previous steps");
    for (const auto& [id, answer] : in.dependency_outputs) {
      absl::StrAppend(&out, "\n## Step ", id, "\n\n",
                      answer.empty() ? "(no output)\n" : Fenced(answer));
    }
  }
  return out;
}

std::string BuildChatRequest(const std::string& model,
                             const std::string& prompt) {
  return BuildChatRequest(model, kSystemMessage, {{"user", prompt}});
}

const std::string_view kEditSystemMessage =
    "You are a careful software engineer. Do exactly what the task asks. "
    "Change files only as the user message says: SEARCH/REPLACE blocks for "
    "files that exist, a fenced block of the whole content under its path "
    "for a new file; write no other file.";

std::string BuildChatRequest(const std::string& model, std::string_view system,
                             const std::vector<ChatMessage>& conversation) {
  Json messages = Json::array({{{"role", "system"}, {"content", std::string(system)}}});
  for (const ChatMessage& m : conversation) {
    messages.push_back({{"role", m.role}, {"content", m.content}});
  }
  Json request = {{"model", model}, {"messages", std::move(messages)}, {"stream", false}};
  return request.dump(-1, ' ', false, Json::error_handler_t::replace);
}

absl::StatusOr<Completion> ParseCompletion(std::string_view body) {
  try {
    Json j = Json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the provider's answer is not JSON: ", OneLine(Trim(body), 200)));
    }
    // Gemini's OpenAI layer wraps errors in an array.
    if (j.is_array() && !j.empty() && j[0].is_object() &&
        j[0].contains("error")) {
      j = Json(j[0]);
    }
    if (!j.is_object()) {
      return absl::InvalidArgumentError(
          "the provider's answer is not a JSON object");
    }
    if (auto e = j.find("error"); e != j.end() && !e->is_null()) {
      return ApiError(*e);
    }
    Completion c;
    if (auto m = j.find("model"); m != j.end() && m->is_string()) {
      c.model = m->get<std::string>();
    }
    if (auto u = j.find("usage"); u != j.end() && u->is_object()) {
      c.usage_reported = true;
      c.usage.prompt_tokens = GetCount(*u, "prompt_tokens").value_or(0);
      c.usage.completion_tokens = GetCount(*u, "completion_tokens").value_or(0);
      std::optional<int64_t> cached = GetCount(*u, "prompt_cache_hit_tokens");
      if (!cached.has_value()) {
        auto details = u->find("prompt_tokens_details");
        if (details != u->end() && details->is_object()) {
          cached = GetCount(*details, "cached_tokens");
        }
      }
      c.usage.cached_prompt_tokens =
          std::min(cached.value_or(0), c.usage.prompt_tokens);
    }
    auto choices = j.find("choices");
    if (choices == j.end() || !choices->is_array() || choices->empty() ||
        !(*choices)[0].is_object()) {
      return absl::InvalidArgumentError("the provider's answer has no choices");
    }
    const Json& choice = (*choices)[0];
    if (auto f = choice.find("finish_reason");
        f != choice.end() && f->is_string()) {
      c.finish_reason = f->get<std::string>();
    }
    const Json* content = nullptr;
    if (auto m = choice.find("message"); m != choice.end() && m->is_object()) {
      if (auto ct = m->find("content"); ct != m->end()) content = &*ct;
    }
    if (content != nullptr && content->is_string()) {
      c.text = content->get<std::string>();
    } else if (content != nullptr && content->is_array()) {
      for (const Json& part : *content) {
        if (part.is_object() && part.contains("text") &&
            part["text"].is_string()) {
          c.text += part["text"].get<std::string>();
        }
      }
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "the provider's answer has no content (finish_reason: ",
          c.finish_reason.empty() ? "none" : OneLine(c.finish_reason, 100),
          ")"));
    }
    return c;
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read the provider's answer: ", e.what()));
  }
}

std::optional<double> ComputeCost(const Usage& usage,
                                  const ProviderConfig& provider) {
  if (!provider.price_input.has_value() || !provider.price_output.has_value()) {
    return std::nullopt;
  }
  const double prompt =
      static_cast<double>(std::max<int64_t>(0, usage.prompt_tokens));
  const double cached = std::min(prompt, static_cast<double>(std::max<int64_t>(
                                             0, usage.cached_prompt_tokens)));
  const double completion =
      static_cast<double>(std::max<int64_t>(0, usage.completion_tokens));
  const double cached_price =
      provider.price_cached_input.value_or(*provider.price_input);
  return ((prompt - cached) * *provider.price_input + cached * cached_price +
          completion * *provider.price_output) /
         1e6;
}

std::optional<double> EstimateCost(int64_t estimated_tokens,
                                   const ProviderConfig& provider) {
  if (estimated_tokens < 0) return std::nullopt;
  Usage usage;
  usage.prompt_tokens = estimated_tokens;
  usage.completion_tokens = estimated_tokens;
  return ComputeCost(usage, provider);
}

std::vector<CodeBlock> ExtractCodeBlocks(std::string_view markdown) {
  std::vector<std::string_view> lines;
  for (size_t start = 0; start < markdown.size();) {
    size_t end = markdown.find('\n', start);
    if (end == std::string_view::npos) end = markdown.size();
    std::string_view line = markdown.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    start = end + 1;
  }
  std::vector<CodeBlock> blocks;
  std::string_view previous;  // last non-blank prose line
  for (size_t i = 0; i < lines.size();) {
    const std::optional<Fence> fence = ParseOpener(lines[i]);
    if (!fence.has_value()) {
      if (!Trim(lines[i]).empty()) previous = lines[i];
      ++i;
      continue;
    }
    CodeBlock block;
    block.info = std::string(fence->info);
    block.path = PathFromInfo(fence->info);
    if (block.path.empty()) block.hint = HintFromLine(previous);
    for (++i; i < lines.size(); ++i) {
      if (IsCloser(lines[i], *fence)) {
        ++i;
        break;
      }
      std::string_view line = lines[i];
      // Remove up to the fence's own indentation (a block in a list item).
      size_t strip = 0;
      while (strip < fence->indent && strip < line.size() &&
             (line[strip] == ' ' || line[strip] == '\t')) {
        ++strip;
      }
      absl::StrAppend(&block.code, AbslView(line.substr(strip)), "\n");
    }
    blocks.push_back(std::move(block));
    previous = {};
  }
  return blocks;
}

absl::StatusOr<std::vector<FileWrite>> AssignCodeBlocks(
    const std::vector<CodeBlock>& blocks,
    const std::vector<std::string>& files) {
  std::vector<std::string> targets;
  for (const std::string& f : files) {
    absl::StatusOr<std::string> normalized = NormalizeRelative(f);
    if (!normalized.ok()) return normalized.status();
    if (std::find(targets.begin(), targets.end(), f) == targets.end()) {
      targets.push_back(f);
    }
  }
  constexpr size_t kNone = SIZE_MAX;
  std::vector<size_t> block_of(targets.size(), kNone);
  // Blocks that name a target, even one already taken, never go to another
  // file by position.
  std::vector<bool> named(blocks.size(), false);
  for (size_t b = 0; b < blocks.size(); ++b) {
    const CodeBlock& block = blocks[b];
    std::vector<std::string_view> names = {block.path, block.info};
    for (std::string_view w : Words(block.info)) names.push_back(w);
    names.push_back(block.hint);
    for (std::string_view name : names) {
      if (name.empty()) continue;
      // An exact match beats a suffix match.
      size_t target = kNone;
      for (size_t t = 0; t < targets.size() && target == kNone; ++t) {
        if (name == targets[t]) target = t;
      }
      for (size_t t = 0; t < targets.size() && target == kNone; ++t) {
        if (PathMatches(name, targets[t])) target = t;
      }
      if (target == kNone) continue;
      named[b] = true;
      if (block_of[target] == kNone) block_of[target] = b;
      break;
    }
  }
  size_t next = 0;
  for (size_t t = 0; t < targets.size(); ++t) {
    if (block_of[t] != kNone) continue;
    while (next < blocks.size() && named[next]) ++next;
    if (next == blocks.size()) break;
    block_of[t] = next++;
  }
  std::vector<FileWrite> writes;
  for (size_t t = 0; t < targets.size(); ++t) {
    if (block_of[t] == kNone) continue;
    writes.push_back({targets[t], blocks[block_of[t]].code});
  }
  return writes;
}

absl::StatusOr<std::string> SafeJoin(const std::string& output_dir,
                                     const std::string& relative) {
  if (output_dir.empty() || output_dir.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "no valid output directory for \"", PrintablePath(relative), "\""));
  }
  absl::StatusOr<std::string> normalized = NormalizeRelative(relative);
  if (!normalized.ok()) return normalized.status();
  std::string dir = output_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (dir == "/") return "/" + *normalized;
  return absl::StrCat(dir, "/", *normalized);
}

std::optional<int64_t> ParseRetryAfterMs(std::string_view value,
                                         int64_t now_ms) {
  const std::string_view s = Trim(value);
  if (s.empty()) return std::nullopt;
  if (std::all_of(s.begin(), s.end(),
                  [](char c) { return absl::ascii_isdigit(c) || c == '.'; })) {
    // Delta seconds; ParseDurationMs refuses "1." and ".5" and overflow.
    absl::StatusOr<int64_t> ms = ParseDurationMs(s);
    if (!ms.ok()) return std::nullopt;
    return *ms;
  }
  // IMF-fixdate, then the two obsolete forms RFC 9110 says to accept.
  for (const char* format :
       {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT",
        "%a %b %e %H:%M:%S %Y"}) {
    absl::Time t;
    std::string error;
    if (absl::ParseTime(format, AbslView(s), absl::UTCTimeZone(), &t, &error)) {
      const int64_t at = absl::ToUnixMillis(t);
      if (at <= now_ms) return 0;
      return at - now_ms;
    }
  }
  return std::nullopt;
}

bool IsRetryableHttpStatus(int status) {
  return status == 0 || status == 408 || status == 409 || status == 425 ||
         status == 429 || (status >= 500 && status <= 599);
}

int64_t LlmBackoffMs(int attempt, std::optional<int64_t> retry_after_ms) {
  if (retry_after_ms.has_value()) {
    return std::clamp<int64_t>(*retry_after_ms, 0, kMaxRetryAfterMs);
  }
  attempt = std::max(attempt, 1);
  if (attempt > 7) return kMaxBackoffMs;  // 2^6 s already exceeds the cap
  return std::min<int64_t>(int64_t{1000} << (attempt - 1), kMaxBackoffMs);
}

}  // namespace aetherflow
