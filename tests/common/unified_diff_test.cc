#include "common/unified_diff.h"

#include <random>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace aetherflow {
namespace {

using ::testing::HasSubstr;

TEST(UnifiedDiffTest, EqualTextsGiveNothing) {
  EXPECT_EQ(UnifiedDiff(std::string("a\n"), std::string("a\n"), "x"), "");
  EXPECT_EQ(UnifiedDiff(std::nullopt, std::nullopt, "x"), "");
}

TEST(UnifiedDiffTest, OneChangedLineWithContext) {
  const std::string before = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
  const std::string after = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n";
  EXPECT_EQ(UnifiedDiff(before, after, "src/n.txt"),
            "--- a/src/n.txt\n+++ b/src/n.txt\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n");
}

TEST(UnifiedDiffTest, FarApartChangesMakeTwoHunks) {
  std::string before, after;
  for (int i = 1; i <= 20; ++i) {
    before += std::to_string(i) + "\n";
    after += (i == 2 || i == 18 ? "x" : std::to_string(i)) + "\n";
  }
  const std::string diff = UnifiedDiff(before, after, "f", {.context = 1});
  EXPECT_EQ(diff, "--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n 1\n-2\n+x\n 3\n@@ -17,3 +17,3 @@\n 17\n-18\n+x\n 19\n");
}

TEST(UnifiedDiffTest, CreatedAndRemovedFiles) {
  EXPECT_EQ(UnifiedDiff(std::nullopt, std::string("a\nb\n"), "new.py"),
            "--- /dev/null\n+++ b/new.py\n@@ -0,0 +1,2 @@\n+a\n+b\n");
  EXPECT_EQ(UnifiedDiff(std::string("a\n"), std::nullopt, "old.py"),
            "--- a/old.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-a\n");
}

TEST(UnifiedDiffTest, MissingFinalNewlineIsMarked) {
  EXPECT_EQ(UnifiedDiff(std::string("a\nb"), std::string("a\nb\n"), "f"),
            "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n");
}

TEST(UnifiedDiffTest, BinaryFiles) {
  EXPECT_EQ(UnifiedDiff(std::string("a\0b", 3), std::string("c"), "bin"),
            "Binary files a/bin and b/bin differ\n");
  EXPECT_TRUE(CountChanges(std::string("a\0b", 3), std::string("c")).binary);
}

TEST(UnifiedDiffTest, ColourMarksLines) {
  const std::string diff = UnifiedDiff(std::string("a\n"), std::string("b\n"), "f", {.colour = true});
  EXPECT_THAT(diff, HasSubstr("\033[31m-a\033[m\n"));
  EXPECT_THAT(diff, HasSubstr("\033[32m+b\033[m\n"));
  EXPECT_THAT(diff, HasSubstr("\033[36m@@ -1 +1 @@\033[m\n"));
}

// Applies a unified diff made by UnifiedDiff to `before`.
std::string Patch(const std::string& before, const std::string& diff) {
  std::vector<std::string> a;
  std::istringstream in(before);
  for (std::string l; std::getline(in, l);) a.push_back(l + "\n");
  if (!before.empty() && before.back() != '\n') a.back().pop_back();
  std::vector<std::string> out;
  std::size_t next = 0;
  std::istringstream d(diff);
  std::string l;
  std::getline(d, l);
  std::getline(d, l);
  std::string* last = nullptr;
  while (std::getline(d, l)) {
    if (l.rfind("@@ -", 0) == 0) {
      std::size_t start = std::stoul(l.substr(4));
      const bool empty = l.find(",0 ") != std::string::npos && l.find(",0 ") < l.find('+');
      std::size_t upto = empty ? start : start - 1;
      while (next < upto) out.push_back(a[next++]);
    } else if (l[0] == ' ' || l[0] == '-') {
      if (l[0] == ' ') out.push_back(a[next]), last = &out.back();
      else last = nullptr;
      ++next;
    } else if (l[0] == '+') {
      out.push_back(l.substr(1) + "\n");
      last = &out.back();
    } else if (l[0] == '\\') {
      if (last && !last->empty() && last->back() == '\n') last->pop_back();
    }
  }
  while (next < a.size()) out.push_back(a[next++]);
  std::string joined;
  for (const std::string& s : out) joined += s;
  return joined;
}

TEST(UnifiedDiffTest, RandomEditsRoundTripAndCount) {
  std::mt19937 random(12);
  for (int round = 0; round < 300; ++round) {
    std::string before, after;
    int removed = 0, added = 0;
    const int n = random() % 40;
    for (int i = 0; i < n; ++i) {
      const std::string line = std::to_string(random() % 6) + "\n";
      before += line;
      switch (random() % 4) {
        case 0: break;  // dropped
        case 1: after += "new" + std::to_string(random() % 3) + "\n"; after += line; break;
        default: after += line;
      }
    }
    if (random() % 5 == 0 && !after.empty()) after.pop_back();
    const std::string diff = UnifiedDiff(before, after, "f", {.context = static_cast<int>(random() % 4)});
    ASSERT_EQ(Patch(before, diff), after) << diff;
    const DiffCounts counts = CountChanges(before, after);
    for (char c : diff) (void)c;
    std::istringstream d(diff);
    std::string l;
    std::getline(d, l), std::getline(d, l);
    while (std::getline(d, l)) {
      removed += l[0] == '-';
      added += l[0] == '+';
    }
    EXPECT_EQ(counts.added, added);
    EXPECT_EQ(counts.removed, removed);
    removed = added = 0;
  }
}

TEST(UnifiedDiffTest, HugeRewritesStayCorrect) {
  std::string before, after;
  for (int i = 0; i < 5000; ++i) {
    before += "old " + std::to_string(i) + "\n";
    after += "new " + std::to_string(i) + "\n";
  }
  const std::string diff = UnifiedDiff(before, after, "f");
  EXPECT_EQ(Patch(before, diff), after);
  DiffCounts counts = CountChanges(before, after);
  EXPECT_EQ(counts.added, 5000);
  EXPECT_EQ(counts.removed, 5000);
}

TEST(UnifiedDiffTest, StatLikeGit) {
  EXPECT_EQ(FormatDiffStat({{"src/api.py", {3, 1, false}}, {"README.md", {0, 2, false}}}),
            " src/api.py | 4 +++-\n README.md  | 2 --\n 2 files changed, 3 insertions(+), 3 deletions(-)\n");
  EXPECT_EQ(FormatDiffStat({{"a", {1, 0, false}}}), " a | 1 +\n 1 file changed, 1 insertion(+)\n");
  const std::string scaled = FormatDiffStat({{"a", {1000, 10, false}}}, 40);
  EXPECT_THAT(scaled, HasSubstr(" a | 1010 +"));
  EXPECT_LT(scaled.find('\n'), 42u);
  EXPECT_THAT(FormatDiffStat({{"img.png", {0, 0, true}}}), HasSubstr(" img.png | Bin\n"));
  EXPECT_EQ(FormatDiffStat({}), "");
}

}  // namespace
}  // namespace aetherflow
