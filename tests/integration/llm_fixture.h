// A real daemon whose LLM providers are a local OpenAI-compatible test
// server (tests/tools/fake_openai.cc, on loopback), scripted per test.
#ifndef AETHERFLOW_TESTS_INTEGRATION_LLM_FIXTURE_H_
#define AETHERFLOW_TESTS_INTEGRATION_LLM_FIXTURE_H_

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/harness.h"

namespace aetherflow::testing {

inline constexpr char kKey[] = "sk-test-SECRET-4242-do-not-leak";

class LlmTest : public DaemonTest {
 protected:
  void TearDown() override {
    if (fake_pid_ > 0) {
      ::kill(fake_pid_, SIGTERM);
      ::waitpid(fake_pid_, nullptr, 0);
    }
    DaemonTest::TearDown();
  }

  // Starts the test server; returns its port.
  int StartFake(const std::string& script, int latency_ms) {
    std::ofstream(dir_ + "/script.json") << script;
    std::string port_file = dir_ + "/fake.port";
    fake_pid_ = ::fork();
    if (fake_pid_ == 0) {
      std::string latency = std::to_string(latency_ms);
      std::string bin = BinDir() + "/tests/fake_openai";
      if (!std::filesystem::exists(bin)) bin = BinDir() + "/fake_openai";
      ::execl(bin.c_str(), "fake_openai", "--port-file", port_file.c_str(), "--latency-ms",
              latency.c_str(), "--script", (dir_ + "/script.json").c_str(), "--log",
              (dir_ + "/requests.log").c_str(), "--expect-key", kKey, nullptr);
      ::_exit(127);
    }
    for (int i = 0; i < 500 && ReadFile(port_file).empty(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return std::stoi(ReadFile(port_file));
  }

  // Points deepseek, gemini and codestral at the test server and restarts
  // the daemon with it (and, unless `with_key` is false, the key).
  void UseFake(int port, bool with_key = true, int concurrency = 5) {
    std::string url = "http://127.0.0.1:" + std::to_string(port) + "/v1";
    std::ofstream config(dir_ + "/config.toml");
    for (const char* name : {"deepseek", "gemini", "codestral"}) {
      config << "[providers." << name << "]\nbase_url = \"" << url << "\"\n"
             << "api_key_env = \"DEEPSEEK_API_KEY\"\nmax_concurrency = " << concurrency << "\n";
    }
    config.close();
    StopDaemon();
    std::map<std::string, std::string> env;
    if (with_key) env["DEEPSEEK_API_KEY"] = kKey;
    StartDaemon({"--config", dir_ + "/config.toml"}, env);
  }

  std::vector<nlohmann::json> Requests() {
    std::vector<nlohmann::json> out;
    std::istringstream in(ReadFile(dir_ + "/requests.log"));
    for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
    return out;
  }

  static std::string UserMessage(const nlohmann::json& request) {
    return request["messages"].back()["content"];
  }

  pid_t fake_pid_ = 0;
};

}  // namespace aetherflow::testing

#endif  // AETHERFLOW_TESTS_INTEGRATION_LLM_FIXTURE_H_
