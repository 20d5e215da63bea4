#include "daemon/event_hub.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace aetherflow {
namespace {

namespace pb = ::aetherflow::v1;

pb::Event MakeEvent(const std::string& run, int64_t seq, std::string message = "") {
  pb::Event event;
  event.set_run_id(run);
  event.set_seq(seq);
  event.set_time_ms(1000 + seq);
  event.set_kind(pb::STEP_STATE_CHANGED);
  event.set_step_id("s" + std::to_string(seq));
  event.set_step_state(pb::STEP_RUNNING);
  event.set_message(std::move(message));
  return event;
}

// The pieces laid end to end, as gRPC sends them.
std::string Concat(const EncodedRange& range) {
  std::string bytes;
  for (const EncodedEvents& piece : range.pieces) {
    bytes.append(piece.data->data() + piece.offset, piece.size);
  }
  return bytes;
}

std::vector<int64_t> Seqs(const EncodedRange& range) {
  pb::EventBatch batch;
  EXPECT_TRUE(batch.ParseFromString(Concat(range)));
  std::vector<int64_t> seqs;
  for (const pb::Event& event : batch.events()) seqs.push_back(event.seq());
  return seqs;
}

std::vector<int64_t> Range(int64_t first, int64_t last) {
  std::vector<int64_t> seqs;
  for (int64_t seq = first; seq <= last; ++seq) seqs.push_back(seq);
  return seqs;
}

class EventHubTest : public ::testing::Test {
 protected:
  // Remembers events first..last of `run` and notifies: one commit.
  void Commit(const std::string& run, int64_t first, int64_t last) {
    for (int64_t seq = first; seq <= last; ++seq) hub_.Remember(MakeEvent(run, seq));
    hub_.Notify(run);
  }
  EncodedRange Read(const std::string& run, int64_t after_seq,
                    std::size_t max_events = 1000, std::size_t max_bytes = 1 << 20) {
    EncodedRange range;
    EXPECT_TRUE(hub_.RecentEncoded(run, after_seq, max_events, max_bytes, &range));
    return range;
  }

  EventHub hub_;
};

TEST_F(EventHubTest, EachCommitBecomesOneBatchAndTheBytesAreTheGeneratedEncoding) {
  Commit("r", 1, 5);
  Commit("r", 6, 8);
  EXPECT_EQ(hub_.TEST_Batches("r"), 2u);
  EncodedRange range = Read("r", 0);
  EXPECT_EQ(range.count, 8u);
  EXPECT_EQ(range.last_seq, 8);
  EXPECT_EQ(range.pieces.size(), 2u);
  pb::EventBatch expected;
  for (int64_t seq = 1; seq <= 8; ++seq) *expected.add_events() = MakeEvent("r", seq);
  EXPECT_EQ(Concat(range), expected.SerializeAsString());
  EXPECT_EQ(range.bytes, Concat(range).size());
}

TEST_F(EventHubTest, EveryFollowerSharesTheSameBytes) {
  Commit("r", 1, 4);
  EncodedRange first = Read("r", 0);
  EncodedRange second = Read("r", 0);
  ASSERT_EQ(first.pieces.size(), 1u);
  ASSERT_EQ(second.pieces.size(), 1u);
  EXPECT_EQ(first.pieces[0].data.get(), second.pieces[0].data.get());
  EXPECT_EQ(first.pieces[0].data->data(), second.pieces[0].data->data());
}

TEST_F(EventHubTest, ResumesFromAnySeqInsideABatch) {
  Commit("r", 1, 5);
  Commit("r", 6, 8);
  for (int64_t after = 0; after <= 8; ++after) {
    EncodedRange range = Read("r", after);
    EXPECT_EQ(Seqs(range), Range(after + 1, 8)) << "after " << after;
    EXPECT_EQ(range.count, static_cast<std::size_t>(8 - after));
    if (after < 8) {
      EXPECT_EQ(range.last_seq, 8);
    }
  }
}

TEST_F(EventHubTest, NothingNewIsAnEmptyAnswerNotAMiss) {
  Commit("r", 1, 3);
  EncodedRange range;
  EXPECT_TRUE(hub_.RecentEncoded("r", 3, 1000, 1 << 20, &range));
  EXPECT_EQ(range.count, 0u);
  EXPECT_TRUE(range.pieces.empty());
  EXPECT_TRUE(hub_.RecentEncoded("r", 10, 1000, 1 << 20, &range));
  EXPECT_EQ(range.count, 0u);
}

TEST_F(EventHubTest, EventsBeforeTheMemoryAreAMiss) {
  Commit("r", 5, 7);  // e.g. the run's first events came before a restart
  EncodedRange range;
  EXPECT_FALSE(hub_.RecentEncoded("r", 3, 1000, 1 << 20, &range));
  EXPECT_TRUE(hub_.RecentEncoded("r", 4, 1000, 1 << 20, &range));
  EXPECT_EQ(Seqs(range), Range(5, 7));
  EXPECT_FALSE(hub_.RecentEncoded("unknown", 0, 1000, 1 << 20, &range));
  hub_.Forget("r");
  EXPECT_FALSE(hub_.RecentEncoded("r", 4, 1000, 1 << 20, &range));
}

TEST_F(EventHubTest, AGapStartsTheMemoryAfresh) {
  Commit("r", 1, 3);
  Commit("r", 10, 11);  // 4..9 never reached the hub
  EncodedRange range;
  EXPECT_FALSE(hub_.RecentEncoded("r", 3, 1000, 1 << 20, &range));
  EXPECT_TRUE(hub_.RecentEncoded("r", 9, 1000, 1 << 20, &range));
  EXPECT_EQ(Seqs(range), Range(10, 11));
  Commit("r", 1, 2);  // a lower seq: the memory restarts too
  EXPECT_EQ(Seqs(Read("r", 0)), Range(1, 2));
  EXPECT_EQ(hub_.TEST_Batches("r"), 1u);
}

TEST_F(EventHubTest, StopsAtTheEventLimitInsideABatchAndGoesOnFromThere) {
  Commit("r", 1, 5);
  Commit("r", 6, 8);
  EncodedRange range = Read("r", 0, 3);
  EXPECT_EQ(Seqs(range), Range(1, 3));
  EXPECT_EQ(range.last_seq, 3);
  range = Read("r", 3, 3);
  EXPECT_EQ(Seqs(range), Range(4, 6));
  EXPECT_EQ(range.pieces.size(), 2u);
  EXPECT_EQ(Seqs(Read("r", 6, 3)), Range(7, 8));
}

TEST_F(EventHubTest, StopsBeforeTheByteLimitButAlwaysTakesOneEvent) {
  hub_.Remember(MakeEvent("r", 1, std::string(100, 'a')));
  hub_.Remember(MakeEvent("r", 2, std::string(100, 'b')));
  hub_.Notify("r");
  hub_.Remember(MakeEvent("r", 3, std::string(100, 'c')));
  hub_.Notify("r");
  EncodedRange one = Read("r", 0, 1000, 1);
  EXPECT_EQ(Seqs(one), Range(1, 1));
  EncodedRange all = Read("r", 0);
  std::size_t each = all.bytes / 3;
  EncodedRange two = Read("r", 0, 1000, 2 * each + 1);
  EXPECT_EQ(Seqs(two), Range(1, 2));
  EXPECT_LE(two.bytes, 2 * each + 1);
  EncodedRange across = Read("r", 1, 1000, 2 * each);
  EXPECT_EQ(Seqs(across), Range(2, 3)) << "the budget spans batches";
}

TEST_F(EventHubTest, LargeEventsKeepTheirLengthPrefix) {
  // Lengths of 1, 2 and 3 varint bytes.
  hub_.Remember(MakeEvent("r", 1, "x"));
  hub_.Remember(MakeEvent("r", 2, std::string(300, 'y')));
  hub_.Remember(MakeEvent("r", 3, std::string(70'000, 'z')));
  hub_.Notify("r");
  std::vector<pb::Event> events;
  ASSERT_TRUE(hub_.Recent("r", 0, 1000, &events));
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[1].message(), std::string(300, 'y'));
  EXPECT_EQ(events[2].message(), std::string(70'000, 'z'));
  EXPECT_EQ(events[2].step_id(), "s3");
}

TEST_F(EventHubTest, EventsNotYetNotifiedAreReadableAndWhatWasReadNeverChanges) {
  hub_.Remember(MakeEvent("r", 1));
  hub_.Remember(MakeEvent("r", 2));
  EncodedRange early = Read("r", 0);  // before the Notify
  std::string bytes = Concat(early);
  EXPECT_EQ(Seqs(early), Range(1, 2));
  hub_.Remember(MakeEvent("r", 3));
  hub_.Notify("r");
  EXPECT_EQ(Concat(early), bytes) << "a batch handed out is immutable";
  EXPECT_EQ(Seqs(Read("r", 0)), Range(1, 3));
  EXPECT_EQ(hub_.TEST_Batches("r"), 2u);
}

TEST_F(EventHubTest, KeepsTheLastEventsInWholeBatches) {
  const int64_t total = EventHub::kRecentEvents + 1000;
  for (int64_t first = 1; first <= total; first += 10) Commit("r", first, first + 9);
  std::size_t kept = hub_.TEST_Events("r");
  EXPECT_GE(kept, EventHub::kRecentEvents);
  EXPECT_LT(kept, EventHub::kRecentEvents + 10);
  const int64_t last = ((total - 1) / 10 + 1) * 10;  // of the last commit
  int64_t oldest = last - static_cast<int64_t>(kept) + 1;
  EncodedRange range;
  EXPECT_FALSE(hub_.RecentEncoded("r", oldest - 2, 10'000, SIZE_MAX, &range));
  EXPECT_TRUE(hub_.RecentEncoded("r", oldest - 1, 10'000, SIZE_MAX, &range));
  EXPECT_EQ(Seqs(range), Range(oldest, last));
}

TEST_F(EventHubTest, RunsAreKeptApart) {
  hub_.Remember(MakeEvent("a", 1));
  hub_.Remember(MakeEvent("b", 1));
  hub_.Remember(MakeEvent("a", 2));
  hub_.Remember(MakeEvent("b", 2));
  hub_.Notify("a");
  hub_.Notify("b");
  std::vector<pb::Event> a;
  ASSERT_TRUE(hub_.Recent("a", 0, 10, &a));
  ASSERT_EQ(a.size(), 2u);
  for (const pb::Event& event : a) EXPECT_EQ(event.run_id(), "a");
  EXPECT_EQ(hub_.TEST_Batches("b"), 1u);
}

TEST_F(EventHubTest, NotifyWakesTheRunsSubscribersUntilTheyUnsubscribe) {
  int a = 0, b = 0;
  int64_t token = hub_.Subscribe("a", [&a] { ++a; });
  hub_.Subscribe("b", [&b] { ++b; });
  hub_.Notify("a");
  EXPECT_EQ(a, 1);
  EXPECT_EQ(b, 0);
  hub_.NotifyAll();
  EXPECT_EQ(a, 2);
  EXPECT_EQ(b, 1);
  hub_.Unsubscribe("a", token);
  hub_.Notify("a");
  EXPECT_EQ(a, 2);
}

TEST_F(EventHubTest, WakersLearnWhetherTheRunHasEnded) {
  std::vector<bool> seen;
  hub_.Subscribe("r", EventHub::EndWaker([&seen](bool ended) { seen.push_back(ended); }));
  hub_.Notify("r");  // nothing remembered yet
  Commit("r", 1, 2);
  pb::Event end = MakeEvent("r", 3);
  end.set_kind(pb::RUN_STATE_CHANGED);
  end.set_run_state(pb::RUN_FAILED);
  hub_.Remember(end);
  hub_.Notify("r");
  pb::Event resumed = MakeEvent("r", 4);
  resumed.set_kind(pb::RUN_STATE_CHANGED);
  resumed.set_run_state(pb::RUN_QUEUED);
  hub_.Remember(resumed);
  hub_.Notify("r");
  hub_.NotifyAll();
  EXPECT_EQ(seen, (std::vector<bool>{true, false, true, false, true}));
}

}  // namespace
}  // namespace aetherflow
