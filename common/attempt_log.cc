#include "common/attempt_log.h"

#include <charconv>
#include <vector>

#include "absl/strings/str_cat.h"

namespace aetherflow {
namespace {

constexpr std::string_view kStart = "::aetherflow-attempt ";
constexpr std::string_view kEnd = "::aetherflow-attempt-end ";

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// Abseil's string_view is its own here: convert at the edge.
absl::string_view A(std::string_view s) { return absl::string_view(s.data(), s.size()); }

template <typename Int>
bool ToInt(std::string_view text, Int* out) {
  const char* end = text.data() + text.size();
  auto [ptr, error] = std::from_chars(text.data(), end, *out);
  return !text.empty() && error == std::errc() && ptr == end;
}

std::vector<std::string_view> Words(std::string_view text) {
  std::vector<std::string_view> words;
  while (!text.empty()) {
    std::size_t space = text.find(' ');
    if (space != 0) words.push_back(text.substr(0, space));
    if (space == std::string_view::npos) break;
    text.remove_prefix(space + 1);
  }
  return words;
}

}  // namespace

std::string FormatAttemptStart(const AttemptStart& start) {
  return absl::StrCat(A(kStart), start.attempt, " of ", start.max_attempts, " at ",
                      start.started_at_ms, start.resumed ? " resumed" : "", "\n");
}

std::string FormatAttemptEnd(const AttemptEnd& end) {
  std::string result = end.result;
  for (char& c : result) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return absl::StrCat(A(kEnd), end.attempt, " ", result, "\n");
}

std::string FormatClosingLine(std::string_view reason) {
  std::string line = absl::StrCat("aetherflow: ", A(reason));
  for (char& c : line) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return line + "\n";
}

std::optional<AttemptStart> ParseAttemptStart(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (!StartsWith(line, kStart)) return std::nullopt;
  std::vector<std::string_view> words = Words(line.substr(kStart.size()));
  AttemptStart start;
  if (words.empty() || !ToInt(words[0], &start.attempt) || start.attempt < 1) {
    return std::nullopt;
  }
  if (words.size() == 1) return start;  // an older daemon's marker
  if (words.size() < 5 || words[1] != "of" || words[3] != "at" ||
      !ToInt(words[2], &start.max_attempts) ||
      !ToInt(words[4], &start.started_at_ms)) {
    return std::nullopt;
  }
  if (words.size() == 6 && words[5] == "resumed") {
    start.resumed = true;
  } else if (words.size() != 5) {
    return std::nullopt;
  }
  return start;
}

std::optional<AttemptEnd> ParseAttemptEnd(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (!StartsWith(line, kEnd)) return std::nullopt;
  std::string_view rest = line.substr(kEnd.size());
  std::size_t space = rest.find(' ');
  AttemptEnd end;
  if (!ToInt(rest.substr(0, space), &end.attempt) || end.attempt < 1) {
    return std::nullopt;
  }
  if (space != std::string_view::npos) end.result = std::string(rest.substr(space + 1));
  return end;
}

bool MayBeAttemptMarker(std::string_view partial) {
  // Both markers share this prefix.
  constexpr std::string_view kPrefix = "::aetherflow-attempt";
  if (partial.size() <= kPrefix.size()) return StartsWith(kPrefix, partial);
  return StartsWith(partial, kPrefix);
}

}  // namespace aetherflow
