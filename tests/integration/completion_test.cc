// Shell completion (issue 16): the bash script that `aetherflow completions
// bash` writes from the CLI11 definition, driven as bash drives it
// (COMP_WORDS, COMP_CWORD, then COMPREPLY), against a real daemon.
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "tests/integration/harness.h"

namespace aetherflow::testing {
namespace {

class ShellCompletionTest : public DaemonTest {
 protected:
  void SetUp() override {
    DaemonTest::SetUp();
    CliResult script = Cli({"completions", "bash"});
    ASSERT_EQ(script.exit_code, 0) << script.err;
    script_ = dir_ + "/aetherflow.bash";
    std::ofstream(script_) << script.out;
  }

  // COMPREPLY, sorted, for the line `words` with the cursor on its last
  // word; the client is this build's and talks to this test's daemon.
  std::vector<std::string> Complete(std::vector<std::string> words) {
    std::string line = "COMP_WORDS=('" + BinDir() + "/aetherflow' --socket '" + socket_ + "'";
    for (const std::string& w : words) line += " '" + w + "'";
    line += ")";
    const std::string driver = dir_ + "/drive.sh";
    std::ofstream(driver) << "source '" << script_ << "'\n"
                          << line << "\n"
                          << "COMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n"
                          << "_aetherflow\n"
                          << "printf '%s\\n' \"${COMPREPLY[@]}\"\n";
    FILE* bash = ::popen(("cd '" + dir_ + "' && bash --norc --noprofile '" + driver + "'").c_str(),
                         "r");
    std::vector<std::string> reply;
    char buffer[4096];
    while (bash && std::fgets(buffer, sizeof buffer, bash)) {
      std::string word(buffer);
      if (!word.empty() && word.back() == '\n') word.pop_back();
      if (!word.empty()) reply.push_back(word);
    }
    if (bash) {
      EXPECT_EQ(::pclose(bash), 0);
    }
    std::sort(reply.begin(), reply.end());
    return reply;
  }

  std::string script_;
};

using Words = std::vector<std::string>;

TEST_F(ShellCompletionTest, CommandsAndOptionsComeFromTheDefinition) {
  EXPECT_EQ(Complete({"at"}), Words({"attach"}));
  EXPECT_EQ(Complete({"re"}), Words({"report", "resume", "revert"}));
  EXPECT_EQ(Complete({"rev"}), Words({"revert"}));
  EXPECT_EQ(Complete({"ls", "--id"}), Words({"--ids"}));
  EXPECT_EQ(Complete({"logs", "last", "--fo"}), Words({"--follow"}));
  // Global options go after the command too.
  EXPECT_EQ(Complete({"status", "--js"}), Words({"--json"}));
  EXPECT_EQ(Complete({"completions", "f"}), Words({"fish"}));
}

TEST_F(ShellCompletionTest, AnotherShellIsAUsageError) {
  CliResult r = Cli({"completions", "powershell"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "aetherflow: completions for bash, zsh or fish, not \"powershell\"\n");
}

TEST_F(ShellCompletionTest, PlanFilesAndDirectories) {
  WritePlan("plan.json", R"({"steps": [{"id": "a", "run": "true"}]})");
  WritePlan("plot.txt", "x");
  ::mkdir((dir_ + "/plans").c_str(), 0755);
  EXPECT_EQ(Complete({"run", "pl"}), Words({"plan.json", "plans"}));
  EXPECT_EQ(Complete({"submit", "--dry-run", "pla"}), Words({"plan.json", "plans"}));
}

TEST_F(ShellCompletionTest, RunIdsAndStepIdsFromTheDaemon) {
  const std::string plan = WritePlan(
      "two.json", R"({"steps": [{"id": "alpha", "run": "true"},
                                {"id": "beta", "run": "true", "dependencies": ["alpha"]}]})");
  const std::string first = Submit(plan);
  const std::string second = Submit(plan);
  WaitForEnd(second);

  CliResult ids = Cli({"ls", "--ids"});
  ASSERT_EQ(ids.exit_code, 0) << ids.err;
  EXPECT_EQ(ids.out, second + "\n" + first + "\n");  // newest first

  Words runs = {first, second, "last"};
  std::sort(runs.begin(), runs.end());
  EXPECT_EQ(Complete({"status", ""}), runs);
  EXPECT_EQ(Complete({"attach", first.substr(0, 1)}).empty(), false);
  EXPECT_EQ(Complete({"rm", first, ""}), runs);  // rm takes many runs
  EXPECT_EQ(Complete({"logs", first, ""}), Words({"alpha", "beta"}));
  EXPECT_EQ(Complete({"logs", first, "b"}), Words({"beta"}));

  CliResult steps = Cli({"status", first, "--ids"});
  ASSERT_EQ(steps.exit_code, 0) << steps.err;
  EXPECT_EQ(steps.out, "alpha\nbeta\n");
}

TEST_F(ShellCompletionTest, NoDaemonMeansNoRunIdsAndNoDaemonStarted) {
  StopDaemon();
  EXPECT_EQ(Complete({"status", ""}), Words({"last"}));
  CliResult ls = Cli({"ls", "--ids"});
  EXPECT_EQ(ls.exit_code, 3);
}

// The output of `command` run by /bin/sh in the test dir, and its status.
std::string ShellOutput(const std::string& command, int* status) {
  FILE* pipe = ::popen(command.c_str(), "r");
  std::string out;
  char buffer[4096];
  while (pipe && std::fgets(buffer, sizeof buffer, pipe)) out += buffer;
  *status = pipe ? ::pclose(pipe) : -1;
  return out;
}

bool Have(const std::string& program) {
  int status = 0;
  ShellOutput("command -v " + program + " >/dev/null", &status);
  return status == 0;
}

// fish completes a line on request (complete -C), so its script is driven
// like bash's; zsh is only parsed (its completion needs a terminal).
TEST_F(ShellCompletionTest, FishCompletesTheSameThings) {
  if (!Have("fish")) GTEST_SKIP() << "no fish (scripts/setup.sh installs it)";
  const std::string plan = WritePlan(
      "two.json", R"({"steps": [{"id": "alpha", "run": "true"}, {"id": "beta", "run": "true"}]})");
  const std::string run = Submit(plan);
  CliResult script = Cli({"completions", "fish"});
  ASSERT_EQ(script.exit_code, 0) << script.err;
  std::ofstream(dir_ + "/aetherflow.fish") << script.out;
  auto complete = [&](const std::string& line) {
    int status = 0;
    std::string out = ShellOutput(
        "cd '" + dir_ + "' && PATH='" + BinDir() + "':$PATH AETHERFLOW_SOCKET='" + socket_ +
            "' fish --no-config -c \"source aetherflow.fish; complete -C '" + line + "'\"",
        &status);
    EXPECT_EQ(status, 0) << line;
    std::vector<std::string> words;
    for (absl::string_view entry : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
      words.emplace_back(entry.substr(0, entry.find('\t')));
    }
    std::sort(words.begin(), words.end());
    return words;
  };
  EXPECT_EQ(complete("aetherflow at"), Words({"attach"}));
  EXPECT_EQ(complete("aetherflow ls --id"), Words({"--ids"}));
  Words runs = {run, "last"};
  std::sort(runs.begin(), runs.end());
  EXPECT_EQ(complete("aetherflow status "), runs);
  EXPECT_EQ(complete("aetherflow logs " + run + " "), Words({"alpha", "beta"}));
}

TEST_F(ShellCompletionTest, ZshScriptParses) {
  if (!Have("zsh")) GTEST_SKIP() << "no zsh (scripts/setup.sh installs it)";
  CliResult script = Cli({"completions", "zsh"});
  ASSERT_EQ(script.exit_code, 0) << script.err;
  std::ofstream(dir_ + "/_aetherflow") << script.out;
  int status = 0;
  std::string out = ShellOutput("zsh -n '" + dir_ + "/_aetherflow' 2>&1", &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_EQ(script.out.rfind("#compdef aetherflow\n", 0), 0u);
}

}  // namespace
}  // namespace aetherflow::testing
