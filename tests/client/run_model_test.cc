#include "client/run_model.h"

#include <string>

#include "gtest/gtest.h"

namespace aetherflow {
namespace {

namespace pb = ::aetherflow::v1;

constexpr int64_t kT0 = 1'769'421'600'000;  // 2026-01-26T10:00:00Z

class RunModelTest : public testing::Test {
 protected:
  // A running run of three pending steps a, b, c whose snapshot includes
  // events up to seq 10.
  static pb::RunSnapshot Snapshot() {
    pb::RunSnapshot snapshot;
    pb::Run* run = snapshot.mutable_run();
    run->set_id("r1");
    run->set_state(pb::RUN_RUNNING);
    run->set_created_at_ms(kT0);
    run->set_started_at_ms(kT0);
    run->set_steps_total(3);
    run->set_batches(2);
    run->set_last_seq(10);
    for (const char* id : {"a", "b", "c"}) {
      pb::Step* step = snapshot.add_steps();
      step->set_id(id);
      step->set_state(pb::STEP_PENDING);
      step->set_batch(1);
      step->set_max_attempts(3);
    }
    return snapshot;
  }

  pb::Event StepEvent(const std::string& step, pb::StepState state,
                      int64_t time_ms, int attempt = 1) {
    pb::Event event;
    event.set_run_id("r1");
    event.set_seq(++seq_);
    event.set_time_ms(time_ms);
    event.set_kind(pb::STEP_STATE_CHANGED);
    event.set_step_id(step);
    event.set_step_state(state);
    event.set_attempt(attempt);
    return event;
  }

  pb::Event RunEvent(pb::RunState state, int64_t time_ms,
                     const std::string& message = "") {
    pb::Event event;
    event.set_run_id("r1");
    event.set_seq(++seq_);
    event.set_time_ms(time_ms);
    event.set_kind(pb::RUN_STATE_CHANGED);
    event.set_run_state(state);
    event.set_message(message);
    return event;
  }

  pb::Event FiguresEvent(const std::string& step, int64_t time_ms) {
    pb::Event event;
    event.set_run_id("r1");
    event.set_seq(++seq_);
    event.set_time_ms(time_ms);
    event.set_kind(pb::STEP_FIGURES);
    event.set_step_id(step);
    return event;
  }

  const pb::Step& Step(const std::string& id) const {
    for (const pb::Step& step : model_.snapshot().steps()) {
      if (step.id() == id) return step;
    }
    ADD_FAILURE() << "no step " << id;
    return model_.snapshot().steps(0);
  }

  const pb::Run& run() const { return model_.snapshot().run(); }

  // Counts the steps in `state` from the steps themselves, to check the
  // run's counters against.
  int Actual(pb::StepState state) const {
    int n = 0;
    for (const pb::Step& step : model_.snapshot().steps()) n += step.state() == state;
    return n;
  }

  void ExpectCountsMatchSteps() const {
    EXPECT_EQ(run().completed(), Actual(pb::STEP_COMPLETED));
    EXPECT_EQ(run().failed(), Actual(pb::STEP_FAILED));
    EXPECT_EQ(run().running(), Actual(pb::STEP_RUNNING));
    EXPECT_EQ(run().skipped(), Actual(pb::STEP_SKIPPED));
    EXPECT_EQ(run().cancelled(), Actual(pb::STEP_CANCELLED));
    EXPECT_EQ(run().interrupted(), Actual(pb::STEP_INTERRUPTED));
  }

  int64_t seq_ = 10;
  RunModel model_{Snapshot()};
};

TEST_F(RunModelTest, StartsFromTheSnapshot) {
  EXPECT_EQ(model_.last_seq(), 10);
  EXPECT_FALSE(model_.finished());
  EXPECT_EQ(model_.snapshot().steps_size(), 3);
}

TEST_F(RunModelTest, IgnoresEventsAlreadyInTheSnapshot) {
  const std::string before = model_.snapshot().SerializeAsString();
  pb::Event old = StepEvent("a", pb::STEP_RUNNING, kT0 + 1000);
  old.set_seq(10);  // == last_seq: the snapshot already includes it
  EXPECT_FALSE(model_.Apply(old));
  old.set_seq(3);
  EXPECT_FALSE(model_.Apply(old));
  EXPECT_EQ(model_.snapshot().SerializeAsString(), before);
  EXPECT_EQ(model_.last_seq(), 10);
}

TEST_F(RunModelTest, DoesNotApplyTheSameEventTwice) {
  pb::Event running = StepEvent("a", pb::STEP_RUNNING, kT0 + 1000);
  EXPECT_TRUE(model_.Apply(running));
  EXPECT_EQ(model_.last_seq(), 11);
  EXPECT_EQ(run().running(), 1);
  // A reconnecting stream sends it again: counted once only.
  EXPECT_FALSE(model_.Apply(running));
  EXPECT_EQ(run().running(), 1);

  pb::Event completed = StepEvent("a", pb::STEP_COMPLETED, kT0 + 4000);
  EXPECT_TRUE(model_.Apply(completed));
  EXPECT_FALSE(model_.Apply(completed));
  EXPECT_FALSE(model_.Apply(running));  // older than the last applied
  EXPECT_EQ(run().completed(), 1);
  EXPECT_EQ(run().running(), 0);
  EXPECT_EQ(Step("a").state(), pb::STEP_COMPLETED);
  ExpectCountsMatchSteps();
}

TEST_F(RunModelTest, AcceptsALaterEventAfterAGap) {
  pb::Event event = StepEvent("b", pb::STEP_RUNNING, kT0 + 500);
  event.set_seq(15);
  EXPECT_TRUE(model_.Apply(event));
  EXPECT_EQ(model_.last_seq(), 15);
  EXPECT_EQ(Step("b").state(), pb::STEP_RUNNING);
}

TEST_F(RunModelTest, StepLifecycleKeepsCountsRight) {
  ASSERT_TRUE(model_.Apply(StepEvent("a", pb::STEP_RUNNING, kT0 + 1000)));
  ASSERT_TRUE(model_.Apply(StepEvent("b", pb::STEP_RUNNING, kT0 + 1500)));
  EXPECT_EQ(run().running(), 2);
  ExpectCountsMatchSteps();

  pb::Event done = StepEvent("a", pb::STEP_COMPLETED, kT0 + 4000);
  done.set_exit_code(0);
  ASSERT_TRUE(model_.Apply(done));
  pb::Event broke = StepEvent("b", pb::STEP_FAILED, kT0 + 5000);
  broke.set_exit_code(3);
  broke.set_message("exit 3");
  ASSERT_TRUE(model_.Apply(broke));
  pb::Event skip = StepEvent("c", pb::STEP_SKIPPED, kT0 + 5000);
  skip.set_message("dependency b failed");
  ASSERT_TRUE(model_.Apply(skip));

  EXPECT_EQ(run().completed(), 1);
  EXPECT_EQ(run().failed(), 1);
  EXPECT_EQ(run().skipped(), 1);
  EXPECT_EQ(run().running(), 0);
  ExpectCountsMatchSteps();

  EXPECT_EQ(Step("a").started_at_ms(), kT0 + 1000);
  EXPECT_EQ(Step("a").finished_at_ms(), kT0 + 4000);
  ASSERT_TRUE(Step("a").has_exit_code());
  EXPECT_EQ(Step("a").exit_code(), 0);
  EXPECT_EQ(Step("b").finished_at_ms(), kT0 + 5000);
  EXPECT_EQ(Step("b").exit_code(), 3);
  EXPECT_EQ(Step("b").message(), "exit 3");
  // A skipped step never ran: no times.
  EXPECT_EQ(Step("c").started_at_ms(), 0);
  EXPECT_EQ(Step("c").finished_at_ms(), 0);
  EXPECT_EQ(Step("c").message(), "dependency b failed");
}

TEST_F(RunModelTest, CancellingARunningStepEndsItsTime) {
  ASSERT_TRUE(model_.Apply(StepEvent("a", pb::STEP_RUNNING, kT0 + 1000)));
  pb::Event cancel = StepEvent("a", pb::STEP_CANCELLED, kT0 + 2500);
  cancel.set_signal(15);
  ASSERT_TRUE(model_.Apply(cancel));
  ASSERT_TRUE(model_.Apply(StepEvent("b", pb::STEP_CANCELLED, kT0 + 2500)));
  EXPECT_EQ(run().cancelled(), 2);
  EXPECT_EQ(run().running(), 0);
  EXPECT_EQ(Step("a").finished_at_ms(), kT0 + 2500);
  EXPECT_EQ(Step("a").signal(), 15);
  EXPECT_EQ(Step("b").finished_at_ms(), 0);  // it never started
  ExpectCountsMatchSteps();
}

TEST_F(RunModelTest, EventForAnUnknownStepChangesNoStep) {
  const std::string steps_before = model_.snapshot().steps(0).SerializeAsString() +
                                   model_.snapshot().steps(1).SerializeAsString() +
                                   model_.snapshot().steps(2).SerializeAsString();
  model_.Apply(StepEvent("nope", pb::STEP_RUNNING, kT0 + 1000));
  EXPECT_EQ(model_.snapshot().steps(0).SerializeAsString() +
                model_.snapshot().steps(1).SerializeAsString() +
                model_.snapshot().steps(2).SerializeAsString(),
            steps_before);
  EXPECT_EQ(run().running(), 0);
  // It still moves the sequence on, so it is not asked for again.
  EXPECT_EQ(model_.last_seq(), 11);
}

TEST_F(RunModelTest, FiguresUpdateTokensCostAndProgress) {
  ASSERT_TRUE(model_.Apply(StepEvent("a", pb::STEP_RUNNING, kT0 + 1000)));
  EXPECT_FALSE(Step("a").has_tokens());
  EXPECT_FALSE(Step("a").has_cost());

  pb::Event figures = FiguresEvent("a", kT0 + 2000);
  figures.set_tokens(1200);
  figures.set_cost(0.0042);
  figures.set_progress("3/10");
  ASSERT_TRUE(model_.Apply(figures));
  ASSERT_TRUE(Step("a").has_tokens());
  EXPECT_EQ(Step("a").tokens(), 1200);
  ASSERT_TRUE(Step("a").has_cost());
  EXPECT_DOUBLE_EQ(Step("a").cost(), 0.0042);
  EXPECT_EQ(Step("a").progress(), "3/10");
  // Figures change neither the state nor the counts.
  EXPECT_EQ(Step("a").state(), pb::STEP_RUNNING);
  EXPECT_EQ(run().running(), 1);
  ExpectCountsMatchSteps();

  // The daemon sends the step's totals so far; a later event without a
  // cost keeps the cost already known.
  pb::Event more = FiguresEvent("a", kT0 + 3000);
  more.set_tokens(2500);
  more.set_progress("45%");
  ASSERT_TRUE(model_.Apply(more));
  EXPECT_EQ(Step("a").tokens(), 2500);
  ASSERT_TRUE(Step("a").has_cost());
  EXPECT_DOUBLE_EQ(Step("a").cost(), 0.0042);
  EXPECT_EQ(Step("a").progress(), "45%");
  // Other steps untouched.
  EXPECT_FALSE(Step("b").has_tokens());
}

TEST_F(RunModelTest, FiguresUpdateTheRunTotals) {
  ASSERT_TRUE(model_.Apply(StepEvent("a", pb::STEP_RUNNING, kT0 + 1000)));
  ASSERT_TRUE(model_.Apply(StepEvent("b", pb::STEP_RUNNING, kT0 + 1000)));
  pb::Event fa = FiguresEvent("a", kT0 + 2000);
  fa.set_tokens(1000);
  fa.set_cost(0.5);
  ASSERT_TRUE(model_.Apply(fa));
  pb::Event fb = FiguresEvent("b", kT0 + 2000);
  fb.set_tokens(234);
  ASSERT_TRUE(model_.Apply(fb));
  ASSERT_TRUE(run().has_tokens());
  EXPECT_EQ(run().tokens(), 1234);
  ASSERT_TRUE(run().has_cost());
  EXPECT_DOUBLE_EQ(run().cost(), 0.5);
}

TEST_F(RunModelTest, RunStateChangesAndFinished) {
  ASSERT_TRUE(model_.Apply(RunEvent(pb::RUN_RUNNING, kT0 + 10)));
  EXPECT_FALSE(model_.finished());
  EXPECT_EQ(run().finished_at_ms(), 0);
  EXPECT_EQ(run().started_at_ms(), kT0);  // already started: kept

  ASSERT_TRUE(model_.Apply(RunEvent(pb::RUN_SUCCEEDED, kT0 + 9000, "all done")));
  EXPECT_TRUE(model_.finished());
  EXPECT_EQ(run().state(), pb::RUN_SUCCEEDED);
  EXPECT_EQ(run().finished_at_ms(), kT0 + 9000);
  EXPECT_EQ(run().reason(), "all done");
}

TEST_F(RunModelTest, EveryFinalRunStateIsFinished) {
  for (pb::RunState state :
       {pb::RUN_SUCCEEDED, pb::RUN_FAILED, pb::RUN_CANCELLED, pb::RUN_INTERRUPTED}) {
    RunModel model(Snapshot());
    pb::Event event = RunEvent(state, kT0 + 5000);
    ASSERT_TRUE(model.Apply(event));
    EXPECT_TRUE(model.finished()) << pb::RunState_Name(state);
    EXPECT_EQ(model.snapshot().run().finished_at_ms(), kT0 + 5000);
  }
}

TEST_F(RunModelTest, QueuedRunStartsWhenItRuns) {
  pb::RunSnapshot snapshot = Snapshot();
  snapshot.mutable_run()->set_state(pb::RUN_QUEUED);
  snapshot.mutable_run()->set_started_at_ms(0);
  RunModel model(snapshot);
  EXPECT_FALSE(model.finished());
  ASSERT_TRUE(model.Apply(RunEvent(pb::RUN_RUNNING, kT0 + 700)));
  EXPECT_FALSE(model.finished());
  EXPECT_EQ(model.snapshot().run().started_at_ms(), kT0 + 700);
}

TEST_F(RunModelTest, RetryAccumulatesPreviousAttempts) {
  // Attempt 1 runs 3 s and fails, waits, attempt 2 runs.
  ASSERT_TRUE(model_.Apply(StepEvent("a", pb::STEP_RUNNING, kT0 + 1000, 1)));
  pb::Event failed = StepEvent("a", pb::STEP_FAILED, kT0 + 4000, 1);
  failed.set_exit_code(1);
  ASSERT_TRUE(model_.Apply(failed));
  EXPECT_EQ(run().failed(), 1);
  pb::Event retry = StepEvent("a", pb::STEP_PENDING, kT0 + 4000, 1);
  retry.set_retry_at_ms(kT0 + 6000);
  retry.set_message("retry in 2.0s");
  ASSERT_TRUE(model_.Apply(retry));
  EXPECT_EQ(run().failed(), 0);  // waiting to retry is not failed
  EXPECT_EQ(Step("a").retry_at_ms(), kT0 + 6000);
  ExpectCountsMatchSteps();

  ASSERT_TRUE(model_.Apply(StepEvent("a", pb::STEP_RUNNING, kT0 + 6000, 2)));
  const pb::Step& a = Step("a");
  EXPECT_EQ(a.attempt(), 2);
  EXPECT_EQ(a.previous_attempts_ms(), 3000);  // 4000 - 1000
  EXPECT_EQ(a.started_at_ms(), kT0 + 6000);
  EXPECT_EQ(a.finished_at_ms(), 0);
  EXPECT_FALSE(a.has_exit_code());  // the failed attempt's code is gone
  EXPECT_EQ(a.retry_at_ms(), 0);
  EXPECT_EQ(run().running(), 1);
  ExpectCountsMatchSteps();

  // Attempt 2 fails after 1.5 s, attempt 3 runs: 3000 + 1500.
  ASSERT_TRUE(model_.Apply(StepEvent("a", pb::STEP_FAILED, kT0 + 7500, 2)));
  ASSERT_TRUE(model_.Apply(StepEvent("a", pb::STEP_RUNNING, kT0 + 9000, 3)));
  EXPECT_EQ(Step("a").previous_attempts_ms(), 4500);
  EXPECT_EQ(Step("a").attempt(), 3);
  ASSERT_TRUE(model_.Apply(StepEvent("a", pb::STEP_COMPLETED, kT0 + 9500, 3)));
  EXPECT_EQ(Step("a").finished_at_ms(), kT0 + 9500);
  EXPECT_EQ(Step("a").previous_attempts_ms(), 4500);
  EXPECT_EQ(run().completed(), 1);
  ExpectCountsMatchSteps();
}

TEST_F(RunModelTest, ResumedPendingClearsTimes) {
  ASSERT_TRUE(model_.Apply(StepEvent("a", pb::STEP_RUNNING, kT0 + 1000, 1)));
  ASSERT_TRUE(model_.Apply(StepEvent("a", pb::STEP_FAILED, kT0 + 4000, 1)));
  ASSERT_TRUE(model_.Apply(StepEvent("a", pb::STEP_RUNNING, kT0 + 5000, 2)));
  ASSERT_TRUE(model_.Apply(StepEvent("a", pb::STEP_FAILED, kT0 + 6000, 2)));
  ASSERT_TRUE(model_.Apply(RunEvent(pb::RUN_FAILED, kT0 + 6000, "step a failed")));
  ASSERT_TRUE(model_.finished());
  ASSERT_EQ(Step("a").previous_attempts_ms(), 3000);

  // `aetherflow resume`: the step goes back to pending, with a clean slate.
  pb::Event resumed = StepEvent("a", pb::STEP_PENDING, kT0 + 60'000, 0);
  resumed.set_message("resumed");
  ASSERT_TRUE(model_.Apply(resumed));
  EXPECT_EQ(Step("a").state(), pb::STEP_PENDING);
  EXPECT_EQ(Step("a").started_at_ms(), 0);
  EXPECT_EQ(Step("a").finished_at_ms(), 0);
  EXPECT_EQ(Step("a").previous_attempts_ms(), 0);
  EXPECT_EQ(run().failed(), 0);
  ExpectCountsMatchSteps();

  ASSERT_TRUE(model_.Apply(RunEvent(pb::RUN_RUNNING, kT0 + 60'000)));
  EXPECT_FALSE(model_.finished());
  EXPECT_EQ(run().finished_at_ms(), 0);

  // Its next run counts from scratch: no earlier attempt carried over.
  ASSERT_TRUE(model_.Apply(StepEvent("a", pb::STEP_RUNNING, kT0 + 61'000, 1)));
  EXPECT_EQ(Step("a").previous_attempts_ms(), 0);
  EXPECT_EQ(Step("a").started_at_ms(), kT0 + 61'000);
}

TEST_F(RunModelTest, InterruptedStepIsCountedAndEnded) {
  ASSERT_TRUE(model_.Apply(StepEvent("a", pb::STEP_RUNNING, kT0 + 1000)));
  ASSERT_TRUE(model_.Apply(StepEvent("a", pb::STEP_INTERRUPTED, kT0 + 2000)));
  EXPECT_EQ(run().interrupted(), 1);
  EXPECT_EQ(run().running(), 0);
  EXPECT_EQ(Step("a").finished_at_ms(), kT0 + 2000);
  ExpectCountsMatchSteps();
}

TEST_F(RunModelTest, FindStepSeesAppliedEvents) {
  EXPECT_EQ(model_.FindStep("nope"), nullptr);
  const pb::Step* b = model_.FindStep("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->id(), "b");
  EXPECT_EQ(b->state(), pb::STEP_PENDING);
  ASSERT_TRUE(model_.Apply(StepEvent("b", pb::STEP_RUNNING, kT0 + 1000)));
  b = model_.FindStep("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->state(), pb::STEP_RUNNING);
  EXPECT_EQ(b->started_at_ms(), kT0 + 1000);
  EXPECT_EQ(b, &model_.snapshot().steps(1));
}

// SPEC §9.

TEST_F(RunModelTest, PausedRunIsNotFinishedAndResumes) {
  ASSERT_TRUE(model_.Apply(StepEvent("a", pb::STEP_RUNNING, kT0 + 1000)));
  ASSERT_TRUE(model_.Apply(RunEvent(pb::RUN_PAUSED, kT0 + 2000, "paused by the user")));
  EXPECT_EQ(run().state(), pb::RUN_PAUSED);
  EXPECT_EQ(run().reason(), "paused by the user");
  EXPECT_FALSE(model_.finished()) << "a paused run waits for the user";
  EXPECT_EQ(run().finished_at_ms(), 0);
  // Its running step goes on to its end.
  ASSERT_TRUE(model_.Apply(StepEvent("a", pb::STEP_COMPLETED, kT0 + 3000)));
  EXPECT_EQ(run().state(), pb::RUN_PAUSED);
  ASSERT_TRUE(model_.Apply(RunEvent(pb::RUN_RUNNING, kT0 + 4000, "resumed")));
  EXPECT_EQ(run().state(), pb::RUN_RUNNING);
  EXPECT_EQ(run().started_at_ms(), kT0) << "the run's start is kept";
  EXPECT_FALSE(model_.finished());
  ExpectCountsMatchSteps();
}

TEST_F(RunModelTest, PausedQueuedRunResumesQueued) {
  pb::RunSnapshot snapshot = Snapshot();
  snapshot.mutable_run()->set_state(pb::RUN_QUEUED);
  snapshot.mutable_run()->set_started_at_ms(0);
  RunModel model(snapshot);
  ASSERT_TRUE(model.Apply(RunEvent(pb::RUN_PAUSED, kT0 + 100, "paused by the user")));
  EXPECT_FALSE(model.finished());
  ASSERT_TRUE(model.Apply(RunEvent(pb::RUN_QUEUED, kT0 + 200, "resumed")));
  EXPECT_EQ(model.snapshot().run().state(), pb::RUN_QUEUED);
  EXPECT_EQ(model.snapshot().run().started_at_ms(), 0) << "no step ever started";
}

TEST_F(RunModelTest, WaitingForFollowsFiguresAndClearsWhenTheStepStarts) {
  pb::Event gpu = FiguresEvent("b", kT0 + 1000);
  gpu.set_waiting_for("gpu");
  ASSERT_TRUE(model_.Apply(gpu));
  EXPECT_EQ(Step("b").waiting_for(), "gpu");
  EXPECT_EQ(Step("b").state(), pb::STEP_PENDING) << "figures change no state";
  EXPECT_EQ(Step("a").waiting_for(), "");

  pb::Event slot = FiguresEvent("b", kT0 + 2000);
  slot.set_waiting_for("a deepseek slot");
  ASSERT_TRUE(model_.Apply(slot));
  EXPECT_EQ(Step("b").waiting_for(), "a deepseek slot") << "the reason changed";

  ASSERT_TRUE(model_.Apply(FiguresEvent("b", kT0 + 3000)));  // waiting_for ""
  EXPECT_EQ(Step("b").waiting_for(), "") << "empty: no longer waits";

  pb::Event again = FiguresEvent("b", kT0 + 4000);
  again.set_waiting_for("mem");
  ASSERT_TRUE(model_.Apply(again));
  ASSERT_TRUE(model_.Apply(StepEvent("b", pb::STEP_RUNNING, kT0 + 5000)));
  EXPECT_EQ(Step("b").waiting_for(), "") << "a step that starts no longer waits";
  ExpectCountsMatchSteps();

  // A step skipped while it waited waits no more either.
  pb::Event cpu = FiguresEvent("c", kT0 + 6000);
  cpu.set_waiting_for("cpu");
  ASSERT_TRUE(model_.Apply(cpu));
  ASSERT_TRUE(model_.Apply(StepEvent("c", pb::STEP_CANCELLED, kT0 + 7000)));
  EXPECT_EQ(Step("c").waiting_for(), "");
}

}  // namespace
}  // namespace aetherflow
