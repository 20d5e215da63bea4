#include "client/run_times.h"

#include "client/render.h"
#include "gtest/gtest.h"

namespace aetherflow {
namespace {

constexpr int64_t kT0 = 1769421600000;

pb::Step Ran(const std::string& id, int64_t start, int64_t end, int64_t earlier = 0) {
  pb::Step step;
  step.set_id(id);
  step.set_state(pb::STEP_COMPLETED);
  step.set_started_at_ms(kT0 + start);
  step.set_finished_at_ms(kT0 + end);
  step.set_previous_attempts_ms(earlier);
  return step;
}

pb::RunSnapshot MakeRun(int64_t wall_ms, std::vector<pb::Step> steps, int64_t stopped_ms = 0) {
  pb::RunSnapshot snapshot;
  pb::Run* run = snapshot.mutable_run();
  run->set_id("r1");
  run->set_state(pb::RUN_SUCCEEDED);
  run->set_started_at_ms(kT0);
  run->set_finished_at_ms(kT0 + wall_ms);
  run->set_stopped_ms(stopped_ms);
  run->set_steps_total(static_cast<int>(steps.size()));
  run->set_completed(static_cast<int>(steps.size()));
  for (pb::Step& step : steps) *snapshot.add_steps() = std::move(step);
  return snapshot;
}

TEST(RunTimesTest, ParallelismThatBoughtSomethingIsSaid) {
  RunTimes times{120'500, 120'500, 245'300};
  EXPECT_EQ(ParallelismLine(times, true),
            "Parallelism: 245.3 s of step time in 120.5 s (2.0× faster than one at a time)");
  EXPECT_EQ(ParallelismLine(times, false),
            "Parallelism: 245.3 s of step time in 120.5 s (2.0x faster than one at a time)");
  EXPECT_TRUE(ParallelismLine({10'000, 10'000, 11'000}, true)) << "1.1×: just worth it";
}

TEST(RunTimesTest, NothingIsSaidWhenParallelismBoughtNothing) {
  // "3.2 s of step time in 4.0 s (0.8× faster than one at a time)".
  EXPECT_FALSE(ParallelismLine({4'000, 4'000, 3'200}, true));
  EXPECT_FALSE(ParallelismLine({10'000, 10'000, 10'500}, true)) << "1.05×";
  EXPECT_FALSE(ParallelismLine({4'000, 4'000, 0}, true));
}

TEST(RunTimesTest, NothingIsSaidOfStepsTooShortToMeasure) {
  // "0.0 s of step time in 0.0 s (2.0× faster)".
  EXPECT_FALSE(ParallelismLine({20, 20, 40}, true));
  EXPECT_FALSE(ParallelismLine({900, 900, 5'000}, true));
  EXPECT_FALSE(ParallelismLine({0, 0, 0}, true));
}

TEST(RunTimesTest, TimeASatEndedBeforeAResumeIsNotTimeRunning) {
  // Ran 4 s, sat interrupted for 4h47m, ran 2 s more: 6 s of running, two
  // steps of 4 s each one after the other... and one of 5 s beside them.
  const int64_t sat = (4 * 60 + 47) * 60'000;
  pb::RunSnapshot snapshot =
      MakeRun(6'000 + sat, {Ran("a", 0, 4'000), Ran("b", 4'000 + sat, 6'000 + sat, 2'000),
                        Ran("c", 4'000 + sat, 6'000 + sat, 3'000)},
          sat);
  RunTimes times = ComputeRunTimes(snapshot, kT0 + 99'999'999);
  EXPECT_EQ(times.running_ms, 6'000);
  EXPECT_EQ(times.wall_ms, 6'000 + sat);
  EXPECT_EQ(times.step_ms, 4'000 + 4'000 + 5'000);
  EXPECT_EQ(ParallelismLine(times, true),
            "Parallelism: 13.0 s of step time in 6.0 s (2.2× faster than one at a time)")
      << "not 0.0×";
  EXPECT_EQ(ElapsedText(times), "6.0s (4h47m since it started)");
  EXPECT_EQ(RunElapsedMs(snapshot.run(), 0), 6'000);
  EXPECT_EQ(RunWallMs(snapshot.run(), 0), 6'000 + sat);

  RenderOptions options;
  options.now_ms = kT0 + 99'999'999;
  std::string summary = RenderSummary(snapshot, {}, options);
  EXPECT_NE(summary.find("Run r1 succeeded in 6.0s (4h47m since it started): 3/3 steps"),
            std::string::npos)
      << summary;
  std::string status = RenderStatus(snapshot, options);
  EXPECT_NE(status.find("Elapsed: 6.0s (4h47m since it started)"), std::string::npos)
      << status;
  nlohmann::json j = StatusJson(snapshot, options.now_ms);
  EXPECT_EQ(j["run"]["elapsed_s"], 6.0);
  EXPECT_EQ(j["run"]["stopped_s"], sat / 1000.0);
}

TEST(RunTimesTest, ElapsedIsOneFigureWhenNothingSatStill) {
  EXPECT_EQ(ElapsedText({4'000, 4'000, 3'000}), "4.0s");
  EXPECT_EQ(ElapsedText({4'000, 4'020, 3'000}), "4.0s") << "the same to the tenth";
}

TEST(RunTimesTest, SummaryOfAShortOrSerialRunHasNoParallelismLine) {
  RenderOptions options;
  options.now_ms = kT0 + 10'000;
  // One step at a time: 3.2 s of steps in 4.0 s.
  std::string serial = RenderSummary(MakeRun(4'000, {Ran("a", 0, 1'600), Ran("b", 2'000, 3'600)}),
                                     {}, options);
  EXPECT_EQ(serial.find("Parallelism"), std::string::npos) << serial;
  EXPECT_EQ(serial.find("faster"), std::string::npos) << serial;
  // Two steps side by side, too short to tell.
  std::string quick = RenderSummary(MakeRun(2, {Ran("a", 0, 2), Ran("b", 0, 2)}), {}, options);
  EXPECT_EQ(quick.find("Parallelism"), std::string::npos) << quick;
  EXPECT_NE(quick.find("Run r1 succeeded in 0.0s: 2/2 steps completed"), std::string::npos)
      << quick;
}

}  // namespace
}  // namespace aetherflow
