#include "daemon/journal.h"

#include <stdlib.h>

#include <filesystem>

#include "daemon/active_run.h"
#include "gtest/gtest.h"

namespace aetherflow {
namespace {

// A real StateStore in a temporary folder and a real EventHub: what a
// follower could read is exactly what the store holds.
class JournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/af-journal-XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto store = StateStore::Open(dir_ + "/state.db");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    journal_ = std::make_unique<Journal>(store_.get(), &hub_);
    run_ = std::make_unique<ActiveRun>(journal_.get());
    run_->run.set_id("r1");
    run_->run.set_state(pb::RUN_QUEUED);
    run_->run.set_last_seq(1);
    run_->steps.resize(1);
    run_->steps[0].set_id("s");
    run_->steps[0].set_state(pb::STEP_PENDING);
    pb::Event first;
    first.set_run_id("r1");
    first.set_seq(1);
    ASSERT_TRUE(store_->CreateRun(run_->run, RunSource{}, run_->steps, {first}).ok());
  }
  void TearDown() override {
    run_.reset();
    journal_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  // Events a follower can see: stored, and remembered by the hub.
  std::size_t Stored() { return store_->ReadEvents("r1", 1, 1000)->size(); }
  std::size_t Published() {
    std::vector<pb::Event> out;
    hub_.Recent("r1", 1, 1000, &out);
    return out.size();
  }
  void Change(int64_t now) { run_->SetStepState(0, StepState::kRunning, now, ""); }

  std::string dir_;
  EventHub hub_;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<Journal> journal_;
  std::unique_ptr<ActiveRun> run_;
};

TEST_F(JournalTest, ChangesInABurstShareOneCommit) {
  Change(1000);
  ASSERT_TRUE(journal_->MaybeCommit(1000, /*idle=*/false)) << "the first goes at once";
  Change(1002);
  Change(1005);
  EXPECT_FALSE(journal_->MaybeCommit(1008, /*idle=*/false)) << "the group is still open";
  EXPECT_EQ(Stored(), 1u);
  EXPECT_EQ(Published(), 1u) << "nothing is seen before it is stored";
  EXPECT_EQ(journal_->Deadline(), 1000 + Journal::kGroupCommitMs);
  Change(1009);
  EXPECT_TRUE(journal_->MaybeCommit(1010, /*idle=*/false));
  EXPECT_EQ(Stored(), 4u);
  EXPECT_EQ(Published(), 4u);
  EXPECT_FALSE(journal_->HasUncommitted());
  EXPECT_EQ(journal_->Deadline(), std::nullopt) << "nothing pending, nothing to wake for";
}

TEST_F(JournalTest, AnIdleEngineCommitsAtOnce) {
  Change(1000);
  EXPECT_TRUE(journal_->MaybeCommit(1000, /*idle=*/true));
  EXPECT_EQ(Stored(), 1u);
}

TEST_F(JournalTest, AReplyRunsOnlyAfterTheCommitThatHoldsItsChange) {
  Change(1000);
  std::size_t stored_at_reply = 0;
  bool replied = false;
  journal_->AfterCommit([&] {
    replied = true;
    stored_at_reply = Stored();
  });
  EXPECT_EQ(journal_->Deadline(), 0) << "a reply does not wait for the group";
  EXPECT_TRUE(journal_->MaybeCommit(1001, /*idle=*/false));
  EXPECT_TRUE(replied);
  EXPECT_EQ(stored_at_reply, 1u);
}

TEST_F(JournalTest, ARunsEndIsCommittedAtOnceAndThenReported) {
  run_->SetRunState(RunState::kSucceeded, 1000, "");
  EXPECT_TRUE(journal_->TakeFinished().empty()) << "not before it is stored";
  EXPECT_TRUE(journal_->MaybeCommit(1001, /*idle=*/false));
  EXPECT_EQ(journal_->TakeFinished(), std::vector<std::string>({"r1"}));
}

TEST_F(JournalTest, AFullDiskPublishesNothingAndLosesNothing) {
  ASSERT_TRUE(store_->TEST_LimitPages(*store_->TEST_PageCount()).ok());
  bool replied = false;
  for (int i = 0; i < 200; ++i) {
    run_->steps[0].set_message(std::string(1000, 'x'));  // rows that need pages
    Change(1000 + i);
  }
  journal_->AfterCommit([&] { replied = true; });
  EXPECT_FALSE(journal_->Commit(1200));
  EXPECT_TRUE(journal_->failing());
  EXPECT_EQ(Stored(), 0u);
  EXPECT_EQ(Published(), 0u) << "nothing is seen that is not stored";
  EXPECT_FALSE(replied);
  EXPECT_EQ(journal_->Deadline(), 1200 + 1000) << "tried again once a second";
  EXPECT_FALSE(journal_->MaybeCommit(1500, /*idle=*/true));
  // Room again: everything kept goes in, in order.
  ASSERT_TRUE(store_->TEST_LimitPages(1'000'000'000).ok());
  EXPECT_TRUE(journal_->MaybeCommit(2200, /*idle=*/true));
  EXPECT_FALSE(journal_->failing());
  EXPECT_EQ(Stored(), 200u);
  EXPECT_EQ(Published(), 200u);
  EXPECT_TRUE(replied);
}

}  // namespace
}  // namespace aetherflow
