#include "common/checkin.h"

#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace aetherflow {
namespace {

// ---------------------------------------------------------------- schedule

std::vector<int64_t> Schedule(std::string_view text) {
  absl::StatusOr<std::vector<int64_t>> s = ParseSchedule(text);
  EXPECT_TRUE(s.ok()) << text << ": " << s.status();
  return s.ok() ? *s : std::vector<int64_t>{};
}

bool Rejected(std::string_view text) {
  absl::StatusOr<std::vector<int64_t>> s = ParseSchedule(text);
  return !s.ok() && s.status().code() == absl::StatusCode::kInvalidArgument;
}

// The first `n` due times after the start, as successive polls walk them.
std::vector<int64_t> Walk(int64_t start, const std::vector<int64_t>& schedule,
                          int n) {
  std::vector<int64_t> due;
  int64_t t = start;
  for (int i = 0; i < n; ++i) {
    t = NextCheckinMs(start, schedule, t);
    due.push_back(t - start);
  }
  return due;
}

TEST(ScheduleTest, ParsesOffsetsThenInterval) {
  EXPECT_EQ(Schedule(kDefaultSchedule),
            (std::vector<int64_t>{30'000, 90'000, 300'000}));
  EXPECT_EQ(Schedule(" 1s , 3s,5s "),
            (std::vector<int64_t>{1'000, 3'000, 5'000}));
  EXPECT_EQ(Schedule("300"), (std::vector<int64_t>{300'000}));
  // The interval may be shorter than the offsets before it.
  EXPECT_EQ(Schedule("10m,20m,1m"),
            (std::vector<int64_t>{600'000, 1'200'000, 60'000}));
}

TEST(ScheduleTest, RejectsBadSchedules) {
  EXPECT_TRUE(Rejected(""));
  EXPECT_TRUE(Rejected("  "));
  EXPECT_TRUE(Rejected("30s,,90s"));
  EXPECT_TRUE(Rejected("30s,90s,"));
  EXPECT_TRUE(Rejected("0s,90s,300s"));
  EXPECT_TRUE(Rejected("30s,90s,0"));
  EXPECT_TRUE(Rejected("90s,30s,300s"));  // offsets must increase
  EXPECT_TRUE(Rejected("30s,30s,300s"));
  EXPECT_TRUE(Rejected("30s,soon"));
  EXPECT_TRUE(Rejected("-30s"));
  std::string many;
  for (int i = 1; i <= kMaxScheduleEntries + 1; ++i) {
    absl::StrAppend(&many, many.empty() ? "" : ",", i, "s");
  }
  EXPECT_TRUE(Rejected(many));
}

// A plan's problems are listed one per line, and a schedule's message is
// one of them: what the user wrote is quoted escaped.
TEST(ScheduleTest, ErrorsQuoteTheTextOnOneLine) {
  for (const char* text : {"1s,\n,2s", "5s,\n3s,1m", "0\n"}) {
    absl::StatusOr<std::vector<int64_t>> s = ParseSchedule(text);
    ASSERT_FALSE(s.ok()) << text;
    EXPECT_EQ(s.status().message().find('\n'), absl::string_view::npos)
        << s.status();
  }
  EXPECT_EQ(ParseSchedule("1s,\n,2s").status().message(),
            "check-in schedule \"1s,\\n,2s\": empty entry");
}

TEST(ScheduleTest, DefaultDueTimes) {
  const int64_t start = 1'700'000'000'000;
  const std::vector<int64_t> s = Schedule(kDefaultSchedule);
  EXPECT_EQ(Walk(start, s, 5),
            (std::vector<int64_t>{30'000, 90'000, 390'000, 690'000, 990'000}));
  // From any moment, the next one due.
  EXPECT_EQ(NextCheckinMs(start, s, start - 5'000), start + 30'000);
  EXPECT_EQ(NextCheckinMs(start, s, start + 29'999), start + 30'000);
  EXPECT_EQ(NextCheckinMs(start, s, start + 30'000), start + 90'000);
  EXPECT_EQ(NextCheckinMs(start, s, start + 100'000), start + 390'000);
  EXPECT_EQ(NextCheckinMs(start, s, start + 390'000), start + 690'000);
  EXPECT_EQ(NextCheckinMs(start, s, start + 3'600'000), start + 3'690'000);
  // An empty schedule is the default one.
  EXPECT_EQ(Walk(start, {}, 4),
            (std::vector<int64_t>{30'000, 90'000, 390'000, 690'000}));
}

TEST(ScheduleTest, CustomDueTimes) {
  EXPECT_EQ(Walk(0, Schedule("1s,3s,5s"), 5),
            (std::vector<int64_t>{1'000, 3'000, 8'000, 13'000, 18'000}));
  EXPECT_EQ(Walk(500, Schedule("300s"), 3),
            (std::vector<int64_t>{300'000, 600'000, 900'000}));
  // No overflow near the end of time.
  const int64_t max = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(NextCheckinMs(max - 10, Schedule("1s"), max - 5), max);
}

// ---------------------------------------------------------------- verdicts

TEST(CheckinTest, VerdictNamesAndExitCodes) {
  const std::vector<std::pair<Verdict, int>> all = {{Verdict::kOk, 0},
                                                    {Verdict::kSucceeded, 10},
                                                    {Verdict::kFailed, 11},
                                                    {Verdict::kAttention, 12},
                                                    {Verdict::kDiscovery, 13}};
  for (const auto& [verdict, code] : all) {
    EXPECT_EQ(VerdictExitCode(verdict), code);
    EXPECT_EQ(VerdictFromName(VerdictName(verdict)), verdict);
  }
  EXPECT_EQ(VerdictName(Verdict::kAttention), "attention");
  EXPECT_FALSE(VerdictFromName("fine").has_value());
}

RunFacts Running(int64_t elapsed_ms = 65'000) {
  RunFacts run;
  run.state = RunState::kRunning;
  run.steps_total = 1;
  run.running = 1;
  run.elapsed_ms = elapsed_ms;
  return run;
}

StepFacts Step(const std::string& id) {
  StepFacts s;
  s.id = id;
  s.running = true;
  return s;
}

WatchSpec Spec(const char* json) {
  absl::StatusOr<WatchSpec> spec = WatchSpecFromJson(nlohmann::json::parse(json));
  EXPECT_TRUE(spec.ok()) << json << ": " << spec.status();
  return spec.ok() ? *spec : WatchSpec{};
}

void Add(StepFacts* s, FindingKind kind, int64_t line, std::string text) {
  s->analysis.findings.push_back(Finding{kind, line, std::move(text)});
  ++s->analysis.counts[static_cast<int>(kind)];
}

TEST(CheckinTest, QuietRunIsOk) {
  CheckinReport r = Decide(Running(), {Step("train")});
  EXPECT_EQ(r.verdict, Verdict::kOk);
  EXPECT_FALSE(IsDecisive(r));
  EXPECT_TRUE(r.evidence.empty());
  EXPECT_EQ(r.summary, "running: 0/1 steps completed, 1 running");
}

TEST(CheckinTest, WarningsErrorsAndRetriesNeedAttention) {
  StepFacts warn = Step("train");
  Add(&warn, FindingKind::kWarning, 12, "UserWarning: deprecated");
  CheckinReport r = Decide(Running(), {warn});
  EXPECT_EQ(r.verdict, Verdict::kAttention);
  EXPECT_EQ(r.summary, "train: 1 warning line");

  StepFacts err = Step("train");
  Add(&err, FindingKind::kError, 40, "ValueError: bad input");
  EXPECT_EQ(Decide(Running(), {err}).verdict, Verdict::kAttention);

  StepFacts retried = Step("fetch");
  retried.retried = true;
  r = Decide(Running(), {retried});
  EXPECT_EQ(r.verdict, Verdict::kAttention);
  EXPECT_EQ(r.summary, "step fetch failed and is retried");

  RunFacts run = Running();
  run.retried_since_last = true;
  EXPECT_EQ(Decide(run, {}).verdict, Verdict::kAttention);
  EXPECT_FALSE(IsDecisive(Decide(run, {})));
}

TEST(CheckinTest, StallAfterTwoQuietCheckins) {
  // Driven through AnalyzeLog, as the daemon does at each check-in.
  StepCursor cursor;
  const std::string log = "Epoch 1/10\n";
  auto checkin = [&](std::string_view data) {
    StepFacts s = Step("train");
    s.analysis = AnalyzeLog({}, data, &cursor);
    s.quiet_checkins = cursor.quiet_checkins;
    return Decide(Running(), {s});
  };
  EXPECT_EQ(checkin(log).verdict, Verdict::kOk);
  EXPECT_EQ(checkin("").verdict, Verdict::kOk);  // one quiet check-in
  CheckinReport r = checkin("");
  EXPECT_EQ(r.verdict, Verdict::kAttention);
  EXPECT_EQ(r.summary, "no output from train for 2 check-ins");
  EXPECT_EQ(checkin("Epoch 2/10\n").verdict, Verdict::kOk);

  // A step that is no longer running is not stalled.
  StepFacts done = Step("train");
  done.running = false;
  done.quiet_checkins = 5;
  EXPECT_EQ(Decide(Running(), {done}).verdict, Verdict::kOk);
}

// Issue 18: "no output from sh for 2 check-ins" said nothing of how long.
TEST(CheckinTest, StallSaysForHowLong) {
  StepFacts s = Step("sh");
  s.quiet_checkins = 2;
  s.quiet_ms = 250'000;
  CheckinReport r = Decide(Running(), {s});
  EXPECT_EQ(r.verdict, Verdict::kAttention);
  EXPECT_EQ(r.summary, "no output from sh for 4m10s (2 check-ins)");
}

TEST(CheckinTest, BudgetCrossingNinetyPercentOnce) {
  RunFacts run = Running();
  run.budget_fraction_spent = 0.92;
  run.budget_fraction_at_last_checkin = 0.5;
  CheckinReport r = Decide(run, {});
  EXPECT_EQ(r.verdict, Verdict::kAttention);
  EXPECT_EQ(r.summary, "92% of the budget spent");
  run.budget_fraction_at_last_checkin = 0.91;
  EXPECT_EQ(Decide(run, {}).verdict, Verdict::kOk);
  run.budget_fraction_at_last_checkin.reset();
  EXPECT_EQ(Decide(run, {}).verdict, Verdict::kAttention);
}

// Issue 18.4: a warning in the same check-in as a discovery asks for
// attention (a person decides; `watch` stops), and the discovery is still
// in the report, once.
TEST(CheckinTest, AttentionOutranksADiscoveryWhichIsStillReported) {
  StepFacts s = Step("study");
  Add(&s, FindingKind::kDiscovery, 9,
      "Best is trial 4 with value: 0.1 (was trial 2)");
  Add(&s, FindingKind::kWarning, 12, "WARNING: learning rate is high");
  CheckinReport r = Decide(Running(), {s});
  EXPECT_EQ(r.verdict, Verdict::kAttention);
  EXPECT_EQ(VerdictExitCode(r.verdict), 12);
  EXPECT_FALSE(IsDecisive(r));
  ASSERT_EQ(r.evidence.size(), 2u);
  EXPECT_EQ(r.evidence[0].finding.kind, FindingKind::kWarning);
  EXPECT_EQ(r.evidence[1].finding.kind, FindingKind::kDiscovery);
  EXPECT_EQ(r.summary, "study: 1 discovery, 1 warning line");
  ASSERT_EQ(r.discoveries.size(), 1u);
  EXPECT_EQ(r.discoveries[0].text,
            "Best is trial 4 with value: 0.1 (was trial 2)");

  // A metric's new best with a warning: attention, the new best one line.
  StepFacts t = Step("train");
  StepCursor cursor;
  t.analysis = AnalyzeLog(
      Spec(R"j({"metric": "val_loss: ([0-9.]+)", "goal": "min"})j"),
      "Epoch 1/20 - val_loss: 0.5120\n"
      "Epoch 2/20 - val_loss: 0.5000\n"
      "WARNING: learning rate is high\n"
      "Epoch 3/20 - val_loss: 0.4783\n",
      &cursor);
  r = Decide(Running(), {t});
  EXPECT_EQ(r.verdict, Verdict::kAttention);
  const std::string text = RenderReport(r, "r1");
  EXPECT_NE(text.find("  train:3: WARNING: learning rate is high\n"),
            std::string::npos) << text;
  EXPECT_NE(text.find("  train:4: new best val_loss 0.4783 (was 0.5120) at "
                      "Epoch 3/20 (1 intermediate)\n"),
            std::string::npos) << text;
  size_t count = 0;
  for (size_t at = text.find("0.4783"); at != std::string::npos;
       at = text.find("0.4783", at + 1)) {
    ++count;
  }
  EXPECT_EQ(count, 2u) << "the line, and its value in the summary: " << text;
  EXPECT_EQ(text.find("0.5000"), std::string::npos)
      << "no intermediate best listed: " << text;
  EXPECT_EQ(r.summary, "train: new best val_loss 0.4783, 1 warning line");
}

TEST(CheckinTest, DiscoveryAloneIsADiscovery) {
  StepFacts s = Step("study");
  Add(&s, FindingKind::kDiscovery, 9,
      "Best is trial 4 with value: 0.1 (was trial 2)");
  CheckinReport r = Decide(Running(), {s});
  EXPECT_EQ(r.verdict, Verdict::kDiscovery);
  EXPECT_EQ(VerdictExitCode(r.verdict), 13);
  EXPECT_EQ(r.summary, "study: 1 discovery");
}

// Issue 18.5: one line per metric, with the value, the one it beat,
// where, and how many came in between.
TEST(CheckinTest, NewBestLine) {
  NewBestNews n;
  n.metric = "val_loss";
  n.value = "0.4783";
  n.was = "0.5120";
  n.where = "Epoch 7/20";
  n.line = 42;
  n.count = 4;
  EXPECT_EQ(NewBestLine(n),
            "new best val_loss 0.4783 (was 0.5120) at Epoch 7/20 (3 intermediate)");
  n.count = 1;
  EXPECT_EQ(NewBestLine(n), "new best val_loss 0.4783 (was 0.5120) at Epoch 7/20");
  n.was.reset();
  n.where.clear();
  EXPECT_EQ(NewBestLine(n), "new best val_loss 0.4783 (first value) at line 42");
  n.metric.clear();
  n.line = 0;
  EXPECT_EQ(NewBestLine(n), "new best metric 0.4783 (first value)");
}

TEST(CheckinTest, AThousandNewBestsAreOneLine) {
  WatchSpec spec = Spec(R"j({"metric": "val_loss=([0-9.]+)", "goal": "min"})j");
  StepCursor cursor;
  std::string log = "Epoch 1/1000 val_loss=0.5120\n";
  AnalyzeLog(spec, log, &cursor);  // an earlier check-in
  log.clear();
  for (int e = 2; e <= 1000; ++e) {
    absl::StrAppend(&log, "Epoch ", e, "/1000 val_loss=", 1.0 / (e + 1), "\n");
  }
  StepFacts s = Step("train");
  s.analysis = AnalyzeLog(spec, log, &cursor);
  ASSERT_TRUE(s.analysis.new_best.has_value());
  EXPECT_EQ(s.analysis.new_best->count, 999);
  CheckinReport r = Decide(Running(), {s});
  EXPECT_EQ(r.verdict, Verdict::kDiscovery);
  ASSERT_EQ(r.evidence.size(), 1u);
  EXPECT_EQ(r.evidence[0].finding.kind, FindingKind::kNewBest);
  EXPECT_EQ(r.evidence[0].finding.line, 1000);
  EXPECT_EQ(r.evidence[0].finding.text,
            absl::StrCat("new best val_loss ", 1.0 / 1001,
                         " (was 0.5120) at Epoch 1000/1000 (998 intermediate)"));
  EXPECT_EQ(r.evidence_omitted, 0);
  ASSERT_EQ(r.discoveries.size(), 1u);
  EXPECT_EQ(r.discoveries[0].text, r.evidence[0].finding.text);
  EXPECT_EQ(r.summary, absl::StrCat("train: new best val_loss ", 1.0 / 1001));
}

TEST(CheckinTest, FailurePrecedence) {
  // A critical line beats a new best, and is decisive.
  StepFacts s = Step("train");
  Add(&s, FindingKind::kNewBest, 5, "new best 0.2 (was 0.3): loss 0.2");
  Add(&s, FindingKind::kCritical, 9, "Killed");
  CheckinReport r = Decide(Running(), {s});
  EXPECT_EQ(r.verdict, Verdict::kFailed);
  EXPECT_TRUE(IsDecisive(r));
  EXPECT_EQ(r.evidence[0].finding.text, "Killed");

  // A step that failed for good.
  StepFacts failed = Step("train");
  failed.running = false;
  failed.failed = true;
  failed.failure = "exit 1";
  RunFacts run = Running();
  run.failed = 1;
  r = Decide(run, {failed});
  EXPECT_EQ(r.verdict, Verdict::kFailed);
  EXPECT_EQ(r.summary, "step train failed (exit 1)");

  run = Running();
  run.step_failed_since_last = true;
  EXPECT_EQ(Decide(run, {}).verdict, Verdict::kFailed);

  // A run that ended badly, whatever its logs say.
  for (RunState state :
       {RunState::kFailed, RunState::kCancelled, RunState::kInterrupted}) {
    run = Running();
    run.state = state;
    r = Decide(run, {});
    EXPECT_EQ(r.verdict, Verdict::kFailed) << RunStateName(state);
    EXPECT_TRUE(IsDecisive(r));
    EXPECT_FALSE(r.eta_ms.has_value());
  }
}

TEST(CheckinTest, SucceededRunSummarises) {
  RunFacts run;
  run.state = RunState::kSucceeded;
  run.steps_total = 3;
  run.completed = 3;
  run.elapsed_ms = 3'725'000;
  run.tokens = 12345;
  run.cost = 0.42;
  StepFacts s = Step("train");
  s.running = false;
  s.best = 0.125;
  // The final state wins over a worrying last line.
  Add(&s, FindingKind::kCritical, 80, "loss: nan");
  CheckinReport r = Decide(run, {s});
  EXPECT_EQ(r.verdict, Verdict::kSucceeded);
  EXPECT_TRUE(IsDecisive(r));
  EXPECT_EQ(r.summary,
            "run succeeded in 1h02m: 3/3 steps completed, 12345 tokens, "
            "$0.4200; best: train 0.125; train: 1 critical line");
  EXPECT_DOUBLE_EQ(r.progress_fraction, 1.0);
}

TEST(CheckinTest, ProgressAndEta) {
  StepFacts s = Step("study");
  s.analysis.progress = Progress{0.25, "Trial 25/100"};
  CheckinReport r = Decide(Running(60'000), {s});
  EXPECT_DOUBLE_EQ(r.progress_fraction, 0.25);
  EXPECT_EQ(r.progress_text, "0/1 study: Trial 25/100");
  ASSERT_TRUE(r.eta_ms.has_value());
  EXPECT_EQ(*r.eta_ms, 180'000);

  // Whole steps count too: 2 of 4 done, one halfway.
  RunFacts run = Running(100'000);
  run.steps_total = 4;
  run.completed = 2;
  s.analysis.progress = Progress{0.5, "Epoch 5/10"};
  r = Decide(run, {s});
  EXPECT_DOUBLE_EQ(r.progress_fraction, 0.625);
  EXPECT_EQ(r.eta_ms, 60'000);

  // Nothing known: no ETA.
  r = Decide(Running(), {Step("x")});
  EXPECT_EQ(r.progress_text, "0/1");
  EXPECT_FALSE(r.eta_ms.has_value());

  EXPECT_FALSE(EstimateEtaMs(0, 1000).has_value());
  EXPECT_FALSE(EstimateEtaMs(-1, 1000).has_value());
  EXPECT_EQ(EstimateEtaMs(1, 1000), 0);
  EXPECT_EQ(EstimateEtaMs(0.5, 1000), 1000);
  EXPECT_TRUE(EstimateEtaMs(1e-300, 1000).has_value());  // capped, defined
}

TEST(CheckinTest, EachRunningStepShowsItsProgressAndEta) {
  StepFacts s = Step("train");
  s.analysis.progress = Progress{0.3, "Epoch 3/10"};
  s.elapsed_ms = 60'000;
  StepFacts done = Step("prep");
  done.running = false;
  done.analysis.progress = Progress{1, "100/100"};
  RunFacts run = Running(90'000);
  run.steps_total = 2;
  run.completed = 1;
  CheckinReport r = Decide(run, {done, s});
  ASSERT_EQ(r.steps_progress.size(), 1u);
  EXPECT_EQ(r.steps_progress[0].step, "train");
  EXPECT_EQ(r.steps_progress[0].eta_ms, 140'000);
  EXPECT_EQ(r.steps_progress[0].text, "Epoch 3/10 (30%, eta 2m20s)");
  const std::string text = RenderReport(r, "r1");
  EXPECT_NE(text.find("\n  train progress: Epoch 3/10 (30%, eta 2m20s)\n"),
            std::string::npos)
      << text;
}

TEST(CheckinTest, EvidenceIsCapped) {
  StepFacts s = Step("train");
  for (int i = 1; i <= 30; ++i) {
    Add(&s, FindingKind::kWarning, i, absl::StrCat("UserWarning: ", i));
  }
  s.analysis.counts[static_cast<int>(FindingKind::kWarning)] = 500;
  CheckinReport r = Decide(Running(), {s});
  EXPECT_EQ(r.evidence.size(), static_cast<size_t>(kMaxEvidence));
  EXPECT_EQ(r.evidence_omitted, 500 - kMaxEvidence);
  EXPECT_EQ(r.evidence.front().finding.line, 1);  // log order kept
  EXPECT_NE(r.summary.find("480 more not shown"), std::string::npos)
      << r.summary;
}

TEST(CheckinTest, RenderReportFirstLine) {
  RunFacts run = Running();
  run.steps_total = 7;
  run.completed = 3;
  run.failed = 1;
  StepFacts s = Step("train");
  s.running = false;
  s.failed = true;
  s.failure = "exit 1";
  Add(&s, FindingKind::kError, 42, "ValueError: bad input");
  const std::string text = RenderReport(Decide(run, {s}), "ab12");
  EXPECT_EQ(text,
            "FAILED run=ab12 progress=3/7 elapsed=1m05s eta=-\n"
            "  train:42: ValueError: bad input\n"
            "step train failed (exit 1); train: 1 error line\n");
}

TEST(CheckinTest, RenderReportQuotesProgressWithSpaces) {
  StepFacts s = Step("study");
  s.analysis.progress = Progress{0.25, "Trial 25/100"};
  const std::string text = RenderReport(Decide(Running(60'000), {s}), "r1");
  EXPECT_EQ(text.substr(0, text.find('\n')),
            "OK run=r1 progress=\"0/1 study: Trial 25/100\" elapsed=1m00s "
            "eta=3m00s");
}

}  // namespace
}  // namespace aetherflow
