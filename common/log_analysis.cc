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
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/control_line.h"
#include "common/duration.h"
#include "common/log_patterns.h"
#include "nlohmann/json.hpp"
#include "re2/re2.h"
#include "re2/set.h"

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

// The built-in table (common/log_patterns.h), compiled once (thread-safe
// static initialisation) and never destroyed, so that no thread can use it
// during exit. One RE2::Set reads a line against every rule in one pass;
// a rule's own RE2 is run only on the lines the set says it matches, to read
// its groups.
struct CompiledRule {
  const LogRule* rule = nullptr;
  std::unique_ptr<RE2> re;
  int done = -1, total = -1, label = -1, outer = -1;
  int value = -1, best = -1;
  std::vector<int> pct, trial, best_trial, values, sev;  // alternatives
};

struct Builtin {
  std::vector<CompiledRule> rules;
  std::unique_ptr<RE2::Set> set;
  // A line the set cannot read (its DFA ran out of memory) is matched rule
  // by rule instead.
  std::unique_ptr<RE2> nan_loss;  // also used on traceback exception lines

  Builtin() {
    RE2::Options options = QuietOptions();
    options.set_max_mem(int64_t{64} << 20);
    set = std::make_unique<RE2::Set>(options, RE2::UNANCHORED);
    for (const LogRule& r : BuiltinLogRules()) {
      CompiledRule c;
      c.rule = &r;
      c.re = std::make_unique<RE2>(
          re2::StringPiece(r.pattern.data(), r.pattern.size()), QuietOptions());
      for (const auto& [name, index] : c.re->NamedCapturingGroups()) {
        if (name == "done") c.done = index;
        if (name == "total") c.total = index;
        if (name == "label") c.label = index;
        if (name == "outer") c.outer = index;
        if (name == "best") c.best = index;
        if (name.rfind("pct", 0) == 0) c.pct.push_back(index);
        if (name.rfind("trial", 0) == 0) c.trial.push_back(index);
        if (name.rfind("best_trial", 0) == 0) c.best_trial.push_back(index);
        if (name.rfind("value", 0) == 0) c.values.push_back(index);
        if (name.rfind("sev", 0) == 0) c.sev.push_back(index);
      }
      std::sort(c.pct.begin(), c.pct.end());
      std::sort(c.trial.begin(), c.trial.end());
      std::sort(c.best_trial.begin(), c.best_trial.end());
      std::sort(c.values.begin(), c.values.end());
      std::sort(c.sev.begin(), c.sev.end());
      set->Add(re2::StringPiece(r.pattern.data(), r.pattern.size()), nullptr);
      rules.push_back(std::move(c));
    }
    set->Compile();
  }

  // Indices of the rules that match `text`, in table order.
  void Match(std::string_view text, std::vector<int>* hits) const {
    hits->clear();
    RE2::Set::ErrorInfo error;
    if (set->Match(re2::StringPiece(text.data(), text.size()), hits, &error)) {
      std::sort(hits->begin(), hits->end());
      return;
    }
    if (error.kind == RE2::Set::kNoError) return;  // no rule matched
    hits->clear();
    for (size_t i = 0; i < rules.size(); ++i) {
      if (RE2::PartialMatch(re2::StringPiece(text.data(), text.size()),
                            *rules[i].re)) {
        hits->push_back(static_cast<int>(i));
      }
    }
  }
};

const Builtin& GetBuiltin() {
  static const Builtin* builtin = new Builtin;
  return *builtin;
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
// built-in table's families otherwise. Pointers are null for "match
// nothing"; the builtin_* flags say which table families are on.
struct Matchers {
  std::vector<std::shared_ptr<const RE2>> owned;
  const RE2* custom_progress = nullptr;
  const RE2* error = nullptr;
  const RE2* warning = nullptr;
  const RE2* discovery = nullptr;
  const RE2* metric = nullptr;
  WatchSpec::Goal goal = WatchSpec::Goal::kNone;
  bool builtin_error = true;
  bool builtin_warning = true;
  // The built-in new-best families (Keras, Lightning, Optuna...); a metric
  // or a discovery pattern of the step's own replaces them.
  bool builtin_discovery = true;

  explicit Matchers(const WatchSpec& spec) {
    custom_progress = Compile(spec.progress);
    if (!spec.error.empty()) {
      builtin_error = false;
      error = Compile(spec.error);
    }
    if (!spec.warning.empty()) {
      builtin_warning = false;
      warning = Compile(spec.warning);
    }
    if (!spec.discovery.empty()) {
      builtin_discovery = false;
      discovery = Compile(spec.discovery);
    }
    if (!spec.metric.empty()) {
      builtin_discovery = false;
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

// No progress read yet: any counter replaces it.
constexpr int kNoProgressLevel = 9;

struct LeveledProgress {
  Progress progress;
  int level = kNoProgressLevel;
};

// Runs a table rule on `text`; sub[i] is group i (unset groups are null).
constexpr int kMaxRuleGroups = 16;
bool RunRule(const CompiledRule& c, std::string_view text,
             re2::StringPiece* sub) {
  const int n = std::min(kMaxRuleGroups, 1 + c.re->NumberOfCapturingGroups());
  return c.re->Match(re2::StringPiece(text.data(), text.size()), 0,
                     text.size(), RE2::UNANCHORED, sub, n);
}

// The first set group among `groups`; empty when none is.
std::string_view FirstSet(const re2::StringPiece* sub,
                          const std::vector<int>& groups) {
  for (int g : groups) {
    if (g < kMaxRuleGroups && sub[g].data() != nullptr) return SV(sub[g]);
  }
  return {};
}
std::string_view Group(const re2::StringPiece* sub, int g) {
  return g >= 0 && g < kMaxRuleGroups && sub[g].data() != nullptr
             ? SV(sub[g])
             : std::string_view();
}

int LabelLevel(std::string_view label) {
  const char c = label.empty() ? 's' : static_cast<char>(label[0] | 0x20);
  if (c == 't') return 0;  // trial
  if (c == 'e') return 1;  // epoch
  if (c == 'b') return 3;  // batch
  return 2;                // step, iter, iteration
}

// What one progress rule reads from `line`; nullopt when it makes no sense.
std::optional<LeveledProgress> RuleProgress(const CompiledRule& c,
                                            std::string_view line, bool peek,
                                            int64_t* announced_total) {
  re2::StringPiece sub[kMaxRuleGroups];
  if (!RunRule(c, line, sub)) return std::nullopt;
  // An unfinished line's last number may still grow ("5/10" of "5/100").
  if (peek && sub[0].data() + sub[0].size() >= line.data() + line.size()) {
    return std::nullopt;
  }
  LeveledProgress out;
  out.level = c.rule->level;
  const std::string_view label = Group(sub, c.label);
  if (out.level < 0) out.level = LabelLevel(label);
  const std::string_view pct = FirstSet(sub, c.pct);
  if (!pct.empty()) {
    std::optional<Progress> p = Percent(pct);
    if (!p) return std::nullopt;
    out.progress = *p;
    return out;
  }
  std::string_view done = Group(sub, c.done);
  std::string_view total = Group(sub, c.total);
  std::string announced;
  if (c.done < 0) {
    // "Total optimization steps = 564": the total of a later counter.
    int64_t t;
    if (!absl::SimpleAtoi(AV(total), &t) || t <= 0) return std::nullopt;
    *announced_total = t;
    done = "0";
  } else if (c.total < 0) {
    if (*announced_total <= 0) return std::nullopt;
    announced = absl::StrCat(*announced_total);
    total = announced;
  }
  std::optional<Progress> p =
      Ratio(label.empty() ? c.rule->display : label, done, total);
  if (!p) return std::nullopt;
  const std::string_view outer = Group(sub, c.outer);
  if (!outer.empty()) {
    // "Epoch [3][20/500]": the epochs have no total here, so the run's share
    // is unknown; the text says where it is.
    p->text = absl::StrCat(AV(c.rule->display), " ", AV(outer), " [",
                           AV(Group(sub, c.done)), "/", AV(Group(sub, c.total)),
                           "]");
    p->fraction = -1;
  }
  out.progress = std::move(*p);
  return out;
}

// The progress `line` shows, if any: of the counters on it, the outermost.
// `hits`: the table rules the line matches. `peek`: the line may be
// unfinished, so only a match followed by more text counts.
std::optional<LeveledProgress> MatchProgress(const Matchers& m,
                                             std::string_view line,
                                             const std::vector<int>& hits,
                                             bool peek,
                                             int64_t* announced_total) {
  if (line.substr(0, 12) == "::aetherflow") {
    if (peek) return std::nullopt;
    absl::StatusOr<Figures> figures = ParseControlLine(line);
    if (!figures.ok() || !figures->progress) return std::nullopt;
    std::string_view value = *figures->progress;
    std::optional<Progress> p;
    if (!value.empty() && value.back() == '%') {
      p = Percent(value.substr(0, value.size() - 1));
    } else if (const size_t slash = value.find('/');
               slash != std::string_view::npos) {
      p = Ratio("", value.substr(0, slash), value.substr(slash + 1));
    }
    if (!p) return std::nullopt;
    return LeveledProgress{std::move(*p), 0};
  }
  if (m.custom_progress != nullptr) {
    re2::StringPiece sub[kMaxSubmatches];
    int n = 0;
    if (!Find(*m.custom_progress, line, sub, &n) ||
        (peek && sub[0].data() + sub[0].size() >= line.data() + line.size())) {
      return std::nullopt;
    }
    std::optional<Progress> p;
    if (n >= 3) {
      p = Ratio("", SV(sub[1]), SV(sub[2]));
    } else if (n == 2) {
      p = Percent(SV(sub[1]));
    } else {
      p = Progress{};
      p->text = CleanText(SV(sub[0]), 80);
    }
    if (!p) return std::nullopt;
    return LeveledProgress{std::move(*p), 0};
  }
  const Builtin& b = GetBuiltin();
  std::optional<LeveledProgress> best;
  for (int i : hits) {
    const CompiledRule& c = b.rules[i];
    if (c.rule->kind != RuleKind::kProgress) continue;
    // Levels are known before matching, except for labelled counters.
    if (best && c.rule->level >= best->level) continue;
    std::optional<LeveledProgress> p =
        RuleProgress(c, line, peek, announced_total);
    if (p && (!best || p->level < best->level)) best = std::move(p);
  }
  return best;
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

enum class Severity { kNone, kWarning, kError, kCritical };

// The line's own severity prefix ("W0712", "[E file.cpp:1]", "WARNING:").
enum class Prefix { kNone, kDebugInfo, kWarning, kError, kFatal };

Prefix PrefixOf(const CompiledRule& c, std::string_view line) {
  re2::StringPiece sub[kMaxRuleGroups];
  if (!RunRule(c, line, sub)) return Prefix::kNone;
  const std::string_view sev = FirstSet(sub, c.sev);
  if (sev.empty()) return Prefix::kNone;
  switch (sev[0] | 0x20) {
    case 'd':
    case 'i':
      return Prefix::kDebugInfo;
    case 'w':
      return Prefix::kWarning;
    case 'e':
      return Prefix::kError;
    case 'f':
    case 'c':
      return Prefix::kFatal;
  }
  return Prefix::kNone;
}

bool ParseNumber(std::string_view s, double* out) {
  while (!s.empty() && (s.back() == '.' || s.back() == ',')) s.remove_suffix(1);
  return absl::SimpleAtod(AV(s), out) && std::isfinite(*out);
}

// A metric's value is cut to this many bytes (it is a number).
constexpr size_t kMaxMetricTextBytes = 40;

bool IsNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' ||
         c == '-' || c == '.' || c == '/';
}

// NewBestNews::metric for a match of `re` (sub[0] the match, sub[1] the
// number).
std::string MetricName(const RE2& re, const re2::StringPiece* sub) {
  for (const auto& [name, index] : re.NamedCapturingGroups()) {
    if (index == 1 && !name.empty()) return CleanText(name, 60);
  }
  std::string_view before;
  if (sub[0].data() != nullptr && sub[1].data() != nullptr &&
      sub[1].data() >= sub[0].data()) {
    before = std::string_view(sub[0].data(),
                              static_cast<size_t>(sub[1].data() - sub[0].data()));
  }
  size_t end = before.size();
  while (end > 0 && !IsNameChar(before[end - 1])) --end;
  // A trailing '-' or '.' belongs to the separator ("loss -> 0.4").
  while (end > 0 && (before[end - 1] == '-' || before[end - 1] == '.')) --end;
  size_t start = end;
  while (start > 0 && IsNameChar(before[start - 1])) --start;
  std::string_view name = before.substr(start, end - start);
  // Digits alone are no name ("epoch 3 0.47").
  bool has_letter = false;
  for (char c : name) has_letter |= absl::ascii_isalpha(static_cast<unsigned char>(c));
  if (!has_letter) return "metric";
  return CleanText(name, 60);
}

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
    const Builtin& b = GetBuiltin();
    b.Match(t, &hits_);
    if (cursor_->in_traceback) {
      // Frames are indented ("  File ...", "    code", "    ^^^"); the
      // first line that is not is the exception, the one worth reporting.
      if (text.front() == ' ' || text.front() == '\t' ||
          t.substr(0, 6) == "File \"") {
        return;
      }
      cursor_->in_traceback = false;
      collector_.Add(Classify(t) == Severity::kCritical ? FindingKind::kCritical
                                                        : FindingKind::kError,
                     line_no, CleanText(t, kMaxFindingTextBytes));
      return;
    }
    if (t.find("Traceback (most recent call last)") != std::string_view::npos) {
      // A bar may stand before it on the same line.
      ReadProgress(t, /*peek=*/false);
      cursor_->in_traceback = true;
      return;
    }
    switch (Classify(t)) {
      case Severity::kCritical:
        collector_.Add(FindingKind::kCritical, line_no,
                       CleanText(t, kMaxFindingTextBytes));
        break;
      case Severity::kError:
        collector_.Add(FindingKind::kError, line_no,
                       CleanText(t, kMaxFindingTextBytes));
        break;
      case Severity::kWarning:
        collector_.Add(FindingKind::kWarning, line_no,
                       CleanText(t, kMaxFindingTextBytes));
        break;
      case Severity::kNone:
        break;
    }
    if (Matches(m_.discovery, t)) {
      collector_.Add(FindingKind::kDiscovery, line_no,
                     CleanText(t, kMaxFindingTextBytes));
    }
    if (m_.metric != nullptr) {
      Metric(t, line_no);
    } else if (m_.builtin_discovery) {
      BuiltinDiscovery(t, line_no);
    }
    ReadProgress(t, /*peek=*/false);
    // Where a new best was reached: the progress this very line may show
    // ("Epoch 7/20 - val_loss: 0.47"), else the latest before it.
    if (where_pending_) {
      news_->where = cursor_->progress.text;
      where_pending_ = false;
    }
  }

  // The unfinished last line: only its progress is read now.
  void Peek(std::string_view raw) {
    if (cursor_->in_traceback) return;
    const std::string_view t = Trim(Clean(raw));
    if (t.empty()) return;
    GetBuiltin().Match(t, &hits_);
    ReadProgress(t, /*peek=*/true);
  }

  void Finish(StepAnalysis* out) {
    collector_.Finish(out);
    out->new_best = std::move(news_);
  }

 private:
  std::string_view Clean(std::string_view raw) {
    if (raw.find('\x1b') == std::string_view::npos) return raw;
    StripAnsiInto(raw, &buffer_);
    return buffer_;
  }

  void ReadProgress(std::string_view t, bool peek) {
    std::optional<LeveledProgress> p =
        MatchProgress(m_, t, hits_, peek, &cursor_->announced_total);
    // The outermost counter wins: a batch bar does not replace the epoch.
    if (p && p->level <= cursor_->progress_level) {
      cursor_->progress = std::move(p->progress);
      cursor_->progress_level = p->level;
    }
  }

  // The severity of line `t` by the precedence of common/log_patterns.h;
  // hits_ holds the table rules `t` matches.
  Severity Classify(std::string_view t) {
    const Builtin& b = GetBuiltin();
    bool harmless = false;
    Prefix prefix = Prefix::kNone;
    Severity beats = Severity::kNone;
    for (int i : hits_) {
      const CompiledRule& c = b.rules[i];
      if (c.rule->kind == RuleKind::kHarmless) harmless = true;
      if (c.rule->kind == RuleKind::kSeverityPrefix &&
          prefix == Prefix::kNone) {
        prefix = PrefixOf(c, t);
      }
      if (c.rule->beats_harmless) beats = Severity::kWarning;
    }
    // 1. Harmless text is blanked before the severity rules read the line.
    std::string_view rest = t;
    const std::vector<int>* hits = &hits_;
    if (harmless) {
      blanked_.assign(t.data(), t.size());
      for (int i : hits_) {
        const CompiledRule& c = b.rules[i];
        if (c.rule->kind != RuleKind::kHarmless) continue;
        re2::StringPiece in(t.data(), t.size()), match;
        size_t from = 0;
        while (from <= t.size() &&
               c.re->Match(in, from, t.size(), RE2::UNANCHORED, &match, 1)) {
          const size_t at = match.data() - t.data();
          std::fill(blanked_.begin() + at,
                    blanked_.begin() + at + match.size(), ' ');
          from = at + std::max<size_t>(1, match.size());
        }
      }
      rest = blanked_;
      b.Match(rest, &rest_hits_);
      hits = &rest_hits_;
    }
    // 2. critical > error > warning among the rules.
    Severity s = Severity::kNone;
    bool goes_on = false;
    for (int i : *hits) {
      const LogRule& r = *b.rules[i].rule;
      switch (r.kind) {
        case RuleKind::kCritical:
          s = Severity::kCritical;
          break;
        case RuleKind::kError:
          if (m_.builtin_error) s = std::max(s, Severity::kError);
          break;
        case RuleKind::kWarning:
          if (r.goes_on) goes_on = true;
          if (m_.builtin_warning) s = std::max(s, Severity::kWarning);
          break;
        default:
          break;
      }
    }
    if (Matches(m_.error, rest)) s = std::max(s, Severity::kError);
    if (Matches(m_.warning, rest)) s = std::max(s, Severity::kWarning);
    s = std::max(s, beats);
    // 3. The line's own severity decides between warning and error.
    switch (prefix) {
      case Prefix::kWarning:
        // A step's own warning pattern replaces the prefix's word too.
        if (s != Severity::kNone || (!harmless && m_.builtin_warning)) {
          s = Severity::kWarning;
        }
        break;
      case Prefix::kError:
        if (!harmless && m_.builtin_error) s = std::max(s, Severity::kError);
        break;
      case Prefix::kFatal:
        if (!harmless) s = Severity::kCritical;
        break;
      case Prefix::kDebugInfo:
        if (s == Severity::kError) s = Severity::kWarning;
        break;
      case Prefix::kNone:
        break;
    }
    // 4. A line that says the job skips or retries and goes on.
    if (goes_on && s > Severity::kWarning) s = Severity::kWarning;
    return s;
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
    const std::string value_text =
        CleanText(SV(sub[1]), kMaxMetricTextBytes);
    if (!news_) {
      news_.emplace();
      news_->metric = MetricName(*m_.metric, sub);
      if (old) {
        news_->was = cursor_->best_text.empty() ? FormatNumber(*old)
                                                : cursor_->best_text;
      }
    } else if (!news_->was) {
      // The step's first value is what the next best beat, not a new best.
      news_->was = news_->value;
      news_->count = 0;
    }
    news_->value = value_text;
    news_->line = line_no;
    ++news_->count;
    where_pending_ = true;
    cursor_->best = value;
    cursor_->best_text = value_text;
    const std::string was =
        old ? absl::StrCat("was ", FormatNumber(*old)) : "first value";
    collector_.Add(FindingKind::kNewBest, line_no,
                   CleanText(absl::StrCat("new best ", FormatNumber(value),
                                          " (", was, "): ", AV(t)),
                             kMaxFindingTextBytes));
  }

  // The table's discovery rules: an event line is news; a state line is
  // news only when the best it states changed since the cursor's baseline.
  void BuiltinDiscovery(std::string_view t, int64_t line_no) {
    const Builtin& b = GetBuiltin();
    for (int i : hits_) {
      const CompiledRule& c = b.rules[i];
      if (c.rule->kind != RuleKind::kDiscovery) continue;
      re2::StringPiece sub[kMaxRuleGroups];
      if (!RunRule(c, t, sub)) continue;
      if (!c.best_trial.empty()) {
        Optuna(sub, c, line_no);
      } else if (c.rule->state) {
        StateValue(sub, c, t, line_no);
      } else if (Event(sub, c)) {
        collector_.Add(FindingKind::kDiscovery, line_no,
                       CleanText(t, kMaxFindingTextBytes));
      }
      return;  // one discovery per line
    }
  }

  // "reached 0.91 (best 0.91)" is news; "reached 0.85 (best 0.91)" is not.
  bool Event(const re2::StringPiece* sub, const CompiledRule& c) {
    const std::string_view best = Group(sub, c.best);
    if (best.empty()) return true;
    double v, bv;
    return ParseNumber(FirstSet(sub, c.values), &v) && ParseNumber(best, &bv) &&
           v == bv;
  }

  // Optuna's "Current best value is X" (< 2.0): news when this trial is the
  // best (its value equals it) or when the best changed since the baseline.
  void StateValue(const re2::StringPiece* sub, const CompiledRule& c,
                  std::string_view t, int64_t line_no) {
    double value, best;
    if (!ParseNumber(Group(sub, c.best), &best)) return;
    const bool this_trial =
        ParseNumber(FirstSet(sub, c.values), &value) && value == best;
    const std::optional<double> old = cursor_->builtin_best;
    cursor_->builtin_best = best;
    if (old ? *old == best : !this_trial) return;  // the baseline, or no news
    collector_.Add(FindingKind::kDiscovery, line_no,
                   CleanText(t, kMaxFindingTextBytes));
  }

  // "Trial 5 finished ... Best is trial 5": trial 5 is a new best. "Trial 42
  // finished ... Best is trial 31": the best so far, news only if it changed.
  void Optuna(const re2::StringPiece* sub, const CompiledRule& c,
              int64_t line_no) {
    int64_t best_trial, trial = -1;
    if (!absl::SimpleAtoi(AV(FirstSet(sub, c.best_trial)), &best_trial)) {
      return;
    }
    const std::string_view finished = FirstSet(sub, c.trial);
    if (!finished.empty() && !absl::SimpleAtoi(AV(finished), &trial)) {
      trial = -1;
    }
    const std::optional<int64_t> old = cursor_->optuna_best_trial;
    if (old == best_trial) return;  // the same best, never announced twice
    cursor_->optuna_best_trial = best_trial;
    if (!old && trial != best_trial) return;  // first seen mid-run: baseline
    std::string_view value = FirstSet(sub, c.values);
    while (!value.empty() && value.back() == '.') value.remove_suffix(1);
    const std::string was = old              ? absl::StrCat("was trial ", *old)
                            : best_trial == 0 ? std::string("first best")
                                              : std::string("new best");
    collector_.Add(
        FindingKind::kDiscovery, line_no,
        CleanText(absl::StrCat("Best is trial ", best_trial,
                               " with value: ", AV(value), " (", was, ")"),
                  kMaxFindingTextBytes));
  }

  Matchers m_;
  StepCursor* cursor_;
  Collector collector_;
  std::optional<NewBestNews> news_;
  bool where_pending_ = false;  // news_->where is read after the progress
  std::string buffer_;   // a line without its ANSI sequences
  std::string blanked_;  // a line without its harmless text
  std::vector<int> hits_, rest_hits_;
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
  if (!c.best_text.empty()) j["best_text"] = c.best_text;
  if (c.optuna_best_trial) j["optuna_best_trial"] = *c.optuna_best_trial;
  if (c.builtin_best) j["builtin_best"] = *c.builtin_best;
  if (c.progress_level < kNoProgressLevel) {
    j["progress_level"] = c.progress_level;
  }
  if (c.announced_total > 0) j["announced_total"] = c.announced_total;
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
  if (auto it = j.find("best_text"); it != j.end() && !it->is_null()) {
    if (!it->is_string()) return bad("best_text", "expected a string");
    // Shown in reports: cleaned as when it was read from the log.
    c.best_text = CleanText(it->get<std::string>(), kMaxMetricTextBytes);
  }
  if (auto it = j.find("optuna_best_trial"); it != j.end() && !it->is_null()) {
    int64_t trial = 0;
    if (!(s = get_int("optuna_best_trial", kMax, &trial)).ok()) return s;
    c.optuna_best_trial = trial;
  }
  if (auto it = j.find("builtin_best"); it != j.end() && !it->is_null()) {
    if (!it->is_number()) return bad("builtin_best", "expected a number");
    c.builtin_best = it->get<double>();
  }
  int64_t level = kNoProgressLevel;
  if (!(s = get_int("progress_level", kNoProgressLevel, &level)).ok()) return s;
  c.progress_level = static_cast<int>(level);
  if (!(s = get_int("announced_total", kMax, &c.announced_total)).ok()) {
    return s;
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

void MergeNewBest(std::optional<NewBestNews>* into,
                  const std::optional<NewBestNews>& later) {
  if (!later) return;
  if (!*into) {
    *into = later;
    return;
  }
  NewBestNews& n = **into;
  if (!n.was && later->was) {
    // The earlier news was the step's first value: what `later` beat.
    n.was = later->was;
    n.count = 0;
  }
  n.value = later->value;
  n.where = later->where;
  n.line = later->line;
  n.count += later->count;
  if (n.metric.empty()) n.metric = later->metric;
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

std::string StepProgressText(const Progress& progress,
                             int64_t step_elapsed_ms) {
  if (!progress.known()) return progress.text;
  std::string out = progress.text;
  const std::string share =
      absl::StrFormat("%.0f%%", std::floor(progress.fraction * 100));
  // "45%" says its share already.
  const bool says_share = out == share || out.empty();
  if (out.empty()) out = share;
  std::vector<std::string> notes;
  if (!says_share) notes.push_back(share);
  if (step_elapsed_ms > 0 && progress.fraction > 0 && progress.fraction < 1) {
    const double eta = static_cast<double>(step_elapsed_ms) *
                       (1 - progress.fraction) / progress.fraction;
    notes.push_back(absl::StrCat(
        "eta ", FormatDurationMs(static_cast<int64_t>(std::min(eta, 1e15)))));
  }
  if (!notes.empty()) absl::StrAppend(&out, " (", absl::StrJoin(notes, ", "), ")");
  return out;
}

std::string StripAnsi(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  StripAnsiInto(text, &out);
  return out;
}

}  // namespace aetherflow
