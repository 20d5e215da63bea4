// LLM steps that change the project (SPEC §11), end to end: a real daemon,
// the real client run from a small Python package, and a scripted
// OpenAI-compatible test server whose answers break a test, repair it,
// create a file, miss with a SEARCH, and wait while the test edits a file.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "tests/integration/harness.h"
#include "tests/integration/llm_fixture.h"

namespace aetherflow::testing {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr char kSlug[] =
    "import re\n"
    "\n"
    "\n"
    "def slugify(text):\n"
    "    \"\"\"Lower-case words joined by dashes.\"\"\"\n"
    "    words = re.findall(r\"[A-Za-z0-9]+\", text)\n"
    "    return \"_\".join(words)\n";

constexpr char kTest[] =
    "import os, sys\n"
    "sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))\n"
    "from pkg.slug import slugify\n"
    "assert slugify('Hello, World!') == 'hello-world', slugify('Hello, World!')\n"
    "print('slug tests pass')\n";

// A SEARCH/REPLACE answer for pkg/slug.py turning its join into `line`.
std::string SlugAnswer(const std::string& line) {
  return "Here is the change.\n\npkg/slug.py\n```python\n<<<<<<< SEARCH\n"
         "    return \"_\".join(words)\n=======\n" +
         line + "\n>>>>>>> REPLACE\n```\n";
}

class ApplyTest : public LlmTest {
 protected:
  void SetUp() override {
    LlmTest::SetUp();
    project_ = dir_ + "/project";
    fs::create_directories(project_ + "/pkg");
    fs::create_directories(project_ + "/tests");
    std::ofstream(project_ + "/pkg/__init__.py") << "";
    std::ofstream(project_ + "/pkg/slug.py") << kSlug;
    std::ofstream(project_ + "/tests/test_slug.py") << kTest;
  }

  // Starts the test server with `rules` (a JSON array) and a daemon on it.
  void Serve(const json& rules) {
    UseFake(StartFake(rules.dump(), 0));
  }

  std::string Plan(const std::vector<json>& steps, bool apply = false) {
    json plan = {{"task_id", "apply"}, {"steps", json(steps)}};
    if (apply) plan["apply"] = true;
    return WritePlan("plan.json", plan.dump(2));
  }

  CliResult InProject(std::vector<std::string> args,
                      std::map<std::string, std::string> env = {}) {
    return Cli(std::move(args), std::move(env), project_);
  }

  // Waits (60 s at most) until `path` exists.
  void AwaitFile(const std::string& path) {
    for (int i = 0; i < 6000 && !fs::exists(path); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_TRUE(fs::exists(path)) << path;
  }

  std::string project_;
};

json FixStep(int repair = 2) {
  return {{"id", "fix"},
          {"type", "refactoring"},
          {"description", "slugify must lower-case the words and join them with dashes"},
          {"context", {{"files", {"pkg/slug.py"}}, {"input_files", {"tests/test_slug.py"}}}},
          {"validate", "python3 tests/test_slug.py"},
          {"repair", repair}};
}

TEST_F(ApplyTest, ABrokenTestIsRepairedThenDiffShowsItAndRevertPutsEverythingBack) {
  Serve(json::array(
      {{{"match", "repair 1 of 2"}, {"content", SlugAnswer("    return \"-\".join(w.lower() for w in words)")}},
       {{"match", "must lower-case"}, {"content", SlugAnswer("    return \"-\".join(words)")}},
       {{"match", "Write docs/SLUG.md"},
        {"content", "docs/SLUG.md\n```markdown\n# slugify\n\nslugify('Hello World') == 'hello-world'\n```\n"}}}));
  json doc = {{"id", "doc"},
              {"description", "Write docs/SLUG.md about slugify"},
              {"dependencies", {"fix"}},
              {"context", {{"files", {"docs/SLUG.md"}}, {"input_files", {"pkg/slug.py"}}}}};
  CliResult r = InProject({"run", "--plain", Plan({FixStep(), doc}), "--apply"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("⟳ Validating"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("⟳ Repairing 1/2"), std::string::npos) << r.out;

  const std::string fixed = ReadFile(project_ + "/pkg/slug.py");
  EXPECT_NE(fixed.find("\"-\".join(w.lower() for w in words)"), std::string::npos) << fixed;
  EXPECT_NE(ReadFile(project_ + "/docs/SLUG.md").find("hello-world"), std::string::npos);

  // The repair went back in the same conversation, with the failure.
  std::vector<json> requests = Requests();
  ASSERT_EQ(requests.size(), 3u);
  const json& repair = requests[1];
  ASSERT_EQ(repair["messages"].size(), 4u) << "system, prompt, answer, repair";
  EXPECT_EQ(repair["messages"][2]["role"], "assistant");
  const std::string repair_text = UserMessage(repair);
  EXPECT_NE(repair_text.find("AssertionError: Hello-World"), std::string::npos) << repair_text;
  EXPECT_NE(repair_text.find("python3 tests/test_slug.py` failed (exit 1)"), std::string::npos)
      << repair_text;
  // The first prompt stated the format and showed the file; the next step
  // read the file as the first left it.
  const std::string first = UserMessage(requests[0]);
  EXPECT_NE(first.find("<<<<<<< SEARCH"), std::string::npos) << first;
  EXPECT_NE(first.find("return \"_\".join(words)"), std::string::npos) << first;
  EXPECT_NE(first.find("- pkg/slug.py (exists"), std::string::npos) << first;
  EXPECT_NE(UserMessage(requests[2]).find("w.lower() for w in words"), std::string::npos);

  json status = Status("last");
  const json& fix = StepOf(status, "fix");
  ASSERT_EQ(fix["edit_rounds"].size(), 2u) << fix.dump(2);
  EXPECT_EQ(fix["edit_rounds"][0]["outcome"], "validate");
  EXPECT_EQ(fix["edit_rounds"][1]["outcome"], "applied");
  EXPECT_EQ(fix["tokens"].get<int64_t>(), fix["edit_rounds"][0]["tokens"].get<int64_t>() +
                                              fix["edit_rounds"][1]["tokens"].get<int64_t>())
      << "tokens add up over the rounds";
  EXPECT_EQ(fix["changed_files"], json::array({"pkg/slug.py"}));
  EXPECT_EQ(StepOf(status, "doc")["changed_files"], json::array({"docs/SLUG.md"}));
  CliResult logs = Cli({"logs", "last", "fix"});
  EXPECT_NE(logs.out.find("validate 1/1 (answer 1): python3 tests/test_slug.py"),
            std::string::npos) << logs.out;
  EXPECT_NE(logs.out.find("slug tests pass"), std::string::npos) << logs.out;
  CliResult exported = Cli({"export", "last", "--format", "json"});
  EXPECT_EQ(StepOf(json::parse(exported.out), "fix")["changed_files"],
            json::array({"pkg/slug.py"}));

  CliResult diff = Cli({"diff", "last"});
  EXPECT_EQ(diff.exit_code, 0) << diff.err;
  EXPECT_NE(diff.out.find("--- a/pkg/slug.py\n+++ b/pkg/slug.py\n"), std::string::npos) << diff.out;
  EXPECT_NE(diff.out.find("-    return \"_\".join(words)\n"), std::string::npos) << diff.out;
  EXPECT_NE(diff.out.find("--- /dev/null\n+++ b/docs/SLUG.md\n"), std::string::npos) << diff.out;
  CliResult one = Cli({"diff", "last", "doc"});
  EXPECT_EQ(one.out.find("pkg/slug.py"), std::string::npos) << one.out;
  CliResult stat = Cli({"diff", "last", "--stat"});
  EXPECT_NE(stat.out.find("2 files changed"), std::string::npos) << stat.out;

  CliResult revert = Cli({"revert", "last"});
  ASSERT_EQ(revert.exit_code, 0) << revert.err;
  EXPECT_EQ(ReadFile(project_ + "/pkg/slug.py"), kSlug) << "byte for byte";
  EXPECT_FALSE(fs::exists(project_ + "/docs/SLUG.md"));
  EXPECT_FALSE(fs::exists(project_ + "/docs")) << "the folder the run made goes too";
  EXPECT_EQ(Cli({"diff", "last"}).out, "");
}

TEST_F(ApplyTest, RevertRefusesAFileChangedSinceAndNamesIt) {
  Serve(json::array({{{"match", "must lower-case"},
                      {"content", SlugAnswer("    return \"-\".join(w.lower() for w in words)")}}}));
  ASSERT_EQ(InProject({"run", "--plain", Plan({FixStep()}, /*apply=*/true)}).exit_code, 0);
  std::ofstream(project_ + "/pkg/slug.py", std::ios::app) << "# mine\n";
  CliResult revert = Cli({"revert", "last"});
  EXPECT_EQ(revert.exit_code, 1) << revert.out << revert.err;
  EXPECT_NE(revert.err.find("pkg/slug.py"), std::string::npos) << revert.err;
  EXPECT_NE(ReadFile(project_ + "/pkg/slug.py").find("# mine"), std::string::npos);
}

TEST_F(ApplyTest, ASearchThatMatchesNowhereFailsTheRoundWithTheClosestLines) {
  const std::string miss =
      "pkg/slug.py\n```python\n<<<<<<< SEARCH\n    return '_'.join(wordz)\n=======\n"
      "    return '-'.join(words)\n>>>>>>> REPLACE\n```\n";
  Serve(json::array({{{"content", miss}}}));
  CliResult r = InProject({"run", "--plain", Plan({FixStep(/*repair=*/1)}), "--apply"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(ReadFile(project_ + "/pkg/slug.py"), kSlug) << "nothing written";
  std::vector<json> requests = Requests();
  ASSERT_EQ(requests.size(), 2u) << "the answer, then one repair";
  const std::string repair = UserMessage(requests[1]);
  EXPECT_NE(repair.find("pkg/slug.py"), std::string::npos) << repair;
  EXPECT_NE(repair.find("matches no lines"), std::string::npos) << repair;
  EXPECT_NE(repair.find("return \"_\".join(words)"), std::string::npos)
      << "the closest lines are shown\n" << repair;
  const json fix = StepOf(Status("last"), "fix");
  EXPECT_EQ(fix["state"], "failed");
  EXPECT_NE(fix["message"].get<std::string>().find("matches no lines"), std::string::npos)
      << fix["message"];
  ASSERT_EQ(fix["edit_rounds"].size(), 2u);
  EXPECT_EQ(fix["edit_rounds"][1]["outcome"], "rejected");
}

TEST_F(ApplyTest, AnAnswerWithoutABlockForANewFileIsAFailedRound) {
  Serve(json::array({{{"content", "I think the file should say hello."}}}));
  json step = {{"id", "new"},
               {"description", "Create pkg/hello.py"},
               {"context", {{"files", {"pkg/hello.py"}}}},
               {"repair", 0}};
  CliResult r = InProject({"run", "--plain", Plan({step}), "--apply"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_FALSE(fs::exists(project_ + "/pkg/hello.py"));
  const json s = StepOf(Status("last"), "new");
  EXPECT_NE(s["message"].get<std::string>().find("pkg/hello.py"), std::string::npos)
      << s["message"];
}

TEST_F(ApplyTest, APythonSyntaxErrorIsRolledBackAndRepaired) {
  Serve(json::array(
      {{{"match", "repair 1 of 2"}, {"content", SlugAnswer("    return \"-\".join(w.lower() for w in words)")}},
       {{"content", SlugAnswer("    return \"-\".join(words")}}}));
  CliResult r = InProject({"run", "--plain", Plan({FixStep()}), "--apply"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const json fix = StepOf(Status("last"), "fix");
  ASSERT_EQ(fix["edit_rounds"].size(), 2u) << fix.dump(2);
  EXPECT_EQ(fix["edit_rounds"][0]["outcome"], "syntax");
  EXPECT_NE(UserMessage(Requests()[1]).find("python3"), std::string::npos);
  EXPECT_NE(ReadFile(project_ + "/pkg/slug.py").find("w.lower()"), std::string::npos);
}

TEST_F(ApplyTest, APathThatLeavesTheProjectIsRefusedBeforeAnythingRuns) {
  Serve(json::array());
  for (const char* path : {"../outside.py", "/etc/passwd", "pkg/../../x.py"}) {
    json step = {{"id", "bad"}, {"description", "write"}, {"context", {{"files", {path}}}}};
    CliResult r = InProject({"submit", Plan({step}), "--apply"});
    EXPECT_EQ(r.exit_code, 2) << path << "\n" << r.out << r.err;
    EXPECT_NE(r.err.find(path), std::string::npos) << r.err;
  }
  // A symbolic link that leads out of the project.
  fs::create_directories(dir_ + "/elsewhere");
  std::ofstream(dir_ + "/elsewhere/target.py") << "x = 1\n";
  fs::create_symlink(dir_ + "/elsewhere/target.py", project_ + "/link.py");
  json step = {{"id", "bad"}, {"description", "write"}, {"context", {{"files", {"link.py"}}}}};
  CliResult r = InProject({"submit", Plan({step}), "--apply"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("link.py"), std::string::npos) << r.err;
  EXPECT_TRUE(Requests().empty()) << "no model was asked";
  EXPECT_EQ(ReadFile(dir_ + "/elsewhere/target.py"), "x = 1\n");
}

TEST_F(ApplyTest, AFileEditedOnDiskWhileTheStepRunsFailsItAndNothingIsWritten) {
  const std::string hold = dir_ + "/release";
  const std::string answer =
      SlugAnswer("    return \"-\".join(words)") +
      "\npkg/__init__.py\n```python\n<<<<<<< SEARCH\n=======\nVERSION = 2\n>>>>>>> REPLACE\n```\n";
  Serve(json::array({{{"content", answer}, {"hold_until", hold}}}));
  json step = FixStep();
  step["context"]["files"] = {"pkg/slug.py", "pkg/__init__.py"};
  CliResult submitted = InProject({"submit", Plan({step}), "--apply"});
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  AwaitFile(hold + ".waiting");  // the step has read its files and asked
  std::ofstream(project_ + "/pkg/__init__.py") << "# the user's edit\n";
  std::ofstream(hold) << "go\n";
  json status = WaitForEnd("last");
  const json& fix = StepOf(status, "fix");
  EXPECT_EQ(fix["state"], "failed");
  EXPECT_NE(fix["message"].get<std::string>().find("pkg/__init__.py"), std::string::npos)
      << fix["message"];
  EXPECT_NE(fix["message"].get<std::string>().find("changed on disk"), std::string::npos)
      << fix["message"];
  EXPECT_EQ(ReadFile(project_ + "/pkg/slug.py"), kSlug) << "nothing of the step is written";
  EXPECT_EQ(ReadFile(project_ + "/pkg/__init__.py"), "# the user's edit\n");
  EXPECT_EQ(Requests().size(), 1u) << "not a repair: the step cannot go on";
}

TEST_F(ApplyTest, ARoundLeftUncheckedByAKilledDaemonIsUndoneBeforeTheStepRunsAgain) {
  Serve(json::array({{{"match", "must lower-case"},
                      {"content", SlugAnswer("    return \"-\".join(w.lower() for w in words)")}}}));
  json step = FixStep();
  // The check says it started, then waits for the test's go.
  step["validate"] = "touch '" + dir_ + "/checking'; while [ ! -f '" + dir_ +
                     "/go' ]; do sleep 0.05; done; python3 tests/test_slug.py";
  CliResult submitted = InProject({"submit", Plan({step}), "--apply"});
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  AwaitFile(dir_ + "/checking");
  StopDaemon(SIGKILL);  // the round is applied, its check half way
  std::ofstream(dir_ + "/go") << "";
  EXPECT_NE(ReadFile(project_ + "/pkg/slug.py"), kSlug) << "the round was in place";
  StartDaemon({"--config", dir_ + "/config.toml"}, {{"DEEPSEEK_API_KEY", kKey}});
  EXPECT_EQ(StepOf(Status("last"), "fix")["state"], "interrupted");
  CliResult resumed = InProject({"resume", "last"}, {{"DEEPSEEK_API_KEY", kKey}});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  json status = WaitForEnd("last");
  ASSERT_EQ(StepOf(status, "fix")["state"], "completed") << status.dump(2);
  std::vector<json> requests = Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_NE(UserMessage(requests[1]).find("return \"_\".join(words)"), std::string::npos)
      << "the step started again from the file as it was before it\n" << UserMessage(requests[1]);
  CliResult revert = Cli({"revert", "last"});
  ASSERT_EQ(revert.exit_code, 0) << revert.err;
  EXPECT_EQ(ReadFile(project_ + "/pkg/slug.py"), kSlug);
}

TEST_F(ApplyTest, AutoApplyFalseKeepsAStepsCodeInTheOutputFolder) {
  Serve(json::array({{{"content", "```python pkg/slug.py\nprint('copy')\n```\n"}}}));
  json step = {{"id", "copy"},
               {"description", "write a copy"},
               {"context", {{"files", {"pkg/slug.py"}}, {"auto_apply", false}}}};
  CliResult r = InProject({"run", "--plain", Plan({step}), "--apply", "-o", dir_ + "/out"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(ReadFile(project_ + "/pkg/slug.py"), kSlug);
  EXPECT_EQ(ReadFile(dir_ + "/out/pkg/slug.py"), "print('copy')\n");
}

class ApplyGitTest : public ApplyTest {
 protected:
  void SetUp() override {
    ApplyTest::SetUp();
    ASSERT_EQ(Git({"init", "-q"}), 0);
    ASSERT_EQ(Git({"add", "."}), 0);
    ASSERT_EQ(Git({"commit", "-q", "-m", "start"}), 0);
  }
  std::map<std::string, std::string> GitEnv() {
    return {{"GIT_AUTHOR_NAME", "Test"}, {"GIT_AUTHOR_EMAIL", "test@example.invalid"},
            {"GIT_COMMITTER_NAME", "Test"}, {"GIT_COMMITTER_EMAIL", "test@example.invalid"},
            {"GIT_CONFIG_NOSYSTEM", "1"}, {"HOME", dir_}};
  }
  int Git(std::vector<std::string> args) {
    std::string command = "cd '" + project_ + "' && HOME='" + dir_ + "' GIT_AUTHOR_NAME=Test " +
                          "GIT_AUTHOR_EMAIL=t@example.invalid GIT_COMMITTER_NAME=Test " +
                          "GIT_COMMITTER_EMAIL=t@example.invalid git";
    for (const std::string& a : args) command += " '" + a + "'";
    return std::system((command + " >/dev/null 2>&1").c_str());
  }
  std::string GitOut(const std::string& args) {
    std::string out;
    FILE* p = ::popen(("cd '" + project_ + "' && git " + args).c_str(), "r");
    char buffer[4096];
    while (std::size_t n = std::fread(buffer, 1, sizeof buffer, p)) out.append(buffer, n);
    ::pclose(p);
    return out;
  }
};

TEST_F(ApplyGitTest, UncommittedChangesAreRefusedUnlessAllowed) {
  Serve(json::array({{{"match", "must lower-case"},
                      {"content", SlugAnswer("    return \"-\".join(w.lower() for w in words)")}}}));
  std::ofstream(project_ + "/pkg/slug.py", std::ios::app) << "# work in progress\n";
  json step = FixStep();
  step.erase("validate");
  const std::string plan = Plan({step}, /*apply=*/true);
  CliResult refused = InProject({"run", "--plain", plan}, GitEnv());
  EXPECT_EQ(refused.exit_code, 2) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("pkg/slug.py has uncommitted changes"), std::string::npos)
      << refused.err;
  EXPECT_TRUE(Requests().empty());
  CliResult dry = InProject({"submit", "--dry-run", plan}, GitEnv());
  EXPECT_EQ(dry.exit_code, 2) << dry.out << dry.err;
  CliResult allowed = InProject({"run", "--plain", plan, "--allow-dirty"}, GitEnv());
  EXPECT_EQ(allowed.exit_code, 0) << allowed.out << allowed.err;
  EXPECT_NE(ReadFile(project_ + "/pkg/slug.py").find("# work in progress"), std::string::npos);
}

TEST_F(ApplyGitTest, CommitMakesOneCommitPerAppliedStep) {
  Serve(json::array(
      {{{"match", "must lower-case"},
        {"content", SlugAnswer("    return \"-\".join(w.lower() for w in words)")}},
       {{"match", "Write docs/SLUG.md"}, {"content", "docs/SLUG.md\n```markdown\n# slugify\n```\n"}}}));
  json doc = {{"id", "doc"},
              {"description", "Write docs/SLUG.md about slugify"},
              {"dependencies", {"fix"}},
              {"context", {{"files", {"docs/SLUG.md"}}}}};
  CliResult r = InProject({"run", "--plain", Plan({FixStep(), doc}), "--apply", "--commit"},
                          GitEnv());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string log = GitOut("log --format=%s");
  EXPECT_EQ(log,
            "doc: Write docs/SLUG.md about slugify\n"
            "fix: slugify must lower-case the words and join them with dashes\nstart\n")
      << log;
  EXPECT_EQ(GitOut("status --porcelain"), "") << "everything the run wrote is committed";
  EXPECT_NE(GitOut("show --stat HEAD~1").find("pkg/slug.py"), std::string::npos);
}

TEST_F(ApplyTest, DryRunApplyListsTheFilesOfEveryOriginalPlan) {
  Serve(json::array());
  std::ofstream(project_ + "/cli.py") << "print('cli')\n";
  int plans = 0;
  for (const auto& entry : fs::directory_iterator(DataDir() + "/plans/original")) {
    if (entry.path().extension() != ".json") continue;
    ++plans;
    CliResult r = InProject({"submit", "--dry-run", "--apply", "--json", entry.path()});
    ASSERT_EQ(r.exit_code, 0) << entry.path() << "\n" << r.out << r.err;
    json out = json::parse(r.out);
    ASSERT_TRUE(out.contains("apply")) << r.out;
    EXPECT_EQ(out["apply"]["project"], project_);
    json plan = json::parse(ReadFile(entry.path()));
    std::size_t files = 0;
    for (const json& step : plan["steps"]) {
      if (step.contains("run") || !step.contains("context") || !step["context"].is_object()) continue;
      const json& ctx = step["context"];
      if (ctx.value("auto_apply", true) == false || !ctx.contains("files")) continue;
      files += ctx["files"].is_array() ? ctx["files"].size() : 1;
    }
    EXPECT_LE(out["apply"]["files"].size(), files) << entry.path();
    for (const json& f : out["apply"]["files"]) {
      EXPECT_TRUE(f["problem"].is_null()) << entry.path() << " " << f.dump();
      EXPECT_EQ(f["exists"], fs::exists(project_ + "/" + f["path"].get<std::string>()));
    }
  }
  EXPECT_GE(plans, 8);
  CliResult text = InProject(
      {"submit", "--dry-run", "--apply", DataDir() + "/plans/original_format.json"});
  EXPECT_EQ(text.exit_code, 0) << text.out << text.err;
  EXPECT_NE(text.out.find("Files the steps may write (--apply"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("(new)"), std::string::npos) << text.out;
}

}  // namespace
}  // namespace aetherflow::testing
