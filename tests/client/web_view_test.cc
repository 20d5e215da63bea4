// The web page's view of a run, the lanes it shares with the trace, and
// the /metrics text.
#include "client/web_view.h"

#include <cstdint>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "client/export.h"
#include "client/monitor_screen.h"
#include "client/timeline.h"
#include "client/web_metrics.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace aetherflow {
namespace {

namespace pb = ::aetherflow::v1;
using nlohmann::json;

constexpr int64_t kT0 = 1'769'421'600'000;

pb::Step Step(const std::string& id, pb::StepState state, int64_t start = -1,
              int64_t end = -1) {
  pb::Step step;
  step.set_id(id);
  step.set_type("llm");
  step.set_provider("deepseek");
  step.set_state(state);
  step.set_batch(1);
  step.set_attempt(start >= 0 ? 1 : 0);
  step.set_max_attempts(1);
  if (start >= 0) step.set_started_at_ms(kT0 + start);
  if (end >= 0) step.set_finished_at_ms(kT0 + end);
  step.set_description("does " + id);
  return step;
}

pb::RunSnapshot Snapshot(const std::vector<pb::Step>& steps,
                         pb::RunState state = pb::RUN_RUNNING) {
  pb::RunSnapshot s;
  pb::Run* run = s.mutable_run();
  run->set_id("r1");
  run->set_description("Nightly build");
  run->set_state(state);
  run->set_created_at_ms(kT0);
  run->set_started_at_ms(kT0);
  run->set_steps_total(static_cast<int>(steps.size()));
  run->set_batches(1);
  for (const pb::Step& step : steps) {
    *s.add_steps() = step;
    if (step.state() == pb::STEP_COMPLETED) run->set_completed(run->completed() + 1);
    if (step.state() == pb::STEP_FAILED) run->set_failed(run->failed() + 1);
    if (step.state() == pb::STEP_RUNNING) run->set_running(run->running() + 1);
  }
  return s;
}

pb::Event StepEvent(int64_t seq, int64_t at, const std::string& id, pb::StepState state) {
  pb::Event e;
  e.set_seq(seq);
  e.set_time_ms(kT0 + at);
  e.set_kind(pb::STEP_STATE_CHANGED);
  e.set_step_id(id);
  e.set_step_state(state);
  e.set_attempt(1);
  return e;
}

pb::Event Figures(int64_t seq, int64_t at, const std::string& id, int64_t tokens,
                  double cost) {
  pb::Event e;
  e.set_seq(seq);
  e.set_time_ms(kT0 + at);
  e.set_kind(pb::STEP_FIGURES);
  e.set_step_id(id);
  e.set_tokens(tokens);
  e.set_cost(cost);
  return e;
}

TEST(WebViewTest, TableHasTheMonitorsCellsAndSymbols) {
  pb::RunSnapshot s = Snapshot({Step("a", pb::STEP_COMPLETED, 0, 2000),
                                Step("b", pb::STEP_RUNNING, 1000),
                                Step("c", pb::STEP_PENDING)});
  s.mutable_steps(0)->set_tokens(1234);
  s.mutable_steps(0)->set_cost(0.0123);
  s.mutable_steps(1)->set_progress("3/10");
  const int64_t now = kT0 + 5000;
  json v = RunViewJson(s, {}, now);
  ASSERT_EQ(v["columns"].size(), 8u);
  EXPECT_EQ(v["columns"][3], "Status");
  ASSERT_EQ(v["steps"].size(), 3u);
  for (int i = 0; i < 3; ++i) {
    StepCells c = MonitorStepCells(s.steps(i), now, true);
    EXPECT_EQ(v["steps"][i]["cells"],
              json({c.id, c.type, c.provider, c.status, c.time, c.tokens, c.cost,
                    c.description}));
  }
  EXPECT_EQ(v["steps"][0]["cells"][3], "✓ Completed");
  EXPECT_EQ(v["steps"][0]["cells"][5], "1,234");
  EXPECT_EQ(v["steps"][0]["cells"][6], "$0.0123");
  EXPECT_EQ(v["steps"][0]["style"], "completed");
  EXPECT_EQ(v["steps"][1]["style"], "running");
  EXPECT_EQ(v["steps"][1]["cells"][7], "[3/10] does b");
  EXPECT_EQ(v["steps"][2]["cells"][4], "-");
}

TEST(WebViewTest, HeaderHasProgressCountsAndFigures) {
  pb::RunSnapshot s = Snapshot({Step("a", pb::STEP_COMPLETED, 0, 2000),
                                Step("b", pb::STEP_FAILED, 0, 3000)},
                               pb::RUN_FAILED);
  s.mutable_run()->set_finished_at_ms(kT0 + 3000);
  s.mutable_run()->set_reason("step b failed");
  json run = RunViewJson(s, {}, kT0 + 9000)["run"];
  EXPECT_EQ(run["plan"], "Nightly build");
  EXPECT_EQ(run["state"], "failed");
  EXPECT_TRUE(run["finished"].get<bool>());
  EXPECT_EQ(run["completed"], 1);
  EXPECT_EQ(run["total"], 2);
  EXPECT_DOUBLE_EQ(run["percent"].get<double>(), 50.0);
  EXPECT_EQ(run["counts"], json::parse(R"([{"name":"Completed","value":1},
      {"name":"Failed","value":1},{"name":"Running","value":0}])"));
  EXPECT_EQ(run["batch"], "1/1");
  EXPECT_EQ(run["elapsed"], "3.0s");
  EXPECT_EQ(run["tokens"], "-");
  EXPECT_EQ(run["reason"], "step b failed");
}

TEST(WebViewTest, PausedRunSaysSo) {
  json run = RunViewJson(Snapshot({}, pb::RUN_PAUSED), {}, kT0)["run"];
  EXPECT_EQ(run["state_label"], "⏸ Paused");
  EXPECT_FALSE(run["finished"].get<bool>());
}

TEST(WebViewTest, TimelineLanesAreTheTracesSlots) {
  // a and b overlap, c starts when a ends: two lanes, c shares a's.
  pb::RunSnapshot s = Snapshot({Step("a", pb::STEP_COMPLETED, 0, 1000),
                                Step("b", pb::STEP_COMPLETED, 500, 3000),
                                Step("c", pb::STEP_RUNNING, 1000)});
  std::vector<pb::Event> events = {
      StepEvent(1, 0, "a", pb::STEP_RUNNING),     StepEvent(2, 500, "b", pb::STEP_RUNNING),
      StepEvent(3, 1000, "a", pb::STEP_COMPLETED), StepEvent(4, 1000, "c", pb::STEP_RUNNING),
      StepEvent(5, 3000, "b", pb::STEP_COMPLETED)};
  const int64_t now = kT0 + 4000;
  json t = RunViewJson(s, events, now)["timeline"];
  EXPECT_EQ(t["lanes"], 2);
  EXPECT_EQ(t["end_ms"], 4000);
  std::map<std::string, int> lane;
  for (const json& a : t["attempts"]) lane[a["step"]] = a["lane"];
  EXPECT_EQ(lane["a"], 1);
  EXPECT_EQ(lane["b"], 2);
  EXPECT_EQ(lane["c"], 1);
  EXPECT_EQ(t["attempts"][2]["state"], "running");
  EXPECT_EQ(t["attempts"][2]["end_ms"], 4000);
  // The same lanes as the Perfetto trace's tracks.
  json trace = json::parse(ExportTrace(s, events, now));
  for (const json& e : trace["traceEvents"]) {
    if (e["ph"] == "X" && e["cat"] != "run") {
      EXPECT_EQ(e["tid"].get<int>(), lane[e["name"].get<std::string>()]) << e["name"];
    }
  }
}

TEST(WebViewTest, AssignSlotsUsesPeakParallelism) {
  std::vector<TimelineAttempt> attempts(4);
  const int64_t spans[][2] = {{0, 10}, {1, 5}, {2, 3}, {5, 9}};
  for (int i = 0; i < 4; ++i) {
    attempts[i].start_ms = spans[i][0];
    attempts[i].end_ms = spans[i][1];
  }
  EXPECT_EQ(AssignSlots(&attempts), 3);
  EXPECT_EQ(attempts[3].slot, 2);  // freed by the one that ended at 5
}

TEST(WebViewTest, SeriesAddsUpEachStepsLatestFigures) {
  pb::RunSnapshot s = Snapshot({Step("a", pb::STEP_RUNNING, 0), Step("b", pb::STEP_RUNNING, 0)});
  std::vector<pb::Event> events = {Figures(1, 100, "a", 10, 0.01), Figures(2, 200, "b", 5, 0.02),
                                   Figures(3, 300, "a", 30, 0.03)};
  json series = RunViewJson(s, events, kT0 + 1000)["series"];
  ASSERT_EQ(series.size(), 3u);
  EXPECT_EQ(series[0], json::parse(R"({"t_ms":100,"tokens":10,"cost":0.01})"));
  EXPECT_EQ(series[2]["tokens"], 35);
  EXPECT_NEAR(series[2]["cost"].get<double>(), 0.05, 1e-12);
}

TEST(WebViewTest, RunListIsLsNewestFirstAsGiven) {
  pb::Run a, b;
  a.set_id("new");
  a.set_state(pb::RUN_RUNNING);
  a.set_steps_total(4);
  a.set_completed(1);
  a.set_failed(1);
  b.set_id("old");
  b.set_state(pb::RUN_SUCCEEDED);
  json list = RunListJson({a, b}, kT0);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0]["id"], "new");
  EXPECT_EQ(list[0]["progress"], "1/4 (1 failed)");
  EXPECT_FALSE(list[0]["finished"].get<bool>());
  EXPECT_TRUE(list[1]["finished"].get<bool>());
}

// --- /metrics -----------------------------------------------------------

// The text format's rules (exposition format 0.0.4) a scraper applies:
// every sample belongs to a family declared once by # TYPE before it;
// names and labels are well formed; values are floats; histogram buckets
// are cumulative and end with +Inf equal to _count.
struct Parsed {
  std::map<std::string, std::string> types;
  std::map<std::string, double> samples;  // "name{labels}" -> value
};

Parsed ParseExposition(const std::string& text) {
  Parsed p;
  std::istringstream in(text);
  std::string line;
  auto name_ok = [](const std::string& n) {
    if (n.empty() || !(std::isalpha(n[0]) || n[0] == '_' || n[0] == ':')) return false;
    for (char c : n) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':')) return false;
    }
    return true;
  };
  while (std::getline(in, line)) {
    EXPECT_FALSE(line.empty()) << "blank line";
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream f(line.substr(7));
      std::string name, type;
      f >> name >> type;
      EXPECT_TRUE(name_ok(name)) << line;
      EXPECT_EQ(p.types.count(name), 0u) << "declared twice: " << name;
      EXPECT_TRUE(type == "counter" || type == "gauge" || type == "histogram") << line;
      p.types[name] = type;
      continue;
    }
    if (line.rfind("# HELP ", 0) == 0) continue;
    EXPECT_NE(line[0], '#') << line;
    std::size_t space = line.rfind(' ');
    std::string key = line.substr(0, space);
    std::string name = key.substr(0, key.find('{'));
    EXPECT_TRUE(name_ok(name)) << line;
    std::string family = name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      std::string s = suffix;
      if (family.size() > s.size() && family.compare(family.size() - s.size(), s.size(), s) == 0 &&
          p.types.count(family.substr(0, family.size() - s.size()))) {
        family = family.substr(0, family.size() - s.size());
      }
    }
    EXPECT_EQ(p.types.count(family), 1u) << "no # TYPE before " << line;
    std::string value = line.substr(space + 1);
    double v = value == "+Inf" ? 1e308 : std::stod(value);
    EXPECT_EQ(p.samples.count(key), 0u) << "sample twice: " << key;
    p.samples[key] = v;
  }
  return p;
}

TEST(WebMetricsTest, FamiliesFollowPrometheusConventions) {
  pb::RunSnapshot s = Snapshot({Step("a", pb::STEP_COMPLETED, 0, 2000),
                                Step("b", pb::STEP_FAILED, 0, 45000),
                                Step("c", pb::STEP_RUNNING, 0),
                                Step("d", pb::STEP_PENDING)});
  s.mutable_steps(0)->set_tokens(100);
  s.mutable_steps(0)->set_cost(0.5);
  s.mutable_steps(1)->set_provider("open\"ai");
  s.mutable_steps(1)->set_attempt(3);
  s.mutable_steps(2)->set_throttled(true);
  s.mutable_steps(3)->set_waiting_for("a deepseek slot");
  pb::Run queued;
  queued.set_id("q");
  queued.set_state(pb::RUN_QUEUED);
  MetricsInput input;
  input.runs = {s.run(), queued};
  input.snapshots = {s};
  input.checkin_verdicts = {{"ok", 1}};
  input.web_streams = 1;
  input.web_clients = 50;
  const std::string text = MetricsText(input);
  Parsed p = ParseExposition(text);
  EXPECT_EQ(p.types["aetherflow_steps_total"], "gauge");
  EXPECT_EQ(p.types["aetherflow_step_duration_seconds"], "histogram");
  EXPECT_EQ(p.types["aetherflow_tokens_total"], "counter");
  EXPECT_EQ(p.samples["aetherflow_runs_total{state=\"running\"}"], 1);
  EXPECT_EQ(p.samples["aetherflow_runs_total{state=\"queued\"}"], 1);
  EXPECT_EQ(p.samples["aetherflow_runs_total{state=\"succeeded\"}"], 0);
  EXPECT_EQ(p.samples["aetherflow_steps_total{state=\"completed\"}"], 1);
  EXPECT_EQ(p.samples["aetherflow_steps_total{state=\"pending\"}"], 1);
  EXPECT_EQ(p.samples["aetherflow_queue_length"], 2);  // the queued run, step d
  EXPECT_EQ(p.samples["aetherflow_tokens_total{provider=\"deepseek\"}"], 100);
  EXPECT_EQ(p.samples["aetherflow_cost_dollars_total{provider=\"deepseek\"}"], 0.5);
  EXPECT_EQ(p.samples["aetherflow_provider_errors_total{provider=\"open\\\"ai\"}"], 1);
  EXPECT_EQ(p.samples["aetherflow_provider_retries_total{provider=\"open\\\"ai\"}"], 2);
  EXPECT_EQ(p.samples["aetherflow_provider_throttled_steps{provider=\"deepseek\"}"], 1);
  EXPECT_EQ(p.samples["aetherflow_checkin_verdicts{verdict=\"ok\"}"], 1);
  EXPECT_EQ(p.samples["aetherflow_web_daemon_streams"], 1);
  EXPECT_EQ(p.samples["aetherflow_web_clients"], 50);
  // Two ended steps, 2 s and 45 s: cumulative buckets, +Inf = _count.
  EXPECT_EQ(p.samples["aetherflow_step_duration_seconds_bucket{le=\"1\"}"], 0);
  EXPECT_EQ(p.samples["aetherflow_step_duration_seconds_bucket{le=\"5\"}"], 1);
  EXPECT_EQ(p.samples["aetherflow_step_duration_seconds_bucket{le=\"30\"}"], 1);
  EXPECT_EQ(p.samples["aetherflow_step_duration_seconds_bucket{le=\"60\"}"], 2);
  EXPECT_EQ(p.samples["aetherflow_step_duration_seconds_bucket{le=\"+Inf\"}"], 2);
  EXPECT_EQ(p.samples["aetherflow_step_duration_seconds_count"], 2);
  EXPECT_EQ(p.samples["aetherflow_step_duration_seconds_sum"], 47);
  EXPECT_EQ(text.back(), '\n');
}

TEST(WebMetricsTest, NoRunsIsStillAValidExposition) {
  Parsed p = ParseExposition(MetricsText({}));
  EXPECT_EQ(p.samples["aetherflow_steps_total{state=\"running\"}"], 0);
  EXPECT_EQ(p.samples["aetherflow_step_duration_seconds_count"], 0);
}

}  // namespace
}  // namespace aetherflow
