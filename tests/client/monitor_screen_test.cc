#include "client/monitor_screen.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "common/text.h"
#include "gtest/gtest.h"

namespace aetherflow {
namespace {

namespace pb = ::aetherflow::v1;

constexpr int64_t kT0 = 1'769'421'600'000;  // 2026-01-26T10:00:00Z

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

bool StartsWith(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

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
      if (i + k >= s.size() || (static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) {
        return false;
      }
    }
    i += extra + 1;
  }
  return true;
}

struct StepSpec {
  std::string id;
  pb::StepState state = pb::STEP_PENDING;
  int batch = 1;
  int64_t start = -1;  // ms after kT0; -1 = never started
  int64_t end = -1;    // ms after kT0; -1 = not finished
  std::optional<int64_t> tokens{};
  std::optional<double> cost{};
  std::string description = "";
  std::string type = "refactoring";
  std::string provider = "deepseek";
};

pb::Step MakeStep(const StepSpec& spec) {
  pb::Step step;
  step.set_id(spec.id);
  step.set_type(spec.type);
  step.set_provider(spec.provider);
  step.set_state(spec.state);
  step.set_batch(spec.batch);
  step.set_attempt(spec.start >= 0 ? 1 : 0);
  if (spec.start >= 0) step.set_started_at_ms(kT0 + spec.start);
  if (spec.end >= 0) step.set_finished_at_ms(kT0 + spec.end);
  if (spec.tokens) step.set_tokens(*spec.tokens);
  if (spec.cost) step.set_cost(*spec.cost);
  step.set_description(spec.description);
  return step;
}

// A run whose counters agree with its steps.
pb::RunSnapshot MakeSnapshot(const std::vector<StepSpec>& specs,
                             std::string description = "Refactor the billing module",
                             pb::RunState state = pb::RUN_RUNNING, int batches = 6) {
  pb::RunSnapshot snapshot;
  pb::Run* run = snapshot.mutable_run();
  run->set_id("r1");
  run->set_description(description);
  run->set_state(state);
  run->set_created_at_ms(kT0);
  run->set_started_at_ms(kT0);
  run->set_batches(batches);
  run->set_steps_total(static_cast<int>(specs.size()));
  for (const StepSpec& spec : specs) {
    *snapshot.add_steps() = MakeStep(spec);
    switch (spec.state) {
      case pb::STEP_COMPLETED: run->set_completed(run->completed() + 1); break;
      case pb::STEP_FAILED: run->set_failed(run->failed() + 1); break;
      case pb::STEP_RUNNING: run->set_running(run->running() + 1); break;
      case pb::STEP_SKIPPED: run->set_skipped(run->skipped() + 1); break;
      case pb::STEP_CANCELLED: run->set_cancelled(run->cancelled() + 1); break;
      case pb::STEP_INTERRUPTED: run->set_interrupted(run->interrupted() + 1); break;
      default: break;
    }
  }
  return snapshot;
}

// The plan of SPEC §5's example: 7 steps, 4 completed, 2 running in
// batch 4 of 6; 15,230 tokens; $0.0123.
pb::RunSnapshot SevenSteps() {
  pb::RunSnapshot s = MakeSnapshot({
      {"step_1", pb::STEP_COMPLETED, 1, 0, 6'700, 1'000, 0.001, "Analyser le dépôt",
       "analysis", "gemini"},
      {"step_2", pb::STEP_COMPLETED, 2, 6'700, 55'500, 4'000, 0.003,
       "Réécrire la facturation — étape « TVA »"},
      {"step_3", pb::STEP_COMPLETED, 3, 55'500, 100'000, 5'000, 0.004,
       "重构数据库访问层以提高性能"},
      {"step_4", pb::STEP_RUNNING, 4, 100'000, -1, 0, {}, "Mettre à jour les tests"},
      {"step_5", pb::STEP_RUNNING, 4, 105'000, -1, {}, {}, "整理日志输出格式"},
      {"step_6", pb::STEP_COMPLETED, 4, 100'000, 104'000, 5'230, 0.0043,
       "Documenter l'API ✅", "code_generation"},
      {"step_7", pb::STEP_PENDING, 5, -1, -1, {}, {}, "Générer le résumé final",
       "code_generation"},
  });
  s.mutable_run()->set_tokens(15'230);
  s.mutable_run()->set_cost(0.0123);
  return s;
}

std::vector<StepSpec> ManySpecs(int n, int running_index) {
  static const char* kDescriptions[] = {
      "Réécrire le module de facturation pour gérer la TVA à 5,5 %",
      "重构数据库访问层以提高性能并减少锁争用",
      "Vérifier les entrées — ça dépend de l'humeur du réseau ☕",
      "データベースの移行スクリプトを生成する",
  };
  std::vector<StepSpec> specs;
  specs.reserve(n);
  for (int i = 0; i < n; ++i) {
    StepSpec spec;
    spec.id = "step_" + std::to_string(i);
    spec.batch = 1 + i / 100;
    spec.description = kDescriptions[i % 4];
    spec.type = i % 3 ? "code_generation" : "analysis";
    spec.provider = i % 2 ? "deepseek" : "gemini";
    if (i < running_index) {
      spec.state = i == 17 ? pb::STEP_FAILED : pb::STEP_COMPLETED;
      spec.start = i * 1'000;
      spec.end = i * 1'000 + 900;
      spec.tokens = i * 10;
      spec.cost = i * 0.0001;
    } else if (i == running_index) {
      spec.state = pb::STEP_RUNNING;
      spec.start = i * 1'000;
    } else {
      spec.state = i == running_index + 3 ? pb::STEP_SKIPPED : pb::STEP_PENDING;
    }
    specs.push_back(std::move(spec));
  }
  return specs;
}

const pb::RunSnapshot& TenThousand() {
  static const pb::RunSnapshot* snapshot =
      new pb::RunSnapshot(MakeSnapshot(ManySpecs(10'000, 5'000),
                                       "Migration complète — 迁移 10 000 étapes", pb::RUN_RUNNING,
                                       100));
  return *snapshot;
}

std::vector<std::string> Texts(const std::vector<ScreenLine>& lines) {
  std::vector<std::string> out;
  for (const ScreenLine& line : lines) out.push_back(line.text);
  return out;
}

// The first line starting with `prefix`, or null.
const ScreenLine* RowStarting(const std::vector<ScreenLine>& lines,
                              const std::string& prefix) {
  for (const ScreenLine& line : lines) {
    if (StartsWith(line.text, prefix)) return &line;
  }
  return nullptr;
}

const ScreenLine* LineWith(const std::vector<ScreenLine>& lines,
                           const std::string& needle) {
  for (const ScreenLine& line : lines) {
    if (Contains(line.text, needle)) return &line;
  }
  return nullptr;
}

// A right-aligned cell (Time, Tokens, Cost) of an ASCII row, located by
// the column header's label.
std::string RightCell(const std::string& header, const std::string& row,
                      const std::string& label) {
  std::size_t at = header.find(label);
  if (at == std::string::npos) return "<no column " + label + ">";
  std::string prefix = row.substr(0, std::min(row.size(), at + label.size()));
  std::size_t end = prefix.find_last_not_of(' ');
  if (end == std::string::npos) return "";
  std::size_t start = prefix.find_last_of(' ', end);
  return prefix.substr(start == std::string::npos ? 0 : start + 1,
                       end - (start == std::string::npos ? 0 : start + 1) + 1);
}

class MonitorScreenTest : public ::testing::Test {
 protected:
  static std::vector<ScreenLine> Layout(const pb::RunSnapshot& s, const MonitorUi& ui,
                                        int width = 160, int height = 40,
                                        int64_t now = kT0 + 125'000, bool utf8 = true) {
    return LayoutScreen(s, ui, width, height, now, utf8);
  }
};

void ExpectFits(const std::vector<ScreenLine>& lines, int width, int height,
                const std::string& what) {
  ASSERT_EQ(static_cast<int>(lines.size()), height) << what;
  // curses cannot write the bottom-right cell without scrolling.
  EXPECT_LT(DisplayWidth(lines.back().text), width) << what << ": [" << lines.back().text
                                                    << "]";
  for (const ScreenLine& line : lines) {
    EXPECT_LE(DisplayWidth(line.text), width) << what << ": [" << line.text << "]";
    EXPECT_TRUE(ValidUtf8(line.text)) << what << ": [" << line.text << "]";
    for (char c : line.text) {
      ASSERT_FALSE(static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
          << what << ": control character in [" << line.text << "]";
    }
    if (line.status_bytes > 0) {
      ASSERT_LE(line.status_byte + line.status_bytes, static_cast<int>(line.text.size()))
          << what;
      EXPECT_EQ(line.status_col, DisplayWidth(line.text.substr(0, line.status_byte)))
          << what << ": [" << line.text << "]";
      EXPECT_EQ(line.status_width,
                DisplayWidth(line.text.substr(line.status_byte, line.status_bytes)))
          << what << ": [" << line.text << "]";
    }
  }
}

TEST_F(MonitorScreenTest, ExactlyHeightLinesWithinWidthForAnySize) {
  const pb::RunSnapshot zero = MakeSnapshot({}, "Plan vide — 空的计划");
  const pb::RunSnapshot one = MakeSnapshot(
      {{"seul", pb::STEP_RUNNING, 1, 0, -1, {}, {}, "Tâche unique : 長い説明がここにあります"}});
  const pb::RunSnapshot seven = SevenSteps();
  std::vector<std::string> log;
  for (int i = 0; i < 50; ++i) {
    log.push_back("journal ligne " + std::to_string(i) +
                  " — 处理中\tavec une tabulation \033[31mrouge\033[0m et du texte très long "
                  "qui dépasse largement la largeur de n'importe quel terminal raisonnable");
  }
  struct View {
    const char* name;
    MonitorUi ui;
  };
  std::vector<View> views(4);
  views[0].name = "table";
  views[1].name = "log";
  views[1].ui.show_log = true;
  views[1].ui.log_tail = log;
  views[2].name = "help";
  views[2].ui.show_help = true;
  views[3].name = "confirm";
  views[3].ui.confirm_cancel = true;
  views[3].ui.follow = false;
  views[3].ui.selected = 3;
  views[3].ui.scroll = 2;

  const std::vector<int> widths = {20, 21, 23, 29, 33, 40, 47, 59, 60, 61, 80, 100, 132, 200};
  const std::vector<int> heights = {5, 6, 7, 8, 9, 10, 12, 13, 16, 24, 40, 60};
  struct Plan {
    const char* name;
    const pb::RunSnapshot* snapshot;
  };
  for (const Plan& plan : {Plan{"0 steps", &zero}, Plan{"1 step", &one},
                           Plan{"7 steps", &seven}, Plan{"10000 steps", &TenThousand()}}) {
    for (int width : widths) {
      for (int height : heights) {
        for (const View& view : views) {
          for (bool utf8 : {true, false}) {
            std::string what = std::string(plan.name) + " " + view.name + " " +
                               std::to_string(width) + "x" + std::to_string(height) +
                               (utf8 ? " utf8" : " ascii");
            ExpectFits(LayoutScreen(*plan.snapshot, view.ui, width, height,
                                    kT0 + 125'000, utf8),
                       width, height, what);
            if (HasFatalFailure()) return;
          }
        }
      }
    }
  }
}

TEST_F(MonitorScreenTest, HeaderShowsTheRunFigures) {
  MonitorUi ui;
  std::vector<ScreenLine> lines = Layout(SevenSteps(), ui);
  std::vector<std::string> text = Texts(lines);
  ASSERT_NE(RowStarting(lines, "Plan: Refactor the billing module"), nullptr);
  EXPECT_EQ(RowStarting(lines, "Plan: ")->style, Style::kTitle);
  ASSERT_NE(RowStarting(lines, "Run: r1  State: running"), nullptr);
  const ScreenLine* progress = RowStarting(lines, "Progress: 4/7 steps (57.1%)");
  ASSERT_NE(progress, nullptr);
  EXPECT_TRUE(Contains(progress->text, "█")) << progress->text;  // the bar
  const ScreenLine* counts = RowStarting(lines, "Completed: 4 | Failed: 0 | Running: 2");
  ASSERT_NE(counts, nullptr);
  EXPECT_FALSE(Contains(counts->text, "Skipped")) << "zero counts beyond the three stay out";
  const ScreenLine* figures = LineWith(lines, "Batch 4/6");
  ASSERT_NE(figures, nullptr);
  EXPECT_TRUE(Contains(figures->text, "Elapsed: 2m05s")) << figures->text;
  EXPECT_TRUE(Contains(figures->text, "Tokens: 15,230")) << figures->text;
  EXPECT_TRUE(Contains(figures->text, "Cost: $0.0123")) << figures->text;

  // The state word is a span styled as running.
  const ScreenLine* run = RowStarting(lines, "Run: r1");
  ASSERT_GT(run->status_bytes, 0);
  EXPECT_EQ(run->text.substr(run->status_byte, run->status_bytes), "running");
  EXPECT_EQ(run->status_style, Style::kRunning);
}

TEST_F(MonitorScreenTest, NonZeroSkippedAndCancelledAreCounted) {
  pb::RunSnapshot s = MakeSnapshot({{"a", pb::STEP_FAILED, 1, 0, 1'000},
                                    {"b", pb::STEP_SKIPPED},
                                    {"c", pb::STEP_CANCELLED}},
                                   "p", pb::RUN_FAILED);
  s.mutable_run()->set_finished_at_ms(kT0 + 2'000);
  s.mutable_run()->set_reason("step a failed (exit 3)");
  std::vector<ScreenLine> lines = Layout(s, MonitorUi{});
  const ScreenLine* counts = RowStarting(lines, "Completed: 0 | Failed: 1 | Running: 0");
  ASSERT_NE(counts, nullptr);
  EXPECT_TRUE(Contains(counts->text, "Skipped: 1")) << counts->text;
  EXPECT_TRUE(Contains(counts->text, "Cancelled: 1")) << counts->text;
  EXPECT_NE(LineWith(lines, "step a failed (exit 3)"), nullptr);
}

TEST_F(MonitorScreenTest, UnknownFiguresAreDashes) {
  pb::RunSnapshot s = MakeSnapshot({
      {"known0", pb::STEP_COMPLETED, 1, 0, 1'000, 0, 0.0},
      {"unknown", pb::STEP_PENDING},
  });
  MonitorUi ui;
  std::vector<ScreenLine> lines = Layout(s, ui, 200, 30, kT0 + 5'000, false);
  const ScreenLine* figures = LineWith(lines, "Batch ");
  ASSERT_NE(figures, nullptr);
  EXPECT_TRUE(Contains(figures->text, "Tokens: -")) << figures->text;
  EXPECT_TRUE(Contains(figures->text, "Cost: -")) << figures->text;
  const ScreenLine* header = RowStarting(lines, "Step");
  ASSERT_NE(header, nullptr);
  const ScreenLine* unknown = RowStarting(lines, "unknown ");
  ASSERT_NE(unknown, nullptr);
  EXPECT_EQ(RightCell(header->text, unknown->text, "Time"), "-") << unknown->text;
  EXPECT_EQ(RightCell(header->text, unknown->text, "Tokens"), "-") << unknown->text;
  EXPECT_EQ(RightCell(header->text, unknown->text, "Cost"), "-") << unknown->text;
  // A known zero is not unknown.
  const ScreenLine* known = RowStarting(lines, "known0 ");
  ASSERT_NE(known, nullptr);
  EXPECT_EQ(RightCell(header->text, known->text, "Tokens"), "0") << known->text;
  EXPECT_EQ(RightCell(header->text, known->text, "Cost"), "$0.0000") << known->text;
  EXPECT_EQ(RightCell(header->text, known->text, "Time"), "1.0s") << known->text;
}

TEST_F(MonitorScreenTest, RunningTimeTicksWithNow) {
  pb::RunSnapshot s = MakeSnapshot({
      {"done", pb::STEP_COMPLETED, 1, 0, 40'000},
      {"busy", pb::STEP_RUNNING, 2, 100'000},
  });
  MonitorUi ui;
  std::vector<ScreenLine> early = Layout(s, ui, 120, 20, kT0 + 110'000, false);
  std::vector<ScreenLine> later = Layout(s, ui, 120, 20, kT0 + 195'000, false);
  const std::string header = RowStarting(early, "Step")->text;
  ASSERT_NE(RowStarting(early, "busy "), nullptr);
  EXPECT_EQ(RightCell(header, RowStarting(early, "busy ")->text, "Time"), "10.0s");
  EXPECT_EQ(RightCell(header, RowStarting(later, "busy ")->text, "Time"), "1m35s");
  EXPECT_EQ(RightCell(header, RowStarting(early, "done ")->text, "Time"), "40.0s");
  EXPECT_EQ(RightCell(header, RowStarting(later, "done ")->text, "Time"), "40.0s");
  // The run's elapsed time ticks too.
  EXPECT_TRUE(Contains(LineWith(early, "Elapsed:")->text, "Elapsed: 1m50s"));
  EXPECT_TRUE(Contains(LineWith(later, "Elapsed:")->text, "Elapsed: 3m15s"));
}

TEST_F(MonitorScreenTest, FollowKeepsTheRunningStepInViewOfTenThousand) {
  const pb::RunSnapshot& s = TenThousand();
  MonitorUi ui;  // follow on, scroll 0
  const int height = 30;
  std::vector<ScreenLine> lines = Layout(s, ui, 120, height);
  const ScreenLine* running = RowStarting(lines, "step_5000 ");
  ASSERT_NE(running, nullptr) << "the running step is not in view";
  EXPECT_EQ(running->style, Style::kSelected);
  EXPECT_EQ(running->status_style, Style::kRunning);

  TableWindow window = ResolveWindow(s, ui, height);
  EXPECT_EQ(window.selected, 5000);
  EXPECT_LE(window.first, 5000);
  EXPECT_GT(window.first + window.count, 5000);
  EXPECT_EQ(ClampScroll(s, ui, height), window.first);
  EXPECT_EQ(window.total, 10000);
  // The footer says where the window is.
  const std::string& footer = lines.back().text;
  const std::string where = "steps " + std::to_string(window.first + 1) + "-" +
                            std::to_string(window.first + window.count) + " of 10000";
  EXPECT_TRUE(Contains(footer, where)) << footer;

  // Stored back, the window stays put while the running step stays in it.
  SyncView(s, &ui, height);
  EXPECT_EQ(ui.scroll, window.first);
  pb::RunSnapshot next = s;
  next.mutable_steps(5000)->set_state(pb::STEP_COMPLETED);
  next.mutable_steps(5001)->set_state(pb::STEP_RUNNING);
  TableWindow moved = ResolveWindow(next, ui, height);
  EXPECT_EQ(moved.selected, 5001);
  EXPECT_EQ(moved.first, window.first);

  // Without follow, the window is where the user left it.
  ui.follow = false;
  ui.selected = 10;
  ui.scroll = 0;
  lines = Layout(s, ui, 120, height);
  EXPECT_EQ(RowStarting(lines, "step_5000 "), nullptr);
  ASSERT_NE(RowStarting(lines, "step_10 "), nullptr);
  EXPECT_EQ(RowStarting(lines, "step_10 ")->style, Style::kSelected);
}

TEST_F(MonitorScreenTest, KeysMoveTheSelectionAndScroll) {
  pb::RunSnapshot s = MakeSnapshot(ManySpecs(100, 1000));  // nothing running
  const int height = 20;
  MonitorUi ui;
  EXPECT_EQ(HandleKey(kKeyDown, s, &ui, height), MonitorAction::kRedraw);
  EXPECT_FALSE(ui.follow);
  EXPECT_EQ(ui.selected, 1);
  HandleKey('j', s, &ui, height);
  HandleKey(kKeyDown, s, &ui, height);
  EXPECT_EQ(ui.selected, 3);
  HandleKey('k', s, &ui, height);
  EXPECT_EQ(ui.selected, 2);

  const int rows = ResolveWindow(s, ui, height).count;
  ASSERT_GT(rows, 3);
  ASSERT_LT(rows, 100);
  HandleKey(kKeyPageDown, s, &ui, height);
  EXPECT_EQ(ui.selected, 2 + rows);
  TableWindow w = ResolveWindow(s, ui, height);
  EXPECT_LE(w.first, ui.selected);
  EXPECT_GT(w.first + w.count, ui.selected);
  EXPECT_GT(w.first, 0) << "a page down scrolls";

  HandleKey(kKeyEnd, s, &ui, height);
  EXPECT_EQ(ui.selected, 99);
  std::vector<ScreenLine> lines = Layout(s, ui, 120, height);
  ASSERT_NE(RowStarting(lines, "step_99 "), nullptr);
  EXPECT_EQ(RowStarting(lines, "step_99 ")->style, Style::kSelected);
  EXPECT_TRUE(Contains(lines.back().text, "-100 of 100")) << lines.back().text;
  EXPECT_EQ(RowStarting(lines, "step_0 "), nullptr);

  HandleKey(kKeyDown, s, &ui, height);
  EXPECT_EQ(ui.selected, 99) << "the selection stops at the last row";
  HandleKey(kKeyPageUp, s, &ui, height);
  EXPECT_EQ(ui.selected, 99 - rows);
  HandleKey(kKeyHome, s, &ui, height);
  EXPECT_EQ(ui.selected, 0);
  EXPECT_EQ(ui.scroll, 0);
  HandleKey(kKeyUp, s, &ui, height);
  EXPECT_EQ(ui.selected, 0);
  lines = Layout(s, ui, 120, height);
  ASSERT_NE(RowStarting(lines, "step_0 "), nullptr);
  EXPECT_TRUE(Contains(lines.back().text, "steps 1-")) << lines.back().text;

  EXPECT_EQ(HandleKey('f', s, &ui, height), MonitorAction::kRedraw);
  EXPECT_TRUE(ui.follow);
  EXPECT_EQ(HandleKey('x', s, &ui, height), MonitorAction::kNone);
  EXPECT_EQ(HandleKey(kKeyResize, s, &ui, height), MonitorAction::kRedraw);
  EXPECT_EQ(HandleKey('q', s, &ui, height), MonitorAction::kDetach);
}

TEST_F(MonitorScreenTest, SelectedRowIsHighlightedAndStatusSpansStyled) {
  pb::RunSnapshot s = SevenSteps();
  *s.add_steps() = MakeStep({"step_8", pb::STEP_FAILED, 5, 0, 3'000});
  MonitorUi ui;
  ui.follow = false;
  ui.selected = 7;
  std::vector<ScreenLine> lines = Layout(s, ui);
  int selected = 0;
  for (const ScreenLine& line : lines) selected += line.style == Style::kSelected;
  EXPECT_EQ(selected, 1);
  const ScreenLine* failed = RowStarting(lines, "step_8 ");
  ASSERT_NE(failed, nullptr);
  EXPECT_EQ(failed->style, Style::kSelected);
  EXPECT_EQ(failed->text.substr(failed->status_byte, failed->status_bytes), "✗ Failed");
  EXPECT_EQ(failed->status_style, Style::kFailed);
  const ScreenLine* done = RowStarting(lines, "step_1 ");
  ASSERT_NE(done, nullptr);
  EXPECT_EQ(done->style, Style::kNormal);
  EXPECT_EQ(done->text.substr(done->status_byte, done->status_bytes), "✓ Completed");
  EXPECT_EQ(done->status_style, Style::kCompleted);
  const ScreenLine* pending = RowStarting(lines, "step_7 ");
  ASSERT_NE(pending, nullptr);
  EXPECT_EQ(pending->text.substr(pending->status_byte, pending->status_bytes), "○ Pending");
  EXPECT_EQ(pending->status_style, Style::kPending);
  const ScreenLine* running = RowStarting(lines, "step_4 ");
  EXPECT_EQ(running->text.substr(running->status_byte, running->status_bytes), "⟳ Running");
}

TEST_F(MonitorScreenTest, TableHasTheSpecColumnsAndDropsThemWhenNarrow) {
  pb::RunSnapshot s = SevenSteps();
  MonitorUi ui;
  std::vector<ScreenLine> lines = Layout(s, ui, 200, 30);
  ASSERT_NE(RowStarting(lines, "Step"), nullptr);
  std::string wide = RowStarting(lines, "Step")->text;
  for (const char* label :
       {"Type", "Provider", "Status", "Time", "Tokens", "Cost", "Description"}) {
    EXPECT_TRUE(Contains(wide, label)) << label << " in " << wide;
  }
  lines = Layout(s, ui, 40, 30);
  ASSERT_NE(RowStarting(lines, "Step"), nullptr);
  std::string narrow = RowStarting(lines, "Step")->text;
  EXPECT_FALSE(Contains(narrow, "Tokens")) << narrow;
  EXPECT_TRUE(Contains(narrow, "Status")) << narrow;
  // The description is cut by display columns, with an ellipsis.
  std::vector<ScreenLine> mid = Layout(s, ui, 80, 30);
  const ScreenLine* cjk = RowStarting(mid, "step_3 ");
  ASSERT_NE(cjk, nullptr);
  EXPECT_LE(DisplayWidth(cjk->text), 80);
  EXPECT_TRUE(Contains(cjk->text, "重构")) << cjk->text;
  // Very narrow: still the step and its status symbol.
  std::vector<ScreenLine> tiny = Layout(s, ui, 20, 30);
  const ScreenLine* row = RowStarting(tiny, "step_5");
  ASSERT_NE(row, nullptr);
  EXPECT_TRUE(Contains(row->text, "⟳")) << row->text;
}

TEST_F(MonitorScreenTest, StepWaitingForARetrySaysSo) {
  pb::RunSnapshot s = MakeSnapshot({{"flaky", pb::STEP_PENDING, 1, 0, 2'000}});
  s.mutable_steps(0)->set_retry_at_ms(kT0 + 9'000);
  std::vector<ScreenLine> lines = Layout(s, MonitorUi{});
  const ScreenLine* row = RowStarting(lines, "flaky ");
  ASSERT_NE(row, nullptr);
  EXPECT_EQ(row->text.substr(row->status_byte, row->status_bytes), "↻ Retrying");
  EXPECT_EQ(row->status_style, Style::kWarning);
}

TEST_F(MonitorScreenTest, RunningProgressPrefixesTheDescription) {
  pb::RunSnapshot s = MakeSnapshot({{"hp", pb::STEP_RUNNING, 1, 0, -1, {}, {}, "Recherche"}});
  s.mutable_steps(0)->set_progress("Trial 5/100");
  std::vector<ScreenLine> lines = Layout(s, MonitorUi{});
  EXPECT_TRUE(Contains(RowStarting(lines, "hp ")->text, "[Trial 5/100] Recherche"));
}

TEST_F(MonitorScreenTest, LogViewShowsTheLastLinesThatFit) {
  pb::RunSnapshot s = SevenSteps();
  MonitorUi ui;
  ui.follow = false;
  ui.selected = 1;
  ui.show_log = true;
  for (int i = 1; i <= 100; ++i) ui.log_tail.push_back("line " + std::to_string(i));
  const int height = 14;
  std::vector<ScreenLine> lines = Layout(s, ui, 80, height);
  int title = -1;
  for (int i = 0; i < height; ++i) {
    if (lines[i].text == "Log of step_2 (Enter/Esc to close)") title = i;
  }
  ASSERT_GE(title, 0);
  // From the title to the footer: consecutive lines ending with the last.
  const int shown = height - 1 - (title + 1);
  ASSERT_GT(shown, 0);
  for (int k = 0; k < shown; ++k) {
    EXPECT_EQ(lines[title + 1 + k].text, "line " + std::to_string(100 - shown + 1 + k));
  }
  for (const ScreenLine& line : lines) EXPECT_NE(line.text, "line 1");

  // A log shorter than the room is shown whole, from its top.
  ui.log_tail = {"first", "second"};
  lines = Layout(s, ui, 80, height);
  ASSERT_NE(RowStarting(lines, "first"), nullptr);
  ASSERT_NE(RowStarting(lines, "second"), nullptr);

  // A tall screen keeps some of the table above the log.
  lines = Layout(s, ui, 80, 60);
  EXPECT_NE(RowStarting(lines, "Step"), nullptr);
  EXPECT_NE(RowStarting(lines, "step_2 "), nullptr);
  EXPECT_NE(RowStarting(lines, "Log of step_2"), nullptr);

  // Colours and tabs from the log are made safe.
  ui.log_tail = {"\033[31mrouge\033[0m\tfin"};
  lines = Layout(s, ui, 80, height);
  EXPECT_NE(RowStarting(lines, "rouge fin"), nullptr);

  // An empty log says so.
  ui.log_tail.clear();
  lines = Layout(s, ui, 80, height);
  EXPECT_NE(LineWith(lines, "no output"), nullptr);
}

TEST_F(MonitorScreenTest, EnterAndEscapeOpenAndCloseTheLog) {
  pb::RunSnapshot s = SevenSteps();
  MonitorUi ui;  // follow: the selection is the first running step
  EXPECT_EQ(HandleKey('\n', s, &ui, 30), MonitorAction::kOpenLog);
  EXPECT_TRUE(ui.show_log);
  EXPECT_FALSE(ui.follow) << "the log stays on the step it was opened for";
  EXPECT_EQ(ui.selected, 3);  // step_4
  EXPECT_EQ(HandleKey(kKeyDown, s, &ui, 30), MonitorAction::kOpenLog);
  EXPECT_EQ(ui.selected, 4);
  EXPECT_EQ(HandleKey(kKeyEnter, s, &ui, 30), MonitorAction::kCloseLog);
  EXPECT_FALSE(ui.show_log);
  EXPECT_EQ(HandleKey('\r', s, &ui, 30), MonitorAction::kOpenLog);
  EXPECT_EQ(HandleKey(kKeyEscape, s, &ui, 30), MonitorAction::kCloseLog);
  EXPECT_FALSE(ui.show_log);
  EXPECT_EQ(HandleKey(kKeyEscape, s, &ui, 30), MonitorAction::kNone);
}

TEST_F(MonitorScreenTest, HelpListsTheKeys) {
  MonitorUi ui;
  EXPECT_EQ(HandleKey('?', SevenSteps(), &ui, 30), MonitorAction::kRedraw);
  EXPECT_TRUE(ui.show_help);
  std::vector<ScreenLine> lines = Layout(SevenSteps(), ui, 100, 30);
  EXPECT_NE(LineWith(lines, "Keys"), nullptr);
  EXPECT_NE(LineWith(lines, "detach"), nullptr);
  EXPECT_NE(LineWith(lines, "cancel"), nullptr);
  EXPECT_NE(LineWith(lines, "Enter"), nullptr);
  EXPECT_NE(LineWith(lines, "follow"), nullptr);
  EXPECT_EQ(RowStarting(lines, "step_1 "), nullptr) << "the help replaces the table";
  EXPECT_NE(RowStarting(lines, "Progress:"), nullptr) << "the header stays";
  EXPECT_EQ(HandleKey(kKeyEscape, SevenSteps(), &ui, 30), MonitorAction::kRedraw);
  EXPECT_FALSE(ui.show_help);
  HandleKey('?', SevenSteps(), &ui, 30);
  HandleKey('?', SevenSteps(), &ui, 30);
  EXPECT_FALSE(ui.show_help);
}

TEST_F(MonitorScreenTest, CancelAsksForConfirmation) {
  pb::RunSnapshot s = SevenSteps();
  MonitorUi ui;
  std::vector<ScreenLine> lines = Layout(s, ui);
  EXPECT_TRUE(Contains(lines.back().text, "q detach")) << lines.back().text;
  EXPECT_TRUE(Contains(lines.back().text, "c cancel")) << lines.back().text;

  EXPECT_EQ(HandleKey('c', s, &ui, 40), MonitorAction::kRedraw);
  EXPECT_TRUE(ui.confirm_cancel);
  lines = Layout(s, ui);
  EXPECT_TRUE(StartsWith(lines.back().text, "Cancel run r1? y/n")) << lines.back().text;
  EXPECT_EQ(lines.back().style, Style::kWarning);
  EXPECT_EQ(HandleKey(kKeyDown, s, &ui, 40), MonitorAction::kNone) << "waits for y/n";
  EXPECT_EQ(HandleKey('n', s, &ui, 40), MonitorAction::kRedraw);
  EXPECT_FALSE(ui.confirm_cancel);
  HandleKey('c', s, &ui, 40);
  EXPECT_EQ(HandleKey(kKeyEscape, s, &ui, 40), MonitorAction::kRedraw);
  EXPECT_FALSE(ui.confirm_cancel);
  HandleKey('c', s, &ui, 40);
  EXPECT_EQ(HandleKey('y', s, &ui, 40), MonitorAction::kCancelConfirmed);
  EXPECT_FALSE(ui.confirm_cancel);

  // A finished run cannot be cancelled: a message, no question.
  s.mutable_run()->set_state(pb::RUN_SUCCEEDED);
  EXPECT_EQ(HandleKey('c', s, &ui, 40), MonitorAction::kRedraw);
  EXPECT_FALSE(ui.confirm_cancel);
  EXPECT_FALSE(ui.flash.empty());
  lines = Layout(s, ui);
  EXPECT_EQ(lines.back().text.substr(0, ui.flash.size()), ui.flash);
}

TEST_F(MonitorScreenTest, FlashReplacesTheHints) {
  MonitorUi ui;
  ui.flash = "Annulation envoyée — 已发送";
  std::vector<ScreenLine> lines = Layout(SevenSteps(), ui);
  EXPECT_TRUE(StartsWith(lines.back().text, ui.flash)) << lines.back().text;
  EXPECT_FALSE(Contains(lines.back().text, "q detach"));
  EXPECT_EQ(HandleKey(kKeyEscape, SevenSteps(), &ui, 40), MonitorAction::kRedraw);
  EXPECT_TRUE(ui.flash.empty());
}

TEST_F(MonitorScreenTest, AsciiModeHasNoHighBytes) {
  pb::RunSnapshot s = MakeSnapshot({
      {"a", pb::STEP_COMPLETED, 1, 0, 1'000, 10, 0.5, "plain"},
      {"b", pb::STEP_RUNNING, 2, 1'000, -1, {}, {}, "text"},
      {"c", pb::STEP_FAILED, 2, 1'000, 2'000},
      {"d", pb::STEP_SKIPPED},
      {"e", pb::STEP_CANCELLED},
      {"f", pb::STEP_INTERRUPTED, 2, 1'000, 3'000},
      {"g", pb::STEP_PENDING},
  }, "An ASCII plan");
  s.mutable_steps(6)->set_retry_at_ms(kT0 + 9'000);
  s.mutable_steps(6)->set_waiting_for("gpu");
  std::vector<MonitorUi> views(6);
  views[1].show_log = true;
  views[1].log_tail = {"ascii log line"};
  views[2].show_help = true;
  views[3].confirm_cancel = true;
  views[4].confirm_pause = true;
  views[5].confirm_resume = true;
  for (const MonitorUi& ui : views) {
    for (int width : {20, 45, 80, 200}) {
      for (int height : {5, 12, 40}) {
        for (const ScreenLine& line : LayoutScreen(s, ui, width, height, kT0 + 5'000, false)) {
          for (char c : line.text) {
            ASSERT_LT(static_cast<unsigned char>(c), 0x80)
                << width << "x" << height << ": [" << line.text << "]";
          }
        }
      }
    }
  }
  std::vector<ScreenLine> lines = LayoutScreen(s, MonitorUi{}, 120, 30, kT0 + 5'000, false);
  EXPECT_TRUE(Contains(RowStarting(lines, "a ")->text, "v Completed"));
  EXPECT_TRUE(Contains(RowStarting(lines, "b ")->text, "> Running"));
  EXPECT_TRUE(Contains(RowStarting(lines, "c ")->text, "x Failed"));
}

TEST_F(MonitorScreenTest, ZeroStepsRender) {
  pb::RunSnapshot s = MakeSnapshot({}, "Rien à faire", pb::RUN_SUCCEEDED, 0);
  MonitorUi ui;
  std::vector<ScreenLine> lines = Layout(s, ui, 80, 20);
  ASSERT_EQ(lines.size(), 20u);
  EXPECT_NE(RowStarting(lines, "Progress: 0/0 steps (0.0%)"), nullptr);
  EXPECT_NE(LineWith(lines, "no steps"), nullptr);
  EXPECT_EQ(HandleKey(kKeyDown, s, &ui, 20), MonitorAction::kRedraw);
  EXPECT_EQ(HandleKey('\n', s, &ui, 20), MonitorAction::kRedraw);
  EXPECT_FALSE(ui.show_log);
}

TEST_F(MonitorScreenTest, ShortScreensKeepProgressAndTable) {
  MonitorUi ui;
  std::vector<ScreenLine> lines = Layout(TenThousand(), ui, 80, 5);
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_TRUE(StartsWith(lines[0].text, "Progress:")) << lines[0].text;
  EXPECT_TRUE(StartsWith(lines[1].text, "Step")) << lines[1].text;
  EXPECT_NE(RowStarting(lines, "step_5000 "), nullptr);
}

// SPEC §9: pause from the monitor, the paused header, steps that wait.

TEST_F(MonitorScreenTest, PauseAsksForConfirmationLikeCancel) {
  pb::RunSnapshot s = SevenSteps();
  MonitorUi ui;
  std::vector<ScreenLine> lines = Layout(s, ui);
  EXPECT_TRUE(Contains(lines.back().text, "p pause")) << lines.back().text;

  EXPECT_EQ(HandleKey('p', s, &ui, 40), MonitorAction::kRedraw);
  EXPECT_TRUE(ui.confirm_pause);
  EXPECT_FALSE(ui.confirm_cancel);
  lines = Layout(s, ui);
  EXPECT_TRUE(StartsWith(lines.back().text, "Pause run r1? y/n")) << lines.back().text;
  EXPECT_EQ(lines.back().style, Style::kWarning);
  EXPECT_EQ(HandleKey(kKeyDown, s, &ui, 40), MonitorAction::kNone) << "waits for y/n";
  EXPECT_EQ(HandleKey('c', s, &ui, 40), MonitorAction::kNone) << "one question at a time";
  EXPECT_TRUE(ui.confirm_pause);
  EXPECT_FALSE(ui.confirm_cancel);
  EXPECT_EQ(HandleKey('n', s, &ui, 40), MonitorAction::kRedraw);
  EXPECT_FALSE(ui.confirm_pause);
  EXPECT_TRUE(Contains(Layout(s, ui).back().text, "q detach")) << "the hints are back";
  HandleKey('P', s, &ui, 40);
  EXPECT_EQ(HandleKey(kKeyEscape, s, &ui, 40), MonitorAction::kRedraw);
  EXPECT_FALSE(ui.confirm_pause);
  HandleKey('p', s, &ui, 40);
  EXPECT_EQ(HandleKey('y', s, &ui, 40), MonitorAction::kPauseConfirmed);
  EXPECT_FALSE(ui.confirm_pause);
  EXPECT_EQ(HandleKey('y', s, &ui, 40), MonitorAction::kNone) << "answered once";

  // A queued run can be paused too.
  s.mutable_run()->set_state(pb::RUN_QUEUED);
  HandleKey('p', s, &ui, 40);
  EXPECT_TRUE(ui.confirm_pause);
  EXPECT_EQ(HandleKey('Y', s, &ui, 40), MonitorAction::kPauseConfirmed);
}

TEST_F(MonitorScreenTest, POnAPausedRunOffersToGoOn) {
  pb::RunSnapshot s = SevenSteps();
  s.mutable_run()->set_state(pb::RUN_PAUSED);
  MonitorUi ui;
  EXPECT_TRUE(Contains(Layout(s, ui).back().text, "p resume"))
      << Layout(s, ui).back().text;
  EXPECT_EQ(HandleKey('p', s, &ui, 40), MonitorAction::kRedraw);
  EXPECT_TRUE(ui.confirm_resume);
  EXPECT_FALSE(ui.confirm_pause);
  std::vector<ScreenLine> lines = Layout(s, ui);
  EXPECT_TRUE(StartsWith(lines.back().text, "Resume run r1? y/n")) << lines.back().text;
  EXPECT_EQ(HandleKey('n', s, &ui, 40), MonitorAction::kRedraw);
  EXPECT_FALSE(ui.confirm_resume);
  HandleKey('p', s, &ui, 40);
  EXPECT_EQ(HandleKey('y', s, &ui, 40), MonitorAction::kResumeConfirmed);
  EXPECT_FALSE(ui.confirm_resume);

  // The question asked is the answer given, even if the run's state moved
  // while it was on the screen.
  HandleKey('p', s, &ui, 40);
  s.mutable_run()->set_state(pb::RUN_RUNNING);
  EXPECT_EQ(HandleKey('y', s, &ui, 40), MonitorAction::kResumeConfirmed);

  // A paused run can still be cancelled.
  s.mutable_run()->set_state(pb::RUN_PAUSED);
  HandleKey('c', s, &ui, 40);
  EXPECT_TRUE(ui.confirm_cancel);
  EXPECT_EQ(HandleKey('y', s, &ui, 40), MonitorAction::kCancelConfirmed);

  // A finished run can be neither paused nor resumed from here.
  s.mutable_run()->set_state(pb::RUN_CANCELLED);
  EXPECT_EQ(HandleKey('p', s, &ui, 40), MonitorAction::kRedraw);
  EXPECT_FALSE(ui.confirm_pause);
  EXPECT_FALSE(ui.confirm_resume);
  EXPECT_EQ(ui.flash, "Run r1 is already cancelled");
}

TEST_F(MonitorScreenTest, PausedRunHeaderSaysPausedInUtf8AndAscii) {
  pb::RunSnapshot s = SevenSteps();
  s.mutable_run()->set_state(pb::RUN_PAUSED);
  for (bool utf8 : {true, false}) {
    const std::string label = utf8 ? "⏸ Paused" : "|| Paused";
    std::vector<ScreenLine> lines = Layout(s, MonitorUi{}, 160, 40, kT0 + 125'000, utf8);
    const ScreenLine* run = RowStarting(lines, "Run: r1");
    ASSERT_NE(run, nullptr);
    EXPECT_TRUE(StartsWith(run->text, "Run: r1  State: " + label)) << run->text;
    EXPECT_EQ(run->text.substr(run->status_byte, run->status_bytes), label);
    EXPECT_EQ(run->status_style, Style::kWarning);
    // Narrow: "ID state", the state never cut.
    lines = Layout(s, MonitorUi{}, 20, 12, kT0 + 125'000, utf8);
    ExpectFits(lines, 20, 12, utf8 ? "utf8 20x12" : "ascii 20x12");
    EXPECT_NE(LineWith(lines, "r1 " + label), nullptr);
  }
}

TEST_F(MonitorScreenTest, PendingStepSaysWhatItWaitsFor) {
  pb::RunSnapshot s = SevenSteps();
  s.mutable_steps(6)->set_waiting_for("gpu");
  for (bool utf8 : {true, false}) {
    const std::string label = utf8 ? "○ Pending (gpu)" : "o Pending (gpu)";
    std::vector<ScreenLine> lines = Layout(s, MonitorUi{}, 160, 40, kT0 + 125'000, utf8);
    const ScreenLine* row = RowStarting(lines, "step_7 ");
    ASSERT_NE(row, nullptr);
    EXPECT_EQ(row->text.substr(row->status_byte, row->status_bytes), label) << row->text;
    EXPECT_EQ(row->status_style, Style::kPending);
    // Not UTF-8: one "?" per accented letter.
    const std::string desc = utf8 ? "Générer le résumé final" : "G?n?rer le r?sum? final";
    EXPECT_TRUE(Contains(row->text, desc)) << row->text;
    // The other rows' descriptions line up with it.
    const ScreenLine* other = RowStarting(lines, "step_4 ");
    ASSERT_NE(other, nullptr);
    EXPECT_EQ(DisplayWidth(row->text.substr(0, row->text.find(desc))),
              DisplayWidth(other->text.substr(0, other->text.find("Mettre"))));
  }
  // A long reason is cut to the column; every size still fits.
  s.mutable_steps(6)->set_waiting_for("a deepseek slot and then some more words");
  for (int width : {20, 45, 80, 120, 200}) {
    for (int height : {5, 12, 40}) {
      for (bool utf8 : {true, false}) {
        ExpectFits(Layout(s, MonitorUi{}, width, height, kT0 + 125'000, utf8), width,
                   height, std::to_string(width) + "x" + std::to_string(height));
      }
    }
  }
  std::vector<ScreenLine> lines = Layout(s, MonitorUi{}, 200, 40);
  EXPECT_TRUE(Contains(RowStarting(lines, "step_7 ")->text, "○ Pending (a deepseek slot"))
      << RowStarting(lines, "step_7 ")->text;
}

TEST_F(MonitorScreenTest, HelpListsPause) {
  MonitorUi ui;
  ui.show_help = true;
  std::vector<ScreenLine> lines = Layout(SevenSteps(), ui, 100, 30);
  const ScreenLine* pause = LineWith(lines, "pause");
  ASSERT_NE(pause, nullptr);
  EXPECT_TRUE(StartsWith(pause->text, "  p ")) << pause->text;
}

// Issue 18: a pending step's log pane says why it has not started rather
// than being blank.
TEST_F(MonitorScreenTest, LogOfAPendingStepSaysWhatItWaitsFor) {
  pb::RunSnapshot s = MakeSnapshot({{"prep", pb::STEP_COMPLETED, 1, 0, 1'000},
                                    {"fetch", pb::STEP_RUNNING, 1, 0},
                                    {"build", pb::STEP_PENDING, 1},
                                    {"join", pb::STEP_PENDING, 2}});
  s.mutable_steps(3)->add_dependencies("prep");
  s.mutable_steps(3)->add_dependencies("fetch");
  s.mutable_steps(3)->add_dependencies("build");
  MonitorUi ui;
  ui.follow = false;
  ui.selected = 3;
  ui.show_log = true;
  std::vector<ScreenLine> lines = Layout(s, ui, 100, 30);
  EXPECT_NE(LineWith(lines, "not started: waiting for fetch, build"), nullptr)
      << absl::StrJoin(Texts(lines), "\n");
  EXPECT_EQ(LineWith(lines, "(no output yet)"), nullptr);

  // No dependency left: what the daemon says it waits for.
  s.mutable_steps(3)->clear_dependencies();
  s.mutable_steps(3)->set_waiting_for("gpu");
  lines = Layout(s, ui, 100, 30);
  EXPECT_NE(LineWith(lines, "not started: waiting for gpu"), nullptr)
      << absl::StrJoin(Texts(lines), "\n");

  // A running step with no output yet says so, as before.
  ui.selected = 1;
  lines = Layout(s, ui, 100, 30);
  EXPECT_NE(LineWith(lines, "(no output yet)"), nullptr);
}

// Issue 18: the progress `poll` reads ("Epoch 9/20") stays in view above a
// running step's log.
TEST_F(MonitorScreenTest, LogTitleShowsTheRunningStepsProgress) {
  pb::RunSnapshot s = MakeSnapshot({{"train", pb::STEP_RUNNING, 1, 0}});
  s.mutable_steps(0)->set_progress("Epoch 9/20 (45%, ETA 1m10s)");
  MonitorUi ui;
  ui.show_log = true;
  ui.log_tail = {"loss 0.5"};
  std::vector<ScreenLine> lines = Layout(s, ui, 100, 30);
  EXPECT_NE(RowStarting(lines, "Log of train [Epoch 9/20 (45%, ETA 1m10s)]"), nullptr)
      << absl::StrJoin(Texts(lines), "\n");
}

// Issue 18: under LANG=C every non-ASCII character is one "?", never bytes
// of it.
TEST_F(MonitorScreenTest, NonUtf8LocaleShowsQuestionMarksNotBytes) {
  pb::RunSnapshot s = MakeSnapshot(
      {{"s", pb::STEP_RUNNING, 1, 0, -1, {}, {}, "naïve café 重构"}}, "Démo — naïve");
  std::vector<ScreenLine> lines = Layout(s, MonitorUi{}, 120, 20, kT0 + 5'000, false);
  for (const ScreenLine& line : lines) {
    for (char c : line.text) {
      ASSERT_LT(static_cast<unsigned char>(c), 0x80) << line.text;
    }
  }
  EXPECT_NE(RowStarting(lines, "Plan: D?mo ? na?ve"), nullptr)
      << absl::StrJoin(Texts(lines), "\n");
  EXPECT_NE(LineWith(lines, "na?ve caf? ??"), nullptr) << absl::StrJoin(Texts(lines), "\n");
}

}  // namespace
}  // namespace aetherflow
