// What `status`, --json, the CSV export and the monitor's footer say of
// steps that ended badly, of attempts, and of Ctrl-C (issue 18).
#include <string>
#include <vector>

#include "client/export.h"
#include "client/monitor_screen.h"
#include "client/render.h"
#include "gtest/gtest.h"

namespace aetherflow {
namespace {

constexpr int64_t kT0 = 1'769'421'600'000;  // 2026-01-26T10:00:00Z

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string LineOf(const std::string& text, const std::string& start) {
  std::size_t at = text.find("\n" + start);
  if (at == std::string::npos) return "";
  std::string line = text.substr(at + 1);
  return line.substr(0, line.find('\n'));
}

pb::Step Step(const std::string& id, pb::StepState state, int attempt = 1, int max = 1,
              const std::string& message = "") {
  pb::Step step;
  step.set_id(id);
  step.set_provider("shell");
  step.set_state(state);
  step.set_batch(1);
  step.set_attempt(attempt);
  step.set_max_attempts(max);
  if (attempt > 0) {
    step.set_started_at_ms(kT0 + 10'000);
    step.set_finished_at_ms(kT0 + 12'500);
    step.set_previous_attempts_ms(4'000);
  }
  step.set_message(message);
  return step;
}

pb::RunSnapshot Snapshot(std::vector<pb::Step> steps) {
  pb::RunSnapshot snapshot;
  pb::Run* run = snapshot.mutable_run();
  run->set_id("r1");
  run->set_state(pb::RUN_FAILED);
  run->set_reason("steps missing, slow failed");
  run->set_started_at_ms(kT0);
  run->set_finished_at_ms(kT0 + 20'000);
  run->set_steps_total(static_cast<int>(steps.size()));
  run->set_batches(1);
  for (pb::Step& step : steps) *snapshot.add_steps() = std::move(step);
  return snapshot;
}

RenderOptions Options(int width = 120) {
  RenderOptions options;
  options.width = width;
  options.now_ms = kT0 + 30'000;
  return options;
}

const std::string kNotFound =
    "could not start: working directory \"/tmp/af-test/a/very/long/path/nodir\": No such "
    "file or directory";

pb::RunSnapshot Mixed() {
  return Snapshot({Step("ok", pb::STEP_COMPLETED),
                   Step("missing", pb::STEP_FAILED, 1, 1, kNotFound),
                   Step("slow", pb::STEP_FAILED, 3, 3, "timed out after 5s"),
                   Step("after", pb::STEP_SKIPPED, 0, 1, "a dependency did not complete"),
                   Step("train", pb::STEP_INTERRUPTED, 1, 1, "the daemon stopped while it ran")});
}

TEST(StatusReasonsTest, EachStepThatEndedBadlyHasItsReasonWhole) {
  std::string out = RenderStepReasons(Mixed(), Options(60));
  EXPECT_EQ(out,
            "\nReasons:\n"
            "  missing  " + kNotFound + "\n"
            "  slow     timed out after 5s (attempt 3)\n"
            "  train    the daemon stopped while it ran\n")
      << out;
  EXPECT_EQ(RenderStepReasons(Snapshot({Step("ok", pb::STEP_COMPLETED)}), Options()), "");
}

TEST(StatusReasonsTest, ManyFailedStepsAreCounted) {
  std::vector<pb::Step> steps;
  for (int i = 0; i < 25; ++i) {
    steps.push_back(Step("s" + std::to_string(i), pb::STEP_FAILED, 1, 1, "exit code 1"));
  }
  std::string out = RenderStepReasons(Snapshot(steps), Options());
  EXPECT_TRUE(Contains(out, "  s19  exit code 1\n")) << out;
  EXPECT_FALSE(Contains(out, "  s20 ")) << out;
  EXPECT_TRUE(Contains(out, "… 5 more: aetherflow status r1 --json")) << out;
}

TEST(StatusReasonsTest, StatusShowsAttemptsAndTheTimeOfTheAttemptThatCounted) {
  std::string out = RenderStatus(Mixed(), Options());
  std::string header = LineOf(out, "Step ");
  EXPECT_TRUE(Contains(header, "Attempts")) << out;
  // 2.5 s for the last attempt, not 6.5 s for all of them.
  std::string slow = LineOf(out, "slow ");
  EXPECT_TRUE(Contains(slow, "3/3")) << slow;
  EXPECT_TRUE(Contains(slow, "2.5s")) << slow;
  EXPECT_FALSE(Contains(slow, "6.5s")) << slow;
  EXPECT_TRUE(Contains(LineOf(out, "after "), " -")) << out;

  // A plan where nothing runs twice has no Attempts column.
  std::string plain = RenderStatus(Snapshot({Step("ok", pb::STEP_COMPLETED)}), Options());
  EXPECT_FALSE(Contains(plain, "Attempts")) << plain;

  nlohmann::json j = StatusJson(Mixed(), kT0 + 30'000);
  EXPECT_EQ(j["steps"][2]["attempts"], 3);
  EXPECT_EQ(j["steps"][2]["attempt_elapsed_s"], 2.5);
  EXPECT_EQ(j["steps"][2]["elapsed_s"], 6.5) << "elapsed_s still adds up every attempt";
  EXPECT_TRUE(j["steps"][3]["attempt_elapsed_s"].is_null());
  EXPECT_EQ(j["steps"][1]["message"], kNotFound);
}

TEST(StatusReasonsTest, CsvHasEachStepsMessage) {
  std::string csv = ExportCsv(Mixed(), kT0 + 30'000);
  std::string header = csv.substr(0, csv.find("\r\n"));
  EXPECT_EQ(header.substr(header.rfind(',') + 1), "message") << header;
  EXPECT_TRUE(Contains(csv, ",timed out after 5s\r\n")) << csv;
  EXPECT_TRUE(Contains(csv, "No such file or directory\"\r\n")) << csv;
}

TEST(StatusReasonsTest, TheFooterSaysWhatCtrlCDoes) {
  pb::RunSnapshot s = Snapshot({Step("ok", pb::STEP_RUNNING)});
  s.mutable_run()->set_state(pb::RUN_RUNNING);
  MonitorUi ui;  // attach: Ctrl-C detaches, as q
  std::string footer = LayoutScreen(s, ui, 100, 20, kT0, true).back().text;
  EXPECT_TRUE(Contains(footer, "q detach")) << footer;
  EXPECT_TRUE(Contains(footer, "c cancel")) << footer;
  EXPECT_FALSE(Contains(footer, "^C")) << footer;

  ui.interrupt_cancels = true;  // run: Ctrl-C cancels at once
  footer = LayoutScreen(s, ui, 100, 20, kT0, true).back().text;
  EXPECT_TRUE(Contains(footer, "q detach  ^C cancel")) << footer;

  // The help says it too, either way.
  for (bool cancels : {false, true}) {
    ui.interrupt_cancels = cancels;
    ui.show_help = true;
    std::string screen;
    for (const ScreenLine& line : LayoutScreen(s, ui, 100, 20, kT0, true)) {
      screen += line.text + "\n";
    }
    EXPECT_TRUE(Contains(screen, cancels ? "Ctrl-C      cancel the run at once"
                                         : "Ctrl-C      detach (the run goes on)"))
        << screen;
  }
}

}  // namespace
}  // namespace aetherflow
