#include "daemon/scheduler.h"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace aetherflow {
namespace {

// Drives a RunScheduler like the engine does, with a fake clock: starts
// everything that can start, and lets the test finish steps.
class SchedulerTest : public ::testing::Test {
 protected:
  void Make(std::vector<StepSpec> specs, RunOptions options = {}) {
    scheduler_ = std::make_unique<RunScheduler>(std::move(specs), options);
  }
  // Starts every step FindWork hands out now, returns them.
  std::vector<int> StartAll() {
    std::vector<int> started;
    while (auto step = scheduler_->FindWork(now_)) started.push_back(*step);
    return started;
  }
  Update Finish(int step, AttemptResult result = AttemptResult::kSucceeded) {
    return scheduler_->StepFinished(step, result, now_);
  }
  static StepSpec Dep(std::vector<int> deps) {
    StepSpec spec;
    spec.deps = std::move(deps);
    return spec;
  }
  std::unique_ptr<RunScheduler> scheduler_;
  int64_t now_ = 1'000'000;
};

TEST_F(SchedulerTest, DiamondRunsBranchesInParallelAndJoinsLast) {
  // 0 -> {1, 2} -> 3
  Make({Dep({}), Dep({0}), Dep({0}), Dep({1, 2})});
  EXPECT_EQ(StartAll(), std::vector<int>({0}));
  Finish(0);
  EXPECT_EQ(StartAll(), std::vector<int>({1, 2}));
  EXPECT_EQ(scheduler_->running(), 2);
  Finish(1);
  EXPECT_TRUE(StartAll().empty()) << "join must wait for both branches";
  Finish(2);
  EXPECT_EQ(StartAll(), std::vector<int>({3}));
  EXPECT_FALSE(scheduler_->done());
  Finish(3);
  EXPECT_TRUE(scheduler_->done());
  EXPECT_EQ(scheduler_->result(), RunState::kSucceeded);
}

TEST_F(SchedulerTest, FailureSkipsDependentsWhileIndependentBranchesFinish) {
  // 0 -> {1 (fails), 2}; 1 -> 3 -> 4; 2 -> 5
  Make({Dep({}), Dep({0}), Dep({0}), Dep({1}), Dep({3}), Dep({2})});
  StartAll();
  Finish(0);
  EXPECT_EQ(StartAll(), std::vector<int>({1, 2}));
  Update update = Finish(1, AttemptResult::kFailed);
  std::vector<Transition> expected = {{1, StepState::kFailed, 1},
                                      {3, StepState::kSkipped, 0, 0, Cause::kDependency},
                                      {4, StepState::kSkipped, 0, 0, Cause::kDependency}};
  EXPECT_EQ(update.transitions, expected);
  EXPECT_TRUE(update.to_kill.empty());
  EXPECT_FALSE(scheduler_->done()) << "step 2 still runs";
  Finish(2);
  EXPECT_EQ(StartAll(), std::vector<int>({5}));
  Finish(5);
  EXPECT_TRUE(scheduler_->done());
  EXPECT_EQ(scheduler_->result(), RunState::kFailed);
  EXPECT_EQ(scheduler_->state(5), StepState::kCompleted);
  EXPECT_EQ(scheduler_->state(4), StepState::kSkipped);
}

TEST_F(SchedulerTest, FailFastCancelsPendingAndKillsRunning) {
  Make({Dep({}), Dep({}), Dep({}), Dep({0})}, {.fail_fast = true});
  EXPECT_EQ(StartAll(), std::vector<int>({0, 1, 2}));
  Update update = Finish(1, AttemptResult::kFailed);
  EXPECT_EQ(update.to_kill, std::vector<int>({0, 2}));
  EXPECT_EQ(scheduler_->state(3), StepState::kCancelled);
  EXPECT_TRUE(StartAll().empty());
  EXPECT_FALSE(scheduler_->done());
  Finish(0, AttemptResult::kCancelled);
  Finish(2, AttemptResult::kCancelled);
  EXPECT_TRUE(scheduler_->done());
  EXPECT_EQ(scheduler_->result(), RunState::kFailed);
  EXPECT_EQ(scheduler_->state(0), StepState::kCancelled);
}

TEST_F(SchedulerTest, CancelStopsEverythingAndIsIdempotent) {
  Make({Dep({}), Dep({0}), Dep({})});
  EXPECT_EQ(StartAll(), std::vector<int>({0, 2}));
  Update update = scheduler_->Cancel();
  EXPECT_EQ(update.to_kill, std::vector<int>({0, 2}));
  ASSERT_EQ(update.transitions.size(), 1u);
  EXPECT_EQ(update.transitions[0].step, 1);
  EXPECT_EQ(update.transitions[0].state, StepState::kCancelled);
  EXPECT_TRUE(scheduler_->Cancel().to_kill.empty());
  // A step that completes anyway while being killed stays completed, and
  // its dependents do not start.
  Finish(0, AttemptResult::kSucceeded);
  EXPECT_TRUE(StartAll().empty());
  Finish(2, AttemptResult::kCancelled);
  EXPECT_TRUE(scheduler_->done());
  EXPECT_EQ(scheduler_->result(), RunState::kCancelled);
}

TEST_F(SchedulerTest, RetriesBackOffExponentiallyThenFail) {
  StepSpec spec;
  spec.retries = 2;
  Make({spec, Dep({0})}, {.retry_base_ms = 1000});
  EXPECT_EQ(StartAll(), std::vector<int>({0}));
  Update first = Finish(0, AttemptResult::kFailed);
  ASSERT_EQ(first.transitions.size(), 1u);
  EXPECT_EQ(first.transitions[0].state, StepState::kPending);
  EXPECT_EQ(first.transitions[0].retry_at_ms, now_ + 1000);
  EXPECT_EQ(scheduler_->NextWakeup(), now_ + 1000);
  now_ += 999;
  EXPECT_TRUE(StartAll().empty()) << "back-off not over";
  now_ += 1;
  EXPECT_EQ(StartAll(), std::vector<int>({0}));
  EXPECT_EQ(scheduler_->attempt(0), 2);
  Update second = Finish(0, AttemptResult::kTimedOut);
  EXPECT_EQ(second.transitions[0].retry_at_ms, now_ + 2000) << "doubles";
  now_ += 2000;
  EXPECT_EQ(StartAll(), std::vector<int>({0}));
  Update last = Finish(0, AttemptResult::kFailed);
  EXPECT_EQ(last.transitions[0].state, StepState::kFailed);
  EXPECT_EQ(last.transitions[0].attempt, 3);
  EXPECT_EQ(scheduler_->state(1), StepState::kSkipped);
  EXPECT_TRUE(scheduler_->done());
}

TEST_F(SchedulerTest, RetrySucceedsOnSecondAttempt) {
  StepSpec spec;
  spec.retries = 1;
  Make({spec}, {.retry_base_ms = 10});
  StartAll();
  Finish(0, AttemptResult::kFailed);
  now_ += 10;
  StartAll();
  Finish(0);
  EXPECT_EQ(scheduler_->result(), RunState::kSucceeded);
}

TEST_F(SchedulerTest, BackoffIsCapped) {
  StepSpec spec;
  spec.retries = 20;
  Make({spec}, {.retry_base_ms = 1000, .retry_max_ms = 5000});
  int64_t last_delay = 0;
  for (int i = 0; i < 10; ++i) {
    StartAll();
    Update update = Finish(0, AttemptResult::kFailed);
    last_delay = update.transitions[0].retry_at_ms - now_;
    now_ = update.transitions[0].retry_at_ms;
  }
  EXPECT_EQ(last_delay, 5000);
}

TEST_F(SchedulerTest, CancelledAttemptIsNeverRetried) {
  StepSpec spec;
  spec.retries = 5;
  Make({spec});
  StartAll();
  scheduler_->Cancel();
  Update update = Finish(0, AttemptResult::kCancelled);
  EXPECT_EQ(update.transitions[0].state, StepState::kCancelled);
  EXPECT_TRUE(scheduler_->done());
}

TEST_F(SchedulerTest, TimeoutExpiresOnceAndWakesTheEngine) {
  StepSpec spec;
  spec.timeout_ms = 5000;
  Make({spec, Dep({})});
  StartAll();
  EXPECT_EQ(scheduler_->NextWakeup(), now_ + 5000);
  EXPECT_TRUE(scheduler_->Expired(now_ + 4999).empty());
  EXPECT_EQ(scheduler_->Expired(now_ + 5000), std::vector<int>({0}));
  EXPECT_TRUE(scheduler_->Expired(now_ + 6000).empty()) << "reported once";
  EXPECT_EQ(scheduler_->NextWakeup(), std::nullopt);
  Finish(0, AttemptResult::kTimedOut);
  EXPECT_EQ(scheduler_->state(0), StepState::kFailed);
}

TEST_F(SchedulerTest, MaxParallelCapsThisRun) {
  std::vector<StepSpec> specs(5);
  Make(specs, {.max_parallel = 2});
  EXPECT_EQ(StartAll(), std::vector<int>({0, 1}));
  EXPECT_FALSE(scheduler_->HasWork(now_));
  Finish(1);
  EXPECT_EQ(StartAll(), std::vector<int>({2}));
  Finish(0);
  Finish(2);
  EXPECT_EQ(StartAll(), std::vector<int>({3, 4}));
}

TEST_F(SchedulerTest, ResumeRunsOnlyWhatDidNotComplete) {
  // 0 -> 1 -> 2, 0 -> 3: 0 and 3 completed in an earlier daemon life.
  Make({Dep({}), Dep({0}), Dep({1}), Dep({0})});
  scheduler_->RestoreCompleted(0);
  scheduler_->RestoreCompleted(3);
  EXPECT_EQ(StartAll(), std::vector<int>({1}));
  Finish(1);
  EXPECT_EQ(StartAll(), std::vector<int>({2}));
  Finish(2);
  EXPECT_TRUE(scheduler_->done());
  EXPECT_EQ(scheduler_->result(), RunState::kSucceeded);
  EXPECT_EQ(scheduler_->attempt(0), 0) << "completed steps never rerun";
}

TEST_F(SchedulerTest, FullyRestoredRunIsDone) {
  Make({Dep({}), Dep({0})});
  scheduler_->RestoreCompleted(0);
  scheduler_->RestoreCompleted(1);
  EXPECT_TRUE(scheduler_->done());
  EXPECT_EQ(scheduler_->result(), RunState::kSucceeded);
}

TEST_F(SchedulerTest, LongChainFailureSkipsWithoutRecursion) {
  std::vector<StepSpec> specs(100'000);
  for (int i = 1; i < 100'000; ++i) specs[i].deps = {i - 1};
  Make(specs);
  StartAll();
  Update update = Finish(0, AttemptResult::kFailed);
  EXPECT_EQ(update.transitions.size(), 100'000u);
  EXPECT_TRUE(scheduler_->done());
}

TEST(FairShareTest, NewRunIsServedBeforeABigRunTakesAnotherSlot) {
  FairShare share;
  std::set<std::string> with_work = {"big"};
  share.Add("big");
  auto has_work = [&](const std::string& run) { return with_work.count(run) > 0; };
  EXPECT_EQ(share.Next(has_work), "big");
  EXPECT_EQ(share.Next(has_work), "big");
  share.Add("small");
  with_work.insert("small");
  EXPECT_EQ(share.Next(has_work), "small");
  EXPECT_EQ(share.Next(has_work), "big");
  EXPECT_EQ(share.Next(has_work), "small");
  with_work.erase("small");
  share.Remove("small");
  EXPECT_EQ(share.Next(has_work), "big");
  with_work.clear();
  EXPECT_EQ(share.Next(has_work), std::nullopt);
}

TEST(FairShareTest, TenThousandStepRunDoesNotStarveOneStepRun) {
  // Two daemon slots; "big" has 10,000 ready steps; "small" arrives later.
  std::vector<StepSpec> big_specs(10'000);
  RunScheduler big(big_specs, {});
  RunScheduler small({StepSpec{}}, {});
  FairShare share;
  share.Add("big");
  int64_t now = 0;
  std::vector<std::pair<std::string, int>> running;
  auto has_work = [&](const std::string& run) {
    return (run == "big" ? big : small).HasWork(now);
  };
  auto fill = [&] {
    while (running.size() < 2) {
      auto run = share.Next(has_work);
      if (!run) break;
      running.push_back({*run, *(*run == "big" ? big : small).FindWork(now)});
    }
  };
  fill();
  share.Add("small");
  // One slot frees: the small run must get it.
  big.StepFinished(running[0].second, AttemptResult::kSucceeded, now);
  running.erase(running.begin());
  fill();
  EXPECT_EQ(small.running(), 1);
}

TEST_F(SchedulerTest, RestoredFailuresAreNotRunAgain) {
  // 0 failed and 1 (its dependent) was skipped before a restart; 2 is left.
  Make({Dep({}), Dep({0}), Dep({})});
  scheduler_->RestoreFinished(0, StepState::kFailed);
  scheduler_->RestoreFinished(1, StepState::kSkipped);
  EXPECT_EQ(StartAll(), std::vector<int>({2}));
  Finish(2);
  EXPECT_TRUE(scheduler_->done());
  EXPECT_EQ(scheduler_->result(), RunState::kFailed);
}

}  // namespace
}  // namespace aetherflow
