// What an LLM step leaves on disk when its answer arrives: the answer file
// and the code blocks assigned to the step's files, with the submitter's
// umask on the files and on the folders made for them.
#include "daemon/llm_steps.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "common/plan_parser.h"
#include "gtest/gtest.h"

namespace aetherflow {
namespace {

class LlmStepsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/af-llm-steps-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  unsigned ModeOf(const std::string& relative) {
    struct stat st;
    if (::stat((dir_ + "/" + relative).c_str(), &st) != 0) return 01000;  // missing
    return st.st_mode & 0777;
  }

  std::string dir_;
};

TEST_F(LlmStepsTest, AnswersAndCodeFilesGetTheSubmittersUmaskFoldersToo) {
  absl::StatusOr<Plan> plan = ParsePlan(R"({"steps": [
    {"id": "gen", "type": "code_generation", "provider": "p", "description": "write it",
     "context": {"files": ["pkg/sub/mod.py"]}}]})",
                                        "gen.json");
  ASSERT_TRUE(plan.ok()) << plan.status();
  ProviderConfig provider;
  provider.name = "p";
  LlmResponse response;
  response.http_status = 200;
  response.body = R"({"choices": [{"message": {"role": "assistant",
    "content": "Here:\n```python\nprint(1)\n```\n"}}],
    "usage": {"prompt_tokens": 10, "completion_tokens": 5}})";
  // The daemon's own umask would give 0755 folders and 0644 files.
  const mode_t ours = ::umask(022);
  LlmOutcome outcome = HandleLlmResponse(response, plan->steps[0], dir_, provider,
                                         /*http_attempt=*/1, /*now_ms=*/0, mode_t{027});
  ::umask(ours);
  ASSERT_EQ(outcome.kind, LlmOutcome::Kind::kSucceeded) << outcome.message;
  EXPECT_EQ(ModeOf("gen.md"), 0640u);
  EXPECT_EQ(ModeOf("pkg"), 0750u);
  EXPECT_EQ(ModeOf("pkg/sub"), 0750u);
  EXPECT_EQ(ModeOf("pkg/sub/mod.py"), 0640u);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/pkg/sub/mod.py.aetherflow-tmp"));
}

TEST_F(LlmStepsTest, WithoutAUmaskTheDaemonsOwnApplies) {
  absl::StatusOr<Plan> plan = ParsePlan(R"({"steps": [
    {"id": "doc", "type": "docs", "provider": "p", "description": "explain"}]})",
                                        "doc.json");
  ASSERT_TRUE(plan.ok()) << plan.status();
  ProviderConfig provider;
  provider.name = "p";
  LlmResponse response;
  response.http_status = 200;
  response.body = R"({"choices": [{"message": {"content": "text"}}]})";
  const mode_t ours = ::umask(077);
  LlmOutcome outcome =
      HandleLlmResponse(response, plan->steps[0], dir_ + "/out", provider, 1, 0);
  ::umask(ours);
  ASSERT_EQ(outcome.kind, LlmOutcome::Kind::kSucceeded) << outcome.message;
  EXPECT_EQ(ModeOf("out"), 0700u);
  EXPECT_EQ(ModeOf("out/doc.md"), 0600u);
}

}  // namespace
}  // namespace aetherflow
