// Issue 18.4 and 18.5 end to end: a warning is not hidden behind a new best
// (attention outranks discovery, in `poll` and `watch`), and a step's new
// bests are one line with the value, the best it beat, where, and how many
// came in between.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/integration/harness.h"

namespace aetherflow::testing {
namespace {

using nlohmann::json;

// A step that prints three new bests of val_loss (0.5120, 0.5000, 0.4783)
// with `middle` between the second and third, writes `printed`, then waits
// for `end` (at most ~20 s, so that a watch that does not stop ends with
// the run instead of hanging the test).
std::string TrainPlan(const std::string& middle) {
  return R"J({"task_id": "train", "steps": [
    {"id": "train", "watch": {"metric": "val_loss: ([0-9.]+)", "goal": "min"},
     "run": "echo 'Epoch 1/20 - val_loss: 0.5120'; echo 'Epoch 2/20 - val_loss: 0.5000'; )J" +
         middle +
         R"J( echo 'Epoch 3/20 - val_loss: 0.4783'; touch printed; i=0; while [ ! -f end ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done"}]})J";
}

class CheckinVerdictTest : public DaemonTest {
 protected:
  CliResult Client(std::vector<std::string> args) {
    return Cli(std::move(args), {{"XDG_STATE_HOME", dir_ + "/client-state"}});
  }
  // Until the step has printed all its lines (a condition, with a bound).
  void WaitPrinted() {
    for (int i = 0; i < 6000 && !std::filesystem::exists(dir_ + "/printed"); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_TRUE(std::filesystem::exists(dir_ + "/printed"));
  }
  static size_t Occurrences(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
      ++n;
    }
    return n;
  }
};

constexpr char kLine[] =
    "new best val_loss 0.4783 (was 0.5120) at Epoch 3/20 (1 intermediate)";

TEST_F(CheckinVerdictTest, AWarningBesideANewBestAsksForAttentionAndPollStillTellsTheBest) {
  std::string id =
      Submit(WritePlan("p.json", TrainPlan("echo 'WARNING: learning rate is high';")));
  WaitPrinted();
  CliResult r = Client({"poll", id, "--json", "--wait", "5s", "--schedule", "1s"});
  EXPECT_EQ(r.exit_code, 12) << r.out << r.err;
  json report = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << r.out << r.err;
  EXPECT_EQ(report["verdict"], "attention");
  ASSERT_FALSE(report["evidence"].empty()) << report.dump(2);
  EXPECT_EQ(report["evidence"][0]["kind"], "warning") << report.dump(2);
  EXPECT_EQ(report["evidence"][0]["text"], "WARNING: learning rate is high");
  int new_bests = 0;
  for (const json& e : report["evidence"]) {
    if (e["kind"] != "new_best") continue;
    ++new_bests;
    EXPECT_EQ(e["text"], kLine);
    EXPECT_EQ(e["line"], 4);
  }
  EXPECT_EQ(new_bests, 1) << "one line, not one per intermediate best: " << report.dump(2);
  ASSERT_EQ(report["discoveries"].size(), 1u) << report.dump(2);
  const json& d = report["discoveries"][0];
  EXPECT_EQ(d["step"], "train");
  EXPECT_EQ(d["kind"], "new_best");
  EXPECT_EQ(d["metric"], "val_loss");
  EXPECT_EQ(d["value"], "0.4783");
  EXPECT_EQ(d["was"], "0.5120");
  EXPECT_EQ(d["where"], "Epoch 3/20");
  EXPECT_EQ(d["intermediate"], 1);
  EXPECT_EQ(d["text"], kLine);

  // The text report: the same, the best told once, no intermediate best.
  CliResult text = Client({"poll", id, "--from-start", "--wait", "5s", "--schedule", "1s"});
  EXPECT_EQ(text.exit_code, 12) << text.out << text.err;
  EXPECT_EQ(text.out.rfind("ATTENTION run=" + id, 0), 0u) << text.out;
  EXPECT_NE(text.out.find("train:3: WARNING: learning rate is high"), std::string::npos)
      << text.out;
  EXPECT_EQ(Occurrences(text.out, kLine), 1u) << text.out;
  EXPECT_EQ(text.out.find("0.5000"), std::string::npos) << text.out;
  std::ofstream(dir_ + "/end") << "";
  WaitForEnd(id);
}

TEST_F(CheckinVerdictTest, WatchStopsOnAWarningBesideANewBest) {
  std::string id =
      Submit(WritePlan("p.json", TrainPlan("echo 'WARNING: learning rate is high';")));
  WaitPrinted();
  CliResult r = Client({"watch", id, "--schedule", "1s"});
  std::ofstream(dir_ + "/end") << "";
  EXPECT_EQ(r.exit_code, 12) << "a person decides: " << r.out << r.err;
  EXPECT_NE(r.out.find("ATTENTION run=" + id), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("WARNING: learning rate is high"), std::string::npos) << r.out;
  EXPECT_EQ(Occurrences(r.out, kLine), 1u) << "the discovery, once: " << r.out;
  EXPECT_EQ(r.out.find("discovery:"), std::string::npos) << r.out;
  WaitForEnd(id);
}

TEST_F(CheckinVerdictTest, WatchPrintsOneLinePerNewBestWithItsValue) {
  std::string id = Submit(WritePlan("p.json", TrainPlan("")));
  WaitPrinted();
  // The first check-in finds the three bests; the run then ends.
  pid_t watch = StartCli({"watch", id, "--schedule", "1s"}, "watch",
                         {{"XDG_STATE_HOME", dir_ + "/client-state"}});
  WaitFor(id, [&](const json&) {
    return ReadFile(dir_ + "/watch.out").find("discovery:") != std::string::npos;
  });
  std::ofstream(dir_ + "/end") << "";
  CliResult r = FinishCli(watch, "watch");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(std::string("] discovery: train: ") + kLine + "\n"), std::string::npos)
      << r.out;
  EXPECT_EQ(Occurrences(r.out, "discovery:"), 1u) << r.out;
}

}  // namespace
}  // namespace aetherflow::testing
