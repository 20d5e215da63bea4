#include "client/web_view.h"

#include <algorithm>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/monitor_screen.h"
#include "client/render.h"
#include "client/timeline.h"
#include "common/duration.h"

namespace aetherflow {
namespace {

using nlohmann::json;

const char* StyleWord(Style style) {
  switch (style) {
    case Style::kCompleted: return "completed";
    case Style::kFailed: return "failed";
    case Style::kRunning: return "running";
    case Style::kPending: return "pending";
    case Style::kSkipped: return "skipped";
    case Style::kWarning: return "warning";
    default: return "dim";
  }
}

int CurrentBatch(const pb::RunSnapshot& snapshot) {
  int running = 0, finished = 0;
  for (const pb::Step& step : snapshot.steps()) {
    if (step.state() == pb::STEP_RUNNING) running = std::max(running, step.batch());
    if (step.state() == pb::STEP_COMPLETED || step.state() == pb::STEP_FAILED) {
      finished = std::max(finished, step.batch());
    }
  }
  return running ? running : finished;
}

bool Finished(pb::RunState state) {
  return state != pb::RUN_QUEUED && state != pb::RUN_RUNNING && state != pb::RUN_PAUSED &&
         state != pb::RUN_STATE_UNSPECIFIED;
}

json HeaderJson(const pb::RunSnapshot& snapshot, int64_t now_ms) {
  const pb::Run& run = snapshot.run();
  json j;
  j["id"] = run.id();
  j["plan"] = !run.description().empty() ? run.description()
              : !run.task_id().empty()    ? run.task_id()
                                          : run.plan_path();
  j["state"] = RunStateWord(run.state());
  j["state_label"] = RunStateLabel(run.state(), true);
  j["finished"] = Finished(run.state());
  j["completed"] = run.completed();
  j["total"] = run.steps_total();
  j["percent"] = run.steps_total() ? 100.0 * run.completed() / run.steps_total() : 0.0;
  json counts = json::array();
  struct Count {
    const char* name;
    int value;
    bool always;
  };
  const Count list[] = {{"Completed", run.completed(), true},
                        {"Failed", run.failed(), true},
                        {"Running", run.running(), true},
                        {"Skipped", run.skipped(), false},
                        {"Cancelled", run.cancelled(), false},
                        {"Interrupted", run.interrupted(), false}};
  for (const Count& c : list) {
    if (c.always || c.value) counts.push_back({{"name", c.name}, {"value", c.value}});
  }
  j["counts"] = std::move(counts);
  j["batch"] = absl::StrCat(CurrentBatch(snapshot), "/", run.batches());
  j["elapsed"] = FormatDurationMs(RunElapsedMs(run, now_ms));
  j["tokens"] = FormatTokens(run.has_tokens(), run.tokens());
  j["cost"] = FormatCost(run.has_cost(), run.cost());
  j["reason"] = run.state() == pb::RUN_RUNNING ? "" : run.reason();
  j["last_seq"] = run.last_seq();
  return j;
}

// The run's tokens and cost after each STEP_FIGURES event: each step's
// latest figures, added up.
json SeriesJson(const std::vector<const pb::Event*>& ordered, int64_t origin) {
  json series = json::array();
  std::map<std::string, std::pair<int64_t, double>> per_step;
  std::map<std::string, bool> cost_known;
  int64_t tokens = 0;
  double cost = 0;
  bool any_cost = false;
  for (const pb::Event* e : ordered) {
    if (e->kind() != pb::STEP_FIGURES && e->kind() != pb::STEP_STATE_CHANGED) continue;
    if (!e->has_tokens() && !e->has_cost()) continue;
    auto& figures = per_step[e->step_id()];
    if (e->has_tokens()) {
      tokens += e->tokens() - figures.first;
      figures.first = e->tokens();
    }
    if (e->has_cost()) {
      cost += e->cost() - figures.second;
      figures.second = e->cost();
      any_cost = true;
    }
    series.push_back({{"t_ms", std::max<int64_t>(0, e->time_ms() - origin)},
                      {"tokens", tokens},
                      {"cost", any_cost ? json(cost) : json(nullptr)}});
  }
  return series;
}

}  // namespace

json RunViewJson(const pb::RunSnapshot& snapshot, const std::vector<pb::Event>& events,
                 int64_t now_ms) {
  json j;
  j["run"] = HeaderJson(snapshot, now_ms);
  j["columns"] = {"Step", "Type", "Provider", "Status", "Time", "Tokens", "Cost",
                  "Description"};
  json steps = json::array();
  for (const pb::Step& step : snapshot.steps()) {
    StepCells c = MonitorStepCells(step, now_ms, true);
    steps.push_back({{"id", step.id()},
                     {"state", StepStateWord(step.state())},
                     {"style", StyleWord(c.style)},
                     {"cells", {c.id, c.type, c.provider, c.status, c.time, c.tokens, c.cost,
                                c.description}}});
  }
  j["steps"] = std::move(steps);

  const pb::Run& run = snapshot.run();
  const std::vector<const pb::Event*> ordered = EventsInOrder(events);
  std::vector<TimelineAttempt> attempts = RebuildAttempts(snapshot, ordered, now_ms);
  const int lanes = AssignSlots(&attempts);
  int64_t origin = run.started_at_ms() ? run.started_at_ms() : run.created_at_ms();
  for (const TimelineAttempt& a : attempts) {
    if (origin == 0 || a.start_ms < origin) origin = a.start_ms;
  }
  int64_t end = run.finished_at_ms() && Finished(run.state()) ? run.finished_at_ms() : now_ms;
  json list = json::array();
  for (const TimelineAttempt& a : attempts) {
    end = std::max(end, a.end_ms);
    list.push_back({{"step", a.step_id},
                    {"lane", a.slot},
                    {"attempt", a.attempt},
                    {"start_ms", a.start_ms - origin},
                    {"end_ms", a.end_ms - origin},
                    {"state", a.state}});
  }
  j["timeline"] = {{"lanes", lanes},
                   {"start_ms", 0},
                   {"end_ms", std::max<int64_t>(0, end - origin)},
                   {"attempts", std::move(list)}};
  j["series"] = SeriesJson(ordered, origin);
  return j;
}

json RunListJson(const std::vector<pb::Run>& runs, int64_t now_ms) {
  json list = json::array();
  for (const pb::Run& run : runs) {
    std::string progress = absl::StrFormat("%d/%d", run.completed(), run.steps_total());
    if (run.failed()) absl::StrAppend(&progress, " (", run.failed(), " failed)");
    list.push_back({{"id", run.id()},
                    {"state", RunStateWord(run.state())},
                    {"state_label", RunStateLabel(run.state(), true)},
                    {"progress", progress},
                    {"elapsed", FormatDurationMs(RunElapsedMs(run, now_ms))},
                    {"cost", FormatCost(run.has_cost(), run.cost())},
                    {"description",
                     run.description().empty() ? run.task_id() : run.description()},
                    {"finished", Finished(run.state())}});
  }
  return list;
}

}  // namespace aetherflow
