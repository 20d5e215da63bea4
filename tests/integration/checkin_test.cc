// Check-ins end to end: `poll` and `watch` against a real daemon, with a
// scaled-down schedule.
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/integration/harness.h"

namespace aetherflow::testing {
namespace {

using nlohmann::json;

class CheckinTest : public DaemonTest {
 protected:
  // The client keeps its cursors under XDG_STATE_HOME: one per test.
  CliResult Client(std::vector<std::string> args) {
    return Cli(std::move(args), {{"XDG_STATE_HOME", dir_ + "/client-state"}});
  }
  json PollJson(const std::string& run, const std::string& wait,
                const std::string& schedule, int* exit_code) {
    std::vector<std::string> args = {"poll", run, "--json", "--wait", wait};
    if (!schedule.empty()) {
      args.push_back("--schedule");
      args.push_back(schedule);
    }
    CliResult r = Client(args);
    *exit_code = r.exit_code;
    json report = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(report.is_discarded()) << r.out << r.err;
    return report;
  }
};

TEST_F(CheckinTest, ACrashIsReportedWhenItHappensNotAtTheNextCheckin) {
  std::string id = Submit(WritePlan("crash.json", R"J({"task_id": "crash", "steps": [
    {"id": "train", "run": "sleep 1; echo 'Traceback (most recent call last):'; echo '  File \"t.py\", line 3'; echo 'RuntimeError: CUDA error: device-side assert'; exit 1"}]})J"));
  // The first check-in is an hour away: only the crash can end this call
  // before the test's own timeout.
  CliResult r = Client({"poll", id, "--wait", "1h", "--schedule", "1h"});
  EXPECT_EQ(r.exit_code, 11) << r.out << r.err;
  EXPECT_EQ(r.out.rfind("FAILED run=" + id, 0), 0u) << r.out;
  EXPECT_NE(r.out.find("train:3: RuntimeError: CUDA error: device-side assert"),
            std::string::npos) << r.out;
}

TEST_F(CheckinTest, NewBestIsADiscoveryAnnouncedOnce) {
  std::string id = Submit(WritePlan("best.json", R"J({"task_id": "best", "steps": [
    {"id": "train", "watch": {"metric": "val_loss: ([0-9.]+)", "goal": "min"},
     "run": "echo 'Epoch 1/4 - val_loss: 0.9'; echo 'Epoch 2/4 - val_loss: 0.5'; while [ ! -f next ]; do sleep 0.05; done; echo 'Epoch 3/4 - val_loss: 0.7'; while [ ! -f end ]; do sleep 0.05; done"}]})J"));
  WaitFor(id, [](const json& s) { return s["run"]["state"] == "running"; });
  int code = 0;
  json first = PollJson(id, "2s", "1s", &code);
  EXPECT_EQ(code, 13);
  EXPECT_EQ(first["verdict"], "discovery");
  ASSERT_FALSE(first["evidence"].empty());
  EXPECT_NE(first["evidence"].back()["text"].get<std::string>().find("0.5"), std::string::npos)
      << first.dump(2);
  EXPECT_EQ(first["evidence"].back()["kind"], "new_best");
  std::ofstream(dir_ + "/next") << "";
  json second = PollJson(id, "2s", "1s", &code);
  EXPECT_EQ(code, 0) << "0.7 is no better than 0.5, and 0.5 was announced: " << second.dump(2);
  EXPECT_EQ(second["verdict"], "ok");
  std::ofstream(dir_ + "/end") << "";
  WaitForEnd(id);
  json last = PollJson(id, "2s", "1s", &code);
  EXPECT_EQ(code, 10) << last.dump(2);
  EXPECT_EQ(last["verdict"], "succeeded");
  EXPECT_NE(last["summary"].get<std::string>().find("0.5"), std::string::npos)
      << "the success summary names the best metric: " << last.dump(2);
}

TEST_F(CheckinTest, AWarningAsksForAttention) {
  std::string id = Submit(WritePlan("warn.json", R"J({"task_id": "warn", "steps": [
    {"id": "fit", "run": "echo 'UserWarning: learning rate looks too high'; sleep 30"}]})J"));
  WaitFor(id, [](const json& s) { return s["run"]["state"] == "running"; });
  int code = 0;
  json report = PollJson(id, "10s", "1s", &code);
  EXPECT_EQ(code, 12) << report.dump(2);
  EXPECT_EQ(report["verdict"], "attention");
  EXPECT_EQ(report["evidence"][0]["kind"], "warning");
  EXPECT_EQ(report["evidence"][0]["line"], 1);
  Cli({"cancel", id});
}

// `--wait` takes any duration; the deadline of the call used to overflow
// (UBSan in std::chrono: "signed integer overflow", a deadline in the past).
TEST_F(CheckinTest, AnyWaitIsAcceptedEvenBeyondADay) {
  std::string id = Submit(WritePlan("ok.json", R"J({"task_id": "ok", "steps": [
    {"id": "a", "run": "true"}]})J"));
  WaitForEnd(id);
  CliResult r = Client({"poll", id, "--wait", "9223372036854775807ms"});
  EXPECT_EQ(r.exit_code, 10) << r.out << r.err;
}

TEST_F(CheckinTest, SuccessSummaryAndNextCheckin) {
  std::string id = Submit(WritePlan("ok.json", R"J({"task_id": "ok", "steps": [
    {"id": "a", "run": "echo 'Trial 3/3 finished'"}, {"id": "b", "dependencies": ["a"], "run": "true"}]})J"));
  WaitForEnd(id);
  int code = 0;
  json report = PollJson(id, "5s", "1s", &code);
  EXPECT_EQ(code, 10);
  EXPECT_EQ(report["run"], id);
  EXPECT_EQ(report["progress"].get<std::string>().substr(0, 3), "2/2") << report.dump(2);
  EXPECT_TRUE(report["next_checkin_s"].is_null()) << "no next check-in for a finished run";
  CliResult text = Client({"poll", id});
  EXPECT_EQ(text.exit_code, 10);
  EXPECT_EQ(text.out.rfind("SUCCEEDED run=" + id + " progress=", 0), 0u) << text.out;
}

TEST_F(CheckinTest, WatchIsSilentWhileOkAndNotifiesWithTheVerdict) {
  std::string id = Submit(WritePlan("w.json", R"J({"task_id": "w", "steps": [
    {"id": "search", "run": "for t in 0 1 2; do echo \"[I] Trial $t finished with value: 0.$((5 - t)). Best is trial $t with value: 0.$((5 - t)).\"; sleep 1.2; done; echo 'ZeroDivisionError: division by zero'; exit 1"}]})J"));
  CliResult r = Client({"watch", id, "--schedule", "1s",
                        "--notify", "env | grep ^AETHERFLOW_ >> notified.env"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_GE(std::count(r.out.begin(), r.out.end(), '\n'), 2);
  EXPECT_NE(r.out.find("discovery:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("FAILED run=" + id), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("OK run="), std::string::npos) << "silent while ok\n" << r.out;
  std::string env = ReadFile(dir_ + "/notified.env");
  EXPECT_NE(env.find("AETHERFLOW_VERDICT=failed"), std::string::npos) << env;
  EXPECT_NE(env.find("AETHERFLOW_VERDICT=discovery"), std::string::npos) << env;
  EXPECT_NE(env.find("AETHERFLOW_RUN=" + id), std::string::npos) << env;
  EXPECT_NE(env.find("AETHERFLOW_SUMMARY="), std::string::npos) << env;
}

TEST_F(CheckinTest, WatchCancelsOnACriticalErrorOfAHungStep) {
  std::string id = Submit(WritePlan("oom.json", R"J({"task_id": "oom", "steps": [
    {"id": "gpu", "run": "echo 'torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB'; sleep 60"}]})J"));
  CliResult r = Client({"watch", id, "--schedule", "1h", "--cancel-on-critical"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("CUDA out of memory"), std::string::npos) << r.out;
  json status = WaitForEnd(id);
  EXPECT_EQ(status["run"]["state"], "cancelled");
}

TEST_F(CheckinTest, BadScheduleAndUnknownRunAreUsageErrors) {
  std::string id = Submit(WritePlan("q.json", R"J({"task_id": "q", "steps": [{"id": "a", "run": "true"}]})J"));
  EXPECT_EQ(Client({"poll", id, "--schedule", "30s,soon"}).exit_code, 2);
  EXPECT_EQ(Client({"poll", id, "--schedule", "0s"}).exit_code, 2);
  EXPECT_EQ(Client({"poll", "nope"}).exit_code, 2);
  CliResult bad_watch = Cli({"submit", WritePlan("bw.json", R"J({"steps": [{"id": "a", "run": "true", "watch": {"error": "("}}]})J")});
  EXPECT_EQ(bad_watch.exit_code, 2) << bad_watch.err;
  EXPECT_NE(bad_watch.err.find("steps[0].watch"), std::string::npos) << bad_watch.err;
}

}  // namespace
}  // namespace aetherflow::testing

namespace aetherflow::testing {
namespace {

TEST_F(CheckinTest, ThePlanCanSetItsOwnSchedule) {
  std::string id = Submit(WritePlan("own.json", R"J({"task_id": "own", "checkin": {"schedule": "1s,2s"},
    "steps": [{"id": "a", "run": "sleep 30"}]})J"));
  WaitFor(id, [](const json& s) { return s["run"]["state"] == "running"; });
  int code = 0;
  json report = PollJson(id, "1h", "", &code);
  // The schedule option is empty: the plan's 1s,2s applies, so the next
  // check-in is at most 2 s away (the default would put it ~30 s away).
  EXPECT_EQ(code, 0) << report.dump(2);
  EXPECT_LE(report["next_checkin_s"].get<double>(), 2.0) << report.dump(2);
  Cli({"cancel", id});
}

TEST_F(CheckinTest, WatchCarriesOnAcrossADaemonRestart) {
  std::string id = Submit(WritePlan("rs.json", R"J({"task_id": "rs", "steps": [
    {"id": "long", "run": "echo started > started; sleep 60"}]})J"));
  for (int i = 0; i < 500 && ReadFile(dir_ + "/started").empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // The first check-in (at T+1s, "ok") saves the cursor: then the watch is
  // surely talking to the daemon, waiting for the next one an hour away.
  pid_t watch = StartCli({"watch", id, "--schedule", "1s,1h"}, "watch",
                         {{"XDG_STATE_HOME", dir_ + "/client-state"}});
  std::string cursor = dir_ + "/client-state/aetherflow/poll-cursors/" + id;
  for (int i = 0; i < 3000 && !std::filesystem::exists(cursor); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(std::filesystem::exists(cursor));
  StopDaemon(SIGKILL);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  StartDaemon();
  CliResult r = FinishCli(watch, "watch");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("FAILED run=" + id), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("interrupted"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace aetherflow::testing
