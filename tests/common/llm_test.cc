#include "common/llm.h"

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/plan_parser.h"
#include "gtest/gtest.h"

namespace aetherflow {
namespace {

using Json = nlohmann::json;

::testing::AssertionResult Contains(const char* text_expr,
                                    const char* part_expr,
                                    const std::string& text,
                                    const std::string& part) {
  if (text.find(part) != std::string::npos) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << text_expr << " does not contain " << part_expr
         << "\n  text: " << text.substr(0, 2000) << "\n  part: " << part;
}

::testing::AssertionResult Lacks(const char* text_expr, const char* part_expr,
                                 const std::string& text,
                                 const std::string& part) {
  if (text.find(part) == std::string::npos) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << text_expr << " contains " << part_expr
                                       << "\n  text: " << text.substr(0, 2000);
}

#define EXPECT_CONTAINS(text, part) EXPECT_PRED_FORMAT2(Contains, text, part)
#define EXPECT_LACKS(text, part) EXPECT_PRED_FORMAT2(Lacks, text, part)

std::string Message(const absl::Status& status) {
  return std::string(status.message());
}

// ------------------------------------------------------------- prompt

TEST(PromptTest, InputsFromStep) {
  Step step;
  step.id = "step_2";
  step.description = "Write the API";
  step.validation_criteria = {"Has GET /items", "Has tests"};
  step.context.language = "python";
  step.context.files = {"api.py", "test_api.py", "api.py"};
  step.context.input_files = {"spec.md", "api.py"};
  absl::StatusOr<PromptInputs> in = PromptInputsFromStep(step);
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_EQ(in->description, "Write the API");
  EXPECT_EQ(in->validation_criteria, step.validation_criteria);
  EXPECT_EQ(in->language, "python");
  EXPECT_EQ(in->explicit_prompt, "");
  ASSERT_EQ(in->files.size(), 3u);  // duplicates dropped
  EXPECT_EQ(in->files[0].path, "api.py");
  EXPECT_FALSE(in->files[0].input_only);
  EXPECT_EQ(in->files[1].path, "test_api.py");
  EXPECT_FALSE(in->files[1].input_only);
  EXPECT_EQ(in->files[2].path, "spec.md");
  EXPECT_TRUE(in->files[2].input_only);
  EXPECT_EQ(in->files[2].content, "");  // the caller reads the files
}

TEST(PromptTest, InputsFromStepWithoutContext) {
  Step step;
  step.id = "s";
  step.prompt = "Say hi";
  absl::StatusOr<PromptInputs> in = PromptInputsFromStep(step);
  ASSERT_TRUE(in.ok());
  EXPECT_EQ(in->explicit_prompt, "Say hi");
  EXPECT_EQ(in->language, "");
  EXPECT_TRUE(in->files.empty());
}

// What ParsePlan types is what the prompt gets: the context is not read
// again from raw_json (which still holds the user's own keys).
TEST(PromptTest, InputsFromParsedStep) {
  absl::StatusOr<Plan> plan = ParsePlan(R"j({"steps": [{"id": "s", "prompt": "p",
      "context": {"language": ["go", 1], "files": "main.go",
                  "input_files": ["go.mod", "main.go"], "owner": "me"}}]})j",
                                        "plan.json");
  ASSERT_TRUE(plan.ok()) << plan.status();
  absl::StatusOr<PromptInputs> in = PromptInputsFromStep(plan->steps[0]);
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_EQ(in->language, R"(["go",1])");
  ASSERT_EQ(in->files.size(), 2u);
  EXPECT_EQ(in->files[0].path, "main.go");
  EXPECT_FALSE(in->files[0].input_only);
  EXPECT_EQ(in->files[1].path, "go.mod");
  EXPECT_TRUE(in->files[1].input_only);
}

TEST(PromptTest, InputsFromStepRefusesBadFileLists) {
  // ParsePlan refuses these; a Step built in code can still hold them.
  Step step;
  step.id = "s";
  step.context.files = {"a.py", ""};
  absl::StatusOr<PromptInputs> in = PromptInputsFromStep(step);
  EXPECT_EQ(in.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_CONTAINS(Message(in.status()), "context.files[1]");
  step.context.files.clear();
  step.context.input_files = {std::string("a\0b", 3)};
  EXPECT_CONTAINS(Message(PromptInputsFromStep(step).status()),
                  "context.input_files[0]");
}

PromptInputs FullInputs() {
  PromptInputs in;
  in.description = "Create a small REST API";
  in.validation_criteria = {"Lists endpoints", "Has tests"};
  in.language = "Python";
  in.files = {{"api.py", "", false},
              {"my file.py", "old = 1\n", false},
              {"spec.md", "GET /items returns a list", true}};
  in.dependency_outputs = {{"step_1", "Design: GET /items"}};
  return in;
}

TEST(PromptTest, BuiltPromptHasEverySection) {
  const std::string p = BuildPrompt(FullInputs());
  EXPECT_CONTAINS(p, "# Task\n\nCreate a small REST API\n");
  EXPECT_CONTAINS(p, "# Language\n\nUse Python.\n");
  EXPECT_CONTAINS(p, "# Validation criteria\n");
  EXPECT_CONTAINS(p, "- Lists endpoints\n- Has tests\n");
  EXPECT_CONTAINS(p, "# Files to write\n");
  EXPECT_CONTAINS(p, "- api.py\n- my file.py\n");
  EXPECT_CONTAINS(p,
                  "Answer with one fenced code block per file, the path after "
                  "the language on the fence line, e.g. ```python api.py");
  EXPECT_CONTAINS(p, "## Current content of my file.py\n\n```\nold = 1\n```\n");
  EXPECT_CONTAINS(p, "# Input files (read-only)\n");
  EXPECT_CONTAINS(p, "## spec.md\n\n```\nGET /items returns a list\n```\n");
  EXPECT_CONTAINS(p, "# Outputs of previous steps\n");
  EXPECT_CONTAINS(p, "## Step step_1\n\n```\nDesign: GET /items\n```\n");
  // Sections in a fixed order; spec.md is not a file to write.
  EXPECT_LT(p.find("# Task"), p.find("# Language"));
  EXPECT_LT(p.find("# Language"), p.find("# Validation criteria"));
  EXPECT_LT(p.find("# Validation criteria"), p.find("# Files to write"));
  EXPECT_LT(p.find("# Files to write"), p.find("# Input files"));
  EXPECT_LT(p.find("# Input files"), p.find("# Outputs of previous steps"));
  EXPECT_LACKS(p, "- spec.md");
  // Deterministic.
  EXPECT_EQ(p, BuildPrompt(FullInputs()));
}

TEST(PromptTest, ExplicitPromptOverrides) {
  PromptInputs in = FullInputs();
  in.explicit_prompt = "Just say OK.";
  EXPECT_EQ(BuildPrompt(in), "Just say OK.");
}

TEST(PromptTest, EmptySectionsAreLeftOut) {
  PromptInputs in;
  in.description = "Explain monads";
  EXPECT_EQ(BuildPrompt(in), "# Task\n\nExplain monads\n");
}

TEST(PromptTest, FencesAreLongerThanTheContent) {
  PromptInputs in;
  in.description = "x";
  in.dependency_outputs = {{"a", "Here:\n```python api.py\nprint(1)\n```\n"}};
  const std::string p = BuildPrompt(in);
  EXPECT_CONTAINS(p, "````\nHere:\n```python api.py\nprint(1)\n```\n````\n");
}

TEST(PromptTest, LongPartsAreCut) {
  PromptInputs in;
  in.description = "x";
  // A multi-byte character straddles the cut: it must not be split.
  std::string big(kMaxPromptPartBytes - 1, 'a');
  big += "\xC3\xA9";  // é
  big += std::string(1000, 'b');
  in.files = {{"big.txt", big, true}};
  const std::string p = BuildPrompt(in);
  EXPECT_LT(p.size(), kMaxPromptPartBytes + 1000);
  EXPECT_CONTAINS(p, "(cut: only the first " +
                         std::to_string(kMaxPromptPartBytes - 1) + " of " +
                         std::to_string(big.size()) + " bytes are shown)");
  EXPECT_LACKS(p, "\xC3");
  EXPECT_LACKS(p, "bb");
}

// ------------------------------------------------------------- request

TEST(CompletionTest, ChatRequestShape) {
  const Json j =
      Json::parse(BuildChatRequest("deepseek-chat", "Hello \"world\"\n"));
  EXPECT_EQ(j["model"], "deepseek-chat");
  EXPECT_EQ(j["stream"], false);
  ASSERT_EQ(j["messages"].size(), 2u);
  EXPECT_EQ(j["messages"][0]["role"], "system");
  EXPECT_CONTAINS(j["messages"][0]["content"].get<std::string>(),
                  "careful software engineer");
  EXPECT_EQ(j["messages"][1]["role"], "user");
  EXPECT_EQ(j["messages"][1]["content"], "Hello \"world\"\n");
  EXPECT_EQ(j.size(), 3u);
}

TEST(CompletionTest, ChatRequestSurvivesInvalidUtf8) {
  const std::string body = BuildChatRequest("m", "caf\xE9 \xFF");
  const Json j = Json::parse(body);  // valid JSON
  EXPECT_CONTAINS(j["messages"][1]["content"].get<std::string>(), "caf");
}

// ------------------------------------------------------------- answers

TEST(CompletionTest, OpenAiAnswer) {
  absl::StatusOr<Completion> c = ParseCompletion(R"({
    "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-mini",
    "choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": "Hello!"}}],
    "usage": {"prompt_tokens": 1200, "completion_tokens": 300,
              "total_tokens": 1500,
              "prompt_tokens_details": {"cached_tokens": 1024}}})");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->text, "Hello!");
  EXPECT_EQ(c->model, "gpt-4o-mini");
  EXPECT_EQ(c->finish_reason, "stop");
  EXPECT_TRUE(c->usage_reported);
  EXPECT_EQ(c->usage.prompt_tokens, 1200);
  EXPECT_EQ(c->usage.completion_tokens, 300);
  EXPECT_EQ(c->usage.cached_prompt_tokens, 1024);
}

TEST(CompletionTest, DeepSeekCacheHitTokens) {
  absl::StatusOr<Completion> c = ParseCompletion(R"({
    "model": "deepseek-chat",
    "choices": [{"message": {"content": "ok"}, "finish_reason": "length"}],
    "usage": {"prompt_tokens": 500, "completion_tokens": 20,
              "prompt_cache_hit_tokens": 384,
              "prompt_cache_miss_tokens": 116}})");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->usage.cached_prompt_tokens, 384);
  EXPECT_EQ(c->finish_reason, "length");
}

// Whatever a provider claims, a count is capped: the daemon adds them up.
TEST(CompletionTest, HugeUsageIsCapped) {
  absl::StatusOr<Completion> c = ParseCompletion(R"({
    "choices": [{"message": {"content": "ok"}}],
    "usage": {"prompt_tokens": 18446744073709551615,
              "completion_tokens": 1e300, "prompt_cache_hit_tokens": -5}})");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->usage.prompt_tokens, kMaxTokens);
  EXPECT_EQ(c->usage.completion_tokens, kMaxTokens);
  EXPECT_EQ(c->usage.cached_prompt_tokens, 0);
}

TEST(CompletionTest, NoUsageMeansUnknownTokens) {
  absl::StatusOr<Completion> c =
      ParseCompletion(R"({"choices": [{"message": {"content": "hi"}}]})");
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->usage_reported);
  EXPECT_EQ(c->usage.prompt_tokens, 0);
}

TEST(CompletionTest, ContentParts) {
  absl::StatusOr<Completion> c = ParseCompletion(
      R"({"choices": [{"message": {"content": [{"type": "text", "text": "a"},
          {"type": "text", "text": "b"}]}}]})");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->text, "ab");
}

TEST(CompletionTest, ApiErrorObject) {
  absl::StatusOr<Completion> c = ParseCompletion(
      R"({"error": {"message": "Rate limit reached for model",
                    "type": "tokens", "code": "rate_limit_exceeded"}})");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Message(c.status()),
            "provider error: Rate limit reached for model (type: tokens, "
            "code: rate_limit_exceeded)");
  // Gemini wraps it in an array; some servers send a bare string.
  EXPECT_CONTAINS(
      Message(ParseCompletion(
                  R"([{"error": {"code": 400, "message": "API key not valid",
                       "status": "INVALID_ARGUMENT"}}])")
                  .status()),
      "provider error: API key not valid (code: 400, status: "
      "INVALID_ARGUMENT)");
  EXPECT_EQ(
      Message(ParseCompletion(R"({"error": "model not found"})").status()),
      "provider error: model not found");
}

TEST(CompletionTest, ErrorMessagesStayOnOneShortLine) {
  const std::string body =
      Json{{"error", {{"message", "line1\nline2" + std::string(5000, 'x')}}}}
          .dump();
  const std::string m = Message(ParseCompletion(body).status());
  EXPECT_EQ(m.find('\n'), std::string::npos);
  EXPECT_LT(m.size(), 1100u);
}

TEST(CompletionTest, MalformedAnswers) {
  for (const char* body :
       {"", "not json", "<html>502 Bad Gateway</html>", "[1, 2]", "{}",
        R"({"choices": []})", R"({"choices": [{"message": {}}]})",
        R"({"choices": [{"message": {"content": null}, "finish_reason":
            "content_filter"}]})",
        R"({"choices": "x"})", "{\"choices\": [{\"message\": {\"content\": "}) {
    absl::StatusOr<Completion> c = ParseCompletion(body);
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << body;
  }
  EXPECT_CONTAINS(
      Message(ParseCompletion(R"({"choices": [{"message": {"content": null},
          "finish_reason": "content_filter"}]})")
                  .status()),
      "content_filter");
  EXPECT_CONTAINS(Message(ParseCompletion("<html>502</html>").status()),
                  "not JSON: <html>502</html>");
}

// ------------------------------------------------------------- cost

ProviderConfig Priced(std::optional<double> in, std::optional<double> cached,
                      std::optional<double> out) {
  ProviderConfig p;
  p.name = "p";
  p.price_input = in;
  p.price_cached_input = cached;
  p.price_output = out;
  return p;
}

TEST(CostTest, CachedTokensArePricedSeparately) {
  Usage u;
  u.prompt_tokens = 1'000'000;
  u.cached_prompt_tokens = 400'000;
  u.completion_tokens = 500'000;
  // 600k * 0.27 + 400k * 0.07 + 500k * 1.10, per million.
  EXPECT_DOUBLE_EQ(*ComputeCost(u, Priced(0.27, 0.07, 1.10)),
                   0.162 + 0.028 + 0.55);
  // No cached price: the input price applies to all input tokens.
  EXPECT_DOUBLE_EQ(*ComputeCost(u, Priced(0.27, std::nullopt, 1.10)),
                   0.27 + 0.55);
}

TEST(CostTest, UnknownPriceIsUnknownCost) {
  Usage u;
  u.prompt_tokens = 10;
  u.completion_tokens = 10;
  EXPECT_FALSE(ComputeCost(u, Priced(std::nullopt, 0.1, 1.0)).has_value());
  EXPECT_FALSE(ComputeCost(u, Priced(1.0, 0.1, std::nullopt)).has_value());
  EXPECT_FALSE(
      EstimateCost(1000, Priced(std::nullopt, std::nullopt, 1.0)).has_value());
  // A free (local) provider costs 0, which is known.
  EXPECT_DOUBLE_EQ(*ComputeCost(u, Priced(0.0, 0.0, 0.0)), 0.0);
}

TEST(CostTest, CachedTokensNeverExceedPromptTokens) {
  Usage u;
  u.prompt_tokens = 100;
  u.cached_prompt_tokens = 1000;
  EXPECT_DOUBLE_EQ(*ComputeCost(u, Priced(1.0, 0.0, 1.0)), 0.0);
}

TEST(CostTest, EstimateCountsInputAndOutput) {
  // 1000 tokens out and 1000 in: 1000 * (0.27 + 1.10) / 1e6.
  EXPECT_DOUBLE_EQ(*EstimateCost(1000, Priced(0.27, 0.07, 1.10)),
                   1000 * (0.27 + 1.10) / 1e6);
  EXPECT_DOUBLE_EQ(*EstimateCost(0, Priced(0.27, 0.07, 1.10)), 0.0);
  EXPECT_FALSE(EstimateCost(-1, Priced(0.27, 0.07, 1.10)).has_value());
}

// ------------------------------------------------------------- code blocks

TEST(CodeBlockTest, InfoStringForms) {
  const std::vector<CodeBlock> b = ExtractCodeBlocks(
      "Intro\n"
      "```python api.py\nA\n```\n"
      "```api.py\nB\n```\n"
      "```python title=\"my file.py\"\nC\n```\n"
      "```python:src/x.py\nD\n```\n"
      "```python my file.py\nE\n```\n"
      "```python\nF\n```\n"
      "```\nG\n```\n");
  ASSERT_EQ(b.size(), 7u);
  EXPECT_EQ(b[0].info, "python api.py");
  EXPECT_EQ(b[0].path, "api.py");
  EXPECT_EQ(b[0].code, "A\n");
  EXPECT_EQ(b[1].path, "api.py");
  EXPECT_EQ(b[2].path, "my file.py");
  EXPECT_EQ(b[3].path, "src/x.py");
  EXPECT_EQ(b[4].path, "my file.py");
  EXPECT_EQ(b[5].path, "");
  EXPECT_EQ(b[5].info, "python");
  EXPECT_EQ(b[6].path, "");
  EXPECT_EQ(b[6].code, "G\n");
}

TEST(CodeBlockTest, TildesLongFencesAndNesting) {
  const std::vector<CodeBlock> b = ExtractCodeBlocks(
      "~~~ README.md\n# Title\n```bash\nmake\n```\n~~~\n"
      "````markdown doc.md\n```\ninner\n```\n````\n");
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].path, "README.md");
  EXPECT_EQ(b[0].code, "# Title\n```bash\nmake\n```\n");
  EXPECT_EQ(b[1].path, "doc.md");
  EXPECT_EQ(b[1].code, "```\ninner\n```\n");
}

TEST(CodeBlockTest, UnterminatedBlockRunsToTheEnd) {
  const std::vector<CodeBlock> b =
      ExtractCodeBlocks("Text\n```go main.go\npackage main\nfunc main() {");
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].code, "package main\nfunc main() {\n");
}

TEST(CodeBlockTest, CrLfIndentationAndInlineCode) {
  const std::vector<CodeBlock> b = ExtractCodeBlocks(
      "Use ```inline``` code.\r\n"
      "1. Step:\r\n   ```sh run.sh\r\n   echo hi\r\n     indented\r\n   "
      "```\r\n");
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].path, "run.sh");
  EXPECT_EQ(b[0].code, "echo hi\n  indented\n");
}

TEST(CodeBlockTest, HintFromThePreviousLine) {
  const std::vector<CodeBlock> b = ExtractCodeBlocks(
      "**api.py**\n```python\n1\n```\n"
      "Here is `tests/test_api.py`:\n\n```python\n2\n```\n"
      "Run it with:\n```bash\npytest\n```\n");
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0].path, "");
  EXPECT_EQ(b[0].hint, "api.py");
  EXPECT_EQ(b[1].hint, "tests/test_api.py");
  EXPECT_EQ(b[2].hint, "");
}

TEST(CodeBlockTest, NoBlocks) {
  EXPECT_TRUE(ExtractCodeBlocks("").empty());
  EXPECT_TRUE(ExtractCodeBlocks("just text\n`` not a fence\n").empty());
}

std::vector<CodeBlock> Blocks(
    std::vector<std::pair<std::string, std::string>> info_and_code) {
  std::string md;
  for (const auto& [info, code] : info_and_code) {
    md += "```" + info + "\n" + code + "```\n";
  }
  return ExtractCodeBlocks(md);
}

TEST(CodeBlockTest, AssignNamedBlocksThenByOrder) {
  const std::vector<CodeBlock> blocks = Blocks({{"python", "first\n"},
                                                {"python test_api.py", "t\n"},
                                                {"python", "second\n"},
                                                {"bash", "extra\n"}});
  absl::StatusOr<std::vector<FileWrite>> w =
      AssignCodeBlocks(blocks, {"api.py", "test_api.py", "util.py"});
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_EQ(w->size(), 3u);
  EXPECT_EQ((*w)[0].path, "api.py");
  EXPECT_EQ((*w)[0].content, "first\n");
  EXPECT_EQ((*w)[1].path, "test_api.py");
  EXPECT_EQ((*w)[1].content, "t\n");
  EXPECT_EQ((*w)[2].path, "util.py");
  EXPECT_EQ((*w)[2].content, "second\n");
}

TEST(CodeBlockTest, AssignOutOfOrderAndPartialPaths) {
  const std::vector<CodeBlock> blocks = Blocks({{"python src/b.py", "B\n"},
                                                {"Makefile", "M\n"},
                                                {"python a.py", "A\n"}});
  absl::StatusOr<std::vector<FileWrite>> w =
      AssignCodeBlocks(blocks, {"a.py", "b.py", "Makefile"});
  ASSERT_TRUE(w.ok());
  ASSERT_EQ(w->size(), 3u);
  EXPECT_EQ((*w)[0].content, "A\n");
  EXPECT_EQ((*w)[1].content, "B\n");  // src/b.py matches b.py
  EXPECT_EQ((*w)[2].content, "M\n");  // the whole info string names it
}

TEST(CodeBlockTest, AssignFileWithoutBlockIsNotWritten) {
  absl::StatusOr<std::vector<FileWrite>> w =
      AssignCodeBlocks(Blocks({{"python", "only\n"}}), {"a.py", "b.py"});
  ASSERT_TRUE(w.ok());
  ASSERT_EQ(w->size(), 1u);
  EXPECT_EQ((*w)[0].path, "a.py");
  EXPECT_TRUE(AssignCodeBlocks({}, {"a.py"})->empty());
  EXPECT_TRUE(AssignCodeBlocks(Blocks({{"", "x\n"}}), {})->empty());
}

TEST(CodeBlockTest, AssignNamedBlockDoesNotFillAnotherFile) {
  // Two versions of a.py: the first wins, the second does not go to b.py.
  absl::StatusOr<std::vector<FileWrite>> w = AssignCodeBlocks(
      Blocks({{"python a.py", "v1\n"}, {"python a.py", "v2\n"}}),
      {"a.py", "b.py"});
  ASSERT_TRUE(w.ok());
  ASSERT_EQ(w->size(), 1u);
  EXPECT_EQ((*w)[0].content, "v1\n");
}

TEST(CodeBlockTest, AssignUsesHints) {
  absl::StatusOr<std::vector<FileWrite>> w = AssignCodeBlocks(
      ExtractCodeBlocks("`b.py`:\n```python\nB\n```\n`a.py`:\n```python\nA\n"
                        "```\n"),
      {"a.py", "b.py"});
  ASSERT_TRUE(w.ok());
  ASSERT_EQ(w->size(), 2u);
  EXPECT_EQ((*w)[0].content, "A\n");
  EXPECT_EQ((*w)[1].content, "B\n");
}

TEST(CodeBlockTest, AssignRefusesUnsafeFiles) {
  absl::StatusOr<std::vector<FileWrite>> w =
      AssignCodeBlocks(Blocks({{"", "x\n"}}), {"../evil.py"});
  EXPECT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_CONTAINS(Message(w.status()), "../evil.py");
}

// ------------------------------------------------------------- paths

TEST(SafeJoinTest, AcceptsRelativePaths) {
  EXPECT_EQ(*SafeJoin("/out", "api.py"), "/out/api.py");
  EXPECT_EQ(*SafeJoin("/out", "my file.py"), "/out/my file.py");
  EXPECT_EQ(*SafeJoin("/out", "sub/dir/x.py"), "/out/sub/dir/x.py");
  EXPECT_EQ(*SafeJoin("/out/", "./a//b.py"), "/out/a/b.py");
  EXPECT_EQ(*SafeJoin("out", "a..b/..c"), "out/a..b/..c");  // not ".."
  EXPECT_EQ(*SafeJoin("/", "x"), "/x");
}

TEST(SafeJoinTest, RefusesEscapes) {
  for (const std::string& bad : std::vector<std::string>{
           "../x", "/etc/passwd", "a/../../b", "a/..", "..", "", ".", "./",
           "dir/", std::string("a\0b", 3), "a\nb", std::string(5000, 'a'),
           std::string(300, 'a') + "/x"}) {
    absl::StatusOr<std::string> r = SafeJoin("/out", bad);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_CONTAINS(Message(SafeJoin("/out", "a/../../b").status()),
                  "\"a/../../b\"");
  EXPECT_CONTAINS(Message(SafeJoin("/out", "/etc/passwd").status()),
                  "absolute");
  EXPECT_FALSE(SafeJoin("", "x").ok());
}

// ------------------------------------------------------------- retries

TEST(RetryTest, RetryAfterSeconds) {
  EXPECT_EQ(ParseRetryAfterMs("120", 0), 120000);
  EXPECT_EQ(ParseRetryAfterMs(" 1.5 ", 0), 1500);
  EXPECT_EQ(ParseRetryAfterMs("0", 0), 0);
  EXPECT_EQ(ParseRetryAfterMs("-5", 0), std::nullopt);
  EXPECT_EQ(ParseRetryAfterMs("", 0), std::nullopt);
  EXPECT_EQ(ParseRetryAfterMs("soon", 0), std::nullopt);
  EXPECT_EQ(ParseRetryAfterMs("30s", 0), std::nullopt);
  EXPECT_EQ(ParseRetryAfterMs("99999999999999999999", 0), std::nullopt);
}

TEST(RetryTest, RetryAfterHttpDate) {
  // Wed, 21 Oct 2015 07:28:00 GMT is 1445412480 s after the epoch.
  const int64_t at = int64_t{1445412480} * 1000;
  EXPECT_EQ(ParseRetryAfterMs("Wed, 21 Oct 2015 07:28:00 GMT", at - 90000),
            90000);
  // In the past: now.
  EXPECT_EQ(ParseRetryAfterMs("Wed, 21 Oct 2015 07:28:00 GMT", at + 5000), 0);
  // The obsolete forms.
  EXPECT_EQ(ParseRetryAfterMs("Wednesday, 21-Oct-15 07:28:00 GMT", at - 1000),
            1000);
  EXPECT_EQ(ParseRetryAfterMs("Wed Oct 21 07:28:00 2015", at - 1000), 1000);
  EXPECT_EQ(ParseRetryAfterMs("21 Oct 2015", at), std::nullopt);
}

TEST(RetryTest, RetryableStatuses) {
  for (int s : {0, 408, 409, 425, 429, 500, 502, 503, 504, 529, 599}) {
    EXPECT_TRUE(IsRetryableHttpStatus(s)) << s;
  }
  for (int s : {200, 301, 400, 401, 403, 404, 413, 422, 600}) {
    EXPECT_FALSE(IsRetryableHttpStatus(s)) << s;
  }
}

TEST(RetryTest, BackoffSequence) {
  const std::vector<int64_t> expected = {1000,  2000,  4000,  8000,
                                         16000, 32000, 60000, 60000};
  for (int attempt = 1; attempt <= 8; ++attempt) {
    EXPECT_EQ(LlmBackoffMs(attempt, std::nullopt), expected[attempt - 1])
        << attempt;
  }
  EXPECT_EQ(LlmBackoffMs(1000, std::nullopt), 60000);  // no overflow
  EXPECT_EQ(LlmBackoffMs(0, std::nullopt), 1000);
  EXPECT_EQ(LlmBackoffMs(3, 7000), 7000);         // Retry-After wins
  EXPECT_EQ(LlmBackoffMs(1, 3'600'000), 300000);  // capped at 5 min
  EXPECT_EQ(LlmBackoffMs(1, -5), 0);
}

}  // namespace
}  // namespace aetherflow
