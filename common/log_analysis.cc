#include "common/log_analysis.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/control_line.h"
#include "nlohmann/json.hpp"
#include "re2/re2.h"

namespace aetherflow {
namespace {

using Json = nlohmann::json;

// Debian's Abseil has its own string_view type, distinct from std's.
absl::string_view AV(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}
std::string_view SV(const re2::StringPiece& s) {
  return std::string_view(s.data(), s.size());
}

RE2::Options QuietOptions() {
  RE2::Options options;
  // A user's bad pattern is reported as a Status, not logged to stderr.
  options.set_log_errors(false);
  return options;
}

// The built-in patterns, compiled once (thread-safe static initialisation)
// and never destroyed, so that no thread can use them during exit.
struct Defaults {
  // "Trial 5/100", "Epoch [3/10]", "step 1200/5000", "Trial 5 of 100".
  RE2 labeled{
      R"((?i)(?:\b|_)(trial|epoch|step|iter(?:ation)?|batch)s?\s*[:#]?\s*)"
      R"(\[?\s*(\d+)\s*(?:/|of\b)\s*(\d+))",
      QuietOptions()};
  // tqdm's counter before its timing: "45/100 [00:10<00:12, 4.5it/s]".
  // (Keras' "12/12 [=====]" is a per-epoch bar: not the run's progress.)
  RE2 tqdm{R"((\d+)/(\d+)\s*\[\d+:\d+)", QuietOptions()};
  // A percentage where it means progress: leading ("45%|####"), before a
  // bar, after "progress", or before "complete"/"done". Not any "95%".
  RE2 percent{R"((?i)^\s*(\d{1,3}(?:\.\d+)?)\s*%|(\d{1,3}(?:\.\d+)?)%\s*\||)"
              R"(progress\W{0,3}(\d{1,3}(?:\.\d+)?)\s*%|)"
              R"((\d{1,3}(?:\.\d+)?)\s*%\s*(?:complete|done))",
              QuietOptions()};
  // Lines that say a process is dead or about to be.
  RE2 critical{
      R"(CUDA out of memory|OutOfMemoryError|\bMemoryError\b|)"
      R"((?i:\bout of memory\b)|\bKilled\b|\bFATAL\b|(?i:\bfatal(?: error)?:)|)"
      R"(\bFatal Python error\b|\bpanic:|(?i:segmentation fault)|)"
      R"(\bcore dumped\b|std::bad_alloc)",
      QuietOptions()};
  // "loss: nan", "loss=nan", "val_loss: NaN", "'loss': nan", "loss is nan".
  RE2 nan_loss{R"((?i)loss[\w/.\-]*['"]?(?:\s*[:=]\s*|\s+(?:is|became|was)\s+))"
               R"((?:tensor\()?[-+]?nan\b)",
               QuietOptions()};
  // "ValueError: x" (a type name), a line starting with Error/error,
  // an ERROR log level, "file.c:3: error: x". Not "Mean Absolute Error: 0.3".
  RE2 error{R"(\b[A-Za-z_][\w.]*(?:Error|Exception)\b:|)"
            R"(^\s*(?:Error|ERROR|error|Exception)\b|\bERROR\b|\berror:)",
            QuietOptions()};
  // "UserWarning: x", "Warning:", "WARNING", "warn:", "[warn]", Optuna's
  // "[W 2024-...]". Not "warnings.warn(" nor "0 warnings".
  RE2 warning{R"(\b[\w.]*Warning\b|\bWARN(?:ING)?\b|(?i:\bwarn(?:ing)?\s*:)|)"
              R"((?i:\[warn(?:ing)?\])|^\[W \d)",
              QuietOptions()};
  RE2 optuna{R"(Best is trial (\d+) with value: ([^\s,]+))", QuietOptions()};
};

const Defaults& GetDefaults() {
  static const Defaults* defaults = new Defaults;
  return *defaults;
}

// A step's own pattern, compiled once per process. The daemon analyses each
// step's new output at every check-in evaluation, often a few lines, and
// compiling the patterns cost more than matching them (bench/core_bench,
// BM_AnalyzeShortRead). RE2 objects are safe to match from many threads.
// Bounded: a pattern set that no longer fits starts the cache afresh.
std::shared_ptr<const RE2> CompiledPattern(const std::string& pattern) {
  constexpr size_t kMaxCached = 1024;
  static std::mutex mu;
  static auto* cache =
      new std::unordered_map<std::string, std::shared_ptr<const RE2>>;
  {
    std::lock_guard lock(mu);
    auto it = cache->find(pattern);
    if (it != cache->end()) return it->second;
  }
  auto re = std::make_shared<const RE2>(pattern, QuietOptions());
  std::lock_guard lock(mu);
  if (cache->size() >= kMaxCached) cache->clear();
  return cache->emplace(pattern, std::move(re)).first->second;
}

// The patterns in force for one call: the step's own where given, the
// defaults otherwise. Pointers are null for "match nothing".
struct Matchers {
  std::vector<std::shared_ptr<const RE2>> owned;
  const RE2* custom_progress = nullptr;
  const RE2* error = nullptr;
  const RE2* warning = nullptr;
  const RE2* discovery = nullptr;
  const RE2* metric = nullptr;
  WatchSpec::Goal goal = WatchSpec::Goal::kNone;
  bool optuna = true;

  explicit Matchers(const WatchSpec& spec) {
    const Defaults& d = GetDefaults();
    custom_progress = Compile(spec.progress);
    error = spec.error.empty() ? &d.error : Compile(spec.error);
    warning = spec.warning.empty() ? &d.warning : Compile(spec.warning);
    discovery = Compile(spec.discovery);
    if (!spec.metric.empty()) {
      optuna = false;
      metric = Compile(spec.metric);
      if (metric != nullptr && metric->NumberOfCapturingGroups() < 1) {
        metric = nullptr;
      }
      goal = spec.goal;
    }
  }

  const RE2* Compile(const std::string& pattern) {
    if (pattern.empty()) return nullptr;
    std::shared_ptr<const RE2> re = CompiledPattern(pattern);
    if (!re->ok()) return nullptr;
    owned.push_back(std::move(re));
    return owned.back().get();
  }
};

// Up to 4 capture groups plus the whole match.
constexpr int kMaxSubmatches = 5;

// Finds `re` in `text`; sub[0] is the whole match, sub[i] group i.
bool Find(const RE2& re, std::string_view text, re2::StringPiece* sub,
          int* nsub) {
  *nsub = std::min(kMaxSubmatches, 1 + re.NumberOfCapturingGroups());
  return re.Match(re2::StringPiece(text.data(), text.size()), 0, text.size(),
                  RE2::UNANCHORED, sub, *nsub);
}

bool Matches(const RE2* re, std::string_view text) {
  return re != nullptr &&
         re->Match(re2::StringPiece(text.data(), text.size()), 0, text.size(),
                   RE2::UNANCHORED, nullptr, 0);
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r' ||
         c == '\n';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

void StripAnsiInto(std::string_view in, std::string* out) {
  out->clear();
  const size_t n = in.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = in[i];
    if (c != 0x1b) {
      out->push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    if (i + 1 >= n) break;
    const unsigned char kind = in[i + 1];
    size_t j = i + 2;
    if (kind == '[') {  // CSI: parameters, intermediates, one final byte
      while (j < n && static_cast<unsigned char>(in[j]) >= 0x20 &&
             static_cast<unsigned char>(in[j]) <= 0x3f) {
        ++j;
      }
      if (j < n && static_cast<unsigned char>(in[j]) >= 0x40 &&
          static_cast<unsigned char>(in[j]) <= 0x7e) {
        ++j;
      }
    } else if (kind == ']' || kind == 'P' || kind == '_' || kind == '^') {
      // OSC, DCS, APC, PM: a string ended by BEL or ESC '\'.
      while (j < n) {
        if (in[j] == '\a') {
          ++j;
          break;
        }
        if (in[j] == '\x1b' && j + 1 < n && in[j + 1] == '\\') {
          j += 2;
          break;
        }
        ++j;
      }
    } else {  // ESC, intermediates (e.g. '(' in ESC ( B), one final byte
      j = i + 1;
      while (j < n && static_cast<unsigned char>(in[j]) >= 0x20 &&
             static_cast<unsigned char>(in[j]) <= 0x2f) {
        ++j;
      }
      if (j < n) ++j;
    }
    i = j;
  }
}

// Length of the valid UTF-8 sequence at s[i], or 0 when invalid.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const unsigned char c = s[i];
  size_t len;
  unsigned char lo = 0x80, hi = 0xbf;  // range of the second byte
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    if (c == 0xe0) lo = 0xa0;
    if (c == 0xed) hi = 0x9f;  // no surrogates
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    if (c == 0xf0) lo = 0x90;
    if (c == 0xf4) hi = 0x8f;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    const unsigned char b = s[i + k];
    if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xbf)) return 0;
  }
  return len;
}

// `text` made safe to show and to put in JSON: control characters become
// spaces, invalid UTF-8 becomes U+FFFD, cut to `max` bytes with "...".
std::string CleanText(std::string_view text, size_t max) {
  // Trimmed of control characters too: inside they become spaces, so at an
  // edge they would leave one, and cleaning again would not give the same
  // text (a cursor's progress is cleaned again when read back from JSON).
  auto edge = [](char c) {
    return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
  };
  while (!text.empty() && edge(text.front())) text.remove_prefix(1);
  while (!text.empty() && edge(text.back())) text.remove_suffix(1);
  std::string out;
  out.reserve(std::min(text.size(), max) + 3);
  for (size_t i = 0; i < text.size();) {
    const size_t len = Utf8SequenceLength(text, i);
    std::string_view piece;
    if (len == 0) {
      piece = "\xEF\xBF\xBD";
    } else if (len == 1 && (static_cast<unsigned char>(text[i]) < 0x20 ||
                            text[i] == 0x7f)) {
      piece = " ";
    } else {
      piece = text.substr(i, len);
    }
    if (out.size() + piece.size() > max) {
      out.append("...");
      return out;
    }
    out.append(piece);
    i += len == 0 ? 1 : len;
  }
  return out;
}

std::string FormatNumber(double value) {
  return absl::StrFormat("%.6g", value);
}

// Progress from "done/total"; nullopt when it makes no sense.
std::optional<Progress> Ratio(std::string_view label, std::string_view done,
                              std::string_view total) {
  double d, t;
  if (!absl::SimpleAtod(AV(done), &d) || !absl::SimpleAtod(AV(total), &t) ||
      !std::isfinite(d) || !std::isfinite(t) || t <= 0 || d < 0 || d > t) {
    return std::nullopt;
  }
  Progress p;
  p.fraction = d / t;
  p.text = absl::StrCat(AV(label), label.empty() ? "" : " ", AV(done), "/",
                        AV(total));
  return p;
}

std::optional<Progress> Percent(std::string_view number) {
  double v;
  if (!absl::SimpleAtod(AV(number), &v) || !std::isfinite(v) || v < 0 ||
      v > 100) {
    return std::nullopt;
  }
  Progress p;
  p.fraction = v / 100;
  p.text = absl::StrCat(AV(number), "%");
  return p;
}

// The progress `line` shows, if any. `peek`: the line may be unfinished, so
// only a match followed by more text counts (its last number is complete).
std::optional<Progress> MatchProgress(const Matchers& m, std::string_view line,
                                      bool peek) {
  if (line.substr(0, 12) == "::aetherflow") {
    if (peek) return std::nullopt;
    absl::StatusOr<Figures> figures = ParseControlLine(line);
    if (!figures.ok() || !figures->progress) return std::nullopt;
    std::string_view value = *figures->progress;
    if (!value.empty() && value.back() == '%') {
      return Percent(value.substr(0, value.size() - 1));
    }
    const size_t slash = value.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    return Ratio("", value.substr(0, slash), value.substr(slash + 1));
  }
  re2::StringPiece sub[kMaxSubmatches];
  int n = 0;
  auto complete = [&] {
    return !peek || sub[0].data() + sub[0].size() < line.data() + line.size();
  };
  if (m.custom_progress != nullptr) {
    if (!Find(*m.custom_progress, line, sub, &n) || !complete()) {
      return std::nullopt;
    }
    if (n >= 3) return Ratio("", SV(sub[1]), SV(sub[2]));
    if (n == 2) return Percent(SV(sub[1]));
    Progress p;
    p.text = CleanText(SV(sub[0]), 80);
    return p;
  }
  const Defaults& d = GetDefaults();
  if (Find(d.labeled, line, sub, &n) && complete()) {
    if (auto p = Ratio(SV(sub[1]), SV(sub[2]), SV(sub[3]))) return p;
  }
  if (Find(d.tqdm, line, sub, &n) && complete()) {
    if (auto p = Ratio("", SV(sub[1]), SV(sub[2]))) return p;
  }
  if (Find(d.percent, line, sub, &n) && complete()) {
    for (int i = 1; i < n; ++i) {
      if (sub[i].data() != nullptr) return Percent(SV(sub[i]));
    }
  }
  return std::nullopt;
}

// Keeps the first and last kFindingsKeptAtEachEnd findings of each kind.
class Collector {
 public:
  void Add(FindingKind kind, int64_t line, std::string text) {
    Bucket& b = buckets_[static_cast<int>(kind)];
    Entry e{seq_++, Finding{kind, line, std::move(text)}};
    const int64_t index = b.count++;
    if (index < kFindingsKeptAtEachEnd) {
      b.head.push_back(std::move(e));
    } else if (b.tail.size() < kFindingsKeptAtEachEnd) {
      b.tail.push_back(std::move(e));
    } else {
      b.tail[(index - kFindingsKeptAtEachEnd) % kFindingsKeptAtEachEnd] =
          std::move(e);
    }
  }

  void Finish(StepAnalysis* out) {
    std::vector<Entry> all;
    for (int k = 0; k < kFindingKinds; ++k) {
      out->counts[k] = buckets_[k].count;
      for (Entry& e : buckets_[k].head) all.push_back(std::move(e));
      for (Entry& e : buckets_[k].tail) all.push_back(std::move(e));
    }
    std::sort(all.begin(), all.end(),
              [](const Entry& a, const Entry& b) { return a.seq < b.seq; });
    out->findings.clear();
    for (Entry& e : all) out->findings.push_back(std::move(e.finding));
  }

 private:
  struct Entry {
    int64_t seq;
    Finding finding;
  };
  struct Bucket {
    int64_t count = 0;
    std::vector<Entry> head;
    std::vector<Entry> tail;  // a ring once full
  };
  int64_t seq_ = 0;
  Bucket buckets_[kFindingKinds];
};

class Analyzer {
 public:
  Analyzer(const WatchSpec& spec, StepCursor* cursor)
      : m_(spec), cursor_(cursor) {
    buffer_.reserve(kMaxLineBytes);
  }

  // One complete line (or '\r'-segment), cut to kMaxLineBytes.
  void Line(std::string_view raw, int64_t line_no) {
    const std::string_view text = Clean(raw);
    const std::string_view t = Trim(text);
    if (t.empty()) return;
    const Defaults& d = GetDefaults();
    if (cursor_->in_traceback) {
      // Frames are indented ("  File ...", "    code", "    ^^^"); the
      // first line that is not is the exception, the one worth reporting.
      if (text.front() == ' ' || text.front() == '\t' ||
          t.substr(0, 6) == "File \"") {
        return;
      }
      cursor_->in_traceback = false;
      collector_.Add(Matches(&d.critical, t) ? FindingKind::kCritical
                                             : FindingKind::kError,
                     line_no, CleanText(t, kMaxFindingTextBytes));
      return;
    }
    if (t.find("Traceback (most recent call last)") != std::string_view::npos) {
      cursor_->in_traceback = true;
      return;
    }
    bool is_error = false;
    if (Matches(&d.critical, t) || Matches(&d.nan_loss, t)) {
      collector_.Add(FindingKind::kCritical, line_no,
                     CleanText(t, kMaxFindingTextBytes));
      is_error = true;
    } else if (Matches(m_.error, t)) {
      collector_.Add(FindingKind::kError, line_no,
                     CleanText(t, kMaxFindingTextBytes));
      is_error = true;
    }
    if (!is_error && Matches(m_.warning, t)) {
      collector_.Add(FindingKind::kWarning, line_no,
                     CleanText(t, kMaxFindingTextBytes));
    }
    if (Matches(m_.discovery, t)) {
      collector_.Add(FindingKind::kDiscovery, line_no,
                     CleanText(t, kMaxFindingTextBytes));
    }
    if (m_.metric != nullptr) {
      Metric(t, line_no);
    } else if (m_.optuna) {
      Optuna(t, line_no);
    }
    if (auto p = MatchProgress(m_, t, /*peek=*/false)) cursor_->progress = *p;
  }

  // The unfinished last line: only its progress is read now.
  void Peek(std::string_view raw) {
    if (cursor_->in_traceback) return;
    const std::string_view t = Trim(Clean(raw));
    if (t.empty()) return;
    if (auto p = MatchProgress(m_, t, /*peek=*/true)) cursor_->progress = *p;
  }

  void Finish(StepAnalysis* out) { collector_.Finish(out); }

 private:
  std::string_view Clean(std::string_view raw) {
    if (raw.find('\x1b') == std::string_view::npos) return raw;
    StripAnsiInto(raw, &buffer_);
    return buffer_;
  }

  void Metric(std::string_view t, int64_t line_no) {
    re2::StringPiece sub[kMaxSubmatches];
    int n = 0;
    if (m_.goal == WatchSpec::Goal::kNone || !Find(*m_.metric, t, sub, &n) ||
        n < 2 || sub[1].data() == nullptr) {
      return;
    }
    double value;
    if (!absl::SimpleAtod(AV(SV(sub[1])), &value) || !std::isfinite(value)) {
      return;
    }
    const std::optional<double> old = cursor_->best;
    const bool better =
        !old ||
        (m_.goal == WatchSpec::Goal::kMin ? value < *old : value > *old);
    if (!better) return;
    cursor_->best = value;
    const std::string was =
        old ? absl::StrCat("was ", FormatNumber(*old)) : "first value";
    collector_.Add(FindingKind::kNewBest, line_no,
                   CleanText(absl::StrCat("new best ", FormatNumber(value),
                                          " (", was, "): ", AV(t)),
                             kMaxFindingTextBytes));
  }

  void Optuna(std::string_view t, int64_t line_no) {
    if (t.find("Best is trial") == std::string_view::npos) return;
    re2::StringPiece sub[kMaxSubmatches];
    int n = 0;
    int64_t trial;
    if (!Find(GetDefaults().optuna, t, sub, &n) ||
        !absl::SimpleAtoi(AV(SV(sub[1])), &trial)) {
      return;
    }
    const std::optional<int64_t> old = cursor_->optuna_best_trial;
    if (old == trial) return;  // the same best, never announced twice
    cursor_->optuna_best_trial = trial;
    std::string_view value = SV(sub[2]);
    if (!value.empty() && value.back() == '.') value.remove_suffix(1);
    const std::string was =
        old ? absl::StrCat("was trial ", *old) : "first best";
    collector_.Add(
        FindingKind::kDiscovery, line_no,
        CleanText(absl::StrCat("Best is trial ", trial,
                               " with value: ", AV(value), " (", was, ")"),
                  kMaxFindingTextBytes));
  }

  Matchers m_;
  StepCursor* cursor_;
  Collector collector_;
  std::string buffer_;  // a line without its ANSI sequences
};

size_t FindLineEnd(std::string_view data, size_t from) {
  for (size_t i = from; i < data.size(); ++i) {
    if (data[i] == '\n' || data[i] == '\r') return i;
  }
  return std::string_view::npos;
}

absl::Status PatternOf(const Json& watch, const char* key, std::string* out) {
  auto it = watch.find(key);
  if (it == watch.end() || it->is_null()) return absl::OkStatus();
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("watch.", key, ": ", AV(why)));
  };
  std::vector<std::string> alternatives;
  if (it->is_string()) {
    alternatives.push_back(it->get<std::string>());
  } else if (it->is_array() && !it->empty()) {
    for (const Json& v : *it) {
      if (!v.is_string()) return bad("expected a regex or an array of regexes");
      alternatives.push_back(v.get<std::string>());
    }
  } else {
    return bad("expected a regex or an array of regexes");
  }
  for (const std::string& a : alternatives) {
    if (a.empty()) return bad("empty pattern (it would match every line)");
    RE2 re(a, QuietOptions());
    if (!re.ok()) {
      return bad(absl::StrCat("invalid regex \"", a, "\": ", re.error()));
    }
  }
  if (alternatives.size() == 1) {
    *out = std::move(alternatives[0]);
  } else {
    // Only the first alternative's groups would be numbered 1.., so arrays
    // are for plain alternatives (error, warning, discovery).
    out->clear();
    for (const std::string& a : alternatives) {
      absl::StrAppend(out, out->empty() ? "" : "|", "(?:", a, ")");
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string_view FindingKindName(FindingKind kind) {
  switch (kind) {
    case FindingKind::kError:
      return "error";
    case FindingKind::kCritical:
      return "critical";
    case FindingKind::kWarning:
      return "warning";
    case FindingKind::kDiscovery:
      return "discovery";
    case FindingKind::kNewBest:
      return "new_best";
  }
  return "error";
}

absl::StatusOr<WatchSpec> WatchSpecFromJson(const Json& watch) {
  WatchSpec spec;
  if (watch.is_null()) return spec;
  if (!watch.is_object()) {
    return absl::InvalidArgumentError("watch: expected an object");
  }
  absl::Status s;
  if (!(s = PatternOf(watch, "progress", &spec.progress)).ok()) return s;
  if (!(s = PatternOf(watch, "error", &spec.error)).ok()) return s;
  if (!(s = PatternOf(watch, "warning", &spec.warning)).ok()) return s;
  if (!(s = PatternOf(watch, "discovery", &spec.discovery)).ok()) return s;
  auto metric = watch.find("metric");
  if (metric != watch.end() && !metric->is_null()) {
    if (!metric->is_string()) {
      return absl::InvalidArgumentError("watch.metric: expected a regex");
    }
    if (!(s = PatternOf(watch, "metric", &spec.metric)).ok()) return s;
    RE2 re(spec.metric, QuietOptions());
    if (re.NumberOfCapturingGroups() < 1) {
      return absl::InvalidArgumentError(
          "watch.metric: needs a capture group around the number, e.g. "
          "\"val_loss: ([0-9.]+)\"");
    }
  }
  auto goal = watch.find("goal");
  if (goal != watch.end() && !goal->is_null()) {
    const std::string g = goal->is_string() ? goal->get<std::string>() : "";
    if (g == "min" || g == "minimize") {
      spec.goal = WatchSpec::Goal::kMin;
    } else if (g == "max" || g == "maximize") {
      spec.goal = WatchSpec::Goal::kMax;
    } else {
      return absl::InvalidArgumentError(
          "watch.goal: expected \"min\" or \"max\"");
    }
  }
  if (!spec.metric.empty() && spec.goal == WatchSpec::Goal::kNone) {
    return absl::InvalidArgumentError(
        "watch.goal: required with watch.metric (\"min\" or \"max\")");
  }
  if (spec.metric.empty() && spec.goal != WatchSpec::Goal::kNone) {
    return absl::InvalidArgumentError("watch.goal: given without watch.metric");
  }
  return spec;
}

Json StepCursorToJson(const StepCursor& c) {
  Json j = Json::object();
  j["offset"] = c.offset;
  j["line"] = c.line;
  j["pending"] = c.pending;
  j["skipping"] = c.skipping;
  j["in_traceback"] = c.in_traceback;
  if (c.best) j["best"] = *c.best;
  if (c.optuna_best_trial) j["optuna_best_trial"] = *c.optuna_best_trial;
  if (c.progress.known() || !c.progress.text.empty()) {
    j["progress"] = {{"fraction", c.progress.fraction},
                     {"text", c.progress.text}};
  }
  j["quiet_checkins"] = c.quiet_checkins;
  return j;
}

absl::StatusOr<StepCursor> StepCursorFromJson(const Json& j) {
  if (!j.is_object()) {
    return absl::InvalidArgumentError("step cursor: expected an object");
  }
  StepCursor c;
  auto bad = [](std::string_view key, std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("step cursor: ", AV(key), ": ", AV(why)));
  };
  auto get_int = [&](const char* key, int64_t max,
                     int64_t* out) -> absl::Status {
    auto it = j.find(key);
    if (it == j.end()) return absl::OkStatus();
    if (!it->is_number_integer()) return bad(key, "expected an integer");
    const int64_t v = it->get<int64_t>();
    if (v < 0 || v > max) return bad(key, "out of range");
    *out = v;
    return absl::OkStatus();
  };
  auto get_bool = [&](const char* key, bool* out) -> absl::Status {
    auto it = j.find(key);
    if (it == j.end()) return absl::OkStatus();
    if (!it->is_boolean()) return bad(key, "expected true or false");
    *out = it->get<bool>();
    return absl::OkStatus();
  };
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  absl::Status s;
  int64_t quiet = 0;
  if (!(s = get_int("offset", kMax, &c.offset)).ok()) return s;
  if (!(s = get_int("line", kMax, &c.line)).ok()) return s;
  if (!(s = get_int("pending", kMaxLineBytes, &c.pending)).ok()) return s;
  if (!(s = get_int("quiet_checkins", 1 << 30, &quiet)).ok()) return s;
  c.quiet_checkins = static_cast<int>(quiet);
  if (!(s = get_bool("skipping", &c.skipping)).ok()) return s;
  if (!(s = get_bool("in_traceback", &c.in_traceback)).ok()) return s;
  if (c.line > c.offset) return bad("line", "more lines than bytes");
  if (auto it = j.find("best"); it != j.end() && !it->is_null()) {
    if (!it->is_number()) return bad("best", "expected a number");
    c.best = it->get<double>();
  }
  if (auto it = j.find("optuna_best_trial"); it != j.end() && !it->is_null()) {
    int64_t trial = 0;
    if (!(s = get_int("optuna_best_trial", kMax, &trial)).ok()) return s;
    c.optuna_best_trial = trial;
  }
  if (auto it = j.find("progress"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return bad("progress", "expected an object");
    auto f = it->find("fraction");
    auto t = it->find("text");
    if (f == it->end() || !f->is_number() || f->get<double>() > 1) {
      return bad("progress.fraction", "expected a number up to 1");
    }
    if (t == it->end() || !t->is_string()) {
      return bad("progress.text", "expected a string");
    }
    c.progress.fraction = f->get<double>() < 0 ? -1 : f->get<double>();
    c.progress.text = CleanText(t->get<std::string>(), kMaxFindingTextBytes);
  }
  return c;
}

StepAnalysis AnalyzeLog(const WatchSpec& spec, std::string_view data,
                        StepCursor* cursor) {
  StepAnalysis out;
  const Progress before = cursor->progress;
  out.new_output = static_cast<int64_t>(data.size()) > cursor->pending;
  Analyzer analyzer(spec, cursor);
  size_t pos = 0;
  if (cursor->skipping) {
    const size_t end = FindLineEnd(data, 0);
    if (end == std::string_view::npos) {
      pos = data.size();
    } else {
      if (data[end] == '\n') ++cursor->line;
      cursor->skipping = false;
      pos = end + 1;
    }
  }
  cursor->pending = 0;
  while (pos < data.size()) {
    const size_t end = FindLineEnd(data, pos);
    if (end == std::string_view::npos) {
      const std::string_view rest = data.substr(pos);
      if (rest.size() > kMaxLineBytes) {
        // Too long to wait for its end: analyse its head now, skip the rest.
        analyzer.Line(rest.substr(0, kMaxLineBytes), cursor->line + 1);
        cursor->skipping = true;
        pos = data.size();
      } else {
        analyzer.Peek(rest);
        cursor->pending = static_cast<int64_t>(rest.size());
      }
      break;
    }
    analyzer.Line(data.substr(pos, std::min(end - pos, kMaxLineBytes)),
                  cursor->line + 1);
    if (data[end] == '\n') ++cursor->line;
    pos = end + 1;
  }
  cursor->offset += static_cast<int64_t>(pos);
  analyzer.Finish(&out);
  out.progress = cursor->progress;
  out.progress_changed = !(cursor->progress == before);
  if (out.new_output) {
    cursor->quiet_checkins = 0;
  } else if (cursor->offset + cursor->pending > 0) {
    ++cursor->quiet_checkins;
  }
  return out;
}

std::string StripAnsi(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  StripAnsiInto(text, &out);
  return out;
}

}  // namespace aetherflow
