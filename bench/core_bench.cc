// Micro-benchmarks of the pure core: plan parsing, scheduling, rendering of
// large plans and log analysis. Run: build/bench/core_bench
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "client/render.h"
#include "common/log_analysis.h"
#include "common/plan_parser.h"
#include "daemon/scheduler.h"
#include "nlohmann/json.hpp"

namespace aetherflow {
namespace {

std::string TreePlan(int n) {
  std::string plan = R"({"task_id": "bench", "steps": [)";
  for (int i = 0; i < n; ++i) {
    if (i) plan += ",";
    plan += R"({"id": "s)" + std::to_string(i) + R"(", "run": "true", "dependencies": [)";
    if (i) plan += "\"s" + std::to_string((i - 1) / 2) + "\"";
    plan += "]}";
  }
  return plan + "]}";
}

void BM_ParsePlan(benchmark::State& state) {
  std::string text = TreePlan(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto plan = ParsePlan(text, "bench.json");
    benchmark::DoNotOptimize(plan);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_ParsePlan)->Arg(1'000)->Arg(10'000)->Unit(benchmark::kMillisecond);

// Schedules a whole tree-shaped run at a cap of 2, as the engine would.
void BM_ScheduleRun(benchmark::State& state) {
  int n = static_cast<int>(state.range(0));
  std::vector<StepSpec> specs(n);
  for (int i = 1; i < n; ++i) specs[i].deps = {(i - 1) / 2};
  for (auto _ : state) {
    RunScheduler scheduler(specs, {.max_parallel = 2});
    std::vector<int> running;
    int64_t now = 0;
    while (!scheduler.done()) {
      while (auto step = scheduler.FindWork(now)) running.push_back(*step);
      int step = running.back();
      running.pop_back();
      benchmark::DoNotOptimize(scheduler.StepFinished(step, AttemptResult::kSucceeded, ++now));
    }
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_ScheduleRun)->Arg(10'000)->Unit(benchmark::kMillisecond);

void BM_RenderStatus(benchmark::State& state) {
  pb::RunSnapshot snapshot;
  snapshot.mutable_run()->set_steps_total(static_cast<int>(state.range(0)));
  for (int i = 0; i < state.range(0); ++i) {
    pb::Step* step = snapshot.add_steps();
    step->set_id("step_" + std::to_string(i));
    step->set_type("code_generation");
    step->set_provider("deepseek");
    step->set_state(i % 3 ? pb::STEP_COMPLETED : pb::STEP_RUNNING);
    step->set_started_at_ms(1000);
    step->set_description("Générer le module de rendu et ses tests unitaires");
  }
  RenderOptions options;
  options.now_ms = 5000;
  for (auto _ : state) benchmark::DoNotOptimize(RenderStatus(snapshot, options));
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_RenderStatus)->Arg(10'000)->Unit(benchmark::kMillisecond);

// One check-in's read of a step with its own patterns: a few lines of new
// output, as a training step prints between two evaluations.
void BM_AnalyzeShortRead(benchmark::State& state) {
  auto spec = WatchSpecFromJson(nlohmann::json::parse(R"json({
    "progress": "epoch (\\d+)/(\\d+)", "error": ["CUDA error", "Traceback"],
    "discovery": "new record", "metric": "val_loss: ([0-9.]+)", "goal": "min"})json"));
  if (!spec.ok()) {
    state.SkipWithError(std::string(spec.status().message()).c_str());
    return;
  }
  const std::string data =
      "epoch 3/10 loss 0.41\nval_loss: 0.3871\nWARNING: lr decayed\nepoch 4/10 loss 0.39\n";
  for (auto _ : state) {
    StepCursor cursor;
    benchmark::DoNotOptimize(AnalyzeLog(*spec, data, &cursor));
  }
  state.SetBytesProcessed(state.iterations() * data.size());
}
BENCHMARK(BM_AnalyzeShortRead)->Unit(benchmark::kMicrosecond);

// A large read with the default patterns: the analyser's raw speed.
void BM_AnalyzeLargeRead(benchmark::State& state) {
  std::string data;
  for (int i = 0; data.size() < (8u << 20); ++i) {
    data += "step " + std::to_string(i) + " loss=0.4" + std::to_string(i % 10) +
            " lr=3e-4 " + std::to_string(i % 100) + "%|####      | " +
            std::to_string(i) + "/100000 [00:12<01:30]\n";
  }
  WatchSpec spec;
  for (auto _ : state) {
    StepCursor cursor;
    benchmark::DoNotOptimize(AnalyzeLog(spec, data, &cursor));
  }
  state.SetBytesProcessed(state.iterations() * data.size());
}
BENCHMARK(BM_AnalyzeLargeRead)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace aetherflow

BENCHMARK_MAIN();
