// What an LLM step leaves on disk when its answer arrives: the answer file
// and the code blocks assigned to the step's files, with the submitter's
// umask on the files and on the folders made for them.
#include "daemon/llm_steps.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include "common/plan_parser.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

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

  // The outcome of `content` arriving as the answer to the only step of
  // `plan_json`, written under `output_dir` by a daemon whose umask is
  // `daemon_umask`, for a submitter with `umask`.
  LlmOutcome Answer(const std::string& plan_json, const std::string& content,
                    const std::string& output_dir, mode_t daemon_umask,
                    std::optional<mode_t> umask) {
    absl::StatusOr<Plan> plan = ParsePlan(plan_json, "plan.json");
    EXPECT_TRUE(plan.ok()) << plan.status();
    if (!plan.ok()) return LlmOutcome{};
    ProviderConfig provider;
    provider.name = "p";
    LlmResponse response;
    response.http_status = 200;
    response.body = nlohmann::json{{"choices", {{{"message", {{"content", content}}}}}},
                                   {"usage", {{"prompt_tokens", 10}, {"completion_tokens", 5}}}}
                        .dump();
    const mode_t ours = ::umask(daemon_umask);
    LlmOutcome outcome = HandleLlmResponse(response, plan->steps[0], output_dir, provider,
                                           /*http_attempt=*/1, /*now_ms=*/0, umask);
    ::umask(ours);
    return outcome;
  }

  unsigned ModeOf(const std::string& relative) {
    struct stat st;
    if (::stat((dir_ + "/" + relative).c_str(), &st) != 0) return 01000;  // missing: not a mode
    return st.st_mode & 0777;
  }

  std::string dir_;
};

TEST_F(LlmStepsTest, AnswersAndCodeFilesGetTheSubmittersUmaskFoldersToo) {
  // The daemon's own umask (022) would give 0755 folders and 0644 files.
  LlmOutcome outcome = Answer(R"({"steps": [
    {"id": "gen", "type": "code_generation", "provider": "p", "description": "write it",
     "context": {"files": ["pkg/sub/mod.py"]}}]})",
                              "Here:\n```python\nprint(1)\n```\n", dir_, 022, mode_t{027});
  ASSERT_EQ(outcome.kind, LlmOutcome::Kind::kSucceeded) << outcome.message;
  EXPECT_EQ(ModeOf("gen.md"), 0640u);
  EXPECT_EQ(ModeOf("pkg"), 0750u);
  EXPECT_EQ(ModeOf("pkg/sub"), 0750u);
  EXPECT_EQ(ModeOf("pkg/sub/mod.py"), 0640u);
  EXPECT_EQ(ModeOf("pkg/sub/mod.py.aetherflow-tmp"), 01000u) << "no temporary file left";
}

TEST_F(LlmStepsTest, WithoutAUmaskTheDaemonsOwnApplies) {
  LlmOutcome outcome = Answer(R"({"steps": [
    {"id": "doc", "type": "docs", "provider": "p", "description": "explain"}]})",
                              "text", dir_ + "/out", 077, std::nullopt);
  ASSERT_EQ(outcome.kind, LlmOutcome::Kind::kSucceeded) << outcome.message;
  EXPECT_EQ(ModeOf("out"), 0700u);
  EXPECT_EQ(ModeOf("out/doc.md"), 0600u);
}

}  // namespace
}  // namespace aetherflow
