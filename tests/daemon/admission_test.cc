#include "daemon/admission.h"

#include <memory>

#include "gtest/gtest.h"

namespace aetherflow {
namespace {

// Runs of independent steps with the demands a test gives them.
class AdmissionTest : public ::testing::Test {
 protected:
  AdmissionTest() : admission_(2, Capacity{4, int64_t{8} << 30, {0, 1}}) {
    admission_.set_provider_slots({{"p", 1}});
  }
  void AddRun(const std::string& id, std::vector<StepDemand> demands, RunBudget budget = {},
              Spent spent = {}) {
    Run& run = runs_[id];
    run.demands = std::move(demands);
    run.scheduler = std::make_unique<RunScheduler>(
        std::vector<StepSpec>(run.demands.size()), RunOptions{});
    run.spent = spent;
    admission_.AddRun(id, run.scheduler.get(), &run.demands, budget,
                      [&run] { return run.spent; });
  }
  // "run:step" of each step started now.
  std::vector<std::string> Dispatch() {
    last_ = admission_.Dispatch(0);
    std::vector<std::string> started;
    for (const auto& s : last_.started) started.push_back(s.run + ":" + std::to_string(s.step));
    return started;
  }
  void Finish(const std::string& run, int step) {
    admission_.Release(run, step);
    runs_[run].scheduler->StepFinished(step, AttemptResult::kSucceeded, 0);
  }
  static StepDemand Llm() {
    StepDemand d;
    d.provider = "p";
    d.est_tokens = 100;
    return d;
  }
  static StepDemand Gpu(int n) {
    StepDemand d;
    d.resources.gpu = n;
    return d;
  }

  struct Run {
    std::vector<StepDemand> demands;
    std::unique_ptr<RunScheduler> scheduler;
    Spent spent;
  };
  Admission admission_;
  std::map<std::string, Run> runs_;
  Admission::Decisions last_;
};

TEST_F(AdmissionTest, CommandStepsFillTheDaemonsSlots) {
  AddRun("a", std::vector<StepDemand>(5));
  EXPECT_EQ(Dispatch(), (std::vector<std::string>{"a:0", "a:1"}));
  EXPECT_TRUE(Dispatch().empty());
  Finish("a", 0);
  EXPECT_EQ(Dispatch(), (std::vector<std::string>{"a:2"}));
}

TEST_F(AdmissionTest, RunsTakeTurnsOneStepEach) {
  AddRun("big", std::vector<StepDemand>(10));
  EXPECT_EQ(Dispatch().size(), 2u);
  AddRun("small", std::vector<StepDemand>(1));
  Finish("big", 0);
  EXPECT_EQ(Dispatch(), (std::vector<std::string>{"small:0"}));
}

TEST_F(AdmissionTest, LlmStepsTakeTurnsForTheProvidersSlots) {
  AddRun("big", std::vector<StepDemand>(10, Llm()));
  EXPECT_EQ(Dispatch(), (std::vector<std::string>{"big:0"})) << "one slot";
  AddRun("small", std::vector<StepDemand>(1, Llm()));
  EXPECT_TRUE(Dispatch().empty());
  Finish("big", 0);
  EXPECT_EQ(Dispatch(), (std::vector<std::string>{"small:0"}));
  Finish("small", 0);
  EXPECT_EQ(Dispatch(), (std::vector<std::string>{"big:1"}));
}

TEST_F(AdmissionTest, LlmStepsDoNotTakeTheCommandSlots) {
  admission_.set_provider_slots({{"p", 5}});
  AddRun("llm", std::vector<StepDemand>(3, Llm()));
  AddRun("cmd", std::vector<StepDemand>(3));
  EXPECT_EQ(Dispatch().size(), 5u) << "3 LLM requests and 2 processes";
  EXPECT_EQ(admission_.commands_running(), 2);
}

TEST_F(AdmissionTest, AWaitingStepSaysWhatItWaitsFor) {
  AddRun("a", std::vector<StepDemand>(3, Llm()));
  Dispatch();
  ASSERT_EQ(last_.waiting.size(), 2u);
  EXPECT_EQ(last_.waiting[0].reason, "a p slot");
  Dispatch();
  EXPECT_TRUE(last_.waiting.empty()) << "said once, not at every turn";
}

TEST_F(AdmissionTest, GpusAreHeldByOneStepAtATime) {
  admission_.set_max_parallel(8);
  AddRun("a", {Gpu(1), Gpu(1), Gpu(1)});
  Dispatch();
  ASSERT_EQ(last_.started.size(), 2u);
  EXPECT_NE(last_.started[0].gpu_ids, last_.started[1].gpu_ids);
  ASSERT_EQ(last_.waiting.size(), 1u);
  EXPECT_EQ(last_.waiting[0].reason, "gpu");
  std::vector<int> freed = last_.started[1].gpu_ids;
  Finish("a", 1);
  Dispatch();
  ASSERT_EQ(last_.started.size(), 1u);
  EXPECT_EQ(last_.started[0].gpu_ids, freed);
}

TEST_F(AdmissionTest, AStepThatDoesNotFitLetsASmallerOneBy) {
  admission_.set_max_parallel(8);
  AddRun("a", {Gpu(2), Gpu(2), StepDemand()});
  EXPECT_EQ(Dispatch(), (std::vector<std::string>{"a:0", "a:2"}));
}

TEST_F(AdmissionTest, CpuAndMemoryAreCounted) {
  admission_.set_max_parallel(8);
  StepDemand three_cpus;
  three_cpus.resources.cpu = 3;
  StepDemand big_mem;
  big_mem.resources.mem_bytes = int64_t{6} << 30;
  AddRun("a", {three_cpus, three_cpus, big_mem, big_mem});
  Dispatch();
  EXPECT_EQ(Dispatch().size(), 0u);
  EXPECT_EQ(admission_.commands_running(), 2) << "a:0 (3 cpus) and a:2 (6G)";
}

TEST_F(AdmissionTest, TwoStepsNeverWriteOneFile) {
  admission_.set_provider_slots({{"p", 5}});
  StepDemand writes = Llm();
  writes.files = {"/out/api.py"};
  AddRun("a", {writes, writes});
  EXPECT_EQ(Dispatch(), (std::vector<std::string>{"a:0"}));
  Finish("a", 0);
  EXPECT_EQ(Dispatch(), (std::vector<std::string>{"a:1"}));
}

TEST_F(AdmissionTest, ABudgetStopsTheRunBeforeItIsExceeded) {
  admission_.set_provider_slots({{"p", 5}});
  AddRun("a", std::vector<StepDemand>(5, Llm()), RunBudget{250, std::nullopt}, Spent{});
  Dispatch();
  EXPECT_EQ(last_.started.size(), 2u) << "100 + 100 reserved; a third passes 250";
  ASSERT_EQ(last_.over_budget.size(), 1u);
  EXPECT_EQ(last_.over_budget[0].second.transitions.size(), 3u);
  EXPECT_TRUE(runs_["a"].scheduler->budget_exhausted());
}

TEST_F(AdmissionTest, APausedRunStartsNothing) {
  AddRun("a", std::vector<StepDemand>(2));
  runs_["a"].scheduler->SetPaused(true);
  EXPECT_TRUE(Dispatch().empty());
  runs_["a"].scheduler->SetPaused(false);
  EXPECT_EQ(Dispatch().size(), 2u);
}

TEST_F(AdmissionTest, NeverFitsNamesTheResource) {
  StepResources four_gpus;
  four_gpus.gpu = 4;
  ASSERT_TRUE(admission_.NeverFits(four_gpus).has_value());
  EXPECT_EQ(admission_.NeverFits(four_gpus)->substr(0, 4), "gpu:");
  EXPECT_FALSE(admission_.NeverFits(StepResources()).has_value());
}

}  // namespace
}  // namespace aetherflow
