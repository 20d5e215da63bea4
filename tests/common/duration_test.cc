#include "common/duration.h"

#include <string>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace aetherflow {
namespace {

int64_t Ms(const std::string& text) {
  absl::StatusOr<int64_t> ms = ParseDurationMs(text);
  EXPECT_TRUE(ms.ok()) << text << ": " << ms.status();
  return ms.ok() ? *ms : -1;
}

TEST(DurationTest, ParsesEveryUnit) {
  EXPECT_EQ(Ms("500ms"), 500);
  EXPECT_EQ(Ms("30s"), 30'000);
  EXPECT_EQ(Ms("5m"), 300'000);
  EXPECT_EQ(Ms("2h"), 7'200'000);
  EXPECT_EQ(Ms("1d"), 86'400'000);
}

TEST(DurationTest, PlainNumbersAreSeconds) {
  EXPECT_EQ(Ms("90"), 90'000);
  EXPECT_EQ(Ms("1.5"), 1'500);
  EXPECT_EQ(Ms("0"), 0);
}

TEST(DurationTest, FractionsOfEveryUnit) {
  EXPECT_EQ(Ms("0.5s"), 500);
  EXPECT_EQ(Ms("1.5m"), 90'000);
  EXPECT_EQ(Ms("2.25h"), 8'100'000);
  EXPECT_EQ(Ms("0.5d"), 43'200'000);
  EXPECT_EQ(Ms("1.5ms"), 2);  // rounded to the nearest millisecond
  EXPECT_EQ(Ms("0.0004s"), 0);
  EXPECT_EQ(Ms("0.1234567891234s"), 123);  // extra digits ignored
}

TEST(DurationTest, TrimsOuterWhitespace) {
  EXPECT_EQ(Ms("  30s\n"), 30'000);
  EXPECT_EQ(Ms("\t90 "), 90'000);
}

TEST(DurationTest, RejectsBadInput) {
  for (const char* bad :
       {"",    "   ", "-5s", "+5s",  "5 m",  "5x",   "s",
        "ms",  "1.",  ".5",  "1.s",  "5ms5", "abc",  "1e3",
        "inf", "nan", "5S",  "5sec", "1,5s", "0x10", "5m30s"}) {
    absl::StatusOr<int64_t> ms = ParseDurationMs(bad);
    EXPECT_EQ(ms.status().code(), absl::StatusCode::kInvalidArgument)
        << '"' << bad << "\" gave " << (ms.ok() ? std::to_string(*ms) : "");
  }
}

TEST(DurationTest, RejectsOverflow) {
  EXPECT_FALSE(ParseDurationMs("99999999999999999999").ok());
  EXPECT_FALSE(ParseDurationMs("9223372036854775807s").ok());
  EXPECT_FALSE(ParseDurationMs("106751991168d").ok());
  EXPECT_EQ(Ms("9223372036854775807ms"), INT64_MAX);
  EXPECT_FALSE(ParseDurationMs("9223372036854775807.9ms").ok());
}

TEST(DurationTest, ErrorQuotesInputAndGivesExamples) {
  absl::StatusOr<int64_t> ms = ParseDurationMs("soon");
  ASSERT_FALSE(ms.ok());
  EXPECT_EQ(ms.status().message(),
            "invalid duration \"soon\" (use e.g. 500ms, 30s, 5m, 2h)");
  // Control characters cannot break the message over lines.
  ms = ParseDurationMs("5\nx");
  ASSERT_FALSE(ms.ok());
  EXPECT_EQ(ms.status().message().find('\n'), std::string::npos);
}

TEST(DurationTest, FormatsSecondsWithOneDecimalUnderAMinute) {
  EXPECT_EQ(FormatDurationMs(0), "0.0s");
  EXPECT_EQ(FormatDurationMs(400), "0.4s");
  EXPECT_EQ(FormatDurationMs(12'345), "12.3s");
  EXPECT_EQ(FormatDurationMs(59'999), "59.9s");
}

TEST(DurationTest, FormatsMinutesAndSecondsUnderAnHour) {
  EXPECT_EQ(FormatDurationMs(60'000), "1m00s");
  EXPECT_EQ(FormatDurationMs(245'000), "4m05s");
  EXPECT_EQ(FormatDurationMs(3'599'999), "59m59s");
}

TEST(DurationTest, FormatsHoursAndMinutesBeyond) {
  EXPECT_EQ(FormatDurationMs(3'600'000), "1h00m");
  EXPECT_EQ(FormatDurationMs(7'380'000), "2h03m");
  EXPECT_EQ(FormatDurationMs(100 * 3'600'000LL + 59 * 60'000), "100h59m");
}

TEST(DurationTest, FormatsNegativeWithSign) {
  EXPECT_EQ(FormatDurationMs(-400), "-0.4s");
  EXPECT_EQ(FormatDurationMs(INT64_MIN).substr(0, 1), "-");
}

TEST(DurationTest, FormatReadsBackThroughParse) {
  EXPECT_EQ(Ms(FormatDurationMs(12'300)), 12'300);
}

}  // namespace
}  // namespace aetherflow
