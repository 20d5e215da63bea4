// Shell completion (issue 16): the bash script that `aetherflow completions
// bash` writes from the CLI11 definition, driven as bash drives it
// (COMP_WORDS, COMP_CWORD, then COMPREPLY), against a real daemon.
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

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
    if (bash) EXPECT_EQ(::pclose(bash), 0);
    std::sort(reply.begin(), reply.end());
    return reply;
  }

  std::string script_;
};

using Words = std::vector<std::string>;

TEST_F(ShellCompletionTest, CommandsAndOptionsComeFromTheDefinition) {
  EXPECT_EQ(Complete({"at"}), Words({"attach"}));
  EXPECT_EQ(Complete({"re"}), Words({"resume"}));
  EXPECT_EQ(Complete({"ls", "--id"}), Words({"--ids"}));
  EXPECT_EQ(Complete({"logs", "last", "--fo"}), Words({"--follow"}));
  // Global options go after the command too.
  EXPECT_EQ(Complete({"status", "--js"}), Words({"--json"}));
  EXPECT_EQ(Complete({"completions", "f"}), Words({"fish"}));
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

}  // namespace
}  // namespace aetherflow::testing
