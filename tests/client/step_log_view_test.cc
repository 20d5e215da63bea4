#include "client/step_log_view.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace aetherflow {
namespace {

// 2026-01-26T10:00:00Z and a few seconds later.
constexpr int64_t kT0 = 1769421600000;

StepLogViewOptions Options(bool hold, bool utf8 = true) {
  StepLogViewOptions options;
  options.hold = hold;
  options.utf8 = utf8;
  options.zone = absl::UTCTimeZone();
  return options;
}

// Three attempts as the daemon writes them: two fail, the third succeeds.
std::string ThreeAttempts() {
  return absl::StrCat(FormatAttemptStart({1, 3, kT0, false}), "try 1\n",
                      FormatClosingLine("exit code 1"), FormatAttemptEnd({1, "exit 1"}),
                      FormatAttemptStart({2, 3, kT0 + 3'000, false}), "try 2\n",
                      FormatClosingLine("exit code 1"), FormatAttemptEnd({2, "exit 1"}),
                      FormatAttemptStart({3, 3, kT0 + 64'000, false}), "try 3\n",
                      FormatAttemptEnd({3, "exit 0"}));
}

TEST(StepLogViewTest, HeldAttemptsAreHeadedWithHowTheyEnded) {
  EXPECT_EQ(RenderStepLog(ThreeAttempts(), Options(/*hold=*/true)),
            "── attempt 1 of 3, 10:00:00, exit 1 ──\n"
            "try 1\n"
            "aetherflow: exit code 1\n"
            "── attempt 2 of 3, 10:00:03, exit 1 ──\n"
            "try 2\n"
            "aetherflow: exit code 1\n"
            "── attempt 3 of 3, 10:01:04, exit 0 ──\n"
            "try 3\n");
}

TEST(StepLogViewTest, FollowedAttemptsAreHeadedAsTheyStart) {
  StepLogView view(Options(/*hold=*/false));
  const std::string log = ThreeAttempts();
  // The first attempt's heading and output are shown at once, before its
  // end is known.
  const std::size_t cut = log.find("aetherflow: exit");
  EXPECT_EQ(view.Feed(log.substr(0, cut)), "── attempt 1 of 3, 10:00:00 ──\ntry 1\n");
  std::string rest = view.Feed(log.substr(cut));
  rest += view.Finish();
  EXPECT_EQ(rest,
            "aetherflow: exit code 1\n"
            "── attempt 2 of 3, 10:00:03 ──\n"
            "try 2\n"
            "aetherflow: exit code 1\n"
            "── attempt 3 of 3, 10:01:04 ──\n"
            "try 3\n");
}

TEST(StepLogViewTest, ByteByByteReadsTheSame) {
  for (bool hold : {true, false}) {
    const std::string log = ThreeAttempts();
    StepLogView view(Options(hold));
    std::string out;
    for (char c : log) out += view.Feed(std::string_view(&c, 1));
    out += view.Finish();
    EXPECT_EQ(out, RenderStepLog(log, Options(hold))) << hold;
    EXPECT_EQ(out.find("::aetherflow"), std::string::npos) << out;
  }
}

TEST(StepLogViewTest, OutputThatCannotBeAMarkerIsNotDelayed) {
  StepLogView view(Options(/*hold=*/false));
  // A progress bar redraws its line without ending it.
  EXPECT_EQ(view.Feed("\r 10%"), "\r 10%");
  EXPECT_EQ(view.Feed("\r 20%"), "\r 20%");
  EXPECT_EQ(view.Feed("\n::aeth"), "\n") << "may be a marker: waits for more";
  EXPECT_EQ(view.Feed("er"), "");
  EXPECT_EQ(view.Feed("flow rocks\n"), "::aetherflow rocks\n");
  EXPECT_EQ(view.Feed("::aetherflow-attempt 2 of 2 at 0\n"), "── attempt 2 of 2 ──\n");
  EXPECT_EQ(view.Feed("::aetherflow-attempt-oops"), "");
  EXPECT_EQ(view.Finish(), "::aetherflow-attempt-oops");
}

TEST(StepLogViewTest, AResumedStepAndAnOlderDaemonsMarker) {
  std::string log = absl::StrCat("go 1\n", FormatClosingLine("exit code 1"),
                                 FormatAttemptStart({1, 1, kT0, true}), "go 2\n",
                                 FormatAttemptEnd({1, "exit 0"}));
  EXPECT_EQ(RenderStepLog(log, Options(true)),
            "go 1\naetherflow: exit code 1\n"
            "── attempt 1 of 1 (after a resume), 10:00:00, exit 0 ──\ngo 2\n");
  EXPECT_EQ(RenderStepLog("a\n\n::aetherflow-attempt 2\nb\n", Options(true, false)),
            "a\n\n-- attempt 2 --\nb\n");
}

TEST(StepLogViewTest, AnAttemptStillRunningOrCutShort) {
  // Running: the heading says when it started, and no end.
  std::string running = absl::StrCat(FormatAttemptStart({2, 3, kT0, false}), "step 5\n");
  EXPECT_EQ(RenderStepLog(running, Options(true)), "── attempt 2 of 3, 10:00:00 ──\nstep 5\n");
  // Its daemon died: the next attempt's marker closes it.
  std::string cut = absl::StrCat(running, FormatAttemptStart({1, 3, kT0 + 1000, true}),
                                 "again\n", FormatAttemptEnd({1, "ok"}));
  EXPECT_EQ(RenderStepLog(cut, Options(true)),
            "── attempt 2 of 3, 10:00:00 ──\nstep 5\n"
            "── attempt 1 of 3 (after a resume), 10:00:01, ok ──\nagain\n");
  // A tail that starts after a marker has no heading to show.
  EXPECT_EQ(RenderStepLog(absl::StrCat("tail\n", FormatAttemptEnd({1, "ok"})), Options(true)),
            "tail\n");
}

TEST(StepLogViewTest, AHugeAttemptIsShownWithoutWaitingForItsEnd) {
  StepLogView view(Options(/*hold=*/true));
  std::string out = view.Feed(FormatAttemptStart({1, 2, kT0, false}));
  EXPECT_EQ(out, "");
  const std::string line(1000, 'x');
  for (std::size_t fed = 0; fed <= StepLogView::kHoldBytes; fed += line.size() + 1) {
    out += view.Feed(line + "\n");
  }
  ASSERT_EQ(out.rfind("── attempt 1 of 2, 10:00:00 ──\nxxx", 0), 0u) << out.substr(0, 80);
  EXPECT_EQ(view.Feed("more\n"), "more\n") << "no longer held";
  EXPECT_EQ(view.Feed(FormatAttemptEnd({1, "exit 1"})), "");
  EXPECT_EQ(view.Finish(), "");
}

}  // namespace
}  // namespace aetherflow
