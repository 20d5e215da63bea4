// Following runs from several clients, across daemon restarts, and with a
// client that stops reading (issue "live monitor", plain mode).
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <fstream>
#include <thread>

#include "aetherflow/v1/aetherflow.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "tests/integration/harness.h"

namespace aetherflow::testing {
namespace {

namespace pb = ::aetherflow::v1;
using nlohmann::json;

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos;
       at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

class FollowTest : public DaemonTest {
 protected:
  // Waits until `path` has some content (a step wrote it).
  void WaitForFile(const std::string& path) {
    for (int i = 0; i < 3000; ++i) {
      if (!ReadFile(path).empty()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL() << path << " never written";
  }
};

TEST_F(FollowTest, PlainModePrintsAProgressLineWhileNothingChanges) {
  std::string plan = WritePlan("quiet.json", R"({"task_id": "q", "steps": [
    {"id": "quiet", "run": "sleep 3.5"}]})");
  CliResult r = Cli({"run", plan}, {{"AETHERFLOW_PROGRESS_INTERVAL", "1s"}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GE(Count(r.out, "0/1 steps completed; running: quiet"), 2) << r.out;
  EXPECT_EQ(Count(r.out, "Step "), 1) << "the table is printed once, at the end\n" << r.out;
  EXPECT_EQ(r.out.find("\033["), std::string::npos);
}

TEST_F(FollowTest, AttachToAFinishedRunPrintsItsStateAndExitsWithItsResult) {
  std::string id = Submit(WritePlan("f.json", R"({"task_id": "f", "steps": [{"id": "bad", "run": "echo boom >&2; exit 4"}]})"));
  WaitForEnd(id);
  CliResult r = Cli({"attach", id});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("State: failed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("boom"), std::string::npos) << "the failed step's log tail\n" << r.out;
  std::string ok = Submit(WritePlan("ok.json", R"({"task_id": "ok", "steps": [{"id": "fine", "run": "true"}]})"));
  WaitForEnd(ok);
  EXPECT_EQ(Cli({"attach", ok}).exit_code, 0);
  CliResult unknown = Cli({"attach", "nosuchrun"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("no run \"nosuchrun\""), std::string::npos) << unknown.err;
}

TEST_F(FollowTest, SeveralClientsSeeTheSameStatesAndALateOneCatchesUp) {
  std::string plan = WritePlan("many.json", R"({"task_id": "m", "steps": [
    {"id": "a", "run": "while [ ! -f go ]; do sleep 0.05; done"},
    {"id": "b", "dependencies": ["a"], "run": "exit 2"},
    {"id": "c", "dependencies": ["a"], "run": "true"}]})");
  std::string id = Submit(plan);
  WaitFor(id, [](const json& s) { return StepOf(s, "a")["state"] == "running"; });
  pid_t first = StartCli({"attach", id}, "first");
  pid_t second = StartCli({"attach", id}, "second");
  // Both are following (they printed the step already running) before the
  // run moves on.
  for (const char* tag : {"first", "second"}) {
    for (int i = 0; i < 3000 && ReadFile(dir_ + "/" + tag + ".out").find("] a ") ==
                                    std::string::npos;
         ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  std::ofstream(dir_ + "/go") << "";
  CliResult r1 = FinishCli(first, "first");
  CliResult r2 = FinishCli(second, "second");
  CliResult late = Cli({"attach", id});
  for (const CliResult* r : {&r1, &r2, &late}) {
    EXPECT_EQ(r->exit_code, 1) << r->out << r->err;
    EXPECT_NE(r->out.find("State: failed"), std::string::npos) << r->out;
  }
  // The live ones saw each change once.
  for (const CliResult* r : {&r1, &r2}) {
    EXPECT_EQ(Count(r->out, "] b "), 2) << "running, then failed\n" << r->out;
    EXPECT_EQ(Count(r->out, "] c "), 2) << r->out;
    EXPECT_EQ(Count(r->out, "] a "), 2) << "already running, then completed\n" << r->out;
  }
}

TEST_F(FollowTest, AClientWhoseDaemonRestartsCatchesUpAndSeesTheEnd) {
  std::string id = Submit(WritePlan("r.json", R"({"task_id": "r", "steps": [
    {"id": "long", "run": "echo started > started; sleep 60"}]})"));
  WaitForFile(dir_ + "/started");
  pid_t client = StartCli({"attach", id}, "restart");
  // Following (it printed the running step) before the daemon dies.
  for (int i = 0; i < 3000 && ReadFile(dir_ + "/restart.out").find("] long ") ==
                                  std::string::npos;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  StopDaemon(SIGKILL);
  StartDaemon();
  CliResult r = FinishCli(client, "restart");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("reconnecting"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("long"), std::string::npos);
  EXPECT_NE(r.out.find("Interrupted"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("State: interrupted"), std::string::npos) << r.out;
}

TEST_F(FollowTest, AClientThatStopsReadingSlowsNothing) {
  // 2,000 steps make ~4,000 events: far more than gRPC buffers for a
  // stream nobody reads.
  std::string plan = "{\"task_id\": \"bp\", \"steps\": [";
  for (int i = 0; i < 2000; ++i) {
    plan += (i ? "," : "") + std::string("{\"id\": \"s") + std::to_string(i) +
            "\", \"run\": \"true\"}";
  }
  plan += "]}";
  std::string id = Submit(WritePlan("bp.json", plan));
  auto channel = grpc::CreateChannel("unix:" + socket_, grpc::InsecureChannelCredentials());
  auto stub = pb::AetherFlow::NewStub(channel);
  grpc::ClientContext stalled;
  pb::StreamEventsRequest request;
  request.set_run_id(id);
  request.set_follow(true);
  auto never_read = stub->StreamEvents(&stalled, request);  // and never Read()
  json status = WaitForEnd(id);
  EXPECT_EQ(status["run"]["state"], "succeeded");
  // Another client still gets everything, in order.
  grpc::ClientContext context;
  request.set_follow(false);
  auto reader = stub->StreamEvents(&context, request);
  pb::EventBatch batch;
  int64_t expected = 1;
  while (reader->Read(&batch)) {
    for (const pb::Event& event : batch.events()) EXPECT_EQ(event.seq(), expected++);
  }
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(expected - 1, status["run"]["last_seq"].get<int64_t>());
  stalled.TryCancel();
  never_read->Finish();
}

// Every follower gets every event exactly once, in order, whether it
// follows from the start, resumes from a seq, falls behind, or comes after
// the end: from the hub's shared bytes, from SQLite, or both. 2,100 steps
// make more events than the hub keeps, so the earliest come from SQLite.
TEST_F(FollowTest, EveryFollowerGetsEveryEventOnceWhereverItStarts) {
  std::string plan = "{\"task_id\": \"fan\", \"steps\": [";
  for (int i = 0; i < 2100; ++i) {
    plan += (i ? "," : "") + std::string("{\"id\": \"s") + std::to_string(i) +
            "\", \"run\": \"true\"}";
  }
  plan += "]}";
  std::string id = Submit(WritePlan("fan.json", plan));
  auto channel = grpc::CreateChannel("unix:" + socket_, grpc::InsecureChannelCredentials());
  auto stub = pb::AetherFlow::NewStub(channel);

  struct Follower {
    int64_t after_seq = 0;
    bool follow = true;
    bool stalls = false;  // reads nothing until the run has ended
    std::vector<int64_t> seqs;
    bool saw_end = false;
    grpc::Status status;
  };
  std::atomic<bool> ended{false};
  auto follow = [&](Follower* f) {
    grpc::ClientContext context;
    pb::StreamEventsRequest request;
    request.set_run_id(id);
    request.set_after_seq(f->after_seq);
    request.set_follow(f->follow);
    auto reader = stub->StreamEvents(&context, request);
    for (int i = 0; f->stalls && !ended && i < 60000; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    pb::EventBatch batch;
    while (!f->saw_end && reader->Read(&batch)) {
      for (const pb::Event& event : batch.events()) {
        f->seqs.push_back(event.seq());
        if (event.kind() == pb::RUN_STATE_CHANGED && event.run_state() == pb::RUN_SUCCEEDED) {
          f->saw_end = true;
        }
      }
    }
    if (f->saw_end && f->follow) context.TryCancel();  // a follow stream never ends
    f->status = reader->Finish();
  };

  // While it runs: eight from the start, two resuming, one that stalls.
  std::vector<Follower> live(11);
  live[8].after_seq = 1;
  live[9].after_seq = 40;
  live[10].stalls = true;
  std::vector<std::thread> threads;
  for (Follower& f : live) threads.emplace_back(follow, &f);
  json status = WaitForEnd(id);
  ended = true;
  ASSERT_EQ(status["run"]["state"], "succeeded");
  const int64_t last = status["run"]["last_seq"].get<int64_t>();
  ASSERT_GT(last, 4200);
  // After the end: from the start, from the middle, from near the end,
  // following or not.
  std::vector<Follower> late(5);
  late[1].after_seq = last / 2;
  late[2].after_seq = last - 3;
  late[3].follow = false;
  late[4].follow = false;
  late[4].after_seq = last - 100;
  for (Follower& f : late) threads.emplace_back(follow, &f);
  for (std::thread& t : threads) t.join();

  int n = 0;
  for (const std::vector<Follower>* group : {&live, &late}) {
    for (const Follower& f : *group) {
      SCOPED_TRACE("follower " + std::to_string(n++) + " after seq " +
                   std::to_string(f.after_seq));
      EXPECT_TRUE(f.saw_end);
      if (!f.follow) {
        EXPECT_TRUE(f.status.ok()) << f.status.error_message();
      }
      ASSERT_EQ(f.seqs.size(), static_cast<std::size_t>(last - f.after_seq));
      for (std::size_t i = 0; i < f.seqs.size(); ++i) {
        ASSERT_EQ(f.seqs[i], f.after_seq + 1 + static_cast<int64_t>(i));
      }
    }
  }
}

}  // namespace
}  // namespace aetherflow::testing

namespace aetherflow::testing {
namespace {

TEST_F(FollowTest, ExportsJsonCsvAndATraceWithOneTrackPerSlot) {
  std::string id = Submit(DataDir() + "/plans/commands_diamond.json");
  json status = WaitForEnd(id);
  CliResult j = Cli({"export", id, "--format", "json"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  json exported = json::parse(j.out);
  EXPECT_EQ(exported["run"]["id"], id);
  EXPECT_EQ(exported["steps"].size(), 6u);
  EXPECT_EQ(exported["events"].size(), status["run"]["last_seq"].get<size_t>());

  std::string csv_path = dir_ + "/run.csv";
  CliResult c = Cli({"export", id, "--format", "csv", "-o", csv_path});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  std::string csv = ReadFile(csv_path);
  EXPECT_EQ(Count(csv, "\n"), 7) << "a header and one row per step\n" << csv;
  EXPECT_NE(csv.find("broken,compute,shell,failed"), std::string::npos) << csv;

  CliResult t = Cli({"export", id, "--format", "trace"});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  json trace = json::parse(t.out);
  std::map<std::string, int> tid;
  for (const json& event : trace["traceEvents"]) {
    if (event["ph"] == "X") tid[event["name"]] = event["tid"];
  }
  ASSERT_EQ(tid.size(), 5u) << "every step that ran has a slice (after_broken never ran)";
  EXPECT_NE(tid["left"], tid["right"]) << "overlapping steps are on different tracks";
  EXPECT_EQ(Cli({"export", id, "--format", "xml"}).exit_code, 2);
}

TEST_F(FollowTest, RemoveAndPruneForgetFinishedRunsOnly) {
  std::string done = Submit(WritePlan("d.json", R"({"task_id": "d", "steps": [{"id": "a", "run": "echo hi"}]})"));
  WaitForEnd(done);
  std::string busy = Submit(WritePlan("b.json", R"({"task_id": "b", "steps": [{"id": "a", "run": "sleep 60"}]})"));
  WaitFor(busy, [](const json& s) { return s["run"]["state"] == "running"; });
  CliResult refused = Cli({"rm", busy});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("cancel it first"), std::string::npos) << refused.err;
  CliResult removed = Cli({"rm", done});
  EXPECT_EQ(removed.exit_code, 0) << removed.err;
  EXPECT_EQ(Cli({"status", done}).exit_code, 2) << "forgotten";
  EXPECT_FALSE(std::filesystem::exists(state_dir_ + "/runs/" + done));
  Cli({"cancel", busy});
  WaitForEnd(busy);
  EXPECT_EQ(Cli({"prune", "--older-than", "1h"}).exit_code, 0);
  EXPECT_EQ(Cli({"status", busy}).exit_code, 0) << "finished less than an hour ago";
  EXPECT_EQ(Cli({"prune", "--older-than", "forever"}).exit_code, 2);
}

}  // namespace
}  // namespace aetherflow::testing

namespace aetherflow::testing {
namespace {

TEST_F(FollowTest, FollowingTheLogOfAStepThatWillNeverRunEnds) {
  // After a crash the run is interrupted and its unstarted step stays
  // pending: following its log must end, not wait forever.
  std::string id = Submit(WritePlan("never.json", R"({"task_id": "n", "steps": [
    {"id": "slow", "run": "sleep 60"}, {"id": "after", "dependencies": ["slow"], "run": "true"}]})"));
  WaitFor(id, [](const json& s) { return StepOf(s, "slow")["state"] == "running"; });
  StopDaemon(SIGKILL);
  StartDaemon();
  json status = Status(id);
  ASSERT_EQ(status["run"]["state"], "interrupted");
  ASSERT_EQ(StepOf(status, "after")["state"], "pending");
  CliResult r = Cli({"logs", id, "after", "-f"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
}

}  // namespace
}  // namespace aetherflow::testing
