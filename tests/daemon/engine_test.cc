// The engine driven through fakes, as ninja's build_test.cc drives Builder
// with FakeCommandRunner: a fake executor that records what it is asked to
// start and stop and ends steps when the test says, a fake clock that moves
// only when the test moves it, and a real StateStore in a temporary folder
// (what a user sees is what is committed there).
#include "daemon/engine.h"

#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "daemon/event_hub.h"
#include "daemon/state_store.h"
#include "gtest/gtest.h"

namespace aetherflow {
namespace {

constexpr auto kBound = std::chrono::seconds(20);

// Starts nothing: remembers each launch and ends it when told. Also the
// engine's Waiter: it sleeps until woken, whatever the timeout, since time
// moves only when the test moves the clock (and then wakes it).
class FakeExecutor : public StepExecutor, public Waiter {
 public:
  struct Launch {
    int64_t key;
    std::string run_id;
    std::string step_id;
    std::vector<std::string> env;
  };

  absl::Status Start(const StepLaunch& launch) override {
    std::lock_guard<std::mutex> lock(mu_);
    launches_.push_back({launch.key, launch.run_id, launch.step->id, launch.env});
    live_.insert(launch.key);
    changed_.notify_all();
    return absl::OkStatus();
  }
  void Stop(int64_t key) override {
    std::lock_guard<std::mutex> lock(mu_);
    stops_.push_back(key);
    if (live_.erase(key)) {
      StepEnded ended;
      ended.key = key;
      ended.stopped = true;
      ended.signal = 15;
      ended.message = "killed by signal 15";
      events_.push_back(ended);
      woken_ = true;  // as a killed process's pidfd would
      wake_.notify_all();
    }
    changed_.notify_all();
  }
  void Collect(std::vector<ExecutorEvent>* out) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& e : events_) out->push_back(std::move(e));
    events_.clear();
  }
  std::optional<int64_t> NextWakeup() const override { return std::nullopt; }
  std::size_t running() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return live_.size();
  }
  void StopAll() override {
    std::lock_guard<std::mutex> lock(mu_);
    live_.clear();
  }
  void Wait(int timeout_ms) override {
    std::unique_lock<std::mutex> lock(mu_);
    if (timeout_ms != 0) wake_.wait(lock, [this] { return woken_; });
    woken_ = false;
  }
  void Wakeup() override {
    std::lock_guard<std::mutex> lock(mu_);
    woken_ = true;
    wake_.notify_all();
  }

  // --- The test's side ---
  // Ends the attempt `key` as its process would.
  void Finish(int64_t key, bool ok) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ASSERT_TRUE(live_.erase(key)) << "key " << key << " is not running";
      StepEnded ended;
      ended.key = key;
      ended.succeeded = ok;
      ended.exit_code = ok ? 0 : 1;
      if (!ok) ended.message = "exit code 1";
      events_.push_back(ended);
    }
    Wakeup();
  }
  void Report(ExecutorEvent event) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      events_.push_back(std::move(event));
    }
    Wakeup();
  }
  // Waits until `n` launches were made; returns them all.
  std::vector<Launch> WaitForLaunches(std::size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    bool ok = changed_.wait_for(lock, kBound, [&] { return launches_.size() >= n; });
    EXPECT_TRUE(ok) << "only " << launches_.size() << " launches, waited for " << n;
    return launches_;
  }
  std::vector<Launch> launches() const {
    std::lock_guard<std::mutex> lock(mu_);
    return launches_;
  }
  std::vector<int64_t> stops() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stops_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable changed_, wake_;
  std::vector<Launch> launches_;
  std::set<int64_t> live_;
  std::vector<int64_t> stops_;
  std::vector<ExecutorEvent> events_;
  bool woken_ = false;
};

// Forwards to a FakeExecutor the test keeps (the engine owns executors).
class Forward : public StepExecutor {
 public:
  explicit Forward(FakeExecutor* to) : to_(to) {}
  absl::Status Start(const StepLaunch& l) override { return to_->Start(l); }
  void Stop(int64_t key) override { to_->Stop(key); }
  void Collect(std::vector<ExecutorEvent>* out) override { to_->Collect(out); }
  std::optional<int64_t> NextWakeup() const override { return to_->NextWakeup(); }
  std::size_t running() const override { return to_->running(); }
  void StopAll() override { to_->StopAll(); }

 private:
  FakeExecutor* to_;
};

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/af-engine-XXXXXX";
    dir_ = mkdtemp(tmpl);
    OpenStore();
    ProviderConfig fake;
    fake.name = "fake";
    fake.base_url = "http://127.0.0.1:1/v1";
    fake.model = "m";
    fake.api_key_env = "FAKE_KEY";
    fake.max_concurrency = 2;
    fake.price_input = 1;
    fake.price_output = 1;
    config_.providers["fake"] = fake;
    config_.routing["default"] = "fake";
    StartEngine();
  }
  void TearDown() override {
    engine_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void OpenStore() {
    auto store = StateStore::Open(dir_ + "/state.db");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }
  void StartEngine() {
    EngineOptions options;
    options.state_dir = dir_;
    options.max_parallel = 4;
    options.retry_base_ms = 1000;
    options.config = config_;
    options.getenv = [](const std::string& name) -> std::optional<std::string> {
      if (name == "FAKE_KEY") return "sk-test";
      return std::nullopt;
    };
    options.capacity.cpu = 8;
    options.capacity.mem_bytes = int64_t{16} << 30;
    options.capacity.gpu_ids = {0, 1};
    options.clock = [this] { return now_.load(); };
    Executors executors;
    executors.command = std::make_unique<Forward>(&fake_);
    executors.llm = std::make_unique<Forward>(&fake_);
    executors.waiter = &fake_;
    auto engine = Engine::Start(std::move(options), store_.get(), &hub_, std::move(executors));
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = std::move(*engine);
  }

  // Submits `plan` (JSON) and returns the run id.
  std::string Submit(const std::string& plan) {
    std::promise<absl::StatusOr<SubmitResult>> result;
    SubmitRequest request;
    request.plan_json = plan;
    request.plan_path = "plan.json";
    request.cwd = dir_;
    engine_->Submit(std::move(request),
                    [&](absl::StatusOr<SubmitResult> r) { result.set_value(std::move(r)); });
    auto future = result.get_future();
    EXPECT_EQ(future.wait_for(kBound), std::future_status::ready);
    absl::StatusOr<SubmitResult> r = future.get();
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->run_id : "";
  }
  absl::Status SubmitError(const std::string& plan) {
    std::promise<absl::Status> result;
    SubmitRequest request;
    request.plan_json = plan;
    request.plan_path = "plan.json";
    request.cwd = dir_;
    engine_->Submit(std::move(request),
                    [&](absl::StatusOr<SubmitResult> r) { result.set_value(r.status()); });
    return result.get_future().get();
  }
  // Everything that happened so far is committed.
  void Sync() {
    std::promise<void> done;
    engine_->Sync([&] { done.set_value(); });
    ASSERT_EQ(done.get_future().wait_for(kBound), std::future_status::ready);
  }
  absl::StatusOr<pb::RunSnapshot> Call(
      void (Engine::*method)(std::string, Engine::SnapshotCallback), const std::string& id) {
    std::promise<absl::StatusOr<pb::RunSnapshot>> result;
    (engine_.get()->*method)(id, [&](absl::StatusOr<pb::RunSnapshot> r) {
      result.set_value(std::move(r));
    });
    return result.get_future().get();
  }
  absl::StatusOr<pb::RunSnapshot> Resume(const std::string& id) {
    std::promise<absl::StatusOr<pb::RunSnapshot>> result;
    engine_->Resume(id, {}, [&](absl::StatusOr<pb::RunSnapshot> r) {
      result.set_value(std::move(r));
    });
    return result.get_future().get();
  }
  pb::RunSnapshot Get(const std::string& id) {
    Sync();
    absl::StatusOr<pb::RunSnapshot> snapshot = store_->GetRun(id);
    EXPECT_TRUE(snapshot.ok()) << snapshot.status();
    return snapshot.ok() ? *snapshot : pb::RunSnapshot();
  }
  void Advance(int64_t ms) {
    now_ += ms;
    fake_.Wakeup();
  }

  // A plan of `n` independent steps; `extra` is spliced into each step.
  static std::string Plan(int n, const std::string& extra, const std::string& top = "") {
    std::vector<std::string> steps;
    for (int i = 0; i < n; ++i) {
      steps.push_back(absl::StrCat(R"({"id": "s)", i, R"(", "description": "step")",
                                   extra.empty() ? "" : ", ", extra, "}"));
    }
    return absl::StrCat(R"({"task_id": "t", "description": "d", )", top,
                        top.empty() ? "" : ", ", R"("steps": [)", absl::StrJoin(steps, ","),
                        "]}");
  }
  static constexpr char kCommand[] = R"("run": "true")";
  static constexpr char kLlm[] = R"("provider": "fake", "estimated_tokens": 100)";

  std::string dir_;
  Config config_ = BuiltinConfig();
  std::atomic<int64_t> now_{1'000'000};
  FakeExecutor fake_;
  EventHub hub_;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineTest, CommandStepsRunAndTheRunSucceeds) {
  std::string id = Submit(Plan(3, kCommand));
  auto launches = fake_.WaitForLaunches(3);
  for (const auto& launch : launches) fake_.Finish(launch.key, true);
  pb::RunSnapshot run = Get(id);
  EXPECT_EQ(run.run().state(), pb::RUN_SUCCEEDED);
  EXPECT_EQ(run.run().completed(), 3);
}

TEST_F(EngineTest, LlmStepsShareTheProviderFairlyBetweenRuns) {
  // The fake provider has 2 slots; a 20-step run fills them.
  std::string big = Submit(Plan(20, kLlm));
  auto launches = fake_.WaitForLaunches(2);
  Sync();
  EXPECT_EQ(fake_.launches().size(), 2u) << "two slots, two requests";
  std::string small = Submit(Plan(1, kLlm));
  Sync();
  // The one-step run gets the next slot that frees, not the big run's
  // 18 other steps first.
  fake_.Finish(launches[0].key, true);
  launches = fake_.WaitForLaunches(3);
  EXPECT_EQ(launches[2].run_id, small);
  // A waiting step says what it waits for.
  pb::RunSnapshot snapshot = Get(big);
  EXPECT_EQ(snapshot.steps(5).state(), pb::STEP_PENDING);
  EXPECT_EQ(snapshot.steps(5).waiting_for(), "a fake slot");
}

TEST_F(EngineTest, BudgetStopsStartingAndSkipsWhatIsLeft) {
  // 100 tokens reserved per step in flight: a second would pass 150.
  std::string id = Submit(Plan(5, kLlm, R"("budget": {"tokens": 150})"));
  auto launches = fake_.WaitForLaunches(1);
  pb::RunSnapshot run = Get(id);
  for (int i = 1; i < 5; ++i) {
    EXPECT_EQ(run.steps(i).state(), pb::STEP_SKIPPED) << i;
    EXPECT_EQ(run.steps(i).message(), "budget exhausted");
  }
  EXPECT_EQ(run.run().state(), pb::RUN_RUNNING) << "one step is still in flight";
  fake_.Finish(launches[0].key, true);
  run = Get(id);
  EXPECT_EQ(run.run().state(), pb::RUN_FAILED);
  EXPECT_EQ(run.run().reason(), "budget exhausted");
  EXPECT_EQ(run.steps(0).state(), pb::STEP_COMPLETED) << "what was paid for finishes";
  EXPECT_EQ(fake_.launches().size(), 1u);
}

TEST_F(EngineTest, PauseStartsNothingNewAndResumeGoesOn) {
  std::string id = Submit(Plan(3, kCommand, R"("max_parallel": 1)"));
  auto launches = fake_.WaitForLaunches(1);
  absl::StatusOr<pb::RunSnapshot> paused = Call(&Engine::Pause, id);
  ASSERT_TRUE(paused.ok()) << paused.status();
  EXPECT_EQ(paused->run().state(), pb::RUN_PAUSED);
  // The running step goes on to its end; nothing new starts.
  fake_.Finish(launches[0].key, true);
  pb::RunSnapshot run = Get(id);
  EXPECT_EQ(run.run().state(), pb::RUN_PAUSED);
  EXPECT_EQ(run.steps(0).state(), pb::STEP_COMPLETED);
  EXPECT_EQ(fake_.launches().size(), 1u);
  absl::StatusOr<pb::RunSnapshot> resumed = Resume(id);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->run().state(), pb::RUN_RUNNING);
  launches = fake_.WaitForLaunches(2);
  EXPECT_EQ(launches[1].step_id, "s1");
}

TEST_F(EngineTest, PausingAFinishedRunFails) {
  std::string id = Submit(Plan(1, kCommand));
  fake_.Finish(fake_.WaitForLaunches(1)[0].key, true);
  Get(id);
  absl::StatusOr<pb::RunSnapshot> paused = Call(&Engine::Pause, id);
  EXPECT_EQ(paused.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(EngineTest, APausedRunStaysPausedAcrossARestart) {
  std::string id = Submit(Plan(2, kCommand, R"("max_parallel": 1)"));
  auto launches = fake_.WaitForLaunches(1);
  ASSERT_TRUE(Call(&Engine::Pause, id).ok());
  fake_.Finish(launches[0].key, true);
  Get(id);
  engine_.reset();  // a graceful stop
  StartEngine();
  pb::RunSnapshot run = Get(id);
  EXPECT_EQ(run.run().state(), pb::RUN_PAUSED);
  EXPECT_EQ(fake_.launches().size(), 1u);
  ASSERT_TRUE(Resume(id).ok());
  launches = fake_.WaitForLaunches(2);
  EXPECT_EQ(launches[1].step_id, "s1") << "the completed step is not run again";
  fake_.Finish(launches[1].key, true);
  EXPECT_EQ(Get(id).run().state(), pb::RUN_SUCCEEDED);
}

TEST_F(EngineTest, APausedRunKeepsItsFailuresAcrossARestart) {
  std::string id = Submit(Plan(2, kCommand, R"("max_parallel": 1)"));
  auto launches = fake_.WaitForLaunches(1);
  ASSERT_TRUE(Call(&Engine::Pause, id).ok());
  fake_.Finish(launches[0].key, false);
  EXPECT_EQ(Get(id).steps(0).state(), pb::STEP_FAILED);
  engine_.reset();
  StartEngine();
  ASSERT_TRUE(Resume(id).ok());
  launches = fake_.WaitForLaunches(2);
  EXPECT_EQ(launches[1].step_id, "s1") << "the failed step is not tried again";
  fake_.Finish(launches[1].key, true);
  pb::RunSnapshot run = Get(id);
  EXPECT_EQ(run.run().state(), pb::RUN_FAILED);
  EXPECT_EQ(run.steps(0).state(), pb::STEP_FAILED);
}

TEST_F(EngineTest, ARunningRunIsInterruptedByARestartAndResumes) {
  std::string id = Submit(Plan(2, kCommand, R"("max_parallel": 1)"));
  auto launches = fake_.WaitForLaunches(1);
  fake_.Finish(launches[0].key, true);
  fake_.WaitForLaunches(2);
  Get(id);
  engine_.reset();
  StartEngine();
  pb::RunSnapshot run = Get(id);
  EXPECT_EQ(run.run().state(), pb::RUN_INTERRUPTED);
  EXPECT_EQ(run.steps(0).state(), pb::STEP_COMPLETED);
  EXPECT_EQ(run.steps(1).state(), pb::STEP_INTERRUPTED);
  ASSERT_TRUE(Resume(id).ok());
  launches = fake_.WaitForLaunches(3);
  EXPECT_EQ(launches[2].step_id, "s1");
}

TEST_F(EngineTest, ATimeoutCountsFromTheStartNotFromTheWaitForASlot) {
  // One slot: the second step waits 60 s for it, longer than its timeout.
  config_.providers["fake"].max_concurrency = 1;
  engine_.reset();
  StartEngine();
  std::string id = Submit(Plan(2, absl::StrCat(kLlm, R"(, "timeout": "10s")")));
  auto launches = fake_.WaitForLaunches(1);
  Advance(9'000);
  fake_.Finish(launches[0].key, true);
  launches = fake_.WaitForLaunches(2);
  Advance(9'000);
  Sync();
  EXPECT_TRUE(fake_.stops().empty()) << "9 s into a 10 s timeout";
  Advance(2'000);
  Sync();
  ASSERT_EQ(fake_.stops(), std::vector<int64_t>({launches[1].key}));
  pb::RunSnapshot run = Get(id);
  EXPECT_EQ(run.steps(1).state(), pb::STEP_FAILED);
  EXPECT_EQ(run.steps(1).message(), "timed out after 10s");
}

TEST_F(EngineTest, ARetryWaitsOutItsBackOffOnTheClock) {
  std::string id = Submit(Plan(1, absl::StrCat(kCommand, R"(, "retries": 1)")));
  fake_.Finish(fake_.WaitForLaunches(1)[0].key, false);
  pb::RunSnapshot run = Get(id);
  EXPECT_EQ(run.steps(0).state(), pb::STEP_PENDING);
  EXPECT_EQ(fake_.launches().size(), 1u);
  Advance(1'000);
  auto launches = fake_.WaitForLaunches(2);
  fake_.Finish(launches[1].key, true);
  EXPECT_EQ(Get(id).run().state(), pb::RUN_SUCCEEDED);
}

TEST_F(EngineTest, CancelStopsRunningStepsAndEndsTheRunCancelled) {
  std::string id = Submit(Plan(3, kCommand, R"("max_parallel": 1)"));
  auto launches = fake_.WaitForLaunches(1);
  ASSERT_TRUE(Call(&Engine::Cancel, id).ok());
  pb::RunSnapshot run = Get(id);
  EXPECT_EQ(fake_.stops(), std::vector<int64_t>({launches[0].key}));
  EXPECT_EQ(run.run().state(), pb::RUN_CANCELLED);
  EXPECT_EQ(run.steps(0).state(), pb::STEP_CANCELLED) << "stopped, not failed";
  EXPECT_EQ(run.steps(1).state(), pb::STEP_CANCELLED);
}

TEST_F(EngineTest, FailFastStopsTheOtherRunningSteps) {
  std::string id = Submit(Plan(2, kCommand, R"("fail_fast": true)"));
  auto launches = fake_.WaitForLaunches(2);
  fake_.Finish(launches[0].key, false);
  pb::RunSnapshot run = Get(id);
  EXPECT_EQ(fake_.stops(), std::vector<int64_t>({launches[1].key}));
  EXPECT_EQ(run.run().state(), pb::RUN_FAILED);
  EXPECT_EQ(run.steps(0).state(), pb::STEP_FAILED);
  EXPECT_EQ(run.steps(1).state(), pb::STEP_CANCELLED);
}

TEST_F(EngineTest, FiguresReachTheStepAndTheRun) {
  std::string id = Submit(Plan(1, kCommand));
  int64_t key = fake_.WaitForLaunches(1)[0].key;
  StepFigures figures;
  figures.key = key;
  figures.tokens = 120;
  figures.cost = 0.5;
  figures.progress = "3/10";
  fake_.Report(figures);
  pb::RunSnapshot run = Get(id);
  EXPECT_EQ(run.steps(0).tokens(), 120);
  EXPECT_EQ(run.steps(0).progress(), "3/10");
  EXPECT_EQ(run.run().tokens(), 120);
  EXPECT_DOUBLE_EQ(run.run().cost(), 0.5);
}

TEST_F(EngineTest, StepsHoldTheirOwnGpusAndWaitForOne) {
  std::string id = Submit(Plan(3, absl::StrCat(kCommand, R"(, "resources": {"gpu": 1})")));
  auto launches = fake_.WaitForLaunches(2);
  auto gpu_of = [](const FakeExecutor::Launch& launch) {
    std::string found;
    for (const std::string& kv : launch.env) {
      if (kv.rfind("CUDA_VISIBLE_DEVICES=", 0) == 0) found = kv.substr(21);
    }
    return found;
  };
  std::set<std::string> held = {gpu_of(launches[0]), gpu_of(launches[1])};
  EXPECT_EQ(held, (std::set<std::string>{"0", "1"}));
  pb::RunSnapshot run = Get(id);
  EXPECT_EQ(run.steps(2).waiting_for(), "gpu");
  EXPECT_EQ(fake_.launches().size(), 2u);
  fake_.Finish(launches[1].key, true);
  launches = fake_.WaitForLaunches(3);
  EXPECT_EQ(gpu_of(launches[2]), gpu_of(launches[1])) << "it gets the GPU that freed";
  EXPECT_EQ(Get(id).steps(2).waiting_for(), "");
}

TEST_F(EngineTest, AStepThatCanNeverFitIsRefusedAtSubmit) {
  absl::Status refused = SubmitError(Plan(1, absl::StrCat(kCommand, R"(, "resources": {"gpu": 4})")));
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find(R"(steps[0] "s0": asks for gpu=4, more than this daemon has (gpu=2))"),
            std::string::npos)
      << refused.message();
}

// --- What a step's log says of its attempts (issue 18) ---

std::string LogOf(const std::string& dir, const std::string& run, const std::string& step) {
  std::ifstream in(dir + "/runs/" + run + "/logs/" + step + ".log");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST_F(EngineTest, EveryAttemptIsMarkedAndAFailedOneSaysWhyBeforeItsEndIsSeen) {
  std::string id = Submit(Plan(1, absl::StrCat(kCommand, R"(, "retries": 1)")));
  fake_.Finish(fake_.WaitForLaunches(1)[0].key, false);
  // What is committed, the log already says.
  EXPECT_EQ(Get(id).steps(0).state(), pb::STEP_PENDING);
  EXPECT_EQ(LogOf(dir_, id, "s0"),
            "::aetherflow-attempt 1 of 2 at 1000000\n"
            "aetherflow: exit code 1\n"
            "::aetherflow-attempt-end 1 exit 1\n");
  Advance(1'000);
  fake_.Finish(fake_.WaitForLaunches(2)[1].key, false);
  EXPECT_EQ(Get(id).run().state(), pb::RUN_FAILED);
  EXPECT_EQ(LogOf(dir_, id, "s0"),
            "::aetherflow-attempt 1 of 2 at 1000000\n"
            "aetherflow: exit code 1\n"
            "::aetherflow-attempt-end 1 exit 1\n"
            "::aetherflow-attempt 2 of 2 at 1001000\n"
            "aetherflow: exit code 1\n"
            "::aetherflow-attempt-end 2 exit 1\n");
}

TEST_F(EngineTest, AStepThatRunsOnceAndSucceedsGetsNothingInItsLog) {
  std::string id = Submit(Plan(1, kCommand));
  fake_.Finish(fake_.WaitForLaunches(1)[0].key, true);
  EXPECT_EQ(Get(id).run().state(), pb::RUN_SUCCEEDED);
  EXPECT_EQ(LogOf(dir_, id, "s0"), "");
}

TEST_F(EngineTest, AnLlmStepThatCouldNotConnectSaysWhyInItsLog) {
  std::string id = Submit(Plan(1, kLlm));
  StepEnded ended;
  ended.key = fake_.WaitForLaunches(1)[0].key;
  ended.message = "fake: Couldn't connect to server (gave up after 5 tries)";
  fake_.Report(ended);
  pb::RunSnapshot run = Get(id);
  EXPECT_EQ(run.steps(0).state(), pb::STEP_FAILED);
  EXPECT_EQ(LogOf(dir_, id, "s0"),
            "aetherflow: fake: Couldn't connect to server (gave up after 5 tries)\n");
}

TEST_F(EngineTest, TimeoutsAndCancelsSaySoInTheLog) {
  std::string id = Submit(Plan(2, R"("run": "sleep 60", "timeout": "10s")"));
  auto launches = fake_.WaitForLaunches(2);
  Advance(10'000);
  Sync();
  pb::RunSnapshot run = Get(id);
  ASSERT_EQ(run.steps(0).state(), pb::STEP_FAILED);
  ASSERT_EQ(run.steps(1).state(), pb::STEP_FAILED);
  std::string timed_out = "aetherflow: timed out after 10s (killed by signal 15)\n";
  EXPECT_EQ(LogOf(dir_, id, "s0"), timed_out);
  EXPECT_EQ(LogOf(dir_, id, "s1"), timed_out);

  std::string other = Submit(Plan(1, R"("run": "sleep 60")"));
  fake_.WaitForLaunches(3);
  ASSERT_TRUE(Call(&Engine::Cancel, other).ok());
  EXPECT_EQ(Get(other).run().state(), pb::RUN_CANCELLED);
  EXPECT_EQ(LogOf(dir_, other, "s0"),
            "aetherflow: cancelled by the user (killed by signal 15)\n");
}

TEST_F(EngineTest, AResumedStepIsMarkedAndTheTimeTheRunSatEndedIsKept) {
  std::string id = Submit(Plan(1, kCommand));
  fake_.Finish(fake_.WaitForLaunches(1)[0].key, false);
  pb::RunSnapshot run = Get(id);
  ASSERT_EQ(run.run().state(), pb::RUN_FAILED);
  EXPECT_EQ(run.run().stopped_ms(), 0);
  Advance(3'600'000);  // an hour later
  ASSERT_TRUE(Resume(id).ok());
  auto launches = fake_.WaitForLaunches(2);
  Advance(2'000);
  fake_.Finish(launches[1].key, true);
  run = Get(id);
  EXPECT_EQ(run.run().state(), pb::RUN_SUCCEEDED);
  EXPECT_EQ(run.run().stopped_ms(), 3'600'000);
  EXPECT_EQ(run.run().finished_at_ms() - run.run().started_at_ms() - run.run().stopped_ms(),
            2'000)
      << "time running";
  EXPECT_EQ(LogOf(dir_, id, "s0"),
            "aetherflow: exit code 1\n"
            "::aetherflow-attempt 1 of 1 at 4600000 resumed\n"
            "::aetherflow-attempt-end 1 exit 0\n");
}

TEST_F(EngineTest, ADaemonThatStopsSaysSoInTheLogsOfWhatRan) {
  std::string id = Submit(Plan(1, kCommand));
  fake_.WaitForLaunches(1);
  Get(id);
  engine_.reset();
  StartEngine();
  EXPECT_EQ(Get(id).run().state(), pb::RUN_INTERRUPTED);
  EXPECT_EQ(LogOf(dir_, id, "s0"), "aetherflow: interrupted: the daemon stopped while it ran\n");
}

}  // namespace
}  // namespace aetherflow
