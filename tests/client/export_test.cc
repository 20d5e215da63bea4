#include "client/export.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace aetherflow {
namespace {

namespace pb = ::aetherflow::v1;
using nlohmann::json;

constexpr int64_t kT0 = 1'769'421'600'000;  // 2026-01-26T10:00:00Z

pb::Step Step(const std::string& id, pb::StepState state, int64_t start = -1,
              int64_t end = -1, const std::string& description = "") {
  pb::Step step;
  step.set_id(id);
  step.set_type("code_generation");
  step.set_provider("deepseek");
  step.set_state(state);
  step.set_batch(1);
  step.set_attempt(start >= 0 ? 1 : 0);
  if (start >= 0) step.set_started_at_ms(kT0 + start);
  if (end >= 0) step.set_finished_at_ms(kT0 + end);
  step.set_description(description);
  return step;
}

pb::RunSnapshot Snapshot(const std::vector<pb::Step>& steps,
                         pb::RunState state = pb::RUN_RUNNING) {
  pb::RunSnapshot s;
  s.mutable_run()->set_id("r1");
  s.mutable_run()->set_description("Nightly build");
  s.mutable_run()->set_state(state);
  s.mutable_run()->set_created_at_ms(kT0);
  s.mutable_run()->set_started_at_ms(kT0);
  s.mutable_run()->set_steps_total(static_cast<int>(steps.size()));
  for (const pb::Step& step : steps) *s.add_steps() = step;
  return s;
}

// Builds an event stream with consecutive sequence numbers.
class Events {
 public:
  Events& Run(int64_t at, pb::RunState state, const std::string& message = "") {
    pb::Event& e = Add(at, pb::RUN_STATE_CHANGED);
    e.set_run_state(state);
    e.set_message(message);
    return *this;
  }
  Events& Step(int64_t at, const std::string& id, pb::StepState state, int attempt = 1,
               std::optional<int> exit_code = std::nullopt, int64_t retry_at = 0) {
    pb::Event& e = Add(at, pb::STEP_STATE_CHANGED);
    e.set_step_id(id);
    e.set_step_state(state);
    e.set_attempt(attempt);
    if (exit_code) e.set_exit_code(*exit_code);
    if (retry_at) e.set_retry_at_ms(kT0 + retry_at);
    return *this;
  }
  Events& Figures(int64_t at, const std::string& id, int64_t tokens, double cost) {
    pb::Event& e = Add(at, pb::STEP_FIGURES);
    e.set_step_id(id);
    e.set_tokens(tokens);
    e.set_cost(cost);
    e.set_progress("3/10");
    return *this;
  }
  const std::vector<pb::Event>& list() const { return events_; }

 private:
  pb::Event& Add(int64_t at, pb::EventKind kind) {
    events_.emplace_back();
    pb::Event& e = events_.back();
    e.set_run_id("r1");
    e.set_seq(static_cast<int64_t>(events_.size()));
    e.set_time_ms(kT0 + at);
    e.set_kind(kind);
    return e;
  }
  std::vector<pb::Event> events_;
};

// --- JSON ---

TEST(ExportTest, JsonHasTheStatusAndTheEvents) {
  pb::RunSnapshot s = Snapshot({Step("a", pb::STEP_COMPLETED, 0, 2'000, "Première"),
                                Step("b", pb::STEP_RUNNING, 2'000)});
  s.mutable_steps(0)->set_exit_code(0);
  s.mutable_steps(0)->set_tokens(120);
  Events ev;
  ev.Run(0, pb::RUN_RUNNING)
      .Step(0, "a", pb::STEP_RUNNING)
      .Figures(1'000, "a", 120, 0.5)
      .Step(2'000, "a", pb::STEP_COMPLETED, 1, 0)
      .Step(2'000, "b", pb::STEP_RUNNING);
  std::string text = ExportJson(s, ev.list(), kT0 + 5'000);
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(j.is_discarded()) << text;
  for (const char* key : {"run", "steps", "events", "exported_at"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["exported_at"], "2026-01-26T10:00:05.000Z");
  EXPECT_EQ(j["run"]["id"], "r1");
  EXPECT_EQ(j["run"]["state"], "running");
  ASSERT_EQ(j["steps"].size(), 2u);
  EXPECT_EQ(j["steps"][0]["description"], "Première");
  EXPECT_EQ(j["steps"][0]["tokens"], 120);
  EXPECT_TRUE(j["steps"][1]["tokens"].is_null()) << "unknown is null, never 0";

  const json& events = j["events"];
  ASSERT_EQ(events.size(), 5u);
  for (const json& e : events) {
    for (const char* key :
         {"seq", "time", "kind", "step", "state", "attempt", "exit_code", "message"}) {
      EXPECT_TRUE(e.contains(key)) << key << " in " << e.dump();
    }
  }
  EXPECT_EQ(events[0]["seq"], 1);
  EXPECT_EQ(events[0]["kind"], "run_state_changed");
  EXPECT_EQ(events[0]["state"], "running");
  EXPECT_TRUE(events[0]["step"].is_null());
  EXPECT_EQ(events[0]["time"], "2026-01-26T10:00:00.000Z");
  EXPECT_EQ(events[2]["kind"], "step_figures");
  EXPECT_EQ(events[2]["tokens"], 120);
  EXPECT_EQ(events[3]["kind"], "step_state_changed");
  EXPECT_EQ(events[3]["step"], "a");
  EXPECT_EQ(events[3]["state"], "completed");
  EXPECT_EQ(events[3]["exit_code"], 0);
  EXPECT_TRUE(events[4]["exit_code"].is_null());
  EXPECT_EQ(events[4]["attempt"], 1);
}

TEST(ExportTest, JsonEventsAreInSeqOrderOnce) {
  pb::RunSnapshot s = Snapshot({Step("a", pb::STEP_RUNNING, 0)});
  Events ev;
  ev.Run(0, pb::RUN_RUNNING).Step(0, "a", pb::STEP_RUNNING);
  std::vector<pb::Event> shuffled = {ev.list()[1], ev.list()[0], ev.list()[1]};
  json j = json::parse(ExportJson(s, shuffled, kT0));
  ASSERT_EQ(j["events"].size(), 2u);
  EXPECT_EQ(j["events"][0]["seq"], 1);
  EXPECT_EQ(j["events"][1]["seq"], 2);
}

// --- CSV ---

// RFC 4180: rows of fields; quoted fields may hold commas, doubled
// quotes and line breaks.
std::vector<std::vector<std::string>> ParseCsv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false, any = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field.push_back(c);
      }
      continue;
    }
    any = true;
    if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      row.push_back(field);
      field.clear();
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      ++i;
      row.push_back(field);
      field.clear();
      rows.push_back(row);
      row.clear();
      any = false;
    } else {
      field.push_back(c);
    }
  }
  if (any || !field.empty() || !row.empty()) {
    row.push_back(field);
    rows.push_back(row);
  }
  return rows;
}

TEST(ExportTest, CsvQuotesAndHasOneRowPerStep) {
  const std::string tricky = "Fix \"the\" parser, then\nship — 修复";
  pb::RunSnapshot s = Snapshot({Step("a", pb::STEP_COMPLETED, 0, 25'300, tricky),
                                Step("b", pb::STEP_PENDING, -1, -1, "plain"),
                                Step("c", pb::STEP_RUNNING, 10'000, -1, "x")});
  s.mutable_steps(0)->set_tokens(15'230);
  s.mutable_steps(0)->set_cost(0.0123);
  s.mutable_steps(0)->set_exit_code(0);
  s.mutable_steps(2)->set_progress("Trial 5/100");
  std::string text = ExportCsv(s, kT0 + 30'000);
  auto rows = ParseCsv(text);
  ASSERT_EQ(rows.size(), 4u) << text;
  const std::vector<std::string> header = {
      "id",        "type",   "provider", "state",     "batch",    "attempt",    "started_at",
      "finished_at", "elapsed_s", "tokens", "cost", "exit_code", "progress", "description",
      "waiting_for", "message"};
  EXPECT_EQ(rows[0], header);
  for (const auto& row : rows) EXPECT_EQ(row.size(), header.size());
  std::map<std::string, std::string> a, b, c;
  for (std::size_t i = 0; i < header.size(); ++i) {
    a[header[i]] = rows[1][i];
    b[header[i]] = rows[2][i];
    c[header[i]] = rows[3][i];
  }
  EXPECT_EQ(a["description"], tricky);
  EXPECT_EQ(a["id"], "a");
  EXPECT_EQ(a["state"], "completed");
  EXPECT_EQ(a["started_at"], "2026-01-26T10:00:00.000Z");
  EXPECT_EQ(a["finished_at"], "2026-01-26T10:00:25.300Z");
  EXPECT_EQ(std::stod(a["elapsed_s"]), 25.3);
  EXPECT_EQ(a["tokens"], "15230");
  EXPECT_EQ(std::stod(a["cost"]), 0.0123);
  EXPECT_EQ(a["exit_code"], "0");
  // Unknown is empty, never 0.
  for (const char* key : {"started_at", "finished_at", "elapsed_s", "tokens", "cost",
                          "exit_code", "progress"}) {
    EXPECT_EQ(b[key], "") << key;
  }
  EXPECT_EQ(c["finished_at"], "");
  EXPECT_EQ(std::stod(c["elapsed_s"]), 20.0) << "a running step's time runs to now";
  EXPECT_EQ(c["progress"], "Trial 5/100");
  // The raw text quotes exactly the tricky field.
  EXPECT_NE(text.find("\"Fix \"\"the\"\" parser, then\nship — 修复\""), std::string::npos)
      << text;
  EXPECT_NE(text.find(",plain,,\r\n"), std::string::npos) << text;
}

TEST(ExportTest, CsvOfNoStepsIsTheHeader) {
  auto rows = ParseCsv(ExportCsv(Snapshot({}), kT0));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0], "id");
}

// A paused run (SPEC §9): a ran, b waits for a GPU, the run was paused at
// 3 s (and still is at 8 s).
pb::RunSnapshot PausedRun() {
  pb::RunSnapshot s = Snapshot({Step("a", pb::STEP_COMPLETED, 0, 4'000),
                                Step("b", pb::STEP_PENDING)},
                               pb::RUN_PAUSED);
  s.mutable_run()->set_reason("paused by the user");
  s.mutable_steps(1)->set_waiting_for("gpu");
  s.mutable_steps(1)->mutable_resources()->set_gpu(1);
  return s;
}

Events PausedRunEvents() {
  Events ev;
  ev.Run(0, pb::RUN_RUNNING).Step(0, "a", pb::STEP_RUNNING);
  ev.Run(3'000, pb::RUN_PAUSED, "paused by the user");
  ev.Step(4'000, "a", pb::STEP_COMPLETED, 1, 0);
  return ev;
}

TEST(ExportTest, PausedRunInJsonAndCsv) {
  Events ev = PausedRunEvents();
  std::vector<pb::Event> events = ev.list();
  pb::Event waiting;
  waiting.set_seq(static_cast<int64_t>(events.size()) + 1);
  waiting.set_time_ms(kT0 + 4'000);
  waiting.set_kind(pb::STEP_FIGURES);
  waiting.set_step_id("b");
  waiting.set_waiting_for("gpu");
  events.push_back(waiting);
  json j = json::parse(ExportJson(PausedRun(), events, kT0 + 8'000));
  EXPECT_EQ(j["run"]["state"], "paused");
  EXPECT_TRUE(j["run"]["finished_at"].is_null()) << "a paused run is not over";
  EXPECT_EQ(j["steps"][1]["waiting_for"], "gpu");
  EXPECT_EQ(j["steps"][1]["resources"]["gpu"], 1);
  ASSERT_EQ(j["events"].size(), 5u);
  EXPECT_EQ(j["events"][2]["state"], "paused");
  EXPECT_EQ(j["events"][2]["message"], "paused by the user");
  EXPECT_EQ(j["events"][4]["waiting_for"], "gpu");
  EXPECT_TRUE(j["events"][0]["waiting_for"].is_null());

  auto rows = ParseCsv(ExportCsv(PausedRun(), kT0 + 8'000));
  ASSERT_EQ(rows.size(), 3u);
  ASSERT_EQ(rows[0][rows[0].size() - 2], "waiting_for");
  EXPECT_EQ(rows[1][rows[1].size() - 2], "");
  EXPECT_EQ(rows[2][rows[2].size() - 2], "gpu");
  EXPECT_EQ(rows[2][3], "pending");
}

// --- Trace ---

struct Slice {
  std::string name;
  int64_t ts, dur;
  int tid;
  json args;
};

class ExportTraceTest : public ::testing::Test {
 protected:
  void Load(const pb::RunSnapshot& s, const Events& ev, int64_t now) {
    std::string text = ExportTrace(s, ev.list(), now);
    trace_ = json::parse(text, nullptr, false);
    ASSERT_FALSE(trace_.is_discarded()) << text;
    ASSERT_TRUE(trace_.contains("traceEvents"));
    ASSERT_TRUE(trace_["traceEvents"].is_array());
    EXPECT_EQ(trace_["displayTimeUnit"], "ms");
    slices_.clear();
    thread_names_.clear();
    for (const json& e : trace_["traceEvents"]) {
      ASSERT_TRUE(e.contains("ph")) << e.dump();
      ASSERT_TRUE(e.contains("pid")) << e.dump();
      EXPECT_EQ(e["pid"], 1);
      if (e["ph"] == "X") {
        slices_.push_back({e["name"], e["ts"], e["dur"], e["tid"], e["args"]});
        EXPECT_TRUE(e.contains("cat"));
      } else if (e["ph"] == "M" && e["name"] == "thread_name") {
        thread_names_[e["tid"].get<int>()] = e["args"]["name"];
      } else if (e["ph"] == "M" && e["name"] == "process_name") {
        process_name_ = e["args"]["name"];
      }
    }
  }
  std::vector<Slice> SlicesOf(const std::string& name) const {
    std::vector<Slice> out;
    for (const Slice& s : slices_) {
      if (s.name == name) out.push_back(s);
    }
    return out;
  }

  json trace_;
  std::vector<Slice> slices_;
  std::map<int, std::string> thread_names_;
  std::string process_name_;
};

TEST_F(ExportTraceTest, OverlappingStepsGetTracksAndSequentialOnesShareThem) {
  // a [0s, 10s] and b [5s, 15s] overlap; c starts when a ends.
  pb::RunSnapshot s = Snapshot({Step("a", pb::STEP_COMPLETED, 0, 10'000, "Étape A"),
                                Step("b", pb::STEP_COMPLETED, 5'000, 15'000),
                                Step("c", pb::STEP_COMPLETED, 10'000, 20'000)},
                               pb::RUN_SUCCEEDED);
  Events ev;
  ev.Run(0, pb::RUN_RUNNING)
      .Step(0, "a", pb::STEP_RUNNING)
      .Step(5'000, "b", pb::STEP_RUNNING)
      .Step(10'000, "a", pb::STEP_COMPLETED, 1, 0)
      .Step(10'000, "c", pb::STEP_RUNNING)
      .Step(15'000, "b", pb::STEP_COMPLETED, 1, 0)
      .Step(20'000, "c", pb::STEP_COMPLETED, 1, 0)
      .Run(20'000, pb::RUN_SUCCEEDED, "all done");
  Load(s, ev, kT0 + 60'000);
  ASSERT_EQ(slices_.size(), 3u);
  Slice a = SlicesOf("a").at(0), b = SlicesOf("b").at(0), c = SlicesOf("c").at(0);
  EXPECT_NE(a.tid, b.tid) << "overlapping attempts on one track";
  EXPECT_EQ(a.tid, c.tid) << "c starts as a ends: same slot";
  EXPECT_NE(b.tid, c.tid);
  // Microseconds from the run's start.
  EXPECT_EQ(a.ts, 0);
  EXPECT_EQ(a.dur, 10'000'000);
  EXPECT_EQ(b.ts, 5'000'000);
  EXPECT_EQ(b.dur, 10'000'000);
  EXPECT_EQ(c.ts, 10'000'000);
  EXPECT_EQ(a.args["state"], "completed");
  EXPECT_EQ(a.args["attempt"], 1);
  EXPECT_EQ(a.args["exit_code"], 0);
  EXPECT_EQ(a.args["provider"], "deepseek");
  EXPECT_EQ(a.args["description"], "Étape A");
  // Tracks = peak parallelism, named.
  EXPECT_EQ(thread_names_.size(), 2u);
  EXPECT_EQ(thread_names_[a.tid], "slot " + std::to_string(a.tid));
  EXPECT_EQ(thread_names_.count(b.tid), 1u);
  EXPECT_EQ(process_name_, "run r1: Nightly build");
  // The run's state changes are process-wide instants.
  int instants = 0;
  for (const json& e : trace_["traceEvents"]) {
    if (e["ph"] != "i") continue;
    ++instants;
    EXPECT_EQ(e["s"], "p");
  }
  EXPECT_EQ(instants, 2);
}

TEST_F(ExportTraceTest, SequentialStepsUseOneTrack) {
  pb::RunSnapshot s = Snapshot({Step("x", pb::STEP_COMPLETED, 0, 1'000),
                                Step("y", pb::STEP_COMPLETED, 2'000, 3'000)});
  Events ev;
  ev.Step(0, "x", pb::STEP_RUNNING)
      .Step(1'000, "x", pb::STEP_COMPLETED, 1, 0)
      .Step(2'000, "y", pb::STEP_RUNNING)
      .Step(3'000, "y", pb::STEP_COMPLETED, 1, 0);
  Load(s, ev, kT0 + 4'000);
  ASSERT_EQ(slices_.size(), 2u);
  EXPECT_EQ(SlicesOf("x").at(0).tid, SlicesOf("y").at(0).tid);
  EXPECT_EQ(thread_names_.size(), 1u);
}

TEST_F(ExportTraceTest, PeakParallelismIsTheNumberOfTracks) {
  // Three at once, then two: three tracks, each slice on a free one.
  std::vector<pb::Step> steps;
  Events ev;
  const int64_t spans[][2] = {{0, 10}, {1, 4}, {2, 6}, {5, 12}, {7, 9}, {11, 13}};
  for (int i = 0; i < 6; ++i) {
    std::string id = "s" + std::to_string(i);
    steps.push_back(Step(id, pb::STEP_COMPLETED, spans[i][0] * 1'000, spans[i][1] * 1'000));
  }
  // Events in time order.
  std::vector<std::pair<int64_t, std::pair<int, bool>>> points;
  for (int i = 0; i < 6; ++i) {
    points.push_back({spans[i][0], {i, true}});
    points.push_back({spans[i][1], {i, false}});
  }
  std::sort(points.begin(), points.end());
  for (const auto& [at, what] : points) {
    ev.Step(at * 1'000, "s" + std::to_string(what.first),
            what.second ? pb::STEP_RUNNING : pb::STEP_COMPLETED);
  }
  Load(Snapshot(steps), ev, kT0 + 20'000);
  ASSERT_EQ(slices_.size(), 6u);
  EXPECT_EQ(thread_names_.size(), 3u);
  // No two slices on one track overlap.
  for (const Slice& p : slices_) {
    EXPECT_GE(p.tid, 1);
    EXPECT_LE(p.tid, 3);
    for (const Slice& q : slices_) {
      if (&p == &q || p.tid != q.tid) continue;
      EXPECT_TRUE(p.ts + p.dur <= q.ts || q.ts + q.dur <= p.ts)
          << p.name << " and " << q.name << " overlap on slot " << p.tid;
    }
  }
}

TEST_F(ExportTraceTest, RetriedStepGivesOneSlicePerAttempt) {
  pb::RunSnapshot s = Snapshot({Step("flaky", pb::STEP_COMPLETED, 5'000, 7'000)});
  s.mutable_steps(0)->set_attempt(2);
  Events ev;
  ev.Run(0, pb::RUN_RUNNING)
      .Step(0, "flaky", pb::STEP_RUNNING, 1)
      .Step(2'000, "flaky", pb::STEP_PENDING, 1, 1, /*retry_at=*/5'000)
      .Step(5'000, "flaky", pb::STEP_RUNNING, 2)
      .Step(7'000, "flaky", pb::STEP_COMPLETED, 2, 0);
  Load(s, ev, kT0 + 10'000);
  std::vector<Slice> slices = SlicesOf("flaky");
  ASSERT_EQ(slices.size(), 2u);
  EXPECT_EQ(slices[0].ts, 0);
  EXPECT_EQ(slices[0].dur, 2'000'000);
  EXPECT_EQ(slices[0].args["attempt"], 1);
  EXPECT_EQ(slices[0].args["exit_code"], 1);
  EXPECT_EQ(slices[1].ts, 5'000'000);
  EXPECT_EQ(slices[1].dur, 2'000'000);
  EXPECT_EQ(slices[1].args["attempt"], 2);
  EXPECT_EQ(slices[1].args["state"], "completed");
  EXPECT_EQ(slices[0].tid, slices[1].tid) << "attempts do not overlap";
}

TEST_F(ExportTraceTest, RunningAttemptEndsNow) {
  pb::RunSnapshot s = Snapshot({Step("long", pb::STEP_RUNNING, 3'000)});
  Events ev;
  ev.Run(0, pb::RUN_RUNNING).Step(3'000, "long", pb::STEP_RUNNING);
  Load(s, ev, kT0 + 10'000);
  std::vector<Slice> slices = SlicesOf("long");
  ASSERT_EQ(slices.size(), 1u);
  EXPECT_EQ(slices[0].ts, 3'000'000);
  EXPECT_EQ(slices[0].dur, 7'000'000);
  EXPECT_EQ(slices[0].args["state"], "running");
}

TEST_F(ExportTraceTest, StepsWithoutEventsComeFromTheSnapshot) {
  pb::RunSnapshot s = Snapshot({Step("a", pb::STEP_COMPLETED, 1'000, 4'000),
                                Step("p", pb::STEP_PENDING)});
  Load(s, Events(), kT0 + 10'000);
  ASSERT_EQ(slices_.size(), 1u);
  EXPECT_EQ(slices_[0].name, "a");
  EXPECT_EQ(slices_[0].ts, 1'000'000);
  EXPECT_EQ(slices_[0].dur, 3'000'000);
}

TEST_F(ExportTraceTest, EmptyRunIsAValidTrace) {
  Load(Snapshot({}), Events(), kT0);
  EXPECT_TRUE(slices_.empty());
  EXPECT_EQ(process_name_, "run r1: Nightly build");
}

TEST_F(ExportTraceTest, PausedSpansAreSlicesOnTheRunsTrack) {
  Load(PausedRun(), PausedRunEvents(), kT0 + 8'000);
  EXPECT_EQ(trace_["otherData"]["state"], "paused");
  std::vector<Slice> paused = SlicesOf("paused");
  ASSERT_EQ(paused.size(), 1u);
  EXPECT_EQ(paused[0].tid, 0);
  EXPECT_EQ(paused[0].ts, 3'000'000);
  EXPECT_EQ(paused[0].dur, 5'000'000) << "still paused: to now";
  EXPECT_EQ(paused[0].args["message"], "paused by the user");
  bool instant = false;
  for (const json& e : trace_["traceEvents"]) {
    instant |= e["ph"] == "i" && e["name"] == "run paused";
  }
  EXPECT_TRUE(instant);
  ASSERT_EQ(SlicesOf("a").size(), 1u);
  EXPECT_EQ(SlicesOf("a")[0].dur, 4'000'000) << "the running step went on to its end";

  // Resumed at 6 s: the span ends there.
  Events ev = PausedRunEvents();
  ev.Run(6'000, pb::RUN_RUNNING, "resumed");
  pb::RunSnapshot s = PausedRun();
  s.mutable_run()->set_state(pb::RUN_RUNNING);
  Load(s, ev, kT0 + 8'000);
  paused = SlicesOf("paused");
  ASSERT_EQ(paused.size(), 1u);
  EXPECT_EQ(paused[0].dur, 3'000'000);
  // Never paused: no such slice.
  Events plain;
  plain.Run(0, pb::RUN_RUNNING).Step(0, "a", pb::STEP_RUNNING);
  Load(Snapshot({Step("a", pb::STEP_RUNNING, 0)}), plain, kT0 + 1'000);
  EXPECT_TRUE(SlicesOf("paused").empty());
}

}  // namespace
}  // namespace aetherflow
