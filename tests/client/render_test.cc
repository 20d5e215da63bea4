#include "client/render.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "common/text.h"
#include "gtest/gtest.h"

namespace aetherflow {
namespace {

namespace pb = ::aetherflow::v1;

constexpr int64_t kT0 = 1'769'421'600'000;  // 2026-01-26T10:00:00Z

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// The first line containing `needle`, or "".
std::string LineWith(const std::string& text, const std::string& needle) {
  for (const std::string& line : Lines(text)) {
    if (Contains(line, needle)) return line;
  }
  return "";
}

bool AllAscii(const std::string& text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

// Well-formed UTF-8 (no character cut in half by a width cut).
bool ValidUtf8(const std::string& s) {
  for (std::size_t i = 0; i < s.size();) {
    unsigned char c = s[i];
    int extra = c < 0x80                ? 0
                : (c & 0xe0) == 0xc0 ? 1
                : (c & 0xf0) == 0xe0 ? 2
                : (c & 0xf8) == 0xf0 ? 3
                                     : -1;
    if (extra < 0) return false;
    for (int k = 1; k <= extra; ++k) {
      if (i + k >= s.size() ||
          (static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) {
        return false;
      }
    }
    i += extra + 1;
  }
  return true;
}

struct StepSpec {
  std::string id;
  std::string type;
  std::string provider;
  pb::StepState state;
  int batch;
  int64_t start = 0;  // ms after kT0; 0 = never started
  int64_t end = 0;    // ms after kT0; 0 = not finished
  std::optional<int64_t> tokens{};
  std::optional<double> cost{};
  std::string description{};
  std::string progress{};
};

pb::Step MakeStep(const StepSpec& spec) {
  pb::Step step;
  step.set_id(spec.id);
  step.set_type(spec.type);
  step.set_provider(spec.provider);
  step.set_state(spec.state);
  step.set_batch(spec.batch);
  step.set_attempt(spec.state == pb::STEP_PENDING ? 0 : 1);
  step.set_max_attempts(1);
  if (spec.start) step.set_started_at_ms(kT0 + spec.start);
  if (spec.end) step.set_finished_at_ms(kT0 + spec.end);
  if (spec.tokens) step.set_tokens(*spec.tokens);
  if (spec.cost) step.set_cost(*spec.cost);
  step.set_description(spec.description);
  step.set_progress(spec.progress);
  return step;
}

class RenderTest : public testing::Test {
 protected:
  // SPEC §4/§5's example: 7 steps in 6 batches, 4 completed, 2 running in
  // batch 4, one pending; 15,230 tokens and $0.0123 in all; started 4m05s
  // before now.
  static pb::RunSnapshot SevenSteps() {
    pb::RunSnapshot snapshot;
    pb::Run* run = snapshot.mutable_run();
    run->set_id("r-1a2b3c");
    run->set_task_id("refactor");
    run->set_description("Refactor the parser");
    run->set_state(pb::RUN_RUNNING);
    run->set_created_at_ms(kT0);
    run->set_started_at_ms(kT0);
    run->set_steps_total(7);
    run->set_completed(4);
    run->set_running(2);
    run->set_batches(6);
    run->set_last_seq(42);
    // 5000 + 3000 + 7230 + 0 tokens; 0.0020 + 0.0010 + 0.0093 dollars.
    run->set_tokens(15230);
    run->set_cost(0.0123);
    const StepSpec specs[] = {
        {"fetch", "command", "", pb::STEP_COMPLETED, 1, 1, 30'001, {}, {},
         "Télécharger les données"},
        {"analyse", "analysis", "gemini", pb::STEP_COMPLETED, 2, 30'001, 90'001,
         5000, 0.0020, "Analyser le dépôt"},
        {"plan_fr", "analysis", "gemini", pb::STEP_COMPLETED, 2, 30'001, 75'001,
         3000, 0.0010,
         "Rédiger le plan de refactorisation détaillé, étape par étape, avec "
         "les risques, les dépendances et les critères d'acceptation"},
        {"cjk", "code_generation", "deepseek", pb::STEP_COMPLETED, 3, 90'001,
         150'001, 7230, 0.0093,
         "日本語のドキュメントを生成する（長い説明文がここに入ります。"
         "表示幅は文字数の二倍です）"},
        {"step_5", "refactoring", "deepseek", pb::STEP_RUNNING, 4, 150'000, 0, 0,
         {}, "Refactor module A", "5/100"},
        {"step_6", "refactoring", "deepseek", pb::STEP_RUNNING, 4, 200'000, 0, {},
         {}, "Refactor module B 🚀 with a long description that goes on"},
        {"step_7", "patch", "codestral", pb::STEP_PENDING, 5, 0, 0, {}, {},
         "Appliquer le correctif"},
    };
    for (const StepSpec& spec : specs) *snapshot.add_steps() = MakeStep(spec);
    return snapshot;
  }

  static RenderOptions Options(int width, int64_t now_offset = 245'000,
                               bool utf8 = true, bool color = false) {
    RenderOptions options;
    options.width = width;
    options.utf8 = utf8;
    options.color = color;
    options.now_ms = kT0 + now_offset;
    return options;
  }

  // A finished, failed run: wall time 120.5 s; step times 100 + 80 + 65.3 =
  // 245.3 s (SPEC §5's example).
  static pb::RunSnapshot FailedRun() {
    pb::RunSnapshot snapshot;
    pb::Run* run = snapshot.mutable_run();
    run->set_id("r-fail");
    run->set_description("Build and test");
    run->set_state(pb::RUN_FAILED);
    run->set_reason("step broken failed (exit 3)");
    run->set_created_at_ms(kT0);
    run->set_started_at_ms(kT0);
    run->set_finished_at_ms(kT0 + 120'500);
    run->set_steps_total(4);
    run->set_completed(2);
    run->set_failed(1);
    run->set_skipped(1);
    run->set_batches(2);
    const StepSpec specs[] = {
        {"compile", "command", "", pb::STEP_COMPLETED, 1, 1, 100'001},
        {"lint", "command", "", pb::STEP_COMPLETED, 1, 10'000, 90'000},
        {"broken", "command", "", pb::STEP_FAILED, 1, 20'000, 85'300},
        {"after", "command", "", pb::STEP_SKIPPED, 2},
    };
    for (const StepSpec& spec : specs) *snapshot.add_steps() = MakeStep(spec);
    snapshot.mutable_steps(2)->set_message("exit 3");
    snapshot.mutable_steps(2)->set_exit_code(3);
    return snapshot;
  }

  // SevenSteps, paused, with step_7 ready but waiting (SPEC §9).
  static pb::RunSnapshot PausedWithWaitingStep(const std::string& waiting_for = "gpu") {
    pb::RunSnapshot snapshot = SevenSteps();
    snapshot.mutable_run()->set_state(pb::RUN_PAUSED);
    snapshot.mutable_run()->set_reason("paused by the user");
    snapshot.mutable_steps(6)->set_waiting_for(waiting_for);
    return snapshot;
  }

  static std::string Header(const std::string& status) {
    // Everything before the table's header row.
    return status.substr(0, status.find("Step"));
  }
};

// ---------------------------------------------------------------------------
// Small formatters.

TEST_F(RenderTest, StatusLabelsAreTheSpecsWords) {
  // SPEC §5.
  EXPECT_EQ(StatusLabel(pb::STEP_COMPLETED, true), "✓ Completed");
  EXPECT_EQ(StatusLabel(pb::STEP_RUNNING, true), "⟳ Running");
  EXPECT_EQ(StatusLabel(pb::STEP_FAILED, true), "✗ Failed");
  EXPECT_EQ(StatusLabel(pb::STEP_PENDING, true), "○ Pending");
  EXPECT_EQ(StatusLabel(pb::STEP_SKIPPED, true), "⊘ Skipped");
}

TEST_F(RenderTest, AsciiStatusLabels) {
  const std::pair<pb::StepState, std::string> words[] = {
      {pb::STEP_PENDING, "Pending"},     {pb::STEP_RUNNING, "Running"},
      {pb::STEP_COMPLETED, "Completed"}, {pb::STEP_FAILED, "Failed"},
      {pb::STEP_SKIPPED, "Skipped"},     {pb::STEP_CANCELLED, "Cancelled"},
      {pb::STEP_INTERRUPTED, "Interrupted"}};
  std::vector<std::string> labels;
  for (const auto& [state, word] : words) {
    std::string ascii = StatusLabel(state, false);
    EXPECT_TRUE(AllAscii(ascii)) << ascii;
    // The same word as in UTF-8, behind a one-character symbol.
    EXPECT_EQ(ascii.substr(2), word);
    EXPECT_EQ(ascii[1], ' ');
    std::string utf8 = StatusLabel(state, true);
    EXPECT_TRUE(utf8.size() > word.size() &&
                utf8.compare(utf8.size() - word.size(), word.size(), word) == 0)
        << utf8;
    labels.push_back(ascii);
  }
  // Every state tells itself apart.
  std::sort(labels.begin(), labels.end());
  EXPECT_EQ(std::unique(labels.begin(), labels.end()), labels.end());
}

TEST_F(RenderTest, StateWordsAreSpecLowerCase) {
  // SPEC §3.
  EXPECT_STREQ(StepStateWord(pb::STEP_PENDING), "pending");
  EXPECT_STREQ(StepStateWord(pb::STEP_RUNNING), "running");
  EXPECT_STREQ(StepStateWord(pb::STEP_COMPLETED), "completed");
  EXPECT_STREQ(StepStateWord(pb::STEP_FAILED), "failed");
  EXPECT_STREQ(StepStateWord(pb::STEP_SKIPPED), "skipped");
  EXPECT_STREQ(StepStateWord(pb::STEP_CANCELLED), "cancelled");
  EXPECT_STREQ(StepStateWord(pb::STEP_INTERRUPTED), "interrupted");
  EXPECT_STREQ(RunStateWord(pb::RUN_QUEUED), "queued");
  EXPECT_STREQ(RunStateWord(pb::RUN_RUNNING), "running");
  EXPECT_STREQ(RunStateWord(pb::RUN_SUCCEEDED), "succeeded");
  EXPECT_STREQ(RunStateWord(pb::RUN_FAILED), "failed");
  EXPECT_STREQ(RunStateWord(pb::RUN_CANCELLED), "cancelled");
  EXPECT_STREQ(RunStateWord(pb::RUN_INTERRUPTED), "interrupted");
  EXPECT_STREQ(RunStateWord(pb::RUN_PAUSED), "paused");  // SPEC §9
  // An out-of-range value from a newer daemon does not crash.
  EXPECT_STREQ(StepStateWord(static_cast<pb::StepState>(42)), "unknown");
  EXPECT_STREQ(RunStateWord(static_cast<pb::RunState>(42)), "unknown");
}

TEST_F(RenderTest, FormatTokensUnknownIsDashNeverZero) {
  EXPECT_EQ(FormatTokens(false, 0), "-");
  EXPECT_EQ(FormatTokens(false, 123), "-");
  EXPECT_EQ(FormatTokens(true, 0), "0");  // known zero
  EXPECT_EQ(FormatTokens(true, 999), "999");
  EXPECT_EQ(FormatTokens(true, 1000), "1,000");
  EXPECT_EQ(FormatTokens(true, 15230), "15,230");
  EXPECT_EQ(FormatTokens(true, 100000), "100,000");
  EXPECT_EQ(FormatTokens(true, 1234567), "1,234,567");
}

TEST_F(RenderTest, FormatCostUnknownIsDashNeverZero) {
  EXPECT_EQ(FormatCost(false, 0), "-");
  EXPECT_EQ(FormatCost(false, 1.5), "-");
  EXPECT_EQ(FormatCost(true, 0.0123), "$0.0123");
  EXPECT_EQ(FormatCost(true, 0), "$0.0000");  // known zero
  EXPECT_EQ(FormatCost(true, 12.5), "$12.5000");
}

TEST_F(RenderTest, StepElapsed) {
  pb::Step step;
  EXPECT_EQ(StepElapsedMs(step, kT0), 0);  // never started
  step.set_started_at_ms(kT0);
  EXPECT_EQ(StepElapsedMs(step, kT0 + 1234), 1234);  // running: ticks
  EXPECT_EQ(StepElapsedMs(step, kT0 + 5000), 5000);
  EXPECT_EQ(StepElapsedMs(step, kT0 - 100), 0);  // clock skew: not negative
  step.set_finished_at_ms(kT0 + 2500);
  EXPECT_EQ(StepElapsedMs(step, kT0 + 99'999), 2500);  // finished: fixed
  step.set_previous_attempts_ms(3000);
  EXPECT_EQ(StepElapsedMs(step, kT0 + 99'999), 5500);  // plus earlier attempts
}

TEST_F(RenderTest, RunElapsed) {
  pb::Run run;
  run.set_created_at_ms(kT0);
  EXPECT_EQ(RunElapsedMs(run, kT0 + 5000), 0);  // queued, not started
  run.set_started_at_ms(kT0 + 1000);
  EXPECT_EQ(RunElapsedMs(run, kT0 + 5000), 4000);
  EXPECT_EQ(RunElapsedMs(run, kT0 + 9000), 8000);
  run.set_finished_at_ms(kT0 + 6000);
  EXPECT_EQ(RunElapsedMs(run, kT0 + 99'000), 5000);
}

TEST_F(RenderTest, IsoTimeIsUtcWithZ) {
  EXPECT_TRUE(IsoTime(0).is_null());
  // 2026-01-01 is 56 * 365 + 14 leap days = 20454 days after the epoch;
  // + 25 days + 10 h = 2026-01-26T10:00:00Z = kT0.
  EXPECT_EQ(kT0, (20454LL + 25) * 86'400'000 + 10 * 3'600'000);
  const std::regex iso(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$)");
  nlohmann::json t = IsoTime(kT0);
  ASSERT_TRUE(t.is_string());
  std::string s = t.get<std::string>();
  EXPECT_TRUE(std::regex_match(s, iso)) << s;
  EXPECT_EQ(s.rfind("2026-01-26T10:00:00", 0), 0u) << s;

  // A leap day, one second before midnight: not rounded into March.
  std::string leap = IsoTime(951'868'799'000).get<std::string>();
  EXPECT_EQ(leap.rfind("2000-02-29T23:59:59", 0), 0u) << leap;
  EXPECT_TRUE(std::regex_match(leap, iso)) << leap;

  // 1 ms into the second day of the epoch: seconds truncate, not round.
  std::string second_day = IsoTime(86'400'000 + 999).get<std::string>();
  EXPECT_EQ(second_day.rfind("1970-01-02T00:00:00", 0), 0u) << second_day;
}

// ---------------------------------------------------------------------------
// RenderStatus.

TEST_F(RenderTest, HeaderShowsProgressCountsBatchElapsedAndFigures) {
  std::string out = RenderStatus(SevenSteps(), Options(120));
  std::string header = Header(out);
  EXPECT_TRUE(Contains(header, "Refactor the parser")) << header;
  EXPECT_TRUE(Contains(header, "r-1a2b3c")) << header;
  // 4/7 = 0.5714... -> 57.1 %.
  EXPECT_TRUE(Contains(header, "Progress: 4/7 steps (57.1%)")) << header;
  EXPECT_TRUE(Contains(header, "Completed: 4")) << header;
  EXPECT_TRUE(Contains(header, "Failed: 0")) << header;
  EXPECT_TRUE(Contains(header, "Running: 2")) << header;
  // The highest batch with a running step.
  EXPECT_TRUE(Contains(header, "Batch 4/6")) << header;
  // now - started = 245 s.
  EXPECT_TRUE(Contains(header, "4m05s")) << header;
  EXPECT_TRUE(Contains(header, "15,230")) << header;
  EXPECT_TRUE(Contains(header, "$0.0123")) << header;
}

TEST_F(RenderTest, ProgressBarIsProportional) {
  // 4 of 7 done: the bar is filled 4/7 of the way (rounded to a cell).
  std::string out = RenderStatus(SevenSteps(), Options(120, 245'000, false));
  std::string progress = LineWith(out, "Progress:");
  std::size_t open = progress.find('[');
  std::size_t close = progress.find(']', open);
  ASSERT_NE(open, std::string::npos) << progress;
  ASSERT_NE(close, std::string::npos) << progress;
  std::string bar = progress.substr(open + 1, close - open - 1);
  int filled = std::count(bar.begin(), bar.end(), '#');
  ASSERT_GT(bar.size(), 0u);
  EXPECT_EQ(filled + std::count(bar.begin(), bar.end(), '.'),
            static_cast<int>(bar.size()));
  EXPECT_NEAR(static_cast<double>(filled) / bar.size(), 4.0 / 7, 0.5 / bar.size())
      << progress;
}

TEST_F(RenderTest, UnknownFiguresAreDashNeverZero) {
  pb::RunSnapshot snapshot = SevenSteps();
  snapshot.mutable_run()->clear_tokens();
  snapshot.mutable_run()->clear_cost();
  for (pb::Step& step : *snapshot.mutable_steps()) {
    step.clear_tokens();
    step.clear_cost();
  }
  std::string out = RenderStatus(snapshot, Options(200));
  std::string header = Header(out);
  EXPECT_TRUE(Contains(header, "Tokens: -")) << header;
  EXPECT_TRUE(Contains(header, "Cost: -")) << header;
  EXPECT_FALSE(Contains(out, "$0.0000")) << out;
  EXPECT_FALSE(Contains(header, "Tokens: 0")) << header;
  // A step row: "...  30.0s  -  -  Télécharger..."
  std::string fetch = LineWith(out, "fetch");
  EXPECT_TRUE(std::regex_search(fetch, std::regex(R"(30\.0s +- +- +T)"))) << fetch;
}

TEST_F(RenderTest, KnownFiguresInRows) {
  std::string out = RenderStatus(SevenSteps(), Options(200));
  std::string cjk = LineWith(out, "cjk");
  EXPECT_TRUE(Contains(cjk, "7,230")) << cjk;
  EXPECT_TRUE(Contains(cjk, "$0.0093")) << cjk;
  EXPECT_TRUE(Contains(cjk, "✓ Completed")) << cjk;
  // 150.001 - 90.001 = 60 s.
  EXPECT_TRUE(Contains(cjk, "1m00s")) << cjk;
  // step_5 has a known 0 tokens and an unknown cost.
  std::string step5 = LineWith(out, "step_5");
  EXPECT_TRUE(std::regex_search(step5, std::regex(R"(  0  +-  )"))) << step5;
  EXPECT_TRUE(Contains(step5, "⟳ Running")) << step5;
  EXPECT_TRUE(Contains(step5, "5/100")) << step5;  // its progress
  std::string step7 = LineWith(out, "step_7");
  EXPECT_TRUE(Contains(step7, "○ Pending")) << step7;
  // A step that never started has no time.
  EXPECT_TRUE(std::regex_search(step7, std::regex(R"(Pending +- +- +- +App)")))
      << step7;
  // No type or provider: "-", not an empty cell.
  std::string fetch = LineWith(out, "fetch");
  EXPECT_TRUE(std::regex_search(fetch, std::regex(R"(fetch +command +- +✓)")))
      << fetch;
}

TEST_F(RenderTest, RunningStepTimeTicks) {
  // step_6 started at +200 s.
  std::string early = LineWith(RenderStatus(SevenSteps(), Options(200, 245'000)),
                               "step_6");
  std::string later = LineWith(RenderStatus(SevenSteps(), Options(200, 252'300)),
                               "step_6");
  EXPECT_TRUE(Contains(early, "45.0s")) << early;
  EXPECT_TRUE(Contains(later, "52.3s")) << later;
  // step_5 started at +150 s: 95 s, then 102.3 s.
  EXPECT_TRUE(Contains(LineWith(RenderStatus(SevenSteps(), Options(200, 245'000)),
                                "step_5"),
                       "1m35s"));
  EXPECT_TRUE(Contains(LineWith(RenderStatus(SevenSteps(), Options(200, 252'300)),
                                "step_5"),
                       "1m42s"));
  // A finished step does not tick: 30 s both times.
  EXPECT_EQ(LineWith(RenderStatus(SevenSteps(), Options(200, 245'000)), "fetch"),
            LineWith(RenderStatus(SevenSteps(), Options(200, 252'300)), "fetch"));
}

TEST_F(RenderTest, ColumnsLineUpWithWideAndAccentedIds) {
  pb::RunSnapshot snapshot = SevenSteps();
  snapshot.mutable_steps(0)->set_id("étape_1");
  snapshot.mutable_steps(3)->set_id("步骤_4");
  std::string out = RenderStatus(snapshot, Options(200));
  std::vector<std::string> lines = Lines(out);
  auto header_it = std::find_if(lines.begin(), lines.end(), [](const std::string& l) {
    return l.rfind("Step", 0) == 0;
  });
  ASSERT_NE(header_it, lines.end()) << out;
  const int status_col =
      DisplayWidth(header_it->substr(0, header_it->find("Status")));
  const int desc_col =
      DisplayWidth(header_it->substr(0, header_it->find("Description")));
  int rows = 0;
  for (auto it = header_it + 1; it != lines.end(); ++it) {
    const pb::Step& step = snapshot.steps(rows++);
    std::string label = StatusLabel(step.state(), true);
    std::size_t at = it->find(label);
    ASSERT_NE(at, std::string::npos) << *it;
    EXPECT_EQ(DisplayWidth(it->substr(0, at)), status_col) << *it;
    std::string desc_start = step.description().substr(0, 3);
    std::size_t d = it->find(desc_start, at);
    if (step.state() == pb::STEP_RUNNING && !step.progress().empty()) {
      d = it->find("[" + step.progress() + "]", at);
    }
    ASSERT_NE(d, std::string::npos) << *it;
    EXPECT_EQ(DisplayWidth(it->substr(0, d)), desc_col) << *it;
  }
  EXPECT_EQ(rows, snapshot.steps_size());
}

// Every line fits `width` display columns and no character is cut in half.
void ExpectFits(const std::string& out, int width) {
  for (const std::string& line : Lines(out)) {
    EXPECT_LE(DisplayWidth(line), width) << "width " << width << ": " << line;
    EXPECT_TRUE(ValidUtf8(line)) << line;
  }
}

TEST_F(RenderTest, TableFitsAWideTerminal) {
  ExpectFits(RenderStatus(SevenSteps(), Options(200)), 200);
  ExpectFits(RenderStatus(SevenSteps(), Options(200, 245'000, false)), 200);
  // The long descriptions were cut, with an ellipsis.
  std::string out = RenderStatus(SevenSteps(), Options(120));
  ExpectFits(out, 120);
  EXPECT_TRUE(Contains(LineWith(out, "plan_fr"), "…")) << out;
  EXPECT_TRUE(Contains(LineWith(out, "cjk"), "…")) << out;
}

TEST_F(RenderTest, TableFitsAn80ColumnTerminal) {
  ExpectFits(RenderStatus(SevenSteps(), Options(80)), 80);
  ExpectFits(RenderStatus(SevenSteps(), Options(80, 245'000, false)), 80);
}

TEST_F(RenderTest, TableFitsA60ColumnTerminal) {
  ExpectFits(RenderStatus(SevenSteps(), Options(60)), 60);
}

TEST_F(RenderTest, AsciiModeIsPureAscii) {
  pb::RunSnapshot snapshot = SevenSteps();
  // ASCII data only: the descriptions are replaced.
  for (pb::Step& step : *snapshot.mutable_steps()) {
    step.set_description("An ASCII description long enough to need cutting at "
                         "a narrow width, which brings the ellipsis in");
  }
  pb::RunSnapshot failed = FailedRun();
  for (int width : {80, 120, 200}) {
    RenderOptions options = Options(width, 245'000, /*utf8=*/false);
    std::string out = RenderStatus(snapshot, options);
    EXPECT_TRUE(AllAscii(out)) << out;
    EXPECT_TRUE(Contains(out, "v Completed")) << out;
    EXPECT_TRUE(Contains(out, "> Running")) << out;
    EXPECT_TRUE(Contains(out, "o Pending")) << out;
    std::string summary = RenderSummary(failed, {"", "", "ld: error\n", ""}, options);
    EXPECT_TRUE(AllAscii(summary)) << summary;
    std::string status = RenderStatus(failed, options);
    EXPECT_TRUE(AllAscii(status)) << status;
  }
  // The description was cut with "~", not "…".
  std::string narrow = RenderStatus(snapshot, Options(120, 245'000, false));
  EXPECT_TRUE(Contains(LineWith(narrow, "step_5"), "~")) << narrow;
}

TEST_F(RenderTest, NoEscapeCodesUnlessColor) {
  std::string plain = RenderStatus(SevenSteps(), Options(120));
  EXPECT_EQ(plain.find('\033'), std::string::npos);
  std::string summary = RenderSummary(FailedRun(), {"", "", "boom\n", ""}, Options(120));
  EXPECT_EQ(summary.find('\033'), std::string::npos);
  std::string colored =
      RenderStatus(SevenSteps(), Options(120, 245'000, true, /*color=*/true));
  EXPECT_NE(colored.find('\033'), std::string::npos);
  // Only the status cell is coloured: the labels are still there.
  EXPECT_TRUE(Contains(colored, "✓ Completed")) << colored;
}

TEST_F(RenderTest, ZeroSteps) {
  pb::RunSnapshot snapshot;
  snapshot.mutable_run()->set_id("empty");
  snapshot.mutable_run()->set_state(pb::RUN_SUCCEEDED);
  std::string out = RenderStatus(snapshot, Options(80));
  EXPECT_TRUE(Contains(out, "Progress: 0/0 steps (0.0%)")) << out;
  EXPECT_TRUE(Contains(out, "Batch 0/0")) << out;
  std::string summary = RenderSummary(snapshot, {}, Options(80));
  EXPECT_TRUE(Contains(summary, "empty")) << summary;
  // No step time and no wall time: no parallelism figure (and no 0/0).
  EXPECT_FALSE(Contains(summary, "Parallelism")) << summary;
  EXPECT_FALSE(Contains(summary, "nan")) << summary;
  nlohmann::json j = StatusJson(snapshot, kT0);
  EXPECT_TRUE(j["steps"].is_array());
  EXPECT_TRUE(j["steps"].empty());
}

TEST_F(RenderTest, TenThousandSteps) {
  pb::RunSnapshot snapshot;
  pb::Run* run = snapshot.mutable_run();
  run->set_id("big");
  run->set_state(pb::RUN_RUNNING);
  run->set_started_at_ms(kT0);
  run->set_steps_total(10'000);
  run->set_batches(100);
  const std::string empty_table = RenderStatus(snapshot, Options(120));
  for (int i = 0; i < 10'000; ++i) {
    StepSpec spec{"s" + std::to_string(i), "command", "", pb::STEP_PENDING,
                  i / 100 + 1};
    if (i < 3000) {
      spec.state = pb::STEP_COMPLETED;
      spec.start = 1 + i;
      spec.end = 1001 + i;
    }
    spec.description = "Étape numéro " + std::to_string(i);
    *snapshot.add_steps() = MakeStep(spec);
  }
  run->set_completed(3000);
  std::string out = RenderStatus(snapshot, Options(120));
  // One row per step on top of what an empty run prints.
  EXPECT_EQ(Lines(out).size(), Lines(empty_table).size() + 10'000);
  EXPECT_TRUE(Contains(out, "Progress: 3000/10000 steps (30.0%)"));
  EXPECT_EQ(Lines(out).back().rfind("s9999 ", 0), 0u) << Lines(out).back();
}

// ---------------------------------------------------------------------------
// RenderSummary.

TEST_F(RenderTest, SummaryParallelismFromStepTimes) {
  std::string out = RenderSummary(FailedRun(), {}, Options(120, 999'999));
  // 100 + 80 + 65.3 = 245.3 s in 120.5 s: 245.3 / 120.5 = 2.04.
  EXPECT_TRUE(Contains(out, "Parallelism: 245.3 s of step time in 120.5 s "
                            "(2.0× faster than one at a time)"))
      << out;
  std::string ascii = RenderSummary(FailedRun(), {}, Options(120, 999'999, false));
  EXPECT_TRUE(Contains(ascii, "(2.0x faster than one at a time)")) << ascii;
}

TEST_F(RenderTest, SummaryParallelismCountsEveryAttempt) {
  pb::RunSnapshot snapshot;
  pb::Run* run = snapshot.mutable_run();
  run->set_id("r2");
  run->set_state(pb::RUN_SUCCEEDED);
  run->set_started_at_ms(kT0);
  run->set_finished_at_ms(kT0 + 10'000);
  run->set_steps_total(3);
  run->set_completed(3);
  // 4 + 6 + (5 earlier + 2 last) = 17 s of work in 10 s.
  *snapshot.add_steps() = MakeStep({"a", "command", "", pb::STEP_COMPLETED, 1, 1, 4001});
  *snapshot.add_steps() = MakeStep({"b", "command", "", pb::STEP_COMPLETED, 1, 2000, 8000});
  pb::Step c = MakeStep({"c", "command", "", pb::STEP_COMPLETED, 1, 7000, 9000});
  c.set_previous_attempts_ms(5000);
  *snapshot.add_steps() = c;
  std::string out = RenderSummary(snapshot, {}, Options(120, 99'000));
  EXPECT_TRUE(Contains(out, "Parallelism: 17.0 s of step time in 10.0 s "
                            "(1.7× faster than one at a time)"))
      << out;
  // Nothing failed: no failure section, no "resume" hint.
  EXPECT_FALSE(Contains(out, "Failed")) << out;
  EXPECT_FALSE(Contains(out, "resume")) << out;
}

TEST_F(RenderTest, SummaryOfARunningRunUsesNow) {
  // The summary of a still running run counts running steps up to now.
  std::string out = RenderSummary(SevenSteps(), {}, Options(120, 245'000));
  // Steps: 30 + 60 + 45 + 60 + 95 + 45 = 335 s in 245 s.
  EXPECT_TRUE(Contains(out, "335.0 s of step time in 245.0 s (1.4×")) << out;
}

TEST_F(RenderTest, SummaryListsFailedStepsWithLogTails) {
  const std::vector<std::string> tails = {
      "", "", "compiling parser.cc\nerror: undefined reference to `foo'\n"
              "make: *** [all] Error 1\n",
      ""};
  std::string out = RenderSummary(FailedRun(), tails, Options(120, 999'999));
  std::string named = LineWith(out, "✗ Failed");
  EXPECT_TRUE(Contains(named, "broken")) << out;
  EXPECT_TRUE(Contains(named, "exit 3")) << out;
  // Only the failed step is named.
  int failed_lines = 0;
  for (const std::string& line : Lines(out)) failed_lines += Contains(line, "✗ Failed");
  EXPECT_EQ(failed_lines, 1) << out;
  EXPECT_FALSE(Contains(out, "compile (")) << out;
  // Each tail line on a line of its own, in order, after the name.
  std::size_t name_at = out.find(named);
  std::size_t l1 = out.find("compiling parser.cc");
  std::size_t l2 = out.find("error: undefined reference to `foo'");
  std::size_t l3 = out.find("make: *** [all] Error 1");
  ASSERT_NE(l1, std::string::npos) << out;
  ASSERT_NE(l2, std::string::npos) << out;
  ASSERT_NE(l3, std::string::npos) << out;
  EXPECT_LT(name_at, l1);
  EXPECT_LT(l1, l2);
  EXPECT_LT(l2, l3);
  EXPECT_NE(LineWith(out, "compiling"), LineWith(out, "error: undefined"));
  // The counts and the result.
  EXPECT_TRUE(Contains(out, "r-fail")) << out;
  EXPECT_TRUE(Contains(out, "failed")) << out;
  EXPECT_TRUE(Contains(out, "2/4")) << out;
}

TEST_F(RenderTest, SummaryNamesAFailedStepWithoutATail) {
  std::string out = RenderSummary(FailedRun(), {}, Options(120, 999'999));
  EXPECT_TRUE(Contains(LineWith(out, "✗ Failed"), "broken")) << out;
}

TEST_F(RenderTest, SummaryCutsLongLogLinesToTheWidth) {
  std::string long_line(300, 'x');
  std::string cjk_line;
  for (int i = 0; i < 100; ++i) cjk_line += "錯誤";
  std::vector<std::string> tails = {"", "", long_line + "\n" + cjk_line, ""};
  for (int width : {60, 80, 200}) {
    std::string out = RenderSummary(FailedRun(), tails, Options(width, 999'999));
    EXPECT_LE(DisplayWidth(LineWith(out, "xxxx")), width);
    EXPECT_LE(DisplayWidth(LineWith(out, "錯誤")), width);
    EXPECT_TRUE(ValidUtf8(LineWith(out, "錯誤")));
  }
}

// ---------------------------------------------------------------------------
// RenderEventLine.

pb::Event StepEvent(const std::string& step, pb::StepState state, int64_t offset) {
  pb::Event event;
  event.set_run_id("r-1a2b3c");
  event.set_seq(43);
  event.set_time_ms(kT0 + offset);
  event.set_kind(pb::STEP_STATE_CHANGED);
  event.set_step_id(step);
  event.set_step_state(state);
  return event;
}

// The seconds in the "[  12.3s]" stamp at the start of `line`.
std::string Stamp(const std::string& line) {
  std::smatch m;
  if (!std::regex_search(line, m, std::regex(R"(^\[ *([0-9.]+)s\])"))) return "";
  return m[1];
}

TEST_F(RenderTest, EventLineForARunningStep) {
  // step_5 started at +150 s; the line is rendered after the event applied.
  std::string line =
      RenderEventLine(StepEvent("step_5", pb::STEP_RUNNING, 150'000),
                      SevenSteps(), Options(120));
  EXPECT_EQ(Stamp(line), "150.0") << line;
  EXPECT_TRUE(Contains(line, "step_5")) << line;
  EXPECT_TRUE(Contains(line, "refactoring")) << line;
  EXPECT_TRUE(Contains(line, "deepseek")) << line;
  EXPECT_TRUE(Contains(line, "⟳ Running")) << line;
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1);
}

TEST_F(RenderTest, EventLineForAFinishedStepShowsItsDuration) {
  pb::RunSnapshot snapshot = SevenSteps();
  // cjk ran from +90.001 s to +150.001 s.
  pb::Event event = StepEvent("cjk", pb::STEP_COMPLETED, 150'001);
  std::string line = RenderEventLine(event, snapshot, Options(120));
  EXPECT_EQ(Stamp(line), "150.0") << line;
  EXPECT_TRUE(Contains(line, "✓ Completed (1m00s)")) << line;
}

TEST_F(RenderTest, EventLineForAFailureCarriesItsMessage) {
  pb::RunSnapshot snapshot = FailedRun();
  pb::Event event = StepEvent("broken", pb::STEP_FAILED, 85'300);
  event.set_message("exit 3");
  std::string line = RenderEventLine(event, snapshot, Options(120));
  EXPECT_EQ(Stamp(line), "85.3") << line;
  // 85.3 - 20 = 65.3 s.
  EXPECT_TRUE(Contains(line, "✗ Failed (1m05s)")) << line;
  EXPECT_TRUE(Contains(line, "exit 3")) << line;
}

TEST_F(RenderTest, EventLineForARunStateChange) {
  pb::Event event;
  event.set_seq(50);
  event.set_time_ms(kT0 + 120'500);
  event.set_kind(pb::RUN_STATE_CHANGED);
  event.set_run_state(pb::RUN_FAILED);
  event.set_message("step broken failed (exit 3)");
  std::string line = RenderEventLine(event, FailedRun(), Options(120));
  EXPECT_EQ(Stamp(line), "120.5") << line;
  EXPECT_TRUE(Contains(line, "r-fail")) << line;
  EXPECT_TRUE(Contains(line, "failed")) << line;
  EXPECT_TRUE(Contains(line, "step broken failed (exit 3)")) << line;
}

TEST_F(RenderTest, FiguresMakeNoEventLine) {
  pb::Event event;
  event.set_seq(44);
  event.set_time_ms(kT0 + 1000);
  event.set_kind(pb::STEP_FIGURES);
  event.set_step_id("step_5");
  event.set_tokens(10);
  EXPECT_EQ(RenderEventLine(event, SevenSteps(), Options(120)), "");
}

TEST_F(RenderTest, EventLineAsciiAndColor) {
  pb::Event event = StepEvent("step_5", pb::STEP_RUNNING, 150'000);
  std::string ascii =
      RenderEventLine(event, SevenSteps(), Options(120, 245'000, false));
  EXPECT_TRUE(AllAscii(ascii)) << ascii;
  EXPECT_TRUE(Contains(ascii, "> Running")) << ascii;
  EXPECT_EQ(ascii.find('\033'), std::string::npos);
  std::string plain = RenderEventLine(event, SevenSteps(), Options(120));
  EXPECT_EQ(plain.find('\033'), std::string::npos);
  std::string colored =
      RenderEventLine(event, SevenSteps(), Options(120, 245'000, true, true));
  EXPECT_NE(colored.find('\033'), std::string::npos);
}

TEST_F(RenderTest, LineLayoutFromTheSteps) {
  // Widest id/type/provider in display columns, at least the minimum, at
  // most the cap.
  pb::RunSnapshot snapshot = SevenSteps();
  LineLayout layout = ComputeLineLayout(snapshot);
  EXPECT_EQ(layout.step_w, 7);       // "analyse", "plan_fr"
  EXPECT_EQ(layout.type_w, 15);      // "code_generation"
  EXPECT_EQ(layout.provider_w, 9);   // "codestral"
  snapshot.mutable_steps(0)->set_id("步骤步骤步骤");  // 6 wide chars: 12 columns
  snapshot.mutable_steps(1)->set_type(std::string(40, 't'));
  snapshot.mutable_steps(2)->set_provider(std::string(40, 'p'));
  layout = ComputeLineLayout(snapshot);
  EXPECT_EQ(layout.step_w, 12);
  EXPECT_EQ(layout.type_w, 16);
  EXPECT_EQ(layout.provider_w, 12);
  snapshot.mutable_steps(0)->set_id(std::string(40, 's'));
  EXPECT_EQ(ComputeLineLayout(snapshot).step_w, 24);
  // No steps: the minimums.
  LineLayout empty = ComputeLineLayout(pb::RunSnapshot());
  LineLayout defaults;
  EXPECT_EQ(empty.step_w, defaults.step_w);
  EXPECT_EQ(empty.type_w, defaults.type_w);
  EXPECT_EQ(empty.provider_w, defaults.provider_w);
}

TEST_F(RenderTest, EventLineWithALayoutMatchesTheSnapshotForm) {
  pb::RunSnapshot snapshot = SevenSteps();
  LineLayout layout = ComputeLineLayout(snapshot);
  pb::Event done = StepEvent("cjk", pb::STEP_COMPLETED, 150'001);
  pb::Event running = StepEvent("step_5", pb::STEP_RUNNING, 150'000);
  pb::Event run_event;
  run_event.set_kind(pb::RUN_STATE_CHANGED);
  run_event.set_time_ms(kT0 + 300'000);
  run_event.set_run_state(pb::RUN_SUCCEEDED);
  for (const RenderOptions& options :
       {Options(120), Options(80, 0, false), Options(200, 0, true, true)}) {
    EXPECT_EQ(RenderEventLine(done, &snapshot.steps(3), snapshot.run(), layout,
                              options),
              RenderEventLine(done, snapshot, options));
    EXPECT_EQ(RenderEventLine(running, &snapshot.steps(4), snapshot.run(), layout,
                              options),
              RenderEventLine(running, snapshot, options));
    EXPECT_EQ(RenderEventLine(run_event, nullptr, snapshot.run(), layout, options),
              RenderEventLine(run_event, snapshot, options));
  }
  // Columns line up across steps: the status starts in the same column.
  std::string a = RenderEventLine(done, snapshot, Options(200));
  std::string b = RenderEventLine(running, snapshot, Options(200));
  EXPECT_EQ(DisplayWidth(a.substr(0, a.find("✓"))),
            DisplayWidth(b.substr(0, b.find("⟳"))))
      << a << b;
}

// ---------------------------------------------------------------------------
// RenderRunList.

TEST_F(RenderTest, RunListShowsEachRun) {
  pb::Run a = SevenSteps().run();
  pb::Run b = FailedRun().run();
  b.set_description("Générer la documentation en 日本語 et en français, avec "
                    "des exemples pour chaque module du projet");
  std::string out = RenderRunList({a, b}, Options(120));
  std::vector<std::string> lines = Lines(out);
  ASSERT_EQ(lines.size(), 3u) << out;  // header + 2 runs
  EXPECT_TRUE(Contains(lines[1], "r-1a2b3c")) << lines[1];
  EXPECT_TRUE(Contains(lines[1], "running")) << lines[1];
  EXPECT_TRUE(Contains(lines[1], "4/7")) << lines[1];
  EXPECT_TRUE(Contains(lines[1], "4m05s")) << lines[1];
  EXPECT_TRUE(Contains(lines[1], "$0.0123")) << lines[1];
  EXPECT_TRUE(Contains(lines[1], "Refactor the parser")) << lines[1];
  // Under its header.
  EXPECT_EQ(lines[1].find("Refactor the parser"), lines[0].find("DESCRIPTION"))
      << lines[0] << "\n" << lines[1];
  EXPECT_TRUE(Contains(lines[2], "r-fail")) << lines[2];
  EXPECT_TRUE(Contains(lines[2], "failed")) << lines[2];
  EXPECT_TRUE(Contains(lines[2], "2/4")) << lines[2];
  EXPECT_TRUE(Contains(lines[2], "2m00s")) << lines[2];  // 120.5 s, finished
  // Unknown cost is "-".
  EXPECT_TRUE(std::regex_search(lines[2], std::regex(R"( - +G)"))) << lines[2];
  for (int width : {80, 120, 200}) {
    ExpectFits(RenderRunList({a, b}, Options(width)), width);
  }
}

TEST_F(RenderTest, RunListColumnsLineUp) {
  pb::Run a = SevenSteps().run();
  pb::Run b = FailedRun().run();
  b.set_steps_total(20);
  b.set_completed(12);
  b.set_failed(3);
  std::vector<std::string> lines = Lines(RenderRunList({a, b}, Options(120)));
  ASSERT_EQ(lines.size(), 3u);
  // ELAPSED is right-aligned: its last character ends where the header's
  // "ELAPSED" ends, in every row.
  const std::size_t edge = lines[0].find("ELAPSED") + std::string("ELAPSED").size();
  std::size_t a_end = lines[1].find("4m05s") + 5;  // 245 s
  std::size_t b_end = lines[2].find("2m00s") + 5;  // 120.5 s
  EXPECT_EQ(a_end, edge) << lines[0] << "\n" << lines[1];
  EXPECT_EQ(b_end, edge) << lines[0] << "\n" << lines[2];
  // And the descriptions start in the same column.
  EXPECT_EQ(lines[1].find("Refactor the parser"), lines[0].find("DESCRIPTION"));
  EXPECT_EQ(lines[2].find("Build and test"), lines[0].find("DESCRIPTION"));
}

TEST_F(RenderTest, RunListAsciiAndEmpty) {
  std::vector<std::string> none = Lines(RenderRunList({}, Options(80)));
  EXPECT_EQ(none.size(), 1u);  // the header only
  pb::Run a = SevenSteps().run();
  a.set_description(std::string(200, 'd'));
  std::string ascii = RenderRunList({a}, Options(80, 245'000, false));
  EXPECT_TRUE(AllAscii(ascii)) << ascii;
  EXPECT_TRUE(Contains(ascii, "~")) << ascii;
}

// ---------------------------------------------------------------------------
// JSON.

TEST_F(RenderTest, StatusJsonHasTheSpecKeys) {
  nlohmann::json j = StatusJson(SevenSteps(), kT0 + 245'000);
  ASSERT_TRUE(j.contains("run"));
  ASSERT_TRUE(j.contains("steps"));
  for (const char* key :
       {"id", "task_id", "description", "state", "created_at", "started_at",
        "finished_at", "elapsed_s", "steps_total", "completed", "failed",
        "running", "skipped", "batch", "batches", "tokens", "cost", "last_seq"}) {
    EXPECT_TRUE(j["run"].contains(key)) << key;
  }
  ASSERT_EQ(j["steps"].size(), 7u);
  for (const nlohmann::json& step : j["steps"]) {
    for (const char* key :
         {"id", "type", "provider", "state", "batch", "attempt", "started_at",
          "finished_at", "elapsed_s", "tokens", "cost", "exit_code", "progress",
          "description"}) {
      EXPECT_TRUE(step.contains(key)) << key;
    }
  }
}

TEST_F(RenderTest, StatusJsonRunValues) {
  nlohmann::json run = StatusJson(SevenSteps(), kT0 + 245'000)["run"];
  EXPECT_EQ(run["id"], "r-1a2b3c");
  EXPECT_EQ(run["task_id"], "refactor");
  EXPECT_EQ(run["state"], "running");
  EXPECT_EQ(run["created_at"], IsoTime(kT0));
  EXPECT_EQ(run["started_at"], IsoTime(kT0));
  EXPECT_TRUE(run["finished_at"].is_null());
  EXPECT_DOUBLE_EQ(run["elapsed_s"].get<double>(), 245.0);
  EXPECT_EQ(run["steps_total"], 7);
  EXPECT_EQ(run["completed"], 4);
  EXPECT_EQ(run["failed"], 0);
  EXPECT_EQ(run["running"], 2);
  EXPECT_EQ(run["batch"], 4);
  EXPECT_EQ(run["batches"], 6);
  EXPECT_EQ(run["tokens"], 15230);
  EXPECT_DOUBLE_EQ(run["cost"].get<double>(), 0.0123);
  EXPECT_EQ(run["last_seq"], 42);
}

TEST_F(RenderTest, StatusJsonUnknownIsNullNeverZero) {
  pb::RunSnapshot snapshot = SevenSteps();
  snapshot.mutable_run()->clear_tokens();
  snapshot.mutable_run()->clear_cost();
  nlohmann::json j = StatusJson(snapshot, kT0 + 245'000);
  EXPECT_TRUE(j["run"]["tokens"].is_null());
  EXPECT_TRUE(j["run"]["cost"].is_null());

  const nlohmann::json& step5 = j["steps"][4];  // running, 0 tokens, no cost
  ASSERT_EQ(step5["id"], "step_5");
  EXPECT_EQ(step5["state"], "running");
  EXPECT_EQ(step5["tokens"], 0);  // known zero stays 0
  EXPECT_FALSE(step5["tokens"].is_null());
  EXPECT_TRUE(step5["cost"].is_null());
  EXPECT_TRUE(step5["exit_code"].is_null());
  EXPECT_TRUE(step5["finished_at"].is_null());
  EXPECT_EQ(step5["started_at"], IsoTime(kT0 + 150'000));
  EXPECT_DOUBLE_EQ(step5["elapsed_s"].get<double>(), 95.0);
  EXPECT_EQ(step5["progress"], "5/100");

  const nlohmann::json& step7 = j["steps"][6];  // pending: nothing known
  ASSERT_EQ(step7["id"], "step_7");
  EXPECT_EQ(step7["state"], "pending");
  EXPECT_TRUE(step7["started_at"].is_null());
  EXPECT_TRUE(step7["finished_at"].is_null());
  EXPECT_TRUE(step7["elapsed_s"].is_null());
  EXPECT_TRUE(step7["tokens"].is_null());
  EXPECT_TRUE(step7["cost"].is_null());
  EXPECT_TRUE(step7["exit_code"].is_null());
  EXPECT_TRUE(step7["progress"].is_null());
}

TEST_F(RenderTest, StatusJsonFinishedStep) {
  pb::RunSnapshot snapshot = FailedRun();
  nlohmann::json j = StatusJson(snapshot, kT0 + 999'999);
  EXPECT_EQ(j["run"]["state"], "failed");
  EXPECT_EQ(j["run"]["finished_at"], IsoTime(kT0 + 120'500));
  EXPECT_DOUBLE_EQ(j["run"]["elapsed_s"].get<double>(), 120.5);
  const nlohmann::json& broken = j["steps"][2];
  EXPECT_EQ(broken["id"], "broken");
  EXPECT_EQ(broken["state"], "failed");
  EXPECT_EQ(broken["exit_code"], 3);
  EXPECT_EQ(broken["finished_at"], IsoTime(kT0 + 85'300));
  EXPECT_DOUBLE_EQ(broken["elapsed_s"].get<double>(), 65.3);
  EXPECT_EQ(j["steps"][3]["state"], "skipped");
  // A known exit code of 0 is 0, not null.
  snapshot.mutable_steps(0)->set_exit_code(0);
  EXPECT_EQ(StatusJson(snapshot, kT0)["steps"][0]["exit_code"], 0);
}

TEST_F(RenderTest, StatusJsonStatesAreLowerCaseWords) {
  pb::RunSnapshot snapshot;
  snapshot.mutable_run()->set_state(pb::RUN_INTERRUPTED);
  const pb::StepState states[] = {pb::STEP_PENDING,   pb::STEP_RUNNING,
                                  pb::STEP_COMPLETED, pb::STEP_FAILED,
                                  pb::STEP_SKIPPED,   pb::STEP_CANCELLED,
                                  pb::STEP_INTERRUPTED};
  for (pb::StepState state : states) {
    pb::Step* step = snapshot.add_steps();
    step->set_id(pb::StepState_Name(state));
    step->set_state(state);
  }
  nlohmann::json j = StatusJson(snapshot, kT0);
  EXPECT_EQ(j["run"]["state"], "interrupted");
  const std::vector<std::string> expected = {"pending", "running",   "completed",
                                             "failed",  "skipped",   "cancelled",
                                             "interrupted"};
  ASSERT_EQ(j["steps"].size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(j["steps"][i]["state"], expected[i]);
  }
}

TEST_F(RenderTest, RunJsonOfAQueuedRun) {
  pb::Run run;
  run.set_id("q");
  run.set_state(pb::RUN_QUEUED);
  run.set_created_at_ms(kT0);
  nlohmann::json j = RunJson(run, kT0 + 5000);
  EXPECT_EQ(j["state"], "queued");
  EXPECT_EQ(j["created_at"], IsoTime(kT0));
  EXPECT_TRUE(j["started_at"].is_null());
  EXPECT_TRUE(j["finished_at"].is_null());
  EXPECT_TRUE(j["elapsed_s"].is_null());
  EXPECT_TRUE(j["tokens"].is_null());
  EXPECT_TRUE(j["cost"].is_null());
  // It is valid JSON that parses back to itself.
  EXPECT_EQ(nlohmann::json::parse(j.dump()), j);
}

// ---------------------------------------------------------------------------
// SPEC §9: paused runs, steps that wait, resources.


TEST_F(RenderTest, PausedRunStateEverywhere) {
  pb::RunSnapshot snapshot = PausedWithWaitingStep();
  EXPECT_EQ(RunStateLabel(pb::RUN_PAUSED, true), "⏸ Paused");
  EXPECT_EQ(RunStateLabel(pb::RUN_PAUSED, false), "|| Paused");
  EXPECT_EQ(RunStateLabel(pb::RUN_RUNNING, true), "running");

  std::string status = RenderStatus(snapshot, Options(120));
  EXPECT_TRUE(Contains(LineWith(status, "Run: "), "State: paused")) << status;
  EXPECT_TRUE(Contains(status, "Reason: paused by the user")) << status;

  EXPECT_EQ(StatusJson(snapshot, kT0 + 245'000)["run"]["state"], "paused");
  std::string list = RenderRunList({snapshot.run()}, Options(120));
  EXPECT_TRUE(Contains(Lines(list)[1], " paused ")) << list;

  pb::Event event;
  event.set_seq(43);
  event.set_time_ms(kT0 + 240'000);
  event.set_kind(pb::RUN_STATE_CHANGED);
  event.set_run_state(pb::RUN_PAUSED);
  event.set_message("paused by the user");
  std::string line = RenderEventLine(event, snapshot, Options(120));
  EXPECT_TRUE(Contains(line, "run r-1a2b3c paused: paused by the user")) << line;

  std::string summary = RenderSummary(snapshot, {}, Options(120));
  EXPECT_TRUE(Contains(summary, "Run r-1a2b3c paused")) << summary;
  EXPECT_TRUE(Contains(summary, "aetherflow resume r-1a2b3c")) << summary;
  EXPECT_FALSE(Contains(summary, "Again:")) << "nothing to run again: " << summary;
}

TEST_F(RenderTest, PendingStepSaysWhatItWaitsFor) {
  pb::Step step;
  step.set_state(pb::STEP_PENDING);
  step.set_waiting_for("gpu");
  EXPECT_EQ(StepStatusLabel(step, true), "○ Pending (gpu)");
  EXPECT_EQ(StepStatusLabel(step, false), "o Pending (gpu)");
  step.set_retry_at_ms(kT0);
  EXPECT_EQ(StepStatusLabel(step, true), "↻ Retrying (gpu)");
  step.set_retry_at_ms(0);
  step.clear_waiting_for();
  EXPECT_EQ(StepStatusLabel(step, true), "○ Pending");
  // Only a pending step waits.
  step.set_state(pb::STEP_RUNNING);
  step.set_waiting_for("gpu");
  EXPECT_EQ(StepStatusLabel(step, true), "⟳ Running");

  for (bool utf8 : {true, false}) {
    std::string status = RenderStatus(PausedWithWaitingStep(), Options(120, 245'000, utf8));
    std::string row = LineWith(status, "step_7");
    EXPECT_TRUE(Contains(row, utf8 ? "○ Pending (gpu)" : "o Pending (gpu)")) << status;
    EXPECT_TRUE(Contains(row, "Appliquer le correctif")) << row;
    // The table still lines up: the status column grew for every row.
    EXPECT_EQ(DisplayWidth(row.substr(0, row.find("Appliquer"))),
              DisplayWidth(LineWith(status, "Description").substr(
                  0, LineWith(status, "Description").find("Description"))))
        << status;
    if (!utf8) {
      EXPECT_FALSE(Contains(status, "○")) << status;
    }
  }
  // A long reason is cut, never the table's width.
  std::string status =
      RenderStatus(PausedWithWaitingStep("a deepseek slot, then a very long reason"),
                   Options(80));
  ExpectFits(status, 80);
  EXPECT_TRUE(Contains(LineWith(status, "step_7"), "○ Pending (a deep")) << status;
}

TEST_F(RenderTest, PlainLinesShowWhatAPendingStepWaitsFor) {
  pb::RunSnapshot snapshot = PausedWithWaitingStep("a slot");
  pb::Event event;
  event.set_seq(43);
  event.set_time_ms(kT0 + 240'000);
  event.set_kind(pb::STEP_STATE_CHANGED);
  event.set_step_id("step_7");
  event.set_step_state(pb::STEP_PENDING);
  std::string line = RenderEventLine(event, snapshot, Options(120));
  EXPECT_TRUE(Contains(line, "○ Pending (a slot)")) << line;

  std::string progress = RenderProgressLine(snapshot, Options(120));
  EXPECT_TRUE(Contains(progress, "waiting: step_7 (a slot)")) << progress;
  EXPECT_TRUE(Contains(progress, "paused")) << progress;
  progress = RenderProgressLine(SevenSteps(), Options(120));
  EXPECT_FALSE(Contains(progress, "waiting")) << progress;
  EXPECT_FALSE(Contains(progress, "paused")) << progress;
}

TEST_F(RenderTest, StatusJsonWaitingForAndResources) {
  pb::RunSnapshot snapshot = PausedWithWaitingStep();
  pb::StepResources* held = snapshot.mutable_steps(4)->mutable_resources();
  held->set_cpu(4);
  held->set_mem_bytes(8LL << 30);
  held->set_gpu(2);
  held->add_gpu_ids(0);
  held->add_gpu_ids(1);
  snapshot.mutable_steps(6)->mutable_resources()->set_gpu(1);
  nlohmann::json j = StatusJson(snapshot, kT0 + 245'000);

  const nlohmann::json& running = j["steps"][4];
  ASSERT_EQ(running["id"], "step_5");
  EXPECT_TRUE(running["waiting_for"].is_null());
  EXPECT_EQ(running["resources"],
            nlohmann::json::parse(
                R"({"cpu": 4.0, "mem_bytes": 8589934592, "gpu": 2, "gpu_ids": [0, 1]})"));
  const nlohmann::json& waiting = j["steps"][6];
  ASSERT_EQ(waiting["id"], "step_7");
  EXPECT_EQ(waiting["waiting_for"], "gpu");
  EXPECT_EQ(waiting["resources"]["gpu"], 1);
  EXPECT_EQ(waiting["resources"]["cpu"], 0);
  EXPECT_EQ(waiting["resources"]["gpu_ids"], nlohmann::json::array());
  // A step that asked for nothing: null, as every unknown.
  EXPECT_TRUE(j["steps"][0].contains("resources"));
  EXPECT_TRUE(j["steps"][0]["resources"].is_null());
  EXPECT_TRUE(j["steps"][0].contains("waiting_for"));
  snapshot.mutable_steps(0)->mutable_resources();  // present but empty
  EXPECT_TRUE(StatusJson(snapshot, kT0)["steps"][0]["resources"].is_null());
}

// Issue 18, point 3: off a terminal (kUnlimitedWidth) nothing is cut: a
// reason, a description, a log line are read whole.
TEST_F(RenderTest, UnlimitedWidthCutsNothing) {
  pb::RunSnapshot snapshot;
  snapshot.mutable_run()->set_id("r1");
  snapshot.mutable_run()->set_state(pb::RUN_FAILED);
  snapshot.mutable_run()->set_reason(std::string(300, 'r') + " END-OF-REASON");
  snapshot.mutable_run()->set_steps_total(1);
  *snapshot.add_steps() = MakeStep({"s", "", "shell", pb::STEP_FAILED, 1, 1'000, 2'000, {}, {},
                                    std::string(300, 'd') + " END-OF-DESCRIPTION"});
  snapshot.mutable_steps(0)->set_message(std::string(300, 'm') + " END-OF-MESSAGE");
  const RenderOptions options = Options(kUnlimitedWidth);
  const std::string status = RenderStatus(snapshot, options);
  EXPECT_TRUE(Contains(status, std::string(300, 'r') + " END-OF-REASON\n")) << status;
  EXPECT_TRUE(Contains(status, std::string(300, 'd') + " END-OF-DESCRIPTION\n")) << status;
  const std::string summary =
      RenderSummary(snapshot, {std::string(300, 'l') + " END-OF-LOG"}, options);
  EXPECT_TRUE(Contains(summary, std::string(300, 'm') + " END-OF-MESSAGE")) << summary;
  EXPECT_TRUE(Contains(summary, std::string(300, 'l') + " END-OF-LOG\n")) << summary;
  // A terminal's width still cuts.
  EXPECT_FALSE(Contains(RenderStatus(snapshot, Options(120)), "END-OF-REASON"));
}

// Issue 18, point 11: under LANG=C, "na?ve caf?", never split bytes.
TEST_F(RenderTest, NonUtf8LocaleShowsOneQuestionMarkPerCharacter) {
  pb::RunSnapshot snapshot;
  snapshot.mutable_run()->set_id("r1");
  snapshot.mutable_run()->set_description("naïve café");
  *snapshot.add_steps() =
      MakeStep({"s", "", "shell", pb::STEP_PENDING, 1, 0, 0, {}, {}, "crème brûlée"});
  const std::string status = RenderStatus(snapshot, Options(120, 0, /*utf8=*/false));
  EXPECT_TRUE(Contains(status, "Plan: na?ve caf?\n")) << status;
  EXPECT_TRUE(Contains(status, "cr?me br?l?e")) << status;
  EXPECT_TRUE(AllAscii(status)) << status;
}

}  // namespace
}  // namespace aetherflow
