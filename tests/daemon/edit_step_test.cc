// An applying step's answer turned into one atomic attempt (SPEC §11):
// outcomes of ApplyAnswer over a real project folder, and the messages
// that go back to the model.
#include "daemon/edit_step.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace aetherflow {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class EditStepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/af-edit-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    fs::create_directories(base_ + "/project/src");
    std::ofstream(base_ + "/project/src/a.py") << "def f():\n    return 1\n";
    ProjectWriter::Options options;
    options.project_dir = base_ + "/project";
    options.record_dir = base_ + "/record";
    writer_ = std::make_unique<ProjectWriter>(std::move(options));
  }
  void TearDown() override { fs::remove_all(base_); }

  std::vector<ProjectFile> Read(const std::vector<std::string>& paths) {
    absl::StatusOr<std::vector<ProjectFile>> read = ReadWritableFiles(*writer_, paths);
    EXPECT_TRUE(read.ok()) << read.status();
    return read.ok() ? *read : std::vector<ProjectFile>{};
  }
  std::string Content(const std::string& path) {
    std::ifstream in(base_ + "/project/" + path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  std::string base_;
  std::unique_ptr<ProjectWriter> writer_;
};

constexpr char kEdit[] =
    "src/a.py\n```python\n<<<<<<< SEARCH\n    return 1\n=======\n    return 2\n>>>>>>> REPLACE\n```\n";

TEST_F(EditStepTest, AnAnswerIsAppliedAndItsFilesNamed) {
  RoundResult r = ApplyAnswer(*writer_, kEdit, Read({"src/a.py"}));
  EXPECT_EQ(r.outcome, "applied") << r.reason;
  EXPECT_EQ(r.files, std::vector<std::string>{"src/a.py"});
  ASSERT_TRUE(r.applied);
  EXPECT_EQ(Content("src/a.py"), "def f():\n    return 2\n");
  ASSERT_TRUE(writer_->Rollback(*r.applied).ok());
  EXPECT_EQ(Content("src/a.py"), "def f():\n    return 1\n");
}

TEST_F(EditStepTest, NoUsableBlockIsARejectedRound) {
  RoundResult r = ApplyAnswer(*writer_, "I would return 2 instead.", Read({"src/a.py"}));
  EXPECT_EQ(r.outcome, "rejected");
  EXPECT_THAT(r.reason, HasSubstr("src/a.py"));
  EXPECT_FALSE(r.applied);
}

TEST_F(EditStepTest, ANewFileNeedsABlockOfItsOwn) {
  RoundResult r = ApplyAnswer(*writer_, kEdit, Read({"src/a.py", "src/new.py"}));
  EXPECT_EQ(r.outcome, "rejected");
  EXPECT_THAT(r.reason, HasSubstr("src/new.py"));
  EXPECT_EQ(Content("src/a.py"), "def f():\n    return 1\n") << "all or nothing";
}

TEST_F(EditStepTest, ASyntaxErrorIsRolledBackWithTheCheckersWords) {
  const std::string broken =
      "src/a.py\n```python\n<<<<<<< SEARCH\n    return 1\n=======\n    return (\n>>>>>>> REPLACE\n```\n";
  RoundResult r = ApplyAnswer(*writer_, broken, Read({"src/a.py"}));
  EXPECT_EQ(r.outcome, "syntax");
  EXPECT_THAT(r.reason, HasSubstr("src/a.py"));
  EXPECT_FALSE(r.applied);
  EXPECT_EQ(Content("src/a.py"), "def f():\n    return 1\n");
}

TEST_F(EditStepTest, AFileChangedSinceItWasReadFailsTheStep) {
  std::vector<ProjectFile> read = Read({"src/a.py"});
  std::ofstream(base_ + "/project/src/a.py") << "x = 1\n";
  RoundResult r = ApplyAnswer(*writer_, kEdit, read);
  EXPECT_EQ(r.outcome, "failed") << "the step cannot go on";
  EXPECT_THAT(r.reason, HasSubstr("src/a.py"));
  EXPECT_EQ(Content("src/a.py"), "x = 1\n");
}

TEST_F(EditStepTest, AnEditThatChangesNothingIsRejected) {
  const std::string same =
      "src/a.py\n```python\n<<<<<<< SEARCH\n    return 1\n=======\n    return 1\n>>>>>>> REPLACE\n```\n";
  EXPECT_EQ(ApplyAnswer(*writer_, same, Read({"src/a.py"})).outcome, "rejected");
}

TEST(EditPromptTest, TheApplyPromptShowsTheFilesToWriteOnceWithTheFormat) {
  PromptInputs inputs;
  inputs.description = "Make f return 2";
  inputs.files = {{"src/a.py", "", false}, {"README.md", "read me", true}};
  ProjectFile a{"src/a.py", std::string("def f():\n    return 1\n"), {}};
  std::string prompt = BuildApplyPrompt(inputs, {a});
  EXPECT_THAT(prompt, HasSubstr("# Task\n\nMake f return 2"));
  EXPECT_THAT(prompt, HasSubstr("read me"));
  EXPECT_THAT(prompt, HasSubstr("<<<<<<< SEARCH"));
  EXPECT_THAT(prompt, HasSubstr("- src/a.py (exists, 2 lines)"));
  EXPECT_EQ(prompt.find("# Files to write"), std::string::npos) << prompt;
}

TEST(EditPromptTest, RepairPromptAndOutputTail) {
  std::string repair = RepairPrompt("`pytest` failed (exit 1)", 1, 2);
  EXPECT_THAT(repair, HasSubstr("repair 1 of 2"));
  EXPECT_THAT(repair, HasSubstr("`pytest` failed (exit 1)"));
  std::string output;
  for (int i = 0; i < 1000; ++i) output += "line " + std::to_string(i) + "\n";
  std::string tail = OutputTail(output, 100);
  EXPECT_LE(tail.size(), 160u);
  EXPECT_THAT(tail, HasSubstr("line 999\n"));
  EXPECT_THAT(tail, HasSubstr("left out"));
  EXPECT_EQ(tail.find("line 0\n"), std::string::npos);
  EXPECT_EQ(OutputTail("short\n", 100), "short\n");
}

}  // namespace
}  // namespace aetherflow
