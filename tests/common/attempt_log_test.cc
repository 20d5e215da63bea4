#include "common/attempt_log.h"

#include "gtest/gtest.h"

namespace aetherflow {
namespace {

TEST(AttemptLogTest, StartMarkersRoundTrip) {
  AttemptStart start{2, 3, 1764850984123, false};
  std::string line = FormatAttemptStart(start);
  EXPECT_EQ(line, "::aetherflow-attempt 2 of 3 at 1764850984123\n");
  std::optional<AttemptStart> parsed =
      ParseAttemptStart(std::string_view(line).substr(0, line.size() - 1));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->attempt, 2);
  EXPECT_EQ(parsed->max_attempts, 3);
  EXPECT_EQ(parsed->started_at_ms, 1764850984123);
  EXPECT_FALSE(parsed->resumed);

  start = {1, 1, 5, true};
  EXPECT_EQ(FormatAttemptStart(start), "::aetherflow-attempt 1 of 1 at 5 resumed\n");
  parsed = ParseAttemptStart("::aetherflow-attempt 1 of 1 at 5 resumed");
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(parsed->resumed);
}

TEST(AttemptLogTest, OlderDaemonsMarkersStillParse) {
  std::optional<AttemptStart> parsed = ParseAttemptStart("::aetherflow-attempt 2");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->attempt, 2);
  EXPECT_EQ(parsed->max_attempts, 0);
  EXPECT_EQ(parsed->started_at_ms, 0);
}

TEST(AttemptLogTest, OtherLinesAreNotMarkers) {
  for (const char* line :
       {"", "::aetherflow tokens=5", "::aetherflow-attempt", "::aetherflow-attempt x",
        "::aetherflow-attempt 0", "::aetherflow-attempt 2 of", "::aetherflow-attempt 2 of 3 at",
        "::aetherflow-attempt 2 of 3 at 5 later", " ::aetherflow-attempt 2", "Epoch 2/3"}) {
    EXPECT_FALSE(ParseAttemptStart(line)) << line;
  }
  EXPECT_FALSE(ParseAttemptEnd("::aetherflow-attempt 2"));
  EXPECT_FALSE(ParseAttemptStart("::aetherflow-attempt-end 2 ok"));
}

TEST(AttemptLogTest, EndMarkersRoundTripOnOneLine) {
  EXPECT_EQ(FormatAttemptEnd({2, "exit 1"}), "::aetherflow-attempt-end 2 exit 1\n");
  EXPECT_EQ(FormatAttemptEnd({1, "a\nb"}), "::aetherflow-attempt-end 1 a b\n");
  std::optional<AttemptEnd> end = ParseAttemptEnd("::aetherflow-attempt-end 3 timed out\r");
  ASSERT_TRUE(end);
  EXPECT_EQ(end->attempt, 3);
  EXPECT_EQ(end->result, "timed out");
  EXPECT_FALSE(ParseAttemptEnd("::aetherflow-attempt-end x ok"));
}

TEST(AttemptLogTest, ClosingLineIsOneLine) {
  EXPECT_EQ(FormatClosingLine("timed out after 5s"), "aetherflow: timed out after 5s\n");
  EXPECT_EQ(FormatClosingLine("two\nlines"), "aetherflow: two lines\n");
}

TEST(AttemptLogTest, MayBeAMarkerWhileTheLineIsUnfinished) {
  EXPECT_TRUE(MayBeAttemptMarker(""));
  EXPECT_TRUE(MayBeAttemptMarker(":"));
  EXPECT_TRUE(MayBeAttemptMarker("::aeth"));
  EXPECT_TRUE(MayBeAttemptMarker("::aetherflow-attempt 2 of"));
  EXPECT_TRUE(MayBeAttemptMarker("::aetherflow-attempt-end 2"));
  EXPECT_FALSE(MayBeAttemptMarker("Epoch"));
  EXPECT_FALSE(MayBeAttemptMarker("::aetherflow tokens"));
  EXPECT_FALSE(MayBeAttemptMarker("\r 45%"));
}

}  // namespace
}  // namespace aetherflow
