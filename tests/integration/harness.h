// A real aetherflowd on a temporary socket and state directory, and the
// real aetherflow client binary, for integration tests.
#ifndef AETHERFLOW_TESTS_INTEGRATION_HARNESS_H_
#define AETHERFLOW_TESTS_INTEGRATION_HARNESS_H_

#include <sys/types.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace aetherflow::testing {

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Starts aetherflowd (waits until its socket answers).
  void StartDaemon(std::vector<std::string> extra_args = {},
                   std::map<std::string, std::string> extra_env = {});
  // Sends `signal` and reaps the daemon.
  void StopDaemon(int signal = SIGTERM);

  // Runs the client with --socket, in `cwd` (default: the test dir), with
  // `env` added to this process's environment. Waits for it to end.
  CliResult Cli(std::vector<std::string> args,
                std::map<std::string, std::string> env = {},
                const std::string& cwd = "");
  // Runs the client exactly as given (no --socket added), with `env` added
  // and AETHERFLOW_NO_AUTOSTART removed unless `env` sets it.
  CliResult RawCli(std::vector<std::string> args,
                   std::map<std::string, std::string> env);
  // Starts the client without waiting; returns its pid. Output goes to
  // files read by FinishCli.
  pid_t StartCli(std::vector<std::string> args, const std::string& tag,
                 std::map<std::string, std::string> env = {});
  CliResult FinishCli(pid_t pid, const std::string& tag);

  // Writes a plan file into the test dir and returns its path.
  std::string WritePlan(const std::string& name, const std::string& json);
  // `aetherflow submit PLAN`, asserting success; returns the run id.
  std::string Submit(const std::string& plan_path);
  nlohmann::json Status(const std::string& run);
  // Polls `status --json` until `done(status)` or 60 s (then fails).
  nlohmann::json WaitFor(const std::string& run,
                         const std::function<bool(const nlohmann::json&)>& done);
  nlohmann::json WaitForEnd(const std::string& run);
  // The step object named `id` in a status document.
  static const nlohmann::json& StepOf(const nlohmann::json& status,
                                      const std::string& id);
  // Number of rows in a table of the daemon's database.
  int64_t CountRows(const std::string& table);

  std::string ReadFile(const std::string& path);

  std::string dir_;        // everything of this test lives here
  std::string socket_;
  std::string state_dir_;
  pid_t daemon_pid_ = 0;
};

std::string BinDir();
std::string DataDir();

}  // namespace aetherflow::testing

#endif  // AETHERFLOW_TESTS_INTEGRATION_HARNESS_H_
