#include "common/plan_parser.h"

#include "common/checkin.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/byte_size.h"
#include "common/duration.h"
#include "common/log_analysis.h"
#include "common/text.h"

namespace aetherflow {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kBom = "\xEF\xBB\xBF";
// A plan with thousands of broken steps would otherwise produce a message
// too large to print or send; past this many lines we only count.
constexpr size_t kMaxReportedProblems = 1000;
// The unknown-field warning names at most this many fields.
constexpr size_t kMaxWarnedFields = 10;
// A cycle longer than this is shown with its middle elided.
constexpr size_t kMaxCycleShown = 16;

// The fields of a plan, of a step and of `budget` (SPEC §2).
constexpr std::string_view kPlanFields[] = {
    "task_id", "description", "steps",   "max_parallel",
    "fail_fast", "budget",    "checkin", "metadata", "apply"};
constexpr std::string_view kStepFields[] = {
    "id",          "description", "type",    "prompt",
    "cwd",         "provider",    "dependencies", "validation_criteria",
    "run",         "timeout",     "retries", "env",
    "estimated_tokens", "complexity", "context", "watch",
    "resources",   "tty",         "validate", "repair"};
constexpr std::string_view kBudgetFields[] = {"cost", "tokens"};

// Other names people give step fields (other tools' plan formats, habit),
// each with the field it means here.
constexpr std::pair<std::string_view, std::string_view> kStepSynonyms[] = {
    {"command", "run"},          {"cmd", "run"},
    {"shell", "run"},            {"script", "run"},
    {"exec", "run"},             {"deps", "dependencies"},
    {"depends", "dependencies"}, {"depends_on", "dependencies"},
    {"needs", "dependencies"},   {"after", "dependencies"},
    {"dependency", "dependencies"}, {"retry", "retries"},
    {"environment", "env"},      {"workdir", "cwd"},
    {"working_dir", "cwd"}};

// The known field that unknown `key` most likely stands for, or "". Case
// and '-' for '_' are ignored; then synonyms (of steps only); then an edit
// distance of 1 for short names (3 or 4 characters: "ids" for "id") and 2
// for longer ones ("dependecies", "max_paralel"), as config.toml's "did
// you mean" does.
std::string_view NearMiss(const std::string& key,
                          std::span<const std::string_view> known, bool step) {
  if (key.size() > 64) return "";
  std::string norm = absl::AsciiStrToLower(key);
  std::replace(norm.begin(), norm.end(), '-', '_');
  std::replace(norm.begin(), norm.end(), ' ', '_');
  for (std::string_view k : known) {
    if (norm == k) return k;
  }
  std::vector<std::string_view> candidates(known.begin(), known.end());
  if (step) {
    for (const auto& [other, field] : kStepSynonyms) {
      if (norm == other) return field;
      candidates.push_back(other);
    }
  }
  // One or two letters are too short to be read as a typo of anything.
  if (norm.size() < 3) return "";
  const std::string_view match =
      ClosestMatch(norm, candidates, norm.size() <= 4 ? 1 : 2);
  if (match.empty()) return "";
  // A short known name is matched only as closely as a short key.
  if (match.size() <= 4 && EditDistance(norm, match) > 1) return "";
  if (step) {
    for (const auto& [other, field] : kStepSynonyms) {
      if (match == other) return field;
    }
  }
  return match;
}

// 1-based line and byte column of `offset` in `text` (offset may be
// text.size(), the position just past the end).
std::pair<size_t, size_t> LineColOf(std::string_view text, size_t offset) {
  offset = std::min(offset, text.size());
  const std::string_view before = text.substr(0, offset);
  const size_t line = 1 + std::count(before.begin(), before.end(), '\n');
  const size_t last_nl = before.rfind('\n');
  const size_t col =
      last_nl == std::string_view::npos ? offset + 1 : offset - last_nl;
  return {line, col};
}

// Index just past the string literal that starts at text[i] == '"'.
size_t SkipString(std::string_view text, size_t i) {
  for (++i; i < text.size(); ++i) {
    if (text[i] == '\\') {
      ++i;  // the escaped character cannot end the string
    } else if (text[i] == '"') {
      return i + 1;
    }
  }
  return text.size();
}

// Offset of the first bracket nested deeper than kMaxJsonDepth, if any.
// Runs on the raw text before nlohmann sees it, so hostile input can never
// drive a deep recursion anywhere (nlohmann's dump() recurses on the
// document). Works on any text, valid JSON or not.
std::optional<size_t> FindTooDeep(std::string_view text) {
  int depth = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    switch (text[i]) {
      case '"':
        i = SkipString(text, i) - 1;
        break;
      case '{':
      case '[':
        if (++depth > kMaxJsonDepth) return i;
        break;
      case '}':
      case ']':
        --depth;
        break;
      default:
        break;
    }
  }
  return std::nullopt;
}

// The locator: where values start in a JSON text. nlohmann 3.11 keeps no
// positions in its DOM, so once a problem is found we scan the text (which
// nlohmann has already accepted, so it is valid JSON) and record the byte
// offset at which each value starts, keyed by its path ("", "steps",
// "steps[3]", "steps[3].dependencies[0]"...). For an object member this is
// the offset of the value, not of the key. Iterative and linear. It runs
// only when there is something to report, so valid plans never pay for it.
class Locator {
 public:
  explicit Locator(std::string_view text) : text_(text) { Scan(); }

  // Byte offset of the value at `path`; for a path that is not in the text
  // (a missing field) the offset of the nearest enclosing value.
  size_t Offset(std::string path) const {
    while (true) {
      auto it = offsets_.find(path);
      if (it != offsets_.end()) return it->second;
      if (path.empty()) return 0;
      const size_t cut = path.find_last_of(".[");
      path.resize(cut == std::string::npos ? 0 : cut);
    }
  }

  std::pair<size_t, size_t> LineCol(size_t offset) const {
    // Binary search over line starts: a plan with many errors asks often.
    const auto it =
        std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    const size_t line = it - line_starts_.begin();  // line_starts_[0] == 0
    return {line, offset - line_starts_[line - 1] + 1};
  }

 private:
  // Paths deeper than steps[i].dependencies[j] are never reported.
  static constexpr size_t kRecordDepth = 4;

  struct Frame {
    bool object;
    bool expect_key;  // objects: the next string is a key
    std::string path;
    size_t index = 0;  // arrays: index of the current element
    std::string key;   // objects: key of the current member
  };

  void Scan() {
    line_starts_.push_back(0);
    for (size_t i = 0; i < text_.size(); ++i) {
      if (text_[i] == '\n') line_starts_.push_back(i + 1);
    }
    std::vector<Frame> stack;
    // Records that a value starts at `at`; returns its path.
    auto value_at = [&](size_t at) -> std::string {
      if (stack.size() > kRecordDepth) return {};
      std::string path;
      if (!stack.empty()) {
        const Frame& f = stack.back();
        path = !f.object        ? absl::StrCat(f.path, "[", f.index, "]")
               : f.path.empty() ? f.key
                                : absl::StrCat(f.path, ".", f.key);
      }
      offsets_[path] = at;  // the last duplicate key wins, as in nlohmann
      return path;
    };
    size_t i = text_.substr(0, kBom.size()) == kBom ? kBom.size() : 0;
    while (i < text_.size()) {
      const char c = text_[i];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        ++i;
      } else if (c == ',') {
        // The text need not be valid JSON (it is also scanned to place
        // errors): an unbalanced delimiter is skipped.
        if (!stack.empty()) {
          Frame& f = stack.back();
          if (f.object) {
            f.expect_key = true;
          } else {
            ++f.index;
          }
        }
        ++i;
      } else if (c == ':') {
        if (!stack.empty()) stack.back().expect_key = false;
        ++i;
      } else if (c == '{' || c == '[') {
        std::string path = value_at(i);
        stack.push_back({c == '{', c == '{', std::move(path), 0, {}});
        ++i;
      } else if (c == '}' || c == ']') {
        if (!stack.empty()) stack.pop_back();
        ++i;
      } else if (c == '"') {
        const size_t end = SkipString(text_, i);
        if (!stack.empty() && stack.back().object && stack.back().expect_key) {
          stack.back().key = DecodeString(text_.substr(i, end - i));
        } else {
          value_at(i);
        }
        i = end;
      } else {  // number, true, false or null: runs to the next delimiter
        value_at(i);
        while (i < text_.size() &&
               std::string_view(",:]} \t\r\n").find(text_[i]) ==
                   std::string_view::npos) {
          ++i;
        }
      }
    }
  }

  // The value of a JSON string literal (quotes included).
  static std::string DecodeString(std::string_view literal) {
    if (literal.find('\\') == std::string_view::npos) {
      return std::string(literal.substr(1, literal.size() - 2));
    }
    Json j = Json::parse(literal, nullptr, /*allow_exceptions=*/false);
    return j.is_string() ? j.get<std::string>() : std::string(literal);
  }

  std::string_view text_;
  std::vector<size_t> line_starts_;
  std::unordered_map<std::string, size_t> offsets_;
};

// `s` as a JSON string literal: quoted, control characters escaped, so a
// message stays on one line whatever the plan contains.
std::string Quote(const std::string& s) {
  return Json(s).dump(-1, ' ', false, Json::error_handler_t::replace);
}

// Field names are shown bare when harmless, quoted otherwise.
std::string FieldName(const std::string& key) {
  const bool plain =
      !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
        return absl::ascii_isalnum(c) || c == '_' || c == '-';
      });
  return plain ? key : Quote(key);
}

// Whether v is a string that survives as a C string. Commands, env and cwd
// reach posix_spawn that way, where a NUL would silently cut them short.
bool IsCString(const Json& v) {
  return v.is_string() &&
         v.get_ref<const std::string&>().find('\0') == std::string::npos;
}

// What is wrong with `id` as a step id, or "" if nothing. Ids become file
// names in run directories, hence no '/' and no "..".
std::string StepIdProblem(const std::string& id) {
  if (id.empty()) return "empty step id";
  if (id.size() > kMaxStepIdLength) {
    return absl::StrCat("step id longer than ", kMaxStepIdLength,
                        " characters");
  }
  const bool charset_ok = std::all_of(id.begin(), id.end(), [](char c) {
    return absl::ascii_isalnum(c) || c == '_' || c == '-' || c == '.';
  });
  if (!charset_ok) {
    return absl::StrCat("invalid step id ", Quote(id),
                        " (use letters, digits, '_', '-' and '.')");
  }
  if (id == "." || id.find("..") != std::string::npos) {
    return absl::StrCat("invalid step id ", Quote(id),
                        " (must not be \".\" or contain \"..\")");
  }
  return "";
}

// One validation pass over one plan text. Problems are collected, not
// returned at the first one, so the user can fix everything in one go.
class PlanChecker {
 public:
  PlanChecker(std::string_view text, std::string_view filename, PlanRules rules)
      : text_(text), file_(filename), rules_(rules) {}

  absl::StatusOr<Plan> Run() {
    if (text_.size() > kMaxPlanBytes) {
      return Fail(absl::StrCat(file_, ": plan is ", text_.size(),
                               " bytes, over the limit of ", kMaxPlanBytes,
                               " bytes"));
    }
    if (text_.find_first_not_of(" \t\n\r\v\f") == std::string_view::npos) {
      return Fail(absl::StrCat(file_, ": empty file, not a plan"));
    }
    if (std::optional<size_t> at = FindTooDeep(text_)) {
      auto [line, col] = LineColOf(text_, *at);
      return Fail(absl::StrCat(file_, ":", line, ":", col,
                               ": JSON nested deeper than ", kMaxJsonDepth,
                               " levels"));
    }
    Json root;
    // nlohmann reports syntax errors by exception only with their position;
    // they are caught here and never leave this function.
    try {
      root = Json::parse(text_.begin(), text_.end());
    } catch (const Json::parse_error& e) {
      auto [line, col] = LineColOf(text_, e.byte > 0 ? e.byte - 1 : 0);
      return Fail(absl::StrCat(file_, ":", line, ":", col,
                               ": JSON syntax error: ", ShortReason(e.what())));
    } catch (const Json::exception& e) {  // e.g. number overflow: no position
      return Fail(absl::StrCat(file_, ": JSON error: ", ShortReason(e.what())));
    }

    Plan plan;
    // Every check runs even after a problem, so that all are reported.
    CheckRoot(root, plan);
    ResolveDependencies(plan);
    OrderAndFindCycles(plan);
    if (!problems_.empty()) return Fail(Report());
    ComputeBatches(plan);
    if (!unknown_fields_.empty())
      plan.warnings.push_back(UnknownFieldsWarning());
    plan.source = std::string(text_);
    return plan;
  }

 private:
  struct Problem {
    std::string path;     // where it is; "" for the root
    std::string message;  // what is wrong
  };

  static absl::Status Fail(std::string message) {
    return absl::InvalidArgumentError(std::move(message));
  }

  // "[json.exception.parse_error.101] parse error at line 4, column 31:
  // syntax error while parsing object key - unexpected '}'; ..." -> "while
  // parsing object key - unexpected '}'; ...". Our own prefix already says
  // where, and "last read" may echo invalid bytes.
  static std::string ShortReason(std::string_view what) {
    if (size_t p = what.find("] "); p != std::string_view::npos) {
      what.remove_prefix(p + 2);
    }
    if (size_t p = what.find("column "); p != std::string_view::npos) {
      if (size_t q = what.find(": ", p); q != std::string_view::npos) {
        what.remove_prefix(q + 2);
      }
    }
    if (what.substr(0, 13) == "syntax error ") what.remove_prefix(13);
    what = what.substr(0, what.find("; last read"));
    return std::string(what);
  }

  void AddProblem(std::string path, std::string message) {
    problems_.push_back({std::move(path), std::move(message)});
  }

  // Built on first need: only plans with problems pay for positions.
  const Locator& locator() {
    if (!locator_) locator_.emplace(text_);
    return *locator_;
  }

  // Every problem as FILE:LINE:COL: PATH: problem, in text order.
  std::string Report() {
    std::vector<std::pair<size_t, std::string>> lines;
    lines.reserve(problems_.size());
    for (const auto& p : problems_) {
      const size_t offset = locator().Offset(p.path);
      auto [line, col] = locator().LineCol(offset);
      lines.emplace_back(
          offset,
          absl::StrCat(file_, ":", line, ":", col, ": ",
                       p.path.empty() ? "(root)" : p.path, ": ", p.message));
    }
    std::stable_sort(
        lines.begin(), lines.end(),
        [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<std::string> out;
    for (size_t i = 0; i < lines.size() && i < kMaxReportedProblems; ++i) {
      out.push_back(std::move(lines[i].second));
    }
    if (lines.size() > kMaxReportedProblems) {
      out.push_back(absl::StrCat(file_, ": and ",
                                 lines.size() - kMaxReportedProblems,
                                 " more problems"));
    }
    return absl::StrJoin(out, "\n");
  }

  // An unknown field `key` at `path`: under kNew, a near miss of one of
  // `known` is a problem naming the field meant; else it is kept and named
  // (as `shown`) in the one warning.
  void UnknownField(const std::string& key, const std::string& path,
                    std::string shown, std::span<const std::string_view> known,
                    bool step) {
    if (rules_ == PlanRules::kNew) {
      if (std::string_view field = NearMiss(key, known, step); !field.empty()) {
        AddProblem(path, absl::StrCat("unknown field (did you mean \"",
                                      std::string(field), "\"?)"));
        return;
      }
    }
    unknown_fields_.push_back(std::move(shown));
  }

  std::string UnknownFieldsWarning() const {
    const size_t n = unknown_fields_.size();
    const std::vector<std::string> shown(
        unknown_fields_.begin(),
        unknown_fields_.begin() + std::min(n, kMaxWarnedFields));
    return absl::StrCat(
        file_, ": warning: unknown fields kept and ignored: ",
        absl::StrJoin(shown, ", "),
        n > kMaxWarnedFields
            ? absl::StrCat(" and ", n - kMaxWarnedFields, " more")
            : "");
  }

  // v's value if it is an integral number (3 or 3.0) in [lo, hi]; else
  // records `problem`.
  std::optional<int64_t> GetInteger(const Json& v, const std::string& path,
                                    int64_t lo, int64_t hi,
                                    std::string problem) {
    std::optional<int64_t> n;
    if (v.is_number_unsigned()) {
      if (v.get<uint64_t>() <= INT64_MAX) n = v.get<int64_t>();
    } else if (v.is_number_integer()) {
      n = v.get<int64_t>();
    } else if (v.is_number_float()) {
      const double d = v.get<double>();  // Python writes computed ints as 3.0
      if (std::trunc(d) == d && std::fabs(d) < 9.2e18) {
        n = static_cast<int64_t>(d);
      }
    }
    if (n && *n >= lo && *n <= hi) return n;
    AddProblem(path, std::move(problem));
    return std::nullopt;
  }

  // Sets *out to v's string value, or records a problem at `path`.
  bool GetString(const Json& v, const std::string& path, std::string* out) {
    if (!v.is_string()) {
      AddProblem(path, "expected a string");
      return false;
    }
    *out = v.get<std::string>();
    return true;
  }

  void CheckRoot(const Json& root, Plan& plan) {
    if (!root.is_object()) {
      AddProblem("", "expected a JSON object with a \"steps\" array");
      return;
    }
    const Json* steps = nullptr;
    for (auto it = root.begin(); it != root.end(); ++it) {
      const std::string& key = it.key();
      const Json& v = it.value();
      if (key == "task_id") {
        GetString(v, key, &plan.task_id);
      } else if (key == "description") {
        GetString(v, key, &plan.description);
      } else if (key == "steps") {
        steps = &v;
      } else if (key == "max_parallel") {
        if (auto n = GetInteger(v, key, 1, INT32_MAX,
                                "expected a positive integer")) {
          plan.max_parallel = static_cast<int>(*n);
        }
      } else if (key == "fail_fast") {
        if (v.is_boolean()) {
          plan.fail_fast = v.get<bool>();
        } else {
          AddProblem(key, "expected true or false");
        }
      } else if (key == "apply") {
        if (v.is_boolean()) {
          plan.apply = v.get<bool>();
        } else {
          AddProblem(key, "expected true or false");
        }
      } else if (key == "budget") {
        if (!v.is_object()) {
          AddProblem(key, "expected an object");
        } else {
          for (auto b = v.begin(); b != v.end(); ++b) {
            if (b.key() == "cost" && b.value().is_number() && b.value().get<double>() >= 0) {
              plan.budget_cost = b.value().get<double>();
            } else if (b.key() == "tokens" && b.value().is_number_integer() &&
                       b.value().get<int64_t>() >= 0) {
              plan.budget_tokens = b.value().get<int64_t>();
            } else if (b.key() == "cost" || b.key() == "tokens") {
              AddProblem("budget." + b.key(), b.key() == "cost"
                                                  ? "expected a number of USD >= 0"
                                                  : "expected a whole number of tokens >= 0");
            } else {
              UnknownField(b.key(), "budget." + FieldName(b.key()),
                           FieldName("budget." + b.key()), kBudgetFields,
                           /*step=*/false);
            }
          }
        }
      } else if (key == "checkin") {
        // {"schedule": "30s,90s,300s"} or {"schedule": ["30s", "90s", "300s"]}
        const Json* schedule = v.is_object() && v.contains("schedule") ? &v["schedule"] : nullptr;
        std::string text;
        bool ok = schedule != nullptr;
        if (ok && schedule->is_string()) {
          text = schedule->get<std::string>();
        } else if (ok && schedule->is_array()) {
          for (const Json& entry : *schedule) {
            if (!entry.is_string()) ok = false;
            else text += (text.empty() ? "" : ",") + entry.get<std::string>();
          }
        } else {
          ok = false;
        }
        absl::StatusOr<std::vector<int64_t>> parsed =
            ok ? ParseSchedule(text) : absl::InvalidArgumentError("");
        if (!ok) {
          AddProblem("checkin.schedule",
                     "expected {\"schedule\": \"30s,90s,300s\"} or a list of durations");
        } else if (!parsed.ok()) {
          AddProblem("checkin.schedule", std::string(parsed.status().message()));
        } else {
          plan.checkin_schedule = *parsed;
        }
      } else if (key != "metadata") {  // metadata is free-form
        UnknownField(key, FieldName(key), FieldName(key), kPlanFields,
                     /*step=*/false);
      }
    }
    if (steps == nullptr) {
      AddProblem("steps", "missing: a plan needs a \"steps\" array");
    } else if (!steps->is_array()) {
      AddProblem("steps", "expected an array of steps");
    } else if (steps->empty()) {
      AddProblem("steps", "no steps");
    } else if (steps->size() > kMaxSteps) {
      AddProblem("steps", absl::StrCat("too many steps: ", steps->size(),
                                       " (the limit is ", kMaxSteps, ")"));
    } else {
      // Sized once: ids_ holds views into the steps' id strings.
      steps_json_ = steps;
      plan.steps.resize(steps->size());
      ids_.reserve(steps->size());
      for (size_t i = 0; i < steps->size(); ++i) {
        CheckStep((*steps)[i], absl::StrCat("steps[", i, "]"), i,
                  plan.steps[i]);
      }
    }
  }

  void CheckStep(const Json& s, const std::string& p, size_t index,
                 Step& step) {
    if (!s.is_object()) {
      AddProblem(p, "expected an object (a step)");
      return;
    }
    auto at = [&p](const std::string& key) {
      return absl::StrCat(p, ".", key);
    };
    bool has_id = false;
    bool has_provider = false;
    const size_t problems_before = problems_.size();
    for (auto it = s.begin(); it != s.end(); ++it) {
      const std::string& key = it.key();
      const Json& v = it.value();
      if (key == "id") {
        has_id = true;
        if (GetString(v, at(key), &step.id)) CheckId(step.id, p, index);
      } else if (key == "description" || key == "type" || key == "prompt") {
        GetString(v, at(key),
                  key == "type"     ? &step.type
                  : key == "prompt" ? &step.prompt
                                    : &step.description);
      } else if (key == "cwd") {
        if (IsCString(v)) {
          step.cwd = v.get<std::string>();
        } else {
          AddProblem(at(key), "expected a string without NUL characters");
        }
      } else if (key == "provider") {
        has_provider = GetString(v, at(key), &step.provider);
        if (has_provider && step.provider.empty()) {
          AddProblem(at(key), "empty provider");
        }
      } else if (key == "dependencies") {
        CheckStringArray(v, at(key), "expected an array of step ids",
                         "expected a step id (a string)", &step.dependencies);
      } else if (key == "validation_criteria") {
        CheckStringArray(v, at(key), "expected an array of strings",
                         "expected a string", &step.validation_criteria);
      } else if (key == "run") {
        CheckRun(v, at(key), step);
      } else if (key == "timeout") {
        CheckTimeout(v, at(key), step);
      } else if (key == "retries") {
        if (auto n = GetInteger(
                v, at(key), 0, kMaxRetries,
                absl::StrCat("expected an integer from 0 to ", kMaxRetries))) {
          step.retries = static_cast<int>(*n);
        }
      } else if (key == "env") {
        CheckEnv(v, at(key), step);
      } else if (key == "estimated_tokens") {
        step.estimated_tokens = GetInteger(
            v, at(key), 0, kMaxTokens,
            absl::StrCat("expected an integer from 0 to ", kMaxTokens));
      } else if (key == "complexity") {
        if (v.is_number()) {
          step.complexity = v.get<double>();
        } else {
          AddProblem(at(key), "expected a number");
        }
      } else if (key == "context") {
        CheckContext(v, at(key), step.context);
      } else if (key == "watch") {
        CheckWatch(v, p, step);
      } else if (key == "resources") {
        CheckResources(v, at(key), step.resources);
      } else if (key == "tty") {
        if (!v.is_boolean()) AddProblem(at(key), "expected true or false");
      } else if (key == "validate") {
        CheckValidate(v, at(key), step);
      } else if (key == "repair") {
        if (auto n = GetInteger(
                v, at(key), 0, kMaxRepairs,
                absl::StrCat("expected an integer from 0 to ", kMaxRepairs))) {
          step.repair = static_cast<int>(*n);
        }
      } else {
        UnknownField(key, at(FieldName(key)), at(FieldName(key)), kStepFields,
                     /*step=*/true);
      }
    }
    if (!has_id) AddProblem(at("id"), "missing step id");
    // Nothing to run nor to ask: an LLM would get an empty prompt. Said
    // only when nothing else is wrong with the step (a "command" typo is
    // the one problem to fix).
    if (rules_ == PlanRules::kNew && problems_.size() == problems_before &&
        !step.is_command() && step.prompt.empty() && step.description.empty()) {
      AddProblem(p,
                 "nothing to do: give \"run\" (a command), or \"prompt\" or "
                 "\"description\" (an LLM step)");
    }
    if (step.is_command()) {
      if (has_provider) {
        AddProblem(at("provider"),
                   "provider applies to LLM steps; this step has `run`");
      }
      step.provider = "shell";
    } else if (!has_provider) {
      step.provider = step.context.provider;
    }
    // Every field kept, for the runner and for the user's own keys.
    step.raw_json = s.dump(-1, ' ', false, Json::error_handler_t::replace);
  }

  void CheckId(const std::string& id, const std::string& p, size_t index) {
    if (std::string problem = StepIdProblem(id); !problem.empty()) {
      AddProblem(p + ".id", std::move(problem));
    }
    if (id.empty()) return;
    // Even a malformed id is registered, so that steps naming it do not
    // also get "unknown step".
    auto [it, inserted] = ids_.emplace(id, static_cast<int>(index));
    if (!inserted) {
      const std::string first = absl::StrCat("steps[", it->second, "].id");
      const size_t line = locator().LineCol(locator().Offset(first)).first;
      AddProblem(p + ".id", absl::StrCat("duplicate step id ", Quote(id),
                                         " (first at line ", line, ")"));
    }
  }

  void CheckStringArray(const Json& v, const std::string& path,
                        std::string_view not_array, std::string_view not_string,
                        std::vector<std::string>* out) {
    if (!v.is_array()) {
      AddProblem(path, std::string(not_array));
      return;
    }
    out->reserve(v.size());
    for (size_t j = 0; j < v.size(); ++j) {
      if (v[j].is_string()) {
        out->push_back(v[j].get<std::string>());
      } else {
        AddProblem(absl::StrCat(path, "[", j, "]"), std::string(not_string));
      }
    }
  }

  void CheckRun(const Json& v, const std::string& path, Step& step) {
    if (v.is_string()) {
      if (!IsCString(v) ||
          absl::StripAsciiWhitespace(v.get_ref<const std::string&>()).empty()) {
        AddProblem(path, "expected a non-empty command without NUL characters");
      } else {
        step.shell = v.get<std::string>();
      }
      return;
    }
    if (!v.is_array() || v.empty()) {
      AddProblem(path,
                 "expected a non-empty string or a non-empty array of strings");
      return;
    }
    bool ok = true;
    for (size_t j = 0; j < v.size(); ++j) {
      if (!IsCString(v[j]) ||
          (j == 0 && v[j].get_ref<const std::string&>().empty())) {
        AddProblem(absl::StrCat(path, "[", j, "]"),
                   j == 0 ? "expected a program name"
                          : "expected a string without NUL characters");
        ok = false;
      }
    }
    if (ok) step.argv = v.get<std::vector<std::string>>();
  }

  // `validate`: a command (a string or an argv, as `run`), or a list of
  // them ([] and null: none). An array of strings is an argv, unless its
  // first element has a space (["pytest -q", "ruff check ."]): no program
  // is named so, so that is a list of shell commands.
  void CheckValidate(const Json& v, const std::string& path, Step& step) {
    if (v.is_null() || (v.is_array() && v.empty())) return;
    auto one = [&](const Json& c, const std::string& where) {
      Step probe;
      const size_t before = problems_.size();
      CheckRun(c, where, probe);
      if (problems_.size() == before) step.validate.push_back({probe.shell, probe.argv});
    };
    bool list = false;
    if (v.is_array()) {
      for (const Json& e : v) list = list || !e.is_string();
      list = list || v[0].get_ref<const std::string&>().find_first_of(" \t") != std::string::npos;
    }
    if (!list) {
      one(v, path);
      return;
    }
    for (size_t j = 0; j < v.size(); ++j) one(v[j], absl::StrCat(path, "[", j, "]"));
  }

  // `context` is free-form: only the keys the daemon reads are checked, and
  // other keys are neither typed nor warned about (they stay in raw_json).
  void CheckContext(const Json& v, const std::string& path, StepContext& ctx) {
    if (v.is_null()) return;
    if (!v.is_object()) {
      AddProblem(path, "expected an object");
      return;
    }
    for (auto it = v.begin(); it != v.end(); ++it) {
      const std::string& key = it.key();
      const Json& value = it.value();
      const std::string where = absl::StrCat(path, ".", key);
      if (key == "language") {
        // As the original tool did, any value goes into the prompt as
        // written: a non-string one as its JSON text.
        if (value.is_string()) {
          ctx.language = value.get<std::string>();
        } else if (!value.is_null()) {
          ctx.language =
              value.dump(-1, ' ', false, Json::error_handler_t::replace);
        }
      } else if (key == "provider") {
        // Only a string names a provider; anything else is the user's own
        // data, as it always was (the original tool's plans keep keys of
        // their own in context).
        if (value.is_string()) ctx.provider = value.get<std::string>();
      } else if (key == "files") {
        CheckPaths(value, where, &ctx.files);
      } else if (key == "input_files") {
        CheckPaths(value, where, &ctx.input_files);
      } else if (key == "auto_apply") {
        // The original tool's key: only an explicit false opts out.
        ctx.auto_apply = !(value.is_boolean() && !value.get<bool>());
      }
    }
  }

  // `context.files` and `context.input_files`: one path or an array of
  // paths (null: none). The paths are checked for safety where they are
  // used (inside the output directory only, SPEC §3).
  void CheckPaths(const Json& v, const std::string& path,
                  std::vector<std::string>* out) {
    auto good = [](const Json& p) {
      return IsCString(p) && !p.get_ref<const std::string&>().empty();
    };
    if (v.is_null()) return;
    if (v.is_string()) {
      if (good(v)) {
        out->push_back(v.get<std::string>());
      } else {
        AddProblem(path, "expected a non-empty path without NUL characters");
      }
      return;
    }
    if (!v.is_array()) {
      AddProblem(path, "expected a path or an array of paths");
      return;
    }
    for (size_t j = 0; j < v.size(); ++j) {
      if (good(v[j])) {
        out->push_back(v[j].get<std::string>());
      } else {
        AddProblem(absl::StrCat(path, "[", j, "]"),
                   "expected a non-empty path without NUL characters");
      }
    }
  }

  // Compiled once here, so that the client's dry run refuses exactly what
  // the daemon refuses and no check-in ever meets a bad pattern.
  void CheckWatch(const Json& v, const std::string& step_path, Step& step) {
    if (v.is_null()) return;
    // Generated plans repeat one watch on thousands of steps: each distinct
    // one is compiled once, and the steps share it.
    auto [cached, inserted] = watch_cache_.try_emplace(
        v.dump(-1, ' ', false, Json::error_handler_t::replace));
    if (inserted) {
      absl::StatusOr<WatchSpec> spec = WatchSpecFromJson(v);
      if (spec.ok()) {
        cached->second = std::make_shared<const WatchSpec>(*std::move(spec));
      } else {
        cached->second = spec.status();
      }
    }
    if (const auto* spec =
            std::get_if<std::shared_ptr<const WatchSpec>>(&cached->second)) {
      step.watch = *spec;
      return;
    }
    // "watch.progress: invalid regex ..." -> at steps[i].watch.progress.
    const std::string message(
        std::get<absl::Status>(cached->second).message());
    std::string where = absl::StrCat(step_path, ".watch");
    std::string what = message;
    const size_t colon = message.find(": ");
    if (colon != std::string::npos && message.rfind("watch", 0) == 0 &&
        message.find_first_of(" \"\n", 0) > colon) {
      where = absl::StrCat(step_path, ".", message.substr(0, colon));
      what = message.substr(colon + 2);
    }
    // A pattern quoted in the message may hold a newline: one problem, one
    // line.
    for (char& c : what) {
      if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    }
    AddProblem(std::move(where), std::move(what));
  }

  // `resources` (SPEC §9): any subset of cpu, mem, gpu; null values (and a
  // null `resources`) name nothing. An unknown key is an error, not a
  // warning: a typo such as "gpus" must not run a training job on no GPU.
  void CheckResources(const Json& v, const std::string& path,
                      StepResources& r) {
    if (v.is_null()) return;
    if (!v.is_object()) {
      AddProblem(path,
                 "expected an object such as {\"cpu\": 4, \"mem\": \"8G\", "
                 "\"gpu\": 1}");
      return;
    }
    for (auto it = v.begin(); it != v.end(); ++it) {
      const std::string& key = it.key();
      const Json& value = it.value();
      const std::string where = absl::StrCat(path, ".", FieldName(key));
      if (value.is_null() && (key == "cpu" || key == "mem" || key == "gpu")) {
        continue;
      }
      if (key == "cpu") {
        const double cpu = value.is_number() ? value.get<double>() : 0;
        if (!value.is_number() || !std::isfinite(cpu) || cpu <= 0) {
          AddProblem(where, "must be a number of CPUs > 0 (fractions allowed)");
        } else if (cpu > kMaxCpus) {
          AddProblem(where, absl::StrCat("must be at most ", kMaxCpus));
        } else {
          r.cpu = cpu;
        }
      } else if (key == "mem") {
        if (value.is_string()) {
          absl::StatusOr<int64_t> bytes =
              ParseByteSize(value.get_ref<const std::string&>());
          if (bytes.ok()) {
            r.mem_bytes = *bytes;
          } else {
            AddProblem(where, std::string(bytes.status().message()));
          }
        } else {
          r.mem_bytes = GetInteger(
              value, where, 1, kMaxByteSize,
              "must be a size such as \"8G\" or \"512M\", or a whole number "
              "of bytes > 0");
        }
      } else if (key == "gpu") {
        // 0 is accepted and means none, as when `gpu` is not named: a plan
        // generated by a script may write the count it computed.
        std::optional<int64_t> n = GetInteger(
            value, where, 0, kMaxGpus,
            absl::StrCat("must be a whole number ≥ 0 (at most ", kMaxGpus,
                         ")"));
        if (n && *n > 0) r.gpu = static_cast<int>(*n);
      } else {
        AddProblem(where, absl::StrCat("unknown resource ", Quote(key),
                                       " (cpu, mem, gpu)"));
      }
    }
  }

  void CheckTimeout(const Json& v, const std::string& path, Step& step) {
    int64_t ms = 0;
    if (v.is_string()) {
      absl::StatusOr<int64_t> parsed = ParseDurationMs(v.get<std::string>());
      if (!parsed.ok()) {
        AddProblem(path, std::string(parsed.status().message()));
        return;
      }
      ms = *parsed;
    } else if (v.is_number() && v.get<double>() >= 0 &&
               v.get<double>() < 9e15) {  // seconds; ms fits in int64
      ms = std::llround(v.get<double>() * 1000);
    } else {
      AddProblem(path,
                 "expected a duration such as \"90s\" or a non-negative number "
                 "of seconds");
      return;
    }
    // The scheduler adds the timeout to the current time: a bound keeps
    // that sum far from overflowing.
    if (ms > kMaxTimeoutMs) {
      AddProblem(path, "longer than 365d, the longest timeout");
      return;
    }
    step.timeout_ms = ms;
  }

  void CheckEnv(const Json& v, const std::string& path, Step& step) {
    if (!v.is_object()) {
      AddProblem(path, "expected an object of strings");
      return;
    }
    for (auto it = v.begin(); it != v.end(); ++it) {
      const std::string& name = it.key();
      const std::string where = absl::StrCat(path, ".", name);
      if (name.empty() ||
          name.find_first_of(std::string("=\0", 2)) != std::string::npos) {
        AddProblem(where, absl::StrCat("invalid variable name ", Quote(name)));
      } else if (!IsCString(*it)) {
        AddProblem(where, "expected a string without NUL characters");
      } else {
        step.env[name] = it->get<std::string>();
      }
    }
  }

  // Fills plan.deps once every id is known. Unresolvable entries (unknown
  // ids, and non-strings already reported) get no edge.
  void ResolveDependencies(Plan& plan) {
    plan.deps.resize(plan.steps.size());
    // last_user[d] == i once step i depends on d: finds repeats in O(1), as
    // a join step may have 100,000 dependencies.
    std::vector<int> last_user(plan.steps.size(), -1);
    for (size_t i = 0; i < plan.steps.size(); ++i) {
      Step& step = plan.steps[i];
      const Json& s = (*steps_json_)[i];
      auto written = s.is_object() ? s.find("dependencies") : s.end();
      if (written == s.end() || !written->is_array()) continue;
      // Walk the JSON array, not step.dependencies, so that indices in
      // messages match the file even where a non-string was dropped.
      std::vector<std::string> kept;
      std::vector<int>& d = plan.deps[i];
      for (size_t j = 0; j < written->size(); ++j) {
        const Json& dep = (*written)[j];
        if (!dep.is_string()) continue;
        auto it = ids_.find(dep.get_ref<const std::string&>());
        if (it == ids_.end()) {
          AddProblem(
              absl::StrCat("steps[", i, "].dependencies[", j, "]"),
              absl::StrCat("unknown step ", Quote(dep.get<std::string>())));
          continue;
        }
        // The original tool tolerates a repeated dependency; keep the first
        // only, so the scheduler can count unmet dependencies.
        if (last_user[it->second] == static_cast<int>(i)) continue;
        last_user[it->second] = static_cast<int>(i);
        d.push_back(it->second);
        kept.push_back(dep.get<std::string>());
      }
      step.dependencies = std::move(kept);
    }
  }

  // Depth-first search over "depends on" edges with an explicit stack (a
  // 100,000-step chain would overflow the call stack). Each edge back to a
  // step still on the stack closes a cycle, reported once. The finishing
  // order puts every step after its dependencies: a topological order.
  void OrderAndFindCycles(const Plan& plan) {
    const size_t n = plan.steps.size();
    enum Color : char { kWhite, kGray, kBlack };
    std::vector<Color> color(n, kWhite);
    std::vector<size_t> stack_pos(n);  // where a gray step sits on the stack
    std::vector<std::pair<int, size_t>> stack;  // step, next edge to follow
    order_.reserve(n);
    for (size_t root = 0; root < n; ++root) {
      if (color[root] != kWhite) continue;
      color[root] = kGray;
      stack.push_back({static_cast<int>(root), 0});
      while (!stack.empty()) {
        auto& [node, next] = stack.back();
        const std::vector<int>& deps = plan.deps[node];
        if (next == deps.size()) {
          color[node] = kBlack;
          order_.push_back(node);
          stack.pop_back();
          continue;
        }
        const int dep = deps[next++];
        if (color[dep] == kWhite) {
          color[dep] = kGray;
          stack_pos[dep] = stack.size();
          stack.push_back({dep, 0});
        } else if (color[dep] == kGray) {
          ReportCycle(plan, stack, stack_pos[dep]);
        }
      }
    }
  }

  // A step id as shown in a cycle: bare when valid; a malformed one (also
  // reported) quoted, so that a newline in it cannot break the one problem
  // per line of the report.
  static std::string CycleName(const std::string& id) {
    return StepIdProblem(id).empty() ? id : Quote(id);
  }

  // The cycle is stack[from..top] then back to stack[from]. A long one is
  // shown with its middle elided; the work per cycle is bounded, since a
  // deep stack may be closed by very many back edges.
  void ReportCycle(const Plan& plan,
                   const std::vector<std::pair<int, size_t>>& stack,
                   size_t from) {
    const size_t len = stack.size() - from;
    std::vector<std::string> names;
    for (size_t k = 0; k < len; ++k) {
      if (len > kMaxCycleShown && k == kMaxCycleShown / 2) {
        names.push_back(absl::StrCat("... (", len - kMaxCycleShown, " more)"));
        k = len - kMaxCycleShown / 2;
      }
      names.push_back(CycleName(plan.steps[stack[from + k].first].id));
    }
    names.push_back(CycleName(plan.steps[stack[from].first].id));
    AddProblem(absl::StrCat("steps[", stack[from].first, "]"),
               absl::StrCat("cycle: ", absl::StrJoin(names, " -> ")));
  }

  // Level 1 for no dependencies, else one more than the deepest dependency;
  // order_ lists every step after its dependencies, so one pass suffices.
  void ComputeBatches(Plan& plan) {
    plan.batch.assign(plan.steps.size(), 1);
    for (int node : order_) {
      for (int dep : plan.deps[node]) {
        plan.batch[node] = std::max(plan.batch[node], plan.batch[dep] + 1);
      }
      plan.batches = std::max(plan.batches, plan.batch[node]);
    }
  }

  std::string_view text_;
  // A std::string: Debian's Abseil has its own string_view, so absl::StrCat
  // takes no std::string_view.
  std::string file_;
  PlanRules rules_;
  std::vector<Problem> problems_;
  std::vector<std::string> unknown_fields_;
  // Step id -> index of the first step with it. Views into Plan::steps.
  std::unordered_map<std::string_view, int> ids_;
  const Json* steps_json_ = nullptr;  // the "steps" array, once checked
  std::vector<int> order_;  // topological order, from OrderAndFindCycles
  std::optional<Locator> locator_;
  // Each distinct `watch` (by its JSON text): compiled, or why not.
  std::unordered_map<std::string,
                     std::variant<std::shared_ptr<const WatchSpec>, absl::Status>>
      watch_cache_;
};

}  // namespace

absl::StatusOr<Plan> ParsePlan(std::string_view text, std::string_view filename,
                               PlanRules rules) {
  return PlanChecker(text, filename, rules).Run();
}

}  // namespace aetherflow
