// `aetherflow doctor` (issue 16) against a real daemon, no daemon, a daemon
// of another version, a broken config and API keys in the environment.
#include <sys/stat.h>

#include <fstream>
#include <string>
#include <vector>

#include "tests/integration/harness.h"

namespace aetherflow::testing {
namespace {

std::vector<std::string> LinesStarting(const std::string& text, const std::string& prefix) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (line.rfind(prefix, 0) == 0) out.push_back(line);
    start = end + 1;
  }
  return out;
}

class DoctorTest : public DaemonTest {
 protected:
  // A config home of the test's own, with no config file in it.
  std::map<std::string, std::string> Home() {
    ::mkdir((dir_ + "/config").c_str(), 0700);
    return {{"XDG_CONFIG_HOME", dir_ + "/config"}};
  }
};

TEST_F(DoctorTest, AllWellExitsZero) {
  CliResult r = Cli({"doctor"}, Home());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(LinesStarting(r.out, "problem").size(), 0u) << r.out;
  EXPECT_NE(r.out.find("ok       daemon: " + socket_ + " (--socket), answers"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(std::string("version: aetherflow ") + AETHERFLOW_PROJECT_VERSION +
                       ", aetherflowd " + AETHERFLOW_PROJECT_VERSION),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("state directory " + state_dir_ + ": "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" free"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("config: " + dir_ + "/config/aetherflow/config.toml does not exist"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("terminal: not a terminal"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("slurm: "), std::string::npos) << r.out;
}

TEST_F(DoctorTest, KeysPresentOrMissingNeverPrinted) {
  std::map<std::string, std::string> env = Home();
  env["DEEPSEEK_API_KEY"] = "sk-very-secret-4711";
  CliResult r = Cli({"doctor"}, env);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("ok       provider deepseek: key present ($DEEPSEEK_API_KEY)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("note     provider gemini: key missing (set $GEMINI_API_KEY"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("provider ollama: needs no key"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("sk-very-secret"), std::string::npos);
  EXPECT_EQ(r.err.find("sk-very-secret"), std::string::npos);
}

TEST_F(DoctorTest, OneLinePerProblem) {
  // No daemon on --socket (doctor starts none), and a config with two
  // mistakes.
  StopDaemon();
  std::map<std::string, std::string> env = Home();
  ::mkdir((dir_ + "/config/aetherflow").c_str(), 0700);
  std::ofstream(dir_ + "/config/aetherflow/config.toml")
      << "[daemon]\nmax_parallel = 0\n[providers.deepseek]\nprise_input = 1.0\n";
  CliResult r = Cli({"doctor"}, env);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  std::vector<std::string> problems = LinesStarting(r.out, "problem");
  ASSERT_EQ(problems.size(), 3u) << r.out;
  EXPECT_NE(problems[0].find("daemon: nothing answers at " + socket_ +
                             " (--socket), and the client starts none with --socket"),
            std::string::npos)
      << problems[0];
  EXPECT_NE(problems[1].find("config: "), std::string::npos) << problems[1];
  EXPECT_NE(problems[1].find("max_parallel"), std::string::npos) << problems[1];
  EXPECT_NE(problems[2].find("prise_input"), std::string::npos) << problems[2];
  EXPECT_EQ(r.err, "aetherflow: doctor found 3 problems\n");
  EXPECT_NE(Cli({"ls"}).exit_code, 0);  // doctor started no daemon
}

}  // namespace
}  // namespace aetherflow::testing
