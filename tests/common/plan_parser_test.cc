#include "common/plan_parser.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/log_analysis.h"
#include "common/plan.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace aetherflow {
namespace {

namespace fs = std::filesystem;

const fs::path kPlans = fs::path(AETHERFLOW_TEST_DATA) / "plans";

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot open " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Parses a plan that must be valid.
Plan MustParse(const std::string& text, const std::string& name = "plan.json") {
  absl::StatusOr<Plan> plan = ParsePlan(text, name);
  EXPECT_TRUE(plan.ok()) << plan.status();
  return plan.ok() ? *std::move(plan) : Plan{};
}

Plan MustLoad(const std::string& relative) {
  return MustParse(ReadFile(kPlans / relative), relative);
}

// Parses a plan that must be refused; returns its error lines.
std::vector<std::string> Errors(const std::string& text,
                                const std::string& name = "plan.json") {
  absl::StatusOr<Plan> plan = ParsePlan(text, name);
  EXPECT_FALSE(plan.ok()) << "accepted:\n" << text;
  if (plan.ok()) return {};
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
  return absl::StrSplit(plan.status().message(), '\n');
}

std::string ErrorText(const std::string& text) {
  return absl::StrJoin(Errors(text), "\n");
}

// A one-step command plan whose step has the extra members `fields`.
std::string OneStep(const std::string& fields) {
  return absl::StrCat(R"({"steps": [{"id": "a", "run": "true")",
                      fields.empty() ? "" : ", ", fields, "}]}");
}

// A plan of n command steps s0..s{n-1}, each depending on the one before;
// s0 depends on `first_dep` if given.
std::string Chain(int n, const std::string& first_dep = "") {
  std::string text = R"({"steps": [)";
  text.reserve(n * 60);
  for (int i = 0; i < n; ++i) {
    std::string dep = i > 0
                          ? absl::StrCat("\"s", i - 1, "\"")
                          : (first_dep.empty() ? "" : "\"" + first_dep + "\"");
    absl::StrAppend(&text, i ? ",\n" : "\n", R"({"id": "s)", i,
                    R"(", "run": "true", "dependencies": [)", dep, "]}");
  }
  return text + "\n]}";
}

TEST(PlanParserTest, EveryBadPlanRefusedWithExpectedMessage) {
  std::map<std::string, std::string> expect;
  for (absl::string_view line :
       absl::StrSplit(ReadFile(kPlans / "bad" / "EXPECT.tsv"), '\n')) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> cols = absl::StrSplit(line, '\t');
    ASSERT_EQ(cols.size(), 2u) << line;
    expect[cols[0]] = cols[1];
  }
  int checked = 0;
  for (const auto& entry : fs::directory_iterator(kPlans / "bad")) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() != ".json") continue;
    SCOPED_TRACE(name);
    ASSERT_TRUE(expect.count(name)) << "no EXPECT.tsv line for " << name;
    absl::StatusOr<Plan> plan = ParsePlan(ReadFile(entry.path()), name);
    ASSERT_FALSE(plan.ok());
    EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
    const std::string message(plan.status().message());
    EXPECT_TRUE(
        std::regex_search(message, std::regex(expect[name], std::regex::icase)))
        << message << "\ndoes not match " << expect[name];
    for (absl::string_view line : absl::StrSplit(message, '\n')) {
      EXPECT_EQ(line.substr(0, name.size() + 1), name + ":") << line;
    }
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(expect.size()));
}

// Found by tests/fuzz/plan_parser_fuzz: the position locator runs on text
// that is not valid JSON and must not walk off its stack of containers.
TEST(PlanParserTest, UnbalancedBracketsInBrokenTextAreNoCrash) {
  const char bytes[] = "77777777" "\x00"  "\x00"  "\x00"  "\x0a" "777777S777777{" "\x0a" "  " "\x22" "ta]k_id" "\x22" ": " "\x22" "ue" "\x22" "ncies" "\x22" ": [" "\xa3"  "\xaa" "issing_step" "\x22" "]}[  ]" "\x0a" "}" "\x0a" ;
  absl::StatusOr<Plan> plan =
      ParsePlan(std::string_view(bytes, sizeof bytes - 1), "fuzz.json");
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find("fuzz.json:"), std::string::npos)
      << plan.status().message();
}

TEST(PlanParserTest, TrailingCommaIsSyntaxErrorAtLine4Alone) {
  std::vector<std::string> errors = Errors(
      ReadFile(kPlans / "bad" / "trailing_comma.json"), "trailing_comma.json");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].rfind("trailing_comma.json:4:31: JSON syntax error: ", 0),
            0u)
      << errors[0];
  EXPECT_EQ(errors[0].find("[json.exception"), std::string::npos);
}

TEST(PlanParserTest, SyntaxErrorAtEndOfInput) {
  std::vector<std::string> errors = Errors("{\"steps\": [\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].rfind("plan.json:2:1: JSON syntax error: ", 0), 0u)
      << errors[0];
}

TEST(PlanParserTest, CycleIsListed) {
  std::vector<std::string> errors =
      Errors(ReadFile(kPlans / "bad" / "cycle.json"), "cycle.json");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_TRUE(std::regex_search(
      errors[0],
      std::regex(R"(^cycle\.json:\d+:\d+: steps\[\d\]: cycle: )"
                 R"((a -> b -> c -> a|b -> c -> a -> b|c -> a -> b -> c)$)")))
      << errors[0];
}

TEST(PlanParserTest, SelfDependencyIsCycle) {
  EXPECT_EQ(ErrorText(OneStep(R"("dependencies": ["a"])")),
            "plan.json:1:12: steps[0]: cycle: a -> a");
}

// Malformed ids are still registered (so their dependents get no "unknown
// step"), and so may close a cycle: shown quoted, the report keeps one
// problem per line.
TEST(PlanParserTest, CycleThroughMalformedIdStaysOnOneLine) {
  EXPECT_EQ(ErrorText(R"({"steps": [
  {"id": "a\nb", "run": "true", "dependencies": ["c"]},
  {"id": "c", "run": "true", "dependencies": ["a\nb"]}]})"),
            "plan.json:2:3: steps[0]: cycle: \"a\\nb\" -> c -> \"a\\nb\"\n"
            "plan.json:2:10: steps[0].id: invalid step id \"a\\nb\" (use letters, "
            "digits, '_', '-' and '.')");
}

TEST(PlanParserTest, BadScheduleIsOneProblemOnOneLine) {
  std::vector<std::string> errors = Errors(
      R"({"checkin": {"schedule": "1s,\n,2s"}, "steps": [{"id": "a", "run": "x"}]})");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0],
            "plan.json:1:26: checkin.schedule: check-in schedule \"1s,\\n,2s\": "
            "empty entry");
}

TEST(PlanParserTest, DuplicateIdPointsAtSecondWithFirstLine) {
  EXPECT_EQ(ErrorText(ReadFile(kPlans / "bad" / "duplicate_id.json")),
            "plan.json:5:12: steps[1].id: duplicate step id \"a\" "
            "(first at line 4)");
}

TEST(PlanParserTest, UnknownDependencyPointsAtTheEntry) {
  EXPECT_EQ(ErrorText(ReadFile(kPlans / "bad" / "unknown_dependency.json")),
            "plan.json:4:49: steps[0].dependencies[0]: unknown step "
            "\"missing_step\"");
}

TEST(PlanParserTest, DependenciesMustBeAnArray) {
  EXPECT_EQ(ErrorText(ReadFile(kPlans / "bad" / "wrong_type.json")),
            "plan.json:4:48: steps[0].dependencies: expected an array of "
            "step ids");
  EXPECT_EQ(ErrorText(OneStep(R"("dependencies": ["b", 3])")),
            "plan.json:1:56: steps[0].dependencies[0]: unknown step \"b\"\n"
            "plan.json:1:61: steps[0].dependencies[1]: expected a step id "
            "(a string)");
}

TEST(PlanParserTest, EmptyFileIsNotAPlan) {
  EXPECT_EQ(ErrorText(""), "plan.json: empty file, not a plan");
  EXPECT_EQ(ErrorText(" \n\t\r\n"), "plan.json: empty file, not a plan");
}

TEST(PlanParserTest, RootMustBeObjectWithSteps) {
  EXPECT_EQ(ErrorText("[]"),
            "plan.json:1:1: (root): expected a JSON object with a \"steps\" "
            "array");
  EXPECT_EQ(ErrorText("{\"task_id\": \"t\"}"),
            "plan.json:1:1: steps: missing: a plan needs a \"steps\" array");
  EXPECT_EQ(ErrorText("{\"steps\": {}}"),
            "plan.json:1:11: steps: expected an array of steps");
  EXPECT_EQ(ErrorText("{\"steps\": []}"), "plan.json:1:11: steps: no steps");
  EXPECT_EQ(ErrorText(R"({"steps": [7]})"),
            "plan.json:1:12: steps[0]: expected an object (a step)");
}

TEST(PlanParserTest, OriginalFormatBatchesAndContextProvider) {
  Plan plan = MustLoad("original_format.json");
  EXPECT_EQ(plan.task_id, "task_refactor_cli");
  EXPECT_EQ(plan.description, "Refactor a small CLI into a package with tests");
  ASSERT_EQ(plan.steps.size(), 7u);
  EXPECT_EQ(plan.batch, (std::vector<int>{1, 2, 3, 4, 4, 5, 6}));
  EXPECT_EQ(plan.batches, 6);
  EXPECT_EQ(plan.deps[5], (std::vector<int>{3, 4}));
  EXPECT_EQ(plan.steps[3].provider, "codestral");
  for (int i : {0, 1, 2, 4, 5, 6}) {
    EXPECT_EQ(plan.steps[i].provider, "") << i;
    EXPECT_FALSE(plan.steps[i].is_command());
  }
  const Step& first = plan.steps[0];
  EXPECT_EQ(first.id, "step_1");
  EXPECT_EQ(first.type, "analysis");
  EXPECT_EQ(first.complexity, 0.3);
  EXPECT_EQ(first.estimated_tokens, 1200);
  EXPECT_EQ(first.validation_criteria,
            (std::vector<std::string>{"Lists every command of the CLI",
                                      "Names the modules to extract"}));
  EXPECT_EQ(first.retries, 0);
  EXPECT_FALSE(first.timeout_ms.has_value());
  // context and metadata are free-form: no warning for their keys.
  EXPECT_TRUE(plan.warnings.empty()) << plan.warnings[0];
  EXPECT_EQ(plan.source, ReadFile(kPlans / "original_format.json"));
  nlohmann::json raw = nlohmann::json::parse(plan.steps[1].raw_json);
  EXPECT_EQ(raw["context"]["input_files"][0], "cli.py");
}

TEST(PlanParserTest, EveryOriginalPlanLoads) {
  const std::map<std::string, size_t> expected_steps = {
      {"homeos_v2_ollama_plan.json", 3},
      {"phase2_sullivan_fast.json", 8},
      {"phase3a_gemini.json", 15},
      {"plan_scroll_apres_layout.json", 5},
      {"plan_studio_patch_test.json", 1},
      {"stenciler_v3_plan_14f_p2_panels.json", 3},
      {"sullivan_plan_23_kimi_batch.json", 5},
      {"task_01_simple_api.json", 1},
  };
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(kPlans / "original")) {
    const std::string name = entry.path().filename().string();
    SCOPED_TRACE(name);
    Plan plan = MustLoad("original/" + name);
    ASSERT_TRUE(expected_steps.count(name)) << "new plan file: add it here";
    EXPECT_EQ(plan.steps.size(), expected_steps.at(name));
    EXPECT_GE(plan.batches, 1);
    for (const Step& step : plan.steps) {
      EXPECT_FALSE(step.raw_json.empty());
      EXPECT_EQ(nlohmann::json::parse(step.raw_json),
                nlohmann::json::parse(ReadFile(
                    entry.path()))["steps"][&step - plan.steps.data()]);
    }
    ++files;
  }
  EXPECT_EQ(files, expected_steps.size());
}

TEST(PlanParserTest, OriginalPlansKeepTheirOwnKeys) {
  Plan gemini = MustLoad("original/phase3a_gemini.json");
  EXPECT_EQ(gemini.steps[0].provider, "gemini");
  nlohmann::json raw = nlohmann::json::parse(gemini.steps[0].raw_json);
  EXPECT_TRUE(raw["context"].contains("surgical_mode"));
  EXPECT_EQ(gemini.batch[12], 5);  // step_13 waits for step_7 (level 4)

  Plan homeos = MustLoad("original/homeos_v2_ollama_plan.json");
  EXPECT_EQ(homeos.batch, (std::vector<int>{1, 1, 1}));  // no dependencies
  EXPECT_TRUE(homeos.deps[0].empty());

  Plan stenciler = MustLoad("original/stenciler_v3_plan_14f_p2_panels.json");
  EXPECT_EQ(stenciler.warnings,
            (std::vector<std::string>{
                "original/stenciler_v3_plan_14f_p2_panels.json: warning: "
                "unknown fields kept and ignored: success_criteria"}));
  EXPECT_NE(stenciler.source.find("rapport_dans_roadmap"), std::string::npos);
}

TEST(PlanParserTest, CommandsDiamond) {
  Plan plan = MustLoad("commands_diamond.json");
  ASSERT_EQ(plan.steps.size(), 6u);
  EXPECT_EQ(plan.max_parallel, 4);
  EXPECT_FALSE(plan.fail_fast);
  EXPECT_EQ(plan.steps[0].shell, "sleep 1; echo fetched");
  EXPECT_FALSE(plan.steps[0].argv.has_value());
  EXPECT_EQ(plan.steps[2].argv,
            (std::vector<std::string>{"sh", "-c", "echo right; sleep 2"}));
  EXPECT_FALSE(plan.steps[2].shell.has_value());
  for (const Step& step : plan.steps) {
    EXPECT_TRUE(step.is_command()) << step.id;
    EXPECT_EQ(step.provider, "shell") << step.id;
  }
  // fetch; left right broken; after_broken join
  EXPECT_EQ(plan.batch, (std::vector<int>{1, 2, 2, 2, 3, 3}));
  EXPECT_EQ(plan.batches, 3);
  EXPECT_EQ(plan.deps[5], (std::vector<int>{1, 2}));
}

TEST(PlanParserTest, EveryProblemReportedAtOnce) {
  const std::string text = R"({
  "steps": [
    {"id": "a/b", "run": "true"},
    {"id": "c", "run": "true", "retries": "x", "dependencies": ["nope"]}
  ]
})";
  std::vector<std::string> errors = Errors(text);
  ASSERT_EQ(errors.size(), 3u) << absl::StrJoin(errors, "\n");
  EXPECT_EQ(errors[0],
            "plan.json:3:12: steps[0].id: invalid step id \"a/b\" (use "
            "letters, digits, '_', '-' and '.')");
  EXPECT_EQ(errors[1],
            "plan.json:4:43: steps[1].retries: expected an integer from 0 to "
            "100");
  EXPECT_EQ(errors[2],
            "plan.json:4:65: steps[1].dependencies[0]: unknown step \"nope\"");
}

TEST(PlanParserTest, StepIdsMustBeSafeNames) {
  for (const std::string& id : std::vector<std::string>{
           "a/b", "..", ".", "a..b", "../x", "", "a b", "é", "a\\u0000b",
           std::string(kMaxStepIdLength + 1, 'x')}) {
    std::string text = OneStep("");
    text.replace(text.find("\"a\""), 3, "\"" + id + "\"");
    std::vector<std::string> errors = Errors(text);
    ASSERT_EQ(errors.size(), 1u) << id;
    EXPECT_NE(errors[0].find("steps[0].id: "), std::string::npos) << errors[0];
  }
  for (const std::string& id :
       std::vector<std::string>{"step_5_tdd", "a.b", "A-1", "x",
                                std::string(kMaxStepIdLength, 'x')}) {
    std::string text = OneStep("");
    text.replace(text.find("\"a\""), 3, "\"" + id + "\"");
    EXPECT_EQ(MustParse(text).steps[0].id, id);
  }
  EXPECT_EQ(ErrorText(R"({"steps": [{"run": "true"}]})"),
            "plan.json:1:12: steps[0].id: missing step id");
  EXPECT_EQ(ErrorText(R"({"steps": [{"id": 3, "run": "true"}]})"),
            "plan.json:1:19: steps[0].id: expected a string");
}

TEST(PlanParserTest, OversizedTextRefused) {
  std::string text = OneStep("");
  text.append(kMaxPlanBytes + 1 - text.size(), ' ');
  std::vector<std::string> errors = Errors(text);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find(std::to_string(kMaxPlanBytes)), std::string::npos)
      << errors[0];
}

TEST(PlanParserTest, DeepNestingRefused) {
  // root object, steps array and step object are three levels.
  auto nested = [](int levels) {
    // `payload`: an unknown field, kept as written (context must be an
    // object, and is typed).
    return OneStep(absl::StrCat(R"("payload": )", std::string(levels, '['),
                                std::string(levels, ']')));
  };
  MustParse(nested(kMaxJsonDepth - 3));
  EXPECT_EQ(ErrorText(nested(kMaxJsonDepth - 2)),
            "plan.json:1:111: JSON nested deeper than 64 levels");
  // Far deeper than any recursion could take, and not even valid JSON.
  EXPECT_NE(ErrorText(std::string(1'000'000, '[')).find("nested deeper"),
            std::string::npos);
  // Brackets inside strings do not count.
  MustParse(OneStep(absl::StrCat(R"("description": ")", std::string(1000, '['),
                                 "\\\"", "\"")));
}

TEST(PlanParserTest, TooManyStepsRefused) {
  std::string text = R"({"steps": [)";
  for (size_t i = 0; i <= kMaxSteps; ++i) {
    absl::StrAppend(&text, i ? "," : "", R"({"id": "s)", i,
                    R"(", "run": "x"})");
  }
  text += "]}";
  EXPECT_EQ(ErrorText(text),
            "plan.json:1:11: steps: too many steps: 100001 (the limit is "
            "100000)");
}

TEST(PlanParserTest, LongChainParsesWithoutRecursion) {
  const int n = static_cast<int>(kMaxSteps);
  const std::string text = Chain(n);
  Plan plan = MustParse(text);
  ASSERT_EQ(plan.steps.size(), kMaxSteps);
  EXPECT_EQ(plan.batches, n);
  EXPECT_EQ(plan.batch[n - 1], n);
  EXPECT_EQ(plan.deps[n - 1], (std::vector<int>{n - 2}));
}

TEST(PlanParserTest, CycleThroughLongChainFound) {
  const int n = static_cast<int>(kMaxSteps);
  std::vector<std::string> errors = Errors(Chain(n, absl::StrCat("s", n - 1)));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("cycle: "), std::string::npos);
  EXPECT_NE(errors[0].find("(99984 more)"), std::string::npos) << errors[0];
  EXPECT_LT(errors[0].size(), 1000u);  // the middle is elided
}

TEST(PlanParserTest, ManyEdgesStayLinear) {
  const int n = static_cast<int>(kMaxSteps);
  std::string all_but_last;  // "s0", "s1", ... "s{n-2}"
  for (int i = 0; i < n - 1; ++i) {
    absl::StrAppend(&all_but_last, i ? ", " : "", "\"s", i, "\"");
  }
  // A join step waiting on every other step (one twice) is fine.
  std::string join = R"({"steps": [)";
  for (int i = 0; i < n - 1; ++i) {
    absl::StrAppend(&join, R"({"id": "s)", i, R"(", "run": "true"},)");
  }
  absl::StrAppend(&join, R"({"id": "join", "run": "true", "dependencies": [)", all_but_last,
                  R"(, "s1"]}]})");
  Plan plan = MustParse(join);
  EXPECT_EQ(plan.deps.back().size(), static_cast<size_t>(n - 1));
  EXPECT_EQ(plan.batches, 2);

  // s(i) depends on s(i+1) and the last step on all others: the search
  // goes n deep, then meets n-1 edges back into its stack, each closing a
  // cycle. Reported without quadratic work, and capped.
  std::string text = R"({"steps": [)";
  for (int i = 0; i < n - 1; ++i) {
    absl::StrAppend(&text, R"({"id": "s)", i, R"(", "run": "true", "dependencies": ["s)",
                    i + 1, R"("]},)");
  }
  absl::StrAppend(&text, R"({"id": "s)", n - 1, R"(", "run": "true", "dependencies": [)",
                  all_but_last, "]}]}");
  // How long this takes is measured in bench/, not asserted here.
  std::vector<std::string> errors = Errors(text);
  ASSERT_EQ(errors.size(), 1001u);
  EXPECT_EQ(errors.back(), "plan.json: and 98999 more problems");
  EXPECT_NE(errors[0].find("steps[0]: cycle: s0 -> s1 -> "), std::string::npos)
      << errors[0];
}

TEST(PlanParserTest, UnknownFieldsGiveOneWarningLine) {
  Plan plan = MustParse(R"j({"success_criteria": [], "budget": {"cost": 2.5},
    "metadata": {"anything": 1},
    "steps": [{"id": "a", "run": "true", "foo": 1,
               "watch": {"metric": "x=(\\d+)", "goal": "max"},
               "tty": true, "context": {"whatever": 2}},
              {"id": "b", "run": "true", "bar": 2}]})j");
  EXPECT_EQ(plan.warnings,
            (std::vector<std::string>{
                "plan.json: warning: unknown fields kept and ignored: "
                "success_criteria, steps[0].foo, steps[1].bar"}));
  nlohmann::json raw = nlohmann::json::parse(plan.steps[0].raw_json);
  EXPECT_EQ(raw["foo"], 1);
  EXPECT_EQ(raw["watch"]["metric"], "x=(\\d+)");
  EXPECT_EQ(raw["tty"], true);
}

TEST(PlanParserTest, UnknownFieldWarningIsCapped) {
  std::string fields;
  for (int i = 0; i < 15; ++i) absl::StrAppend(&fields, ", \"f", i, "\": 0");
  Plan plan = MustParse(OneStep(fields.substr(2)));
  ASSERT_EQ(plan.warnings.size(), 1u);
  // Ten names (in key order: JSON objects are unordered), then a count.
  EXPECT_NE(plan.warnings[0].find("steps[0].f4 and 5 more"), std::string::npos)
      << plan.warnings[0];
  EXPECT_EQ(std::count(plan.warnings[0].begin(), plan.warnings[0].end(), ','),
            9);
}

TEST(PlanParserTest, TimeoutAsDurationOrSeconds) {
  EXPECT_EQ(MustParse(OneStep(R"("timeout": "90s")")).steps[0].timeout_ms,
            90'000);
  EXPECT_EQ(MustParse(OneStep(R"("timeout": 1.5)")).steps[0].timeout_ms, 1'500);
  EXPECT_EQ(MustParse(OneStep(R"("timeout": 90)")).steps[0].timeout_ms, 90'000);
  EXPECT_EQ(MustParse(OneStep(R"("timeout": "2h")")).steps[0].timeout_ms,
            7'200'000);
  EXPECT_EQ(ErrorText(OneStep(R"("timeout": "soon")")),
            "plan.json:1:50: steps[0].timeout: invalid duration \"soon\" (use "
            "e.g. 500ms, 30s, 5m, 2h)");
  EXPECT_EQ(MustParse(OneStep(R"("timeout": "365d")")).steps[0].timeout_ms,
            kMaxTimeoutMs);
  // The scheduler adds a timeout to the current time; this one overflowed
  // it (UBSan: "signed integer overflow" in RunScheduler::FindWork).
  EXPECT_EQ(ErrorText(OneStep(R"("timeout": "9223372036854775807ms")")),
            "plan.json:1:50: steps[0].timeout: longer than 365d, the longest "
            "timeout");
  for (const char* bad : {"-1", "true", "[]", "\"-5s\"", "1e300", "\"366d\"",
                          "31536000.5", "8999999999999999"}) {
    EXPECT_NE(ErrorText(OneStep(absl::StrCat(R"("timeout": )", bad)))
                  .find("steps[0].timeout: "),
              std::string::npos)
        << bad;
  }
}

TEST(PlanParserTest, RetriesOutOfRangeRefused) {
  EXPECT_EQ(MustParse(OneStep(R"("retries": 0)")).steps[0].retries, 0);
  EXPECT_EQ(MustParse(OneStep(R"("retries": 100)")).steps[0].retries, 100);
  EXPECT_EQ(MustParse(OneStep(R"("retries": 3.0)")).steps[0].retries, 3);
  for (const char* bad :
       {"101", "-1", "1.5", "\"3\"", "null", "18446744073709551615"}) {
    EXPECT_EQ(ErrorText(OneStep(absl::StrCat(R"("retries": )", bad))),
              "plan.json:1:50: steps[0].retries: expected an integer from 0 "
              "to 100")
        << bad;
  }
}

TEST(PlanParserTest, ProviderOnCommandStepRefused) {
  EXPECT_EQ(ErrorText(OneStep(R"("provider": "gemini")")),
            "plan.json:1:51: steps[0].provider: provider applies to LLM "
            "steps; this step has `run`");
  // context.provider is free-form data on a command step: no error.
  EXPECT_EQ(
      MustParse(OneStep(R"("context": {"provider": "x"})")).steps[0].provider,
      "shell");
}

TEST(PlanParserTest, ExplicitProviderBeatsContextProvider) {
  Plan plan = MustParse(R"({"steps": [
    {"id": "a", "provider": "claude", "context": {"provider": "gemini"}, "prompt": "hi"},
    {"id": "b", "context": {"provider": "gemini"}, "prompt": "hi"},
    {"id": "c", "context": {"provider": 3}, "prompt": "hi"}]})");
  EXPECT_EQ(plan.steps[0].provider, "claude");
  EXPECT_EQ(plan.steps[1].provider, "gemini");
  EXPECT_EQ(plan.steps[1].prompt, "hi");
  EXPECT_EQ(plan.steps[2].provider, "");
}

TEST(PlanParserTest, RunAsStringOrArgv) {
  EXPECT_EQ(MustParse(OneStep("")).steps[0].shell, "true");
  const std::string argv = R"({"steps": [{"id": "a", "run": ["ls", ""]}]})";
  EXPECT_EQ(MustParse(argv).steps[0].argv,
            (std::vector<std::string>{"ls", ""}));
  for (const char* bad : {R"("")", R"("  ")", "[]", "3", R"([""])",
                          R"(["ls", 1])", R"("a\u0000b")"}) {
    std::string text =
        absl::StrCat(R"({"steps": [{"id": "a", "run": )", bad, "}]}");
    EXPECT_NE(ErrorText(text).find("steps[0].run"), std::string::npos) << bad;
  }
}

TEST(PlanParserTest, FieldTypesChecked) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"("env": {"A": "1", "B": 2})", "steps[0].env.B: expected a string"},
      {R"("env": {"A=B": "1"})", "steps[0].env.A=B: invalid variable name"},
      {R"("env": [])", "steps[0].env: expected an object of strings"},
      {R"("cwd": 1)", "steps[0].cwd: expected a string"},
      {R"("cwd": "a\u0000b")", "steps[0].cwd: expected a string without NUL"},
      {R"("env": {"A": "\u0000"})", "steps[0].env.A: expected a string"},
      {R"("description": null)", "steps[0].description: expected a string"},
      {R"("type": [])", "steps[0].type: expected a string"},
      {R"("prompt": {})", "steps[0].prompt: expected a string"},
      {R"("estimated_tokens": -1)",
       "steps[0].estimated_tokens: expected an integer from 0 to 1000000000000"},
      {R"("estimated_tokens": 9223372036854775807)",
       "steps[0].estimated_tokens: expected an integer from 0 to 1000000000000"},
      {R"("complexity": "high")", "steps[0].complexity: expected a number"},
      {R"("validation_criteria": "x")",
       "steps[0].validation_criteria: expected an array of strings"},
      {R"("validation_criteria": ["x", 2])",
       "steps[0].validation_criteria[1]: expected a string"},
      {R"("watch": "x")", "steps[0].watch: expected an object"},
      {R"("tty": "yes")", "steps[0].tty: expected true or false"},
  };
  for (const auto& [fields, expected] : cases) {
    std::vector<std::string> errors = Errors(OneStep(fields));
    ASSERT_EQ(errors.size(), 1u) << fields;
    EXPECT_NE(errors[0].find(expected), std::string::npos) << errors[0];
  }
}

TEST(PlanParserTest, TopLevelFields) {
  Plan plan = MustParse(
      R"({"task_id": "t", "max_parallel": 2, "fail_fast": true, "steps": [{"id": "a", "run": "true"}]})");
  EXPECT_EQ(plan.task_id, "t");
  EXPECT_EQ(plan.max_parallel, 2);
  EXPECT_TRUE(plan.fail_fast);
  EXPECT_EQ(MustParse(R"({"steps": [{"id": "a", "run": "true"}]})").task_id, "");
  EXPECT_EQ(ErrorText(R"({"max_parallel": 0, "fail_fast": 1, "task_id": 5,
    "budget": 3, "steps": [{"id": "a", "run": "true"}]})"),
            "plan.json:1:18: max_parallel: expected a positive integer\n"
            "plan.json:1:34: fail_fast: expected true or false\n"
            "plan.json:1:48: task_id: expected a string\n"
            "plan.json:2:15: budget: expected an object");
}

TEST(PlanParserTest, EnvAndOptionalFieldsFilled) {
  Plan plan = MustParse(OneStep(
      R"("env": {"A": "1"}, "cwd": "sub", "estimated_tokens": 5, "complexity": 1)"));
  const Step& step = plan.steps[0];
  EXPECT_EQ(step.env, (std::map<std::string, std::string>{{"A", "1"}}));
  EXPECT_EQ(step.cwd, "sub");
  EXPECT_EQ(step.estimated_tokens, 5);
  EXPECT_EQ(step.complexity, 1.0);
}

TEST(PlanParserTest, RepeatedDependencyCountsOnce) {
  Plan plan = MustParse(R"({"steps": [{"id": "a", "run": "true"},
    {"id": "b", "run": "true", "dependencies": ["a", "a"]}]})");
  EXPECT_EQ(plan.deps[1], (std::vector<int>{0}));
  EXPECT_EQ(plan.steps[1].dependencies, (std::vector<std::string>{"a"}));
}

TEST(PlanParserTest, PositionsSurviveEscapesAndByteOrderMark) {
  // Escaped quotes and an escaped key before the problem must not shift it.
  const std::string text =
      "\xEF\xBB\xBF{\"d\\\"x\": \"a\\\"{[\", \"steps\": [\n"
      "  {\"i\\u0064\": \"a\", \"run\": \"\\\\\", \"retries\": -1}]}";
  EXPECT_EQ(ErrorText(text),
            "plan.json:2:44: steps[0].retries: expected an integer from 0 to "
            "100");
}

TEST(PlanParserTest, NumberOverflowRefused) {
  std::vector<std::string> errors = Errors(OneStep(R"("complexity": 1e999)"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("plan.json: JSON"), std::string::npos) << errors[0];
}

}  // namespace
}  // namespace aetherflow

namespace aetherflow {
namespace {

TEST(PlanParserCheckinTest, RunScheduleIsReadAndChecked) {
  auto plan = ParsePlan(R"({"checkin": {"schedule": "1s,3s,5s"}, "steps": [{"id": "a", "run": "true"}]})",
                        "p.json");
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->checkin_schedule, (std::vector<int64_t>{1000, 3000, 5000}));
  EXPECT_TRUE(plan->warnings.empty());
  auto list = ParsePlan(R"({"checkin": {"schedule": ["2s", "1m"]}, "steps": [{"id": "a", "run": "true"}]})",
                        "p.json");
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->checkin_schedule, (std::vector<int64_t>{2000, 60000}));
  auto bad = ParsePlan(R"({"checkin": {"schedule": "soon"}, "steps": [{"id": "a", "run": "true"}]})",
                       "p.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("checkin.schedule"), std::string::npos)
      << bad.status();
}

// ------------------------------------------------------------ resources

TEST(PlanParserResourcesTest, AnySubsetIsTyped) {
  Plan plan = MustParse(R"j({"steps": [
    {"id": "a", "run": "true", "resources": {"cpu": 4, "mem": "8G"}},
    {"id": "b", "run": "true", "resources": {"cpu": 0.5, "mem": "1.5g", "gpu": 2}},
    {"id": "c", "run": "true", "resources": {"mem": 1048576, "gpu": 0}},
    {"id": "d", "run": "true", "resources": {"mem": "512MiB", "cpu": null}},
    {"id": "e", "run": "true", "resources": {}},
    {"id": "f", "run": "true"}
  ]})j");
  ASSERT_EQ(plan.steps.size(), 6u);
  EXPECT_TRUE(plan.warnings.empty()) << plan.warnings[0];
  const StepResources& a = plan.steps[0].resources;
  EXPECT_EQ(a.cpu, 4.0);
  EXPECT_EQ(a.mem_bytes, int64_t{8} << 30);
  EXPECT_EQ(a.gpu, std::nullopt);
  const StepResources& b = plan.steps[1].resources;
  EXPECT_EQ(b.cpu, 0.5);
  EXPECT_EQ(b.mem_bytes, int64_t{3} << 29);
  EXPECT_EQ(b.gpu, 2);
  const StepResources& c = plan.steps[2].resources;
  EXPECT_EQ(c.mem_bytes, 1048576);
  EXPECT_EQ(c.gpu, std::nullopt);  // 0 GPUs: none, as if not named
  EXPECT_EQ(plan.steps[3].resources.mem_bytes, int64_t{512} << 20);
  EXPECT_EQ(plan.steps[3].resources.cpu, std::nullopt);
  EXPECT_TRUE(plan.steps[4].resources.empty());
  EXPECT_TRUE(plan.steps[5].resources.empty());
}

TEST(PlanParserResourcesTest, EveryProblemAtItsPosition) {
  const std::string text = R"j({"steps": [
  {"id": "a", "run": "true", "resources": {"gpu": -1, "cpu": 0}},
  {"id": "b", "run": "true", "resources": {"gpu": 1.5, "mem": "8X"}},
  {"id": "c", "run": "true", "resources": {"gpus": 1, "mem": 0}},
  {"id": "d", "run": "true", "resources": "4"},
  {"id": "e", "run": "true", "resources": {"cpu": "4", "mem": "0.1B", "gpu": 2000}}
]})j";
  std::vector<std::string> errors = Errors(text);
  const std::vector<std::string> expected = {
      "plan.json:2:51: steps[0].resources.gpu: must be a whole number ≥ 0 "
      "(at most 1024)",
      "plan.json:2:62: steps[0].resources.cpu: must be a number of CPUs > 0 "
      "(fractions allowed)",
      "plan.json:3:51: steps[1].resources.gpu: must be a whole number ≥ 0 "
      "(at most 1024)",
      "plan.json:3:63: steps[1].resources.mem: expected a size such as "
      "\"8G\", \"512M\" or a number of bytes, got \"8X\"",
      "plan.json:4:52: steps[2].resources.gpus: unknown resource \"gpus\" "
      "(cpu, mem, gpu)",
      "plan.json:4:62: steps[2].resources.mem: must be a size such as \"8G\" "
      "or \"512M\", or a whole number of bytes > 0",
      "plan.json:5:43: steps[3].resources: expected an object such as "
      "{\"cpu\": 4, \"mem\": \"8G\", \"gpu\": 1}",
      "plan.json:6:51: steps[4].resources.cpu: must be a number of CPUs > 0 "
      "(fractions allowed)",
      "plan.json:6:63: steps[4].resources.mem: expected a size of at least 1 "
      "byte",
      "plan.json:6:78: steps[4].resources.gpu: must be a whole number ≥ 0 "
      "(at most 1024)",
  };
  EXPECT_EQ(errors, expected) << absl::StrJoin(errors, "\n");
}

// ---------------------------------------------------------------- watch

TEST(PlanParserWatchTest, PatternsAreCompiledOnce) {
  Plan plan = MustParse(R"j({"steps": [
    {"id": "a", "run": "true",
     "watch": {"progress": "step (\\d+)/(\\d+)", "error": ["boom", "bang"],
               "metric": "loss: ([0-9.]+)", "goal": "min"}},
    {"id": "b", "run": "true", "watch": null},
    {"id": "c", "run": "true"}
  ]})j");
  ASSERT_EQ(plan.steps.size(), 3u);
  ASSERT_NE(plan.steps[0].watch, nullptr);
  EXPECT_EQ(plan.steps[0].watch->progress, "step (\\d+)/(\\d+)");
  EXPECT_EQ(plan.steps[0].watch->error, "(?:boom)|(?:bang)");
  EXPECT_EQ(plan.steps[0].watch->metric, "loss: ([0-9.]+)");
  EXPECT_EQ(plan.steps[0].watch->goal, WatchSpec::Goal::kMin);
  EXPECT_EQ(plan.steps[1].watch, nullptr);
  EXPECT_EQ(plan.steps[2].watch, nullptr);
  // A copy of the plan shares the compiled spec.
  Plan copy = plan;
  EXPECT_EQ(copy.steps[0].watch.get(), plan.steps[0].watch.get());
}

TEST(PlanParserWatchTest, RepeatedWatchIsCompiledOnceAndReportedEachTime) {
  std::string text = R"({"steps": [)";
  for (int i = 0; i < 3; ++i) {
    absl::StrAppend(&text, i ? "," : "", R"({"id": "s)", i,
                    R"(", "run": "true", "watch": {"error": "boom"}})");
  }
  Plan plan = MustParse(text + "]}");
  ASSERT_NE(plan.steps[0].watch, nullptr);
  EXPECT_EQ(plan.steps[1].watch.get(), plan.steps[0].watch.get());
  EXPECT_EQ(plan.steps[2].watch.get(), plan.steps[0].watch.get());
  std::vector<std::string> errors = Errors(R"j({"steps": [
    {"id": "a", "run": "true", "watch": {"error": "("}},
    {"id": "b", "run": "true", "watch": {"error": "("}}]})j");
  ASSERT_EQ(errors.size(), 2u) << absl::StrJoin(errors, "\n");
  EXPECT_NE(errors[0].find("steps[0].watch.error: invalid regex"), std::string::npos);
  EXPECT_NE(errors[1].find("steps[1].watch.error: invalid regex"), std::string::npos);
}

// What the daemon refused after parsing (a bad regex, a metric without a
// goal) is a parse problem with its position, so the client's dry run
// refuses it too.
TEST(PlanParserWatchTest, BadPatternIsAProblemAtItsKey) {
  const std::string text = R"j({"steps": [
  {"id": "a", "run": "true", "watch": {"error": "ok"}},
  {"id": "b", "run": "true", "retries": -1},
  {"id": "c", "run": "true", "watch": {"progress": "(unclosed"}},
  {"id": "d", "run": "true", "watch": {"metric": "loss ([0-9.]+)"}},
  {"id": "e", "run": "true", "watch": {"error": "a\nb("}}
]})j";
  std::vector<std::string> errors = Errors(text);
  ASSERT_EQ(errors.size(), 4u) << absl::StrJoin(errors, "\n");
  EXPECT_EQ(errors[0].substr(0, 44),
            "plan.json:3:41: steps[1].retries: expected a")
      << errors[0];
  EXPECT_EQ(errors[1].rfind("plan.json:4:52: steps[2].watch.progress: invalid "
                            "regex \"(unclosed\": ",
                            0),
            0u)
      << errors[1];
  EXPECT_EQ(errors[2].rfind("plan.json:5:39: steps[3].watch.goal: required "
                            "with watch.metric",
                            0),
            0u)
      << errors[2];
  // A newline in the pattern does not break one problem per line.
  EXPECT_EQ(errors[3].rfind("plan.json:6:49: steps[4].watch.error: invalid "
                            "regex \"a b(\": ",
                            0),
            0u)
      << errors[3];
}

// -------------------------------------------------------------- context
// (A non-string context.provider stays the user's own data: see
// ExplicitProviderBeatsContextProvider.)

TEST(PlanParserContextTest, KnownKeysAreTypedOthersKept) {
  Plan plan = MustParse(R"j({"steps": [
    {"id": "a", "description": "d",
     "context": {"language": "python", "files": ["api.py", "api.py"],
                 "input_files": "spec.md", "provider": "groq",
                 "surgical_mode": true, "owner": {"name": "me"}}},
    {"id": "b", "context": {"language": 3, "files": null}, "prompt": "p"},
    {"id": "c", "context": null, "prompt": "p"}
  ]})j");
  EXPECT_TRUE(plan.warnings.empty()) << plan.warnings[0];
  const StepContext& a = plan.steps[0].context;
  EXPECT_EQ(a.language, "python");
  EXPECT_EQ(a.files, (std::vector<std::string>{"api.py", "api.py"}));
  EXPECT_EQ(a.input_files, (std::vector<std::string>{"spec.md"}));
  EXPECT_EQ(a.provider, "groq");
  EXPECT_EQ(plan.steps[0].provider, "groq");
  // The user's own keys stay in raw_json.
  EXPECT_EQ(nlohmann::json::parse(plan.steps[0].raw_json)["context"]["owner"]
                                                          ["name"],
            "me");
  EXPECT_EQ(plan.steps[1].context.language, "3");
  EXPECT_TRUE(plan.steps[1].context.files.empty());
  EXPECT_EQ(plan.steps[2].context.language, "");
}

TEST(PlanParserContextTest, WrongTypeForAKnownKeyIsAProblem) {
  const std::string text = R"j({"steps": [
  {"id": "a", "context": {"files": "", "input_files": 3}},
  {"id": "b", "context": {"files": ["a.py", 2, "b\u0000"], "provider": 1}},
  {"id": "c", "context": "notes"}
]})j";
  std::vector<std::string> errors = Errors(text);
  const std::vector<std::string> expected = {
      "plan.json:2:36: steps[0].context.files: expected a non-empty path "
      "without NUL characters",
      "plan.json:2:55: steps[0].context.input_files: expected a path or an "
      "array of paths",
      // Entries of a list are placed at the list.
      "plan.json:3:36: steps[1].context.files[1]: expected a non-empty path "
      "without NUL characters",
      "plan.json:3:36: steps[1].context.files[2]: expected a non-empty path "
      "without NUL characters",
      "plan.json:4:26: steps[2].context: expected an object",
  };
  EXPECT_EQ(errors, expected) << absl::StrJoin(errors, "\n");
}

}  // namespace
}  // namespace aetherflow

namespace aetherflow {
namespace {

// Issue 18: a typo must not change what a step is. `"command"` made a
// command step an LLM step with an empty prompt; `"dependecies"` let a step
// run before what it meant to wait for.
TEST(PlanParserNearMissTest, NearMissesAndOtherNamesAreErrorsNamingTheField) {
  EXPECT_EQ(ErrorText(R"({"steps": [{"id": "b", "command": "echo hi"}]})"),
            "plan.json:1:35: steps[0].command: unknown field (did you mean \"run\"?)");
  EXPECT_EQ(ErrorText(R"({"steps": [{"id": "a", "run": "true"},
    {"id": "b", "run": "true", "dependecies": ["a"]}]})"),
            "plan.json:2:47: steps[1].dependecies: unknown field (did you mean "
            "\"dependencies\"?)");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"cmd", "run"},          {"shell", "run"},
      {"script", "run"},       {"exec", "run"},
      {"Run", "run"},          {"deps", "dependencies"},
      {"depends", "dependencies"}, {"depends_on", "dependencies"},
      {"depends-on", "dependencies"}, {"needs", "dependencies"},
      {"after", "dependencies"}, {"timout", "timeout"},
      {"retires", "retries"},  {"promt", "prompt"},
      {"descripton", "description"}, {"ids", "id"},
  };
  for (const auto& [field, meant] : cases) {
    SCOPED_TRACE(field);
    const std::vector<std::string> errors = Errors(
        absl::StrCat(R"({"steps": [{"id": "a", "description": "d", ")", field, R"(": 1}]})"));
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_NE(errors[0].find(absl::StrCat("steps[0].", field, ": unknown field (did you mean \"",
                                          meant, "\"?)")),
              std::string::npos)
        << errors[0];
  }
  // Plan and budget fields too.
  EXPECT_EQ(ErrorText(R"({"step": [], "max_paralel": 2, "budget": {"costs": 1},
    "steps": [{"id": "a", "run": "true"}]})"),
            "plan.json:1:10: step: unknown field (did you mean \"steps\"?)\n"
            "plan.json:1:29: max_paralel: unknown field (did you mean \"max_parallel\"?)\n"
            "plan.json:1:52: budget.costs: unknown field (did you mean \"cost\"?)");
}

TEST(PlanParserNearMissTest, OtherUnknownFieldsStayOneWarning) {
  Plan plan = MustParse(R"({"success_criteria": [], "steps": [
    {"id": "a", "run": "true", "name": "x", "time": 3, "tags": [], "owner": "me",
     "priority": 1, "gpu_type": "a100"}]})");
  ASSERT_EQ(plan.warnings.size(), 1u);
  EXPECT_NE(plan.warnings[0].find("success_criteria, steps[0].gpu_type"), std::string::npos)
      << plan.warnings[0];
}

TEST(PlanParserNearMissTest, AStepWithNothingToDoIsRefused) {
  EXPECT_EQ(ErrorText(R"({"steps": [{"id": "a", "run": "true"},
    {"id": "b", "type": "analysis", "dependencies": ["a"]}]})"),
            "plan.json:2:5: steps[1]: nothing to do: give \"run\" (a command), or "
            "\"prompt\" or \"description\" (an LLM step)");
  EXPECT_FALSE(ParsePlan(R"({"steps": [{"id": "a", "description": ""}]})", "p").ok());
  // A prompt or a description is enough for an LLM step.
  MustParse(R"({"steps": [{"id": "a", "prompt": "Say hi"}]})");
  MustParse(R"({"steps": [{"id": "a", "description": "Analyse the design"}]})");
}

// A plan stored by an older daemon (resume after an upgrade, a check-in)
// is read as it was accepted: the new checks only warn.
TEST(PlanParserNearMissTest, StoredPlansAreNotRefused) {
  const std::string old = R"({"steps": [{"id": "a", "run": "true"},
    {"id": "b", "command": "echo hi", "dependecies": ["a"]}, {"id": "c"}]})";
  EXPECT_FALSE(ParsePlan(old, "plan.json").ok());
  absl::StatusOr<Plan> plan = ParsePlan(old, "plan.json", PlanRules::kStored);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->steps.size(), 3u);
  EXPECT_FALSE(plan->steps[1].is_command());
  EXPECT_EQ(plan->warnings,
            (std::vector<std::string>{"plan.json: warning: unknown fields kept and "
                                      "ignored: steps[1].command, steps[1].dependecies"}));
}

// Every plan of the shared corpus that must load still loads under the new
// rules, with no new problem (the near-miss check names none of their own
// keys).
TEST(PlanParserNearMissTest, EveryGoodPlanStillLoads) {
  for (const std::string name : {"original_format.json", "commands_diamond.json",
                                 "overnight_like.json"}) {
    SCOPED_TRACE(name);
    MustLoad(name);
  }
  for (const auto& entry : fs::directory_iterator(kPlans / "original")) {
    SCOPED_TRACE(entry.path().filename().string());
    MustLoad("original/" + entry.path().filename().string());
  }
}

}  // namespace
}  // namespace aetherflow

// ---------------------------------------------------------------- SPEC §11

namespace aetherflow {
namespace {

using ::testing::HasSubstr;

TEST(PlanApplyTest, ApplyValidateRepairAndAutoApplyAreRead) {
  Plan plan = MustParse(R"({"apply": true, "steps": [
    {"id": "a", "description": "x", "validate": "pytest -q", "repair": 0,
     "context": {"files": ["a.py"], "auto_apply": false}},
    {"id": "b", "description": "x", "validate": ["python3", "-m", "unittest"]},
    {"id": "c", "description": "x", "validate": ["pytest -q", "ruff check ."]},
    {"id": "d", "description": "x", "validate": [["make", "test"], "true"]},
    {"id": "e", "description": "x", "validate": [], "context": {"auto_apply": "yes"}}]})");
  EXPECT_TRUE(plan.apply);
  ASSERT_EQ(plan.steps.size(), 5u);
  const Step& a = plan.steps[0];
  ASSERT_EQ(a.validate.size(), 1u);
  EXPECT_EQ(a.validate[0].shell, "pytest -q");
  EXPECT_EQ(a.repair, 0);
  EXPECT_FALSE(a.context.auto_apply);
  const Step& b = plan.steps[1];
  ASSERT_EQ(b.validate.size(), 1u) << "an array of words is an argv";
  EXPECT_EQ(b.validate[0].argv, (std::vector<std::string>{"python3", "-m", "unittest"}));
  EXPECT_EQ(b.repair, kDefaultRepairs);
  const Step& c = plan.steps[2];
  ASSERT_EQ(c.validate.size(), 2u) << "commands with spaces are a list";
  EXPECT_EQ(c.validate[1].shell, "ruff check .");
  const Step& d = plan.steps[3];
  ASSERT_EQ(d.validate.size(), 2u);
  EXPECT_EQ(d.validate[0].argv, (std::vector<std::string>{"make", "test"}));
  EXPECT_EQ(d.validate[1].shell, "true");
  EXPECT_TRUE(plan.steps[4].validate.empty());
  EXPECT_TRUE(plan.steps[4].context.auto_apply) << "only an explicit false opts out";
  EXPECT_FALSE(MustParse(R"({"steps": [{"id": "a", "run": "true"}]})").apply);
}

TEST(PlanApplyTest, BadApplyFieldsAreProblemsNamingTheField) {
  EXPECT_THAT(ErrorText(R"({"apply": "yes", "steps": [{"id": "a", "run": "true"}]})"),
              HasSubstr("apply: expected true or false"));
  EXPECT_THAT(ErrorText(R"({"steps": [{"id": "a", "description": "x", "repair": 11}]})"),
              HasSubstr("steps[0].repair: expected an integer from 0 to 10"));
  EXPECT_THAT(ErrorText(R"({"steps": [{"id": "a", "description": "x", "validate": 3}]})"),
              HasSubstr("steps[0].validate"));
  EXPECT_THAT(ErrorText(R"({"steps": [{"id": "a", "description": "x", "validate": [""]}]})"),
              HasSubstr("steps[0].validate"));
}

}  // namespace
}  // namespace aetherflow
