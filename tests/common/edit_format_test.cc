#include "common/edit_format.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace aetherflow {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kApi[] =
    "import os\n"
    "\n"
    "def add(a, b):\n"
    "    return a + b\n"
    "\n"
    "def sub(a, b):\n"
    "    return a - b\n";

std::vector<FileEdit> Parse(std::string_view answer, const std::vector<std::string>& files) {
  absl::StatusOr<std::vector<FileEdit>> edits = ParseEdits(answer, files);
  EXPECT_TRUE(edits.ok()) << edits.status();
  return edits.ok() ? *edits : std::vector<FileEdit>{};
}

std::string Apply(std::string_view answer, const std::string& path, const std::string& current) {
  std::vector<FileEdit> edits = Parse(answer, {path});
  EXPECT_EQ(edits.size(), 1u);
  if (edits.size() != 1) return "";
  absl::StatusOr<std::string> out = ApplyEdit(edits[0], current);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *out : "";
}

absl::Status ApplyError(std::string_view answer, const std::string& path, const std::string& current) {
  std::vector<FileEdit> edits = Parse(answer, {path});
  EXPECT_EQ(edits.size(), 1u);
  if (edits.size() != 1) return absl::OkStatus();
  absl::StatusOr<std::string> out = ApplyEdit(edits[0], current);
  EXPECT_FALSE(out.ok()) << *out;
  return out.status();
}

TEST(EditFormatTest, AiderStyleBlockReplacesTheLines) {
  const std::string answer =
      "I will add type hints.\n\n"
      "src/api.py\n"
      "```python\n"
      "<<<<<<< SEARCH\n"
      "def add(a, b):\n"
      "    return a + b\n"
      "=======\n"
      "def add(a: int, b: int) -> int:\n"
      "    return a + b\n"
      ">>>>>>> REPLACE\n"
      "```\n";
  std::vector<FileEdit> edits = Parse(answer, {"src/api.py"});
  ASSERT_EQ(edits.size(), 1u);
  EXPECT_EQ(edits[0].path, "src/api.py");
  ASSERT_EQ(edits[0].blocks.size(), 1u);
  EXPECT_EQ(edits[0].blocks[0].search, "def add(a, b):\n    return a + b\n");
  EXPECT_FALSE(edits[0].whole_file);
  EXPECT_EQ(*ApplyEdit(edits[0], std::string(kApi)),
            "import os\n\ndef add(a: int, b: int) -> int:\n    return a + b\n\n"
            "def sub(a, b):\n    return a - b\n");
}

TEST(EditFormatTest, SeveralBlocksPerFileAndPerFenceApplyInOrder) {
  const std::string answer =
      "**src/api.py**\n"
      "```python\n"
      "<<<<<<< SEARCH\n"
      "import os\n"
      "=======\n"
      "import os\n"
      "import sys\n"
      ">>>>>>> REPLACE\n"
      "\n"
      "<<<<<<< SEARCH\n"
      "    return a - b\n"
      "=======\n"
      "    return a - b  # difference\n"
      ">>>>>>> REPLACE\n"
      "```\n"
      "And one more:\n"
      "```python\n"
      "<<<<<<< SEARCH\n"
      "import sys\n"
      "=======\n"
      "import sys  # second block sees the first\n"
      ">>>>>>> REPLACE\n"
      "```\n";
  EXPECT_EQ(Apply(answer, "src/api.py", kApi),
            "import os\nimport sys  # second block sees the first\n\ndef add(a, b):\n"
            "    return a + b\n\ndef sub(a, b):\n    return a - b  # difference\n");
}

TEST(EditFormatTest, PathLineInsideTheFence) {
  const std::string answer =
      "Here is the change:\n```python\nsrc/api.py\n<<<<<<< SEARCH\nimport os\n=======\nimport re\n"
      ">>>>>>> REPLACE\n```\n";
  std::vector<FileEdit> edits = Parse(answer, {"README.md", "src/api.py"});
  ASSERT_EQ(edits.size(), 1u);
  EXPECT_EQ(edits[0].path, "src/api.py");
  ASSERT_EQ(edits[0].blocks.size(), 1u);
  EXPECT_FALSE(edits[0].whole_file);  // never the markers as content
}

TEST(EditFormatTest, BlocksForTwoFilesGoToEach) {
  const std::string answer =
      "`a.py`:\n```\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n```\n"
      "### lib/b.py\n```python\n<<<<<<< SEARCH\ny = 1\n=======\ny = 3\n>>>>>>> REPLACE\n```\n";
  std::vector<FileEdit> edits = Parse(answer, {"lib/b.py", "a.py"});
  ASSERT_EQ(edits.size(), 2u);
  EXPECT_EQ(edits[0].path, "lib/b.py");  // in the order of the step's files
  EXPECT_EQ(edits[0].blocks[0].replace, "y = 3\n");
  EXPECT_EQ(edits[1].path, "a.py");
  EXPECT_EQ(edits[1].blocks[0].replace, "x = 2\n");
}

TEST(EditFormatTest, SuffixNamesMatchTheOnlyFileWithThatSuffix) {
  const std::string answer = "api.py\n```\n<<<<<<< SEARCH\nimport os\n=======\n>>>>>>> REPLACE\n```\n";
  std::vector<FileEdit> edits = Parse(answer, {"src/api.py", "README.md"});
  ASSERT_EQ(edits.size(), 1u);
  EXPECT_EQ(edits[0].path, "src/api.py");
  EXPECT_EQ(*ApplyEdit(edits[0], std::string(kApi)).value().begin(), '\n');  // line deleted
}

TEST(EditFormatTest, UnfencedBlocksWork) {
  const std::string answer =
      "src/api.py\n<<<<<<< SEARCH\nimport os\n=======\nimport re\n>>>>>>> REPLACE\n";
  EXPECT_THAT(Apply(answer, "src/api.py", kApi), HasSubstr("import re\n\ndef add"));
}

TEST(EditFormatTest, NewFileFromAFencedBlockUnderItsPath) {
  const std::string answer =
      "Create the module:\n\n"
      "src/util.py\n```python\ndef helper():\n    return 1\n```\n"
      "And a usage example (not a file):\n```python\nhelper()\n```\n";
  std::vector<FileEdit> edits = Parse(answer, {"src/api.py", "src/util.py"});
  ASSERT_EQ(edits.size(), 1u);
  EXPECT_EQ(edits[0].path, "src/util.py");
  ASSERT_TRUE(edits[0].whole_file);
  EXPECT_EQ(*ApplyEdit(edits[0], std::nullopt), "def helper():\n    return 1\n");
}

TEST(EditFormatTest, PathOnTheFenceLine) {
  std::vector<FileEdit> edits = Parse("```python src/util.py\nX = 1\n```\n", {"src/util.py", "b.py"});
  ASSERT_EQ(edits.size(), 1u);
  EXPECT_EQ(*edits[0].whole_file, "X = 1\n");
}

TEST(EditFormatTest, WholeFileBlockIsTheFallbackForAnExistingFile) {
  const std::string answer = "src/api.py\n```python\nimport os\n# rewritten\n```\n";
  EXPECT_EQ(Apply(answer, "src/api.py", kApi), "import os\n# rewritten\n");
}

TEST(EditFormatTest, SearchReplaceWinsOverAWholeFileBlockForTheSameFile) {
  const std::string answer =
      "a.py\n```\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n```\n"
      "The result:\na.py\n```\nx = 2\ny = 0\n```\n";
  std::vector<FileEdit> edits = Parse(answer, {"a.py"});
  ASSERT_EQ(edits.size(), 1u);
  EXPECT_EQ(edits[0].blocks.size(), 1u);
  EXPECT_FALSE(edits[0].whole_file);
}

TEST(EditFormatTest, OneUnnamedBlockGoesToTheOnlyFile) {
  std::vector<FileEdit> edits = Parse("Here you go:\n```\nprint(1)\n```\n", {"main.py"});
  ASSERT_EQ(edits.size(), 1u);
  EXPECT_EQ(*edits[0].whole_file, "print(1)\n");
  // Two files, or two blocks: nothing is guessed.
  EXPECT_TRUE(Parse("```\nprint(1)\n```\n", {"a.py", "b.py"}).empty());
  EXPECT_TRUE(Parse("```\nprint(1)\n```\n```\nprint(2)\n```\n", {"a.py"}).empty());
}

TEST(EditFormatTest, SearchForAFileTheStepMayNotWriteIsAnError) {
  absl::StatusOr<std::vector<FileEdit>> edits = ParseEdits(
      "tests/test_api.py\n```\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n```\n",
      {"src/api.py"});
  ASSERT_FALSE(edits.ok());
  EXPECT_THAT(edits.status().message(), HasSubstr("tests/test_api.py"));
  EXPECT_THAT(edits.status().message(), HasSubstr("may write only src/api.py"));
  EXPECT_THAT(std::string(edits.status().message()), Not(HasSubstr("\n")));
}

TEST(EditFormatTest, FenceNamingAnotherFileIsNotTakenForTheOnlyFile) {
  absl::StatusOr<std::vector<FileEdit>> edits = ParseEdits(
      "```python tests/test_api.py\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n```\n", {"src/api.py"});
  ASSERT_FALSE(edits.ok());
  EXPECT_THAT(edits.status().message(), HasSubstr("the answer edits tests/test_api.py"));
}

TEST(EditFormatTest, SearchWithoutAFileIsAnErrorWhenThereAreSeveral) {
  absl::StatusOr<std::vector<FileEdit>> edits =
      ParseEdits("```\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n```\n", {"a.py", "b.py"});
  ASSERT_FALSE(edits.ok());
  EXPECT_THAT(edits.status().message(), HasSubstr("names no file"));
}

TEST(EditFormatTest, UnterminatedBlocksAreErrors) {
  EXPECT_THAT(ParseEdits("a.py\n<<<<<<< SEARCH\nx\n", {"a.py"}).status().message(),
              HasSubstr("no ======="));
  EXPECT_THAT(ParseEdits("a.py\n<<<<<<< SEARCH\nx\n=======\ny\n", {"a.py"}).status().message(),
              HasSubstr("no >>>>>>> REPLACE"));
}

TEST(EditFormatTest, FencesInsideSearchTextAreContent) {
  const std::string readme = "# Title\n\n```\nold\n```\n";
  const std::string answer =
      "README.md\n````markdown\n<<<<<<< SEARCH\n```\nold\n```\n=======\n```\nnew\n```\n"
      ">>>>>>> REPLACE\n````\n";
  EXPECT_EQ(Apply(answer, "README.md", readme), "# Title\n\n```\nnew\n```\n");
}

TEST(EditFormatTest, CheckEditsCoverNamesTheMissingFiles) {
  std::vector<FileEdit> edits = Parse("a.py\n```\nx = 1\n```\n", {"a.py", "b.py", "c.py"});
  EXPECT_TRUE(CheckEditsCover(edits, {"a.py"}).ok());
  absl::Status status = CheckEditsCover(edits, {"a.py", "b.py", "c.py"});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "the answer has no SEARCH/REPLACE or file block for b.py, c.py");
  EXPECT_FALSE(CheckEditsCover(Parse("No code, sorry.", {"a.py"}), {"a.py"}).ok());
}

// ---- applying

TEST(EditFormatTest, ToleratesTrailingWhitespaceAndConsistentIndentation) {
  const std::string file = "class A:\n    def f(self):\n        return 1   \n\n    def g(self):\n        pass\n";
  // The model dropped the class indentation and the trailing spaces.
  const std::string answer =
      "a.py\n```\n<<<<<<< SEARCH\ndef f(self):\n    return 1\n=======\ndef f(self):\n"
      "    return 2\n>>>>>>> REPLACE\n```\n";
  EXPECT_EQ(Apply(answer, "a.py", file),
            "class A:\n    def f(self):\n        return 2\n\n    def g(self):\n        pass\n");
  // And the other way round: more indentation than the file.
  const std::string deeper =
      "a.py\n```\n<<<<<<< SEARCH\n            pass\n=======\n            return None\n"
      ">>>>>>> REPLACE\n```\n";
  EXPECT_THAT(Apply(deeper, "a.py", file), HasSubstr("    def g(self):\n        return None\n"));
}

TEST(EditFormatTest, InconsistentIndentationDoesNotMatch) {
  const std::string file = "if x:\n    a()\n  b()\n";
  absl::Status status = ApplyError(
      "a.py\n```\n<<<<<<< SEARCH\na()\nb()\n=======\nc()\n>>>>>>> REPLACE\n```\n", "a.py", file);
  EXPECT_THAT(status.message(), HasSubstr("matches no lines"));
}

TEST(EditFormatTest, AmbiguousSearchFailsWithThePlaces) {
  const std::string file = "x = 1\ny = 2\nx = 1\n";
  absl::Status status =
      ApplyError("a.py\n```\n<<<<<<< SEARCH\nx = 1\n=======\nx = 3\n>>>>>>> REPLACE\n```\n", "a.py", file);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("a.py"));
  EXPECT_THAT(status.message(), HasSubstr("matches 2 places (lines 1-1, 3-3)"));
  // Also when only the tolerant match is ambiguous.
  status = ApplyError("a.py\n```\n<<<<<<< SEARCH\n x = 1\n=======\nx = 3\n>>>>>>> REPLACE\n```\n", "a.py",
                      "  x = 1\ny\n    x = 1\n");
  EXPECT_THAT(status.message(), HasSubstr("matches 2 places"));
}

TEST(EditFormatTest, NoMatchShowsTheClosestLines) {
  std::string file;
  for (int i = 1; i <= 40; ++i) file += "value_" + std::to_string(i) + " = compute(" + std::to_string(i) + ")\n";
  absl::Status status = ApplyError(
      "data.py\n```\n<<<<<<< SEARCH\nvalue_21 = compute(21)\nvalue_22 = compute(twenty-two)\n"
      "=======\nvalue_22 = 0\n>>>>>>> REPLACE\n```\n",
      "data.py", file);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  const std::string message(status.message());
  const std::string first_line = message.substr(0, message.find('\n'));
  EXPECT_THAT(first_line, HasSubstr("the SEARCH block for data.py matches no lines"));
  EXPECT_THAT(first_line, HasSubstr("(21-22)"));
  EXPECT_THAT(message, HasSubstr("21| value_21 = compute(21)\n22| value_22 = compute(22)\n"));
}

TEST(EditFormatTest, NoMatchNamesTheBlockAmongSeveral) {
  absl::Status status = ApplyError(
      "a.py\n```\n<<<<<<< SEARCH\nimport os\n=======\nimport re\n>>>>>>> REPLACE\n"
      "<<<<<<< SEARCH\nnot there\n=======\nx\n>>>>>>> REPLACE\n```\n",
      "a.py", kApi);
  EXPECT_THAT(status.message(), HasSubstr("SEARCH block 2 of 2 for a.py"));
}

TEST(EditFormatTest, SearchOnAMissingFileFails) {
  std::vector<FileEdit> edits =
      Parse("new.py\n```\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n```\n", {"new.py"});
  ASSERT_EQ(edits.size(), 1u);
  absl::StatusOr<std::string> out = ApplyEdit(edits[0], std::nullopt);
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(out.status().message(), HasSubstr("new.py does not exist"));
}

TEST(EditFormatTest, EmptySearchCreatesOrAppends) {
  std::vector<FileEdit> edits =
      Parse("new.py\n```\n<<<<<<< SEARCH\n=======\nx = 1\n>>>>>>> REPLACE\n```\n", {"new.py"});
  ASSERT_EQ(edits.size(), 1u);
  EXPECT_EQ(*ApplyEdit(edits[0], std::nullopt), "x = 1\n");
  EXPECT_EQ(*ApplyEdit(edits[0], std::string("a = 0")), "a = 0\nx = 1\n");
}

TEST(EditFormatTest, KeepsCrlfAndAMissingFinalNewline) {
  const std::string answer = "a.txt\n```\n<<<<<<< SEARCH\ntwo\n=======\n2\n2b\n>>>>>>> REPLACE\n```\n";
  EXPECT_EQ(Apply(answer, "a.txt", "one\r\ntwo\r\nthree\r\n"), "one\r\n2\r\n2b\r\nthree\r\n");
  EXPECT_EQ(Apply(answer, "a.txt", "one\ntwo"), "one\n2\n2b");
}

TEST(EditFormatTest, LineNumbersCopiedFromThePromptAreIgnored) {
  const std::string answer =
      "a.py\n```\n<<<<<<< SEARCH\n3| def add(a, b):\n4|     return a + b\n=======\n3| def add(a, b):\n"
      "4|     return b + a\n>>>>>>> REPLACE\n```\n";
  EXPECT_THAT(Apply(answer, "a.py", kApi), HasSubstr("def add(a, b):\n    return b + a\n"));
}

// ---- prompt

TEST(EditFormatTest, PromptListsFilesStatesTheFormatAndShowsContents) {
  const std::string prompt = BuildEditPrompt({{"src/api.py", std::string(kApi)}, {"src/new.py", std::nullopt}});
  EXPECT_THAT(prompt, HasSubstr("- src/api.py (exists, 7 lines)\n- src/new.py (new file)\n"));
  EXPECT_THAT(prompt, HasSubstr("src/api.py\n```python\n<<<<<<< SEARCH\n"));
  EXPECT_THAT(prompt, HasSubstr(">>>>>>> REPLACE"));
  EXPECT_THAT(prompt, HasSubstr("To create a new file"));
  EXPECT_THAT(prompt, HasSubstr("Do not write any other file."));
  EXPECT_THAT(prompt, HasSubstr("## Current content of src/api.py\n\n```python\nimport os\n"));
  EXPECT_THAT(prompt, Not(HasSubstr("1| import os")));  // short: not numbered
  EXPECT_EQ(prompt, BuildEditPrompt({{"src/api.py", std::string(kApi)}, {"src/new.py", std::nullopt}}));
}

TEST(EditFormatTest, PromptNumbersLongFilesAndSaysNotToCopyNumbers) {
  std::string file;
  for (int i = 0; i < 150; ++i) file += "line " + std::to_string(i) + "\n";
  const std::string prompt = BuildEditPrompt({{"big.txt", file}});
  EXPECT_THAT(prompt, HasSubstr("  1| line 0\n"));
  EXPECT_THAT(prompt, HasSubstr("150| line 149\n"));
  EXPECT_THAT(prompt, HasSubstr("never copy them"));
  EXPECT_THAT(BuildEditPrompt({{"big.txt", file}}, LineNumbers::kNever), Not(HasSubstr("1| line 0")));
}

TEST(EditFormatTest, PromptFenceIsLongerThanFencesInTheFile) {
  const std::string prompt = BuildEditPrompt({{"README.md", std::string("```\ncode\n```\n")}});
  EXPECT_THAT(prompt, HasSubstr("````markdown\n```\ncode\n```\n````\n"));
}

TEST(EditFormatTest, PromptCutsHugeFilesAtALine) {
  std::string file;
  for (int i = 0; i < 1000; ++i) file += "0123456789\n";
  const std::string prompt = BuildEditPrompt({{"a.txt", file}}, LineNumbers::kNever, 55);
  EXPECT_THAT(prompt, HasSubstr("0123456789\n0123456789\n0123456789\n0123456789\n0123456789\n```\n(cut here: 995 more lines"));
}

// The prompt's own example, answered back, parses and applies.
TEST(EditFormatTest, PromptExampleRoundTrips) {
  const std::string file = "old line 1\nold line 2\nkeep\n";
  const std::string prompt = BuildEditPrompt({{"notes.txt", file}});
  const std::size_t from = prompt.find("notes.txt\n```");
  const std::size_t to = prompt.find(">>>>>>> REPLACE\n```\n", from);
  ASSERT_NE(to, std::string::npos);
  const std::string example = prompt.substr(from, to + 20 - from);
  EXPECT_EQ(Apply(example, "notes.txt", file), "new line 1\nkeep\n");
}

}  // namespace
}  // namespace aetherflow
