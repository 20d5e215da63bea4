#include "common/control_line.h"

#include <cmath>
#include <string>

#include "absl/status/status.h"
#include "common/plan.h"
#include "gtest/gtest.h"

namespace aetherflow {
namespace {

// Parses a line that must be accepted.
Figures Parse(const std::string& line) {
  absl::StatusOr<Figures> figures = ParseControlLine(line);
  EXPECT_TRUE(figures.ok()) << "'" << line << "': " << figures.status();
  return figures.ok() ? *figures : Figures{};
}

// True when `line` is rejected as InvalidArgument.
bool Rejected(const std::string& line) {
  absl::StatusOr<Figures> figures = ParseControlLine(line);
  return !figures.ok() &&
         figures.status().code() == absl::StatusCode::kInvalidArgument;
}

TEST(ControlLineTest, AllThreeKeysWithPrefix) {
  Figures f = Parse("::aetherflow tokens=1500 cost=0.0123 progress=3/10");
  ASSERT_TRUE(f.tokens.has_value());
  EXPECT_EQ(*f.tokens, 1500);
  ASSERT_TRUE(f.cost.has_value());
  EXPECT_DOUBLE_EQ(*f.cost, 0.0123);
  ASSERT_TRUE(f.progress.has_value());
  EXPECT_EQ(*f.progress, "3/10");
}

TEST(ControlLineTest, PrefixIsOptional) {
  Figures with = Parse("::aetherflow tokens=42");
  Figures without = Parse("tokens=42");
  ASSERT_TRUE(with.tokens && without.tokens);
  EXPECT_EQ(*with.tokens, 42);
  EXPECT_EQ(*without.tokens, 42);
}

TEST(ControlLineTest, OnlyTheKeysGivenAreSet) {
  Figures f = Parse("::aetherflow cost=1.5");
  EXPECT_FALSE(f.tokens.has_value());
  ASSERT_TRUE(f.cost.has_value());
  EXPECT_DOUBLE_EQ(*f.cost, 1.5);
  EXPECT_FALSE(f.progress.has_value());
}

// The daemon adds step figures up over a run: a step must not be able to
// overflow the sum (it did, with tokens=9223372036854775807 in two steps).
TEST(ControlLineTest, TokensAreCapped) {
  EXPECT_EQ(Parse("::aetherflow tokens=1000000000000").tokens, kMaxTokens);
  EXPECT_TRUE(Rejected("::aetherflow tokens=1000000000001"));
  EXPECT_TRUE(Rejected("::aetherflow tokens=9223372036854775807"));
}

TEST(ControlLineTest, ZeroIsAKnownValue) {
  // 0 tokens reported is different from "not reported" (SPEC §4: unknown is
  // null, never 0).
  Figures f = Parse("::aetherflow tokens=0 cost=0");
  ASSERT_TRUE(f.tokens.has_value());
  EXPECT_EQ(*f.tokens, 0);
  ASSERT_TRUE(f.cost.has_value());
  EXPECT_EQ(*f.cost, 0.0);
}

TEST(ControlLineTest, SurroundingWhitespaceAndExtraSpacesAreIgnored) {
  // A program writing CRLF line ends, or aligning its output.
  Figures f = Parse("  ::aetherflow   tokens=7    progress=45%  \r");
  ASSERT_TRUE(f.tokens.has_value());
  EXPECT_EQ(*f.tokens, 7);
  ASSERT_TRUE(f.progress.has_value());
  EXPECT_EQ(*f.progress, "45%");
}

TEST(ControlLineTest, UnknownKeysAreIgnored) {
  // A newer step talking to an older daemon.
  Figures f = Parse("::aetherflow eta=30s tokens=9 model=gpt-5 flag");
  ASSERT_TRUE(f.tokens.has_value());
  EXPECT_EQ(*f.tokens, 9);
  EXPECT_FALSE(f.cost.has_value());
  EXPECT_FALSE(f.progress.has_value());
}

TEST(ControlLineTest, KeysAreCaseSensitive) {
  // "TOKENS" is not a known key, so the line has no known key at all.
  EXPECT_TRUE(Rejected("::aetherflow TOKENS=5"));
}

TEST(ControlLineTest, LineWithNoKnownKeyIsRejected) {
  EXPECT_TRUE(Rejected("::aetherflow eta=30s model=x"));
  EXPECT_TRUE(Rejected("::aetherflow"));
  EXPECT_TRUE(Rejected("::aetherflow    "));
  EXPECT_TRUE(Rejected(""));
  EXPECT_TRUE(Rejected("hello world"));
}

TEST(ControlLineTest, ProgressAsFraction) {
  EXPECT_EQ(*Parse("progress=3/10").progress, "3/10");
  EXPECT_EQ(*Parse("progress=0/1").progress, "0/1");
  EXPECT_EQ(*Parse("progress=10/10").progress, "10/10");
}

TEST(ControlLineTest, ProgressAsPercent) {
  EXPECT_EQ(*Parse("progress=45%").progress, "45%");
  EXPECT_EQ(*Parse("progress=0%").progress, "0%");
  EXPECT_EQ(*Parse("progress=100%").progress, "100%");
  EXPECT_EQ(*Parse("progress=12.5%").progress, "12.5%");
}

TEST(ControlLineTest, BadProgressIsRejected) {
  EXPECT_TRUE(Rejected("progress=3/0"));     // total must be > 0
  EXPECT_TRUE(Rejected("progress=-1/10"));   // negative done
  EXPECT_TRUE(Rejected("progress=3/-10"));   // negative total
  EXPECT_TRUE(Rejected("progress=3"));       // neither a fraction nor %
  EXPECT_TRUE(Rejected("progress=3/"));
  EXPECT_TRUE(Rejected("progress=/10"));
  EXPECT_TRUE(Rejected("progress=3/10/2"));
  EXPECT_TRUE(Rejected("progress=a/b"));
  EXPECT_TRUE(Rejected("progress=1.5/10"));  // done is a count
  EXPECT_TRUE(Rejected("progress=101%"));    // over 100 %
  EXPECT_TRUE(Rejected("progress=-5%"));
  EXPECT_TRUE(Rejected("progress=%"));
  EXPECT_TRUE(Rejected("progress=nan%"));
  EXPECT_TRUE(Rejected("progress="));
  EXPECT_TRUE(Rejected("progress"));
}

TEST(ControlLineTest, BadTokensAreRejected) {
  EXPECT_TRUE(Rejected("tokens=-1"));
  EXPECT_TRUE(Rejected("tokens=1.5"));
  EXPECT_TRUE(Rejected("tokens=abc"));
  EXPECT_TRUE(Rejected("tokens=12k"));
  EXPECT_TRUE(Rejected("tokens="));
  EXPECT_TRUE(Rejected("tokens"));
  // 2^63 does not fit an int64.
  EXPECT_TRUE(Rejected("tokens=9223372036854775808"));
}

TEST(ControlLineTest, BadCostIsRejected) {
  EXPECT_TRUE(Rejected("cost=-0.01"));
  EXPECT_TRUE(Rejected("cost=nan"));
  EXPECT_TRUE(Rejected("cost=NaN"));
  EXPECT_TRUE(Rejected("cost=$0.01"));
  EXPECT_TRUE(Rejected("cost=abc"));
  EXPECT_TRUE(Rejected("cost="));
}

TEST(ControlLineTest, InfiniteCostIsRejected) {
  EXPECT_TRUE(Rejected("cost=inf"));
  EXPECT_TRUE(Rejected("cost=infinity"));
  EXPECT_TRUE(Rejected("cost=1e999"));
}

TEST(ControlLineTest, ABadKnownValueRejectsTheWholeLine) {
  // Even though tokens= is fine, nothing of the line is taken.
  EXPECT_TRUE(Rejected("::aetherflow tokens=5 cost=-1"));
  EXPECT_TRUE(Rejected("::aetherflow progress=3/0 tokens=5"));
}

TEST(ControlLineTest, ErrorNamesTheBadField) {
  absl::StatusOr<Figures> figures = ParseControlLine("tokens=5 cost=oops");
  ASSERT_FALSE(figures.ok());
  EXPECT_NE(figures.status().message().find("cost=oops"), std::string::npos)
      << figures.status();
}

TEST(ControlLineTest, LargeAndScientificValues) {
  Figures f = Parse("tokens=1000000000000 cost=1e-3");
  ASSERT_TRUE(f.tokens && f.cost);
  EXPECT_EQ(*f.tokens, kMaxTokens);
  EXPECT_DOUBLE_EQ(*f.cost, 0.001);
}

TEST(ControlLineTest, LastValueOfARepeatedKeyWins) {
  Figures f = Parse("tokens=1 tokens=2");
  ASSERT_TRUE(f.tokens.has_value());
  EXPECT_EQ(*f.tokens, 2);
}

}  // namespace
}  // namespace aetherflow

namespace aetherflow {
namespace {

TEST(ControlLineProgressTest, DoneBeyondTotalIsRefused) {
  EXPECT_FALSE(ParseControlLine("::aetherflow progress=11/10").ok());
  EXPECT_TRUE(ParseControlLine("::aetherflow progress=10/10").ok());
}

}  // namespace
}  // namespace aetherflow
