// `submit --stdin-batch` (issue 16): one one-step run per line of stdin, in
// one client process, their ids in input order.
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "tests/integration/harness.h"

namespace aetherflow::testing {
namespace {

class StdinBatchTest : public DaemonTest {
 protected:
  // The client with `args`, stdin from `input`; stdout, and the exit code.
  std::string Batch(const std::string& input, const std::string& args, int* exit_code) {
    std::ofstream(dir_ + "/lines.txt") << input;
    std::string command = "cd '" + dir_ + "' && '" + BinDir() + "/aetherflow' --socket '" +
                          socket_ + "' submit " + args + " < lines.txt 2>'" + dir_ +
                          "/batch.err'";
    FILE* pipe = ::popen(command.c_str(), "r");
    std::string out;
    char buffer[4096];
    while (pipe && std::fgets(buffer, sizeof buffer, pipe)) out += buffer;
    int status = pipe ? ::pclose(pipe) : -1;
    *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return out;
  }
};

TEST_F(StdinBatchTest, OneRunPerLineInOrder) {
  int exit_code = -1;
  std::string out = Batch("true\n\n# a comment\necho two > two.txt\nexit 3\n",
                          "--stdin-batch", &exit_code);
  ASSERT_EQ(exit_code, 0) << ReadFile(dir_ + "/batch.err");
  std::vector<std::string> ids = absl::StrSplit(out, '\n', absl::SkipEmpty());
  ASSERT_EQ(ids.size(), 3u) << out;
  const char* lines[] = {"true", "echo two > two.txt", "exit 3"};
  const char* states[] = {"succeeded", "succeeded", "failed"};
  for (int i = 0; i < 3; ++i) {
    nlohmann::json status = WaitForEnd(ids[i]);
    EXPECT_EQ(status["run"]["description"], lines[i]) << status.dump();
    EXPECT_EQ(status["run"]["state"], states[i]) << status.dump();
  }
  // Run by /bin/sh in the directory submit was called from.
  EXPECT_EQ(ReadFile(dir_ + "/two.txt"), "two\n");
  // Newest first: the last line is the newest run.
  CliResult ls = Cli({"ls", "--ids"});
  EXPECT_EQ(ls.out, ids[2] + "\n" + ids[1] + "\n" + ids[0] + "\n");
}

TEST_F(StdinBatchTest, NotWithAPlanOrACommand) {
  int exit_code = -1;
  WritePlan("p.json", R"({"steps": [{"id": "a", "run": "true"}]})");
  Batch("true\n", "--stdin-batch p.json", &exit_code);
  EXPECT_EQ(exit_code, 2);
  EXPECT_EQ(ReadFile(dir_ + "/batch.err"),
            "aetherflow: --stdin-batch reads commands from stdin: no plan file, -- or "
            "--dry-run with it\n");
  EXPECT_EQ(Cli({"ls", "--ids"}).out, "");  // nothing was submitted
}

}  // namespace
}  // namespace aetherflow::testing
