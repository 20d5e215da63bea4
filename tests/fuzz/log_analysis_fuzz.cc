// libFuzzer target for the log analyser (common/log_analysis.h), which
// reads whatever steps print. The daemon analyses a log in pieces, from the
// cursor's offset to the file's current end at each check-in, and the cursor
// travels between check-ins as JSON. The header promises that findings are
// the same however the log is cut into calls; this target cuts it at points
// taken from the input and checks that promise against one call over the
// whole log, and the contract of every finding. Any broken contract aborts,
// which libFuzzer reports as a crash.
//
// Input: byte 0 picks a watch spec, byte 1 & 7 is how many chunk sizes
// follow, then the chunk sizes (one byte each, used in turn), then the log.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "common/log_analysis.h"
#include "nlohmann/json.hpp"

namespace {

using aetherflow::AnalyzeLog;
using aetherflow::Finding;
using aetherflow::FindingKind;
using aetherflow::StepAnalysis;
using aetherflow::StepCursor;
using aetherflow::WatchSpec;

[[noreturn]] void Fail(const char* what, const std::string& detail = {}) {
  std::fprintf(stderr, "log_analysis_fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

// The defaults, and specs that turn on each custom pattern family.
const std::array<WatchSpec, 5>& Specs() {
  static const auto* specs = [] {
    auto* s = new std::array<WatchSpec, 5>;
    const char* json[] = {
        R"j({"metric": "val_loss[=:] *([-0-9.eE+]+)", "goal": "min",
            "discovery": "FOUND (\\w+)"})j",
        R"j({"progress": "it (\\d+) of (\\d+)", "error": ["boom", "E\\d+"],
            "warning": "careful"})j",
        R"j({"progress": "(\\d+(?:\\.\\d+)?) percent", "metric": "acc=(\\S+)",
            "goal": "max"})j",
        R"j({"progress": "stage [^ ]+", "discovery": ["found", "new record"]})j",
    };
    for (int i = 0; i < 4; ++i) {
      auto spec = aetherflow::WatchSpecFromJson(nlohmann::json::parse(json[i]));
      if (!spec.ok()) Fail("a built-in test spec is refused");
      (*s)[i + 1] = *spec;
    }
    return s;
  }();
  return *specs;
}

bool ValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = s[i];
    size_t len = c < 0x80 ? 1 : c < 0xc2 ? 0 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : c < 0xf5 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return false;
    }
    i += len;
  }
  return true;
}

std::string Describe(const Finding& f) {
  return std::string(aetherflow::FindingKindName(f.kind)) + " " +
         std::to_string(f.line) + ": " + f.text;
}

// What the header promises of every finding of a call that ended at *cursor.
void CheckFindings(const StepAnalysis& a, const StepCursor& cursor) {
  std::array<int64_t, aetherflow::kFindingKinds> kept{};
  int64_t last_line = 0;
  for (const Finding& f : a.findings) {
    if (f.line < 1 || f.line > cursor.line + 1 || f.line < last_line) {
      Fail("a finding's line is out of order or range", Describe(f));
    }
    last_line = f.line;
    if (f.text.size() > aetherflow::kMaxFindingTextBytes + 3 || !ValidUtf8(f.text)) {
      Fail("a finding's text is too long or not UTF-8", Describe(f));
    }
    for (char c : f.text) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
        Fail("a finding's text holds a control character", Describe(f));
      }
    }
    ++kept[static_cast<int>(f.kind)];
  }
  for (int k = 0; k < aetherflow::kFindingKinds; ++k) {
    if (kept[k] != std::min<int64_t>(a.counts[k], 2 * aetherflow::kFindingsKeptAtEachEnd)) {
      Fail("findings kept do not match the counts");
    }
  }
  if (cursor.pending < 0 || cursor.pending > static_cast<int64_t>(aetherflow::kMaxLineBytes)) {
    Fail("pending out of range");
  }
}

// The cursor as the daemon keeps it between check-ins: JSON text.
StepCursor RoundTrip(const StepCursor& cursor) {
  const std::string text = aetherflow::StepCursorToJson(cursor).dump();
  auto back = aetherflow::StepCursorFromJson(nlohmann::json::parse(text));
  if (!back.ok()) Fail("a cursor does not survive JSON", text);
  if (!(*back == cursor)) Fail("a cursor changes through JSON", text);
  return *back;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const WatchSpec& spec = Specs()[data[0] % Specs().size()];
  const size_t n_sizes = std::min<size_t>(data[1] & 7, size - 2);
  std::vector<size_t> sizes;
  for (size_t i = 0; i < n_sizes; ++i) {
    const uint8_t b = data[2 + i];
    // Mostly small pieces; from 0xf0 up, pieces longer than a matched line.
    sizes.push_back(b < 0xf0 ? 1 + b : (b - 0xef) * 4096);
  }
  if (sizes.empty()) sizes.push_back(1);
  const std::string_view log(reinterpret_cast<const char*>(data) + 2 + n_sizes,
                             size - 2 - n_sizes);
  // At most kMaxCalls calls, the last one taking the rest: each compiles the
  // spec's patterns and may re-read an unfinished line of up to
  // kMaxLineBytes, and the target must stay fast.
  constexpr size_t kMaxCalls = 16;

  StepCursor whole;
  const StepAnalysis once = AnalyzeLog(spec, log, &whole);
  CheckFindings(once, whole);

  StepCursor cursor;
  std::vector<Finding> findings;
  std::array<int64_t, aetherflow::kFindingKinds> counts{};
  size_t end = 0;
  for (size_t call = 0; end < log.size(); ++call) {
    end = call + 1 == kMaxCalls ? log.size()
                                : std::min(log.size(), end + sizes[call % sizes.size()]);
    const size_t from = static_cast<size_t>(cursor.offset);
    if (from > end || cursor.pending > static_cast<int64_t>(end - from)) {
      Fail("the cursor runs ahead of the data");
    }
    const StepAnalysis part = AnalyzeLog(spec, log.substr(from, end - from), &cursor);
    CheckFindings(part, cursor);
    findings.insert(findings.end(), part.findings.begin(), part.findings.end());
    for (int k = 0; k < aetherflow::kFindingKinds; ++k) counts[k] += part.counts[k];
    if (call % 2 == 1) cursor = RoundTrip(cursor);
  }
  (void)RoundTrip(whole);

  // Progress is left out: a piece may end inside a line, whose progress is
  // read early by design (a tqdm bar), so it may differ until the next one.
  if (counts != once.counts) Fail("finding counts depend on how the log is cut");
  if (cursor.offset != whole.offset || cursor.line != whole.line ||
      cursor.pending != whole.pending || cursor.skipping != whole.skipping ||
      cursor.in_traceback != whole.in_traceback || cursor.best != whole.best ||
      cursor.optuna_best_trial != whole.optuna_best_trial) {
    Fail("the cursor depends on how the log is cut",
         aetherflow::StepCursorToJson(cursor).dump() + "\n" +
             aetherflow::StepCursorToJson(whole).dump());
  }
  // Where one call kept every finding of a kind, the pieces kept them all
  // too (none has more): the same findings, in the same order.
  for (int k = 0; k < aetherflow::kFindingKinds; ++k) {
    if (once.counts[k] > 2 * aetherflow::kFindingsKeptAtEachEnd) continue;
    std::string a, b;
    for (const Finding& f : once.findings) {
      if (static_cast<int>(f.kind) == k) a += Describe(f) + "\n";
    }
    for (const Finding& f : findings) {
      if (static_cast<int>(f.kind) == k) b += Describe(f) + "\n";
    }
    if (a != b) Fail("findings depend on how the log is cut", "whole:\n" + a + "cut:\n" + b);
  }

  const std::string stripped = aetherflow::StripAnsi(log);
  if (stripped.size() > log.size()) Fail("StripAnsi made the text longer");
  return 0;
}
