#include "common/log_patterns.h"

#include <set>
#include <string>

#include "common/log_analysis.h"
#include "gtest/gtest.h"
#include "re2/re2.h"

namespace aetherflow {
namespace {

re2::StringPiece SP(std::string_view s) { return {s.data(), s.size()}; }

StepAnalysis Analyze(const std::string& lines) {
  StepCursor c;
  return AnalyzeLog({}, lines + "\n", &c);
}

TEST(LogPatternsTest, EveryRuleIsDocumentedAndMatchesItsExample) {
  std::set<std::string_view> names;
  for (const LogRule& r : BuiltinLogRules()) {
    SCOPED_TRACE(std::string(r.name));
    EXPECT_TRUE(names.insert(r.name).second) << "duplicate name";
    EXPECT_FALSE(r.library.empty());
    EXPECT_FALSE(r.example.empty());
    RE2 re(SP(r.pattern));
    ASSERT_TRUE(re.ok()) << re.error();
    EXPECT_TRUE(RE2::PartialMatch(SP(r.example), re)) << r.example;
  }
  EXPECT_GE(names.size(), 50u);
}

// Each rule's example line, read alone by the analyser, is what its kind
// says: the table and its precedence agree with the examples.
TEST(LogPatternsTest, EachExampleLineIsReadAsItsKind) {
  for (const LogRule& r : BuiltinLogRules()) {
    SCOPED_TRACE(std::string(r.name) + ": " + std::string(r.example));
    // A counter without a total is read after the line that announces it.
    const bool needs_total =
        r.kind == RuleKind::kProgress &&
        r.pattern.find("(?P<total>") == std::string_view::npos &&
        r.pattern.find("(?P<pct") == std::string_view::npos;
    const StepAnalysis a =
        Analyze(needs_total ? "  Total optimization steps = 564\n" +
                                  std::string(r.example)
                            : std::string(r.example));
    const int64_t critical = a.count(FindingKind::kCritical);
    const int64_t error = a.count(FindingKind::kError);
    const int64_t warning = a.count(FindingKind::kWarning);
    const int64_t discovery = a.count(FindingKind::kDiscovery);
    switch (r.kind) {
      case RuleKind::kCritical:
        EXPECT_EQ(critical, 1);
        break;
      case RuleKind::kError:
        EXPECT_EQ(critical, 0);
        EXPECT_EQ(error, 1);
        break;
      case RuleKind::kWarning:
        EXPECT_EQ(critical + error, 0);
        EXPECT_EQ(warning, 1);
        break;
      case RuleKind::kHarmless:
        EXPECT_EQ(critical + error + warning + discovery, 0);
        break;
      case RuleKind::kDiscovery:
        // A state line alone is the baseline, unless its trial reached it.
        if (!r.state) {
          EXPECT_EQ(discovery, 1);
        }
        EXPECT_EQ(critical + error + warning, 0);
        break;
      case RuleKind::kProgress:
        EXPECT_TRUE(a.progress.known() || !a.progress.text.empty());
        break;
      case RuleKind::kSeverityPrefix:
        break;  // below
    }
  }
}

TEST(LogPatternsTest, SeverityPrefixDecidesBetweenWarningAndError) {
  // W: a warning, whatever the words.
  StepAnalysis a =
      Analyze("W0712 10:00:00.000000 1 alloc.cc:12] out of memory, retrying");
  EXPECT_EQ(a.count(FindingKind::kWarning), 1);
  EXPECT_EQ(a.count(FindingKind::kCritical), 0);
  a = Analyze("WARNING: step 120: loss is nan, the job goes on");
  EXPECT_EQ(a.count(FindingKind::kWarning), 1);
  EXPECT_EQ(a.count(FindingKind::kCritical), 0);
  a = Analyze("[W socket.cpp:558] [c10d] The client socket has failed to "
              "connect");
  EXPECT_EQ(a.count(FindingKind::kWarning), 1);
  // E: an error at least; F: critical.
  a = Analyze("E0712 10:00:00.000000 1 rpc.cc:3] peer went away");
  EXPECT_EQ(a.count(FindingKind::kError), 1);
  a = Analyze("F0712 10:00:00.000000 1 rpc.cc:3] cannot continue");
  EXPECT_EQ(a.count(FindingKind::kCritical), 1);
  // I: an error word is only a warning.
  a = Analyze("INFO 03-18 09:04:46 [engine.py:1] request 7 error: timeout");
  EXPECT_EQ(a.count(FindingKind::kError), 0);
  EXPECT_EQ(a.count(FindingKind::kWarning), 1);
}

TEST(LogPatternsTest, HarmlessTextIsBlankedNotTheWholeLine) {
  EXPECT_TRUE(Analyze("Build succeeded.    0 Warning(s)    0 Error(s)")
                  .findings.empty());
  // The harmless part goes; an error elsewhere on the line stays.
  StepAnalysis a = Analyze("0 errors in module a; ValueError: bad b");
  EXPECT_EQ(a.count(FindingKind::kError), 1);
  // A loss scale at its minimum beats the harmless overflow line.
  a = Analyze("Gradient overflow.  Skipping step, loss scaler 0 reducing "
              "loss scale to 1.0");
  EXPECT_EQ(a.count(FindingKind::kWarning), 1);
}

TEST(LogPatternsTest, LinesThatSayTheJobGoesOnAreNeverCritical) {
  StepAnalysis a = Analyze("step 88: loss is nan, skipping batch");
  EXPECT_EQ(a.count(FindingKind::kCritical), 0);
  EXPECT_EQ(a.count(FindingKind::kWarning), 1);
  a = Analyze("[d2/aff088] NOTE: Process `align (64)` terminated with an "
              "error exit status (137) -- Execution is retried (1)");
  EXPECT_EQ(a.count(FindingKind::kCritical), 0);
  EXPECT_EQ(a.count(FindingKind::kWarning), 1);
}

}  // namespace
}  // namespace aetherflow
