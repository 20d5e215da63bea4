#include "daemon/state_store.h"

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "gtest/gtest.h"

namespace aetherflow {
namespace {

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/af-store-XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto store = StateStore::Open(dir_ + "/state.db");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  pb::Run MakeRun(const std::string& id, int64_t created) {
    pb::Run run;
    run.set_id(id);
    run.set_created_at_ms(created);
    run.set_state(pb::RUN_QUEUED);
    run.set_steps_total(2);
    run.set_last_seq(1);
    return run;
  }
  std::vector<pb::Step> MakeSteps() {
    std::vector<pb::Step> steps(2);
    steps[0].set_id("a");
    steps[1].set_id("b");
    return steps;
  }
  pb::Event MakeEvent(const std::string& run, int64_t seq) {
    pb::Event event;
    event.set_run_id(run);
    event.set_seq(seq);
    event.set_kind(pb::RUN_STATE_CHANGED);
    return event;
  }

  std::string dir_;
  std::unique_ptr<StateStore> store_;
};

TEST_F(StateStoreTest, CreateThenReadBackSnapshotAndEvents) {
  RunSource source;
  source.plan_json = "{}";
  source.env = {{"HOME", "/home/x"}};
  ASSERT_TRUE(store_->CreateRun(MakeRun("abc", 1), source, MakeSteps(),
                                {MakeEvent("abc", 1)}).ok());
  auto snapshot = store_->GetRun("abc");
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  EXPECT_EQ(snapshot->run().id(), "abc");
  ASSERT_EQ(snapshot->steps_size(), 2);
  EXPECT_EQ(snapshot->steps(1).id(), "b");
  auto events = store_->ReadEvents("abc", 0, 100);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  auto loaded = store_->GetRunSource("abc");
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->env.at("HOME"), "/home/x");
}

TEST_F(StateStoreTest, CommitUpdatesStepsRunAndAppendsEventsAtomically) {
  ASSERT_TRUE(store_->CreateRun(MakeRun("abc", 1), {}, MakeSteps(),
                                {MakeEvent("abc", 1)}).ok());
  pb::Run run = MakeRun("abc", 1);
  run.set_state(pb::RUN_RUNNING);
  run.set_last_seq(3);
  pb::Step step;
  step.set_id("b");
  step.set_state(pb::STEP_COMPLETED);
  pb::Event e2 = MakeEvent("abc", 2), e3 = MakeEvent("abc", 3);
  std::string id = "abc";
  CommitBatch batch;
  batch.runs.push_back(&run);
  batch.steps.push_back({&id, 1, &step});
  batch.events = {&e2, &e3};
  ASSERT_TRUE(store_->Commit(batch).ok());
  auto snapshot = store_->GetRun("abc");
  ASSERT_TRUE(snapshot.ok());
  EXPECT_EQ(snapshot->run().state(), pb::RUN_RUNNING);
  EXPECT_EQ(snapshot->run().last_seq(), 3);
  EXPECT_EQ(snapshot->steps(1).state(), pb::STEP_COMPLETED);
  auto events = store_->ReadEvents("abc", 1, 100);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].seq(), 2);
  EXPECT_EQ((*events)[1].seq(), 3);
  // A batch with a duplicate event rolls back whole.
  step.set_state(pb::STEP_FAILED);
  CommitBatch bad;
  bad.steps.push_back({&id, 1, &step});
  bad.events = {&e3};
  EXPECT_FALSE(store_->Commit(bad).ok());
  EXPECT_EQ(store_->GetRun("abc")->steps(1).state(), pb::STEP_COMPLETED);
}

TEST_F(StateStoreTest, EncodedSnapshotIsTheSnapshotsWireEncoding) {
  std::vector<pb::Step> steps = MakeSteps();
  steps[0].set_description(std::string(300, 'd'));  // a two-byte length
  steps[1].set_state(pb::STEP_RUNNING);
  ASSERT_TRUE(store_->CreateRun(MakeRun("abc", 1), {}, steps, {MakeEvent("abc", 1)}).ok());
  absl::StatusOr<std::string> encoded = store_->GetRunEncoded("abc");
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  auto snapshot = store_->GetRun("abc");
  ASSERT_TRUE(snapshot.ok());
  EXPECT_EQ(*encoded, snapshot->SerializeAsString());
  pb::RunSnapshot parsed;
  ASSERT_TRUE(parsed.ParseFromString(*encoded));
  EXPECT_EQ(parsed.steps(0).description(), std::string(300, 'd'));
  EXPECT_EQ(parsed.steps(1).state(), pb::STEP_RUNNING);
  EXPECT_TRUE(absl::IsNotFound(store_->GetRunEncoded("nope").status()));
}

// A run that is going is encoded from the rows in memory; they must be
// what SQLite holds, through commits, the run's end and a delete. A new
// store on the same file has nothing in memory and reads SQLite.
TEST_F(StateStoreTest, SnapshotFromMemoryIsWhatSqliteHolds) {
  ASSERT_TRUE(store_->CreateRun(MakeRun("abc", 1), {}, MakeSteps(),
                                {MakeEvent("abc", 1)}).ok());
  auto same = [&] {
    auto cold = StateStore::Open(dir_ + "/state.db");  // nothing in memory
    if (!cold.ok()) return false;
    absl::StatusOr<std::string> warm = store_->GetRunEncoded("abc");
    absl::StatusOr<std::string> read = (*cold)->GetRunEncoded("abc");
    if (!warm.ok() || !read.ok()) return warm.status() == read.status();
    return *warm == *read;
  };
  EXPECT_TRUE(same());
  std::string id = "abc";
  pb::Run run = MakeRun("abc", 1);
  pb::Step step;
  step.set_id("b");
  int64_t seq = 1;
  for (pb::StepState state : {pb::STEP_RUNNING, pb::STEP_COMPLETED}) {
    run.set_state(pb::RUN_RUNNING);
    run.set_last_seq(++seq);
    step.set_state(state);
    pb::Event event = MakeEvent("abc", seq);
    CommitBatch batch;
    batch.runs.push_back(&run);
    batch.steps.push_back({&id, 1, &step});
    batch.events = {&event};
    ASSERT_TRUE(store_->Commit(batch).ok());
    EXPECT_TRUE(same()) << "after " << pb::StepState_Name(state);
    EXPECT_EQ(store_->GetRun("abc")->steps(1).state(), state);
  }
  // A step-only commit (no run row) changes the snapshot too.
  step.set_description("now with a description");
  CommitBatch steps_only;
  steps_only.steps.push_back({&id, 0, &step});
  ASSERT_TRUE(store_->Commit(steps_only).ok());
  EXPECT_TRUE(same());
  EXPECT_EQ(store_->GetRun("abc")->steps(0).description(), "now with a description");
  // The run ends: read from SQLite from now on, and still the same.
  run.set_state(pb::RUN_SUCCEEDED);
  CommitBatch end;
  end.runs.push_back(&run);
  ASSERT_TRUE(store_->Commit(end).ok());
  EXPECT_TRUE(same());
  EXPECT_EQ(store_->GetRun("abc")->run().state(), pb::RUN_SUCCEEDED);
  // A failed commit changes nothing, in memory either.
  pb::Event duplicate = MakeEvent("abc", seq);
  step.set_state(pb::STEP_FAILED);
  CommitBatch bad;
  bad.steps.push_back({&id, 1, &step});
  bad.events = {&duplicate};
  EXPECT_FALSE(store_->Commit(bad).ok());
  EXPECT_EQ(store_->GetRun("abc")->steps(1).state(), pb::STEP_COMPLETED);
  ASSERT_TRUE(store_->DeleteRun("abc").ok());
  EXPECT_TRUE(absl::IsNotFound(store_->GetRunEncoded("abc").status()));
}

// A run the store did not create (restored at start-up) is cached by its
// first read and kept up to date by commits after it.
TEST_F(StateStoreTest, RunReadFromSqliteStaysCurrentInMemory) {
  ASSERT_TRUE(store_->CreateRun(MakeRun("abc", 1), {}, MakeSteps(),
                                {MakeEvent("abc", 1)}).ok());
  store_.reset();
  auto reopened = StateStore::Open(dir_ + "/state.db");
  ASSERT_TRUE(reopened.ok());
  store_ = std::move(*reopened);
  ASSERT_EQ(store_->GetRun("abc")->steps(1).state(), pb::STEP_STATE_UNSPECIFIED);
  std::string id = "abc";
  pb::Step step;
  step.set_id("b");
  step.set_state(pb::STEP_RUNNING);
  CommitBatch batch;
  batch.steps.push_back({&id, 1, &step});
  ASSERT_TRUE(store_->Commit(batch).ok());
  EXPECT_EQ(store_->GetRun("abc")->steps(1).state(), pb::STEP_RUNNING);
}

TEST(SnapshotRowsTest, AFillThatACommitOvertookIsDropped) {
  SnapshotRows rows;
  uint64_t before = rows.generation();
  rows.Apply({});  // a commit completes while the reader reads SQLite
  rows.Fill(before, "r", "run", {"old step"});
  std::string out;
  EXPECT_FALSE(rows.Encode("r", &out));
  rows.Fill(rows.generation(), "r", "run", {"step"});
  ASSERT_TRUE(rows.Encode("r", &out));
  pb::RunSnapshot parsed;
  EXPECT_FALSE(out.empty());
  rows.Apply({{"r", -1, "", /*run_final=*/true}});
  EXPECT_FALSE(rows.Encode("r", &out)) << "a run that ended is read from SQLite";
}

TEST_F(StateStoreTest, ResolvesPrefixesLastAndReportsAmbiguity) {
  ASSERT_TRUE(store_->CreateRun(MakeRun("ab12", 1), {}, MakeSteps(), {}).ok());
  ASSERT_TRUE(store_->CreateRun(MakeRun("ab34", 2), {}, MakeSteps(), {}).ok());
  ASSERT_TRUE(store_->CreateRun(MakeRun("cd56", 3), {}, MakeSteps(), {}).ok());
  EXPECT_EQ(*store_->ResolveRunId("ab12"), "ab12");
  EXPECT_EQ(*store_->ResolveRunId("c"), "cd56");
  EXPECT_EQ(*store_->ResolveRunId("last"), "cd56");
  EXPECT_EQ(store_->ResolveRunId("ab").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->ResolveRunId("zz").status().code(),
            absl::StatusCode::kNotFound);
  auto runs = store_->ListRuns(0);
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 3u);
  EXPECT_EQ((*runs)[0].id(), "cd56") << "newest first";
}

TEST_F(StateStoreTest, DeleteRunForgetsStepsAndEvents) {
  ASSERT_TRUE(store_->CreateRun(MakeRun("abc", 1), {}, MakeSteps(),
                                {MakeEvent("abc", 1)}).ok());
  ASSERT_TRUE(store_->DeleteRun("abc").ok());
  EXPECT_EQ(*store_->TEST_CountRows("steps"), 0);
  EXPECT_EQ(*store_->TEST_CountRows("events"), 0);
  EXPECT_FALSE(store_->GetRun("abc").ok());
}

TEST_F(StateStoreTest, ReopenKeepsDataAndFileIsPrivate) {
  ASSERT_TRUE(store_->CreateRun(MakeRun("abc", 1), {}, MakeSteps(), {}).ok());
  store_.reset();
  auto again = StateStore::Open(dir_ + "/state.db");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE((*again)->GetRun("abc").ok());
  auto perms = std::filesystem::status(dir_ + "/state.db").permissions();
  EXPECT_EQ(perms & std::filesystem::perms::group_all, std::filesystem::perms::none);
  EXPECT_EQ(perms & std::filesystem::perms::others_all, std::filesystem::perms::none);
}

TEST_F(StateStoreTest, RemembersStepProcessesForOrphanCleanup) {
  ASSERT_TRUE(store_->CreateRun(MakeRun("abc", 1), {}, MakeSteps(), {}).ok());
  pb::Step step;
  step.set_id("a");
  step.set_state(pb::STEP_RUNNING);
  std::string id = "abc";
  CommitBatch batch;
  batch.steps.push_back({&id, 0, &step, 4242, 99});
  ASSERT_TRUE(store_->Commit(batch).ok());
  auto processes = store_->StepProcesses();
  ASSERT_TRUE(processes.ok());
  ASSERT_EQ(processes->size(), 1u);
  EXPECT_EQ((*processes)[0].pid, 4242);
  EXPECT_EQ((*processes)[0].start_ticks, 99u);
  ASSERT_TRUE(store_->ClearStepProcesses().ok());
  EXPECT_TRUE(store_->StepProcesses()->empty());
}

}  // namespace
}  // namespace aetherflow
