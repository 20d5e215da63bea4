#include "client/export.h"

#include <algorithm>
#include <functional>
#include <map>
#include <queue>
#include <set>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/render.h"
#include "client/timeline.h"
#include "nlohmann/json.hpp"

namespace aetherflow {
namespace {

using nlohmann::json;

const char* KindWord(pb::EventKind kind) {
  switch (kind) {
    case pb::RUN_STATE_CHANGED: return "run_state_changed";
    case pb::STEP_STATE_CHANGED: return "step_state_changed";
    case pb::STEP_FIGURES: return "step_figures";
    default: return "unknown";
  }
}

json EventJson(const pb::Event& e) {
  json j;
  j["seq"] = e.seq();
  j["time"] = IsoTime(e.time_ms());
  j["kind"] = KindWord(e.kind());
  j["step"] = e.step_id().empty() ? json(nullptr) : json(e.step_id());
  switch (e.kind()) {
    case pb::RUN_STATE_CHANGED: j["state"] = RunStateWord(e.run_state()); break;
    case pb::STEP_STATE_CHANGED: j["state"] = StepStateWord(e.step_state()); break;
    default: j["state"] = nullptr; break;
  }
  j["attempt"] = e.attempt();
  j["exit_code"] = e.has_exit_code() ? json(e.exit_code()) : json(nullptr);
  j["signal"] = e.signal() ? json(e.signal()) : json(nullptr);
  j["tokens"] = e.has_tokens() ? json(e.tokens()) : json(nullptr);
  j["cost"] = e.has_cost() ? json(e.cost()) : json(nullptr);
  j["progress"] = e.progress().empty() ? json(nullptr) : json(e.progress());
  j["message"] = e.message();
  j["retry_at"] = IsoTime(e.retry_at_ms());
  // With step_figures: what the step now waits for; null: nothing.
  j["waiting_for"] = e.waiting_for().empty() ? json(nullptr) : json(e.waiting_for());
  return j;
}

// A decimal with at most `decimals` places and no trailing zeros:
// "25.3", "120", "0.0123".
std::string Decimal(double value, int decimals) {
  std::string s = absl::StrFormat("%.*f", decimals, value);
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

std::string CsvField(std::string_view value) {
  if (value.find_first_of(",\"\r\n") == std::string_view::npos) {
    return std::string(value);
  }
  std::string out = "\"";
  for (char c : value) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string IsoOrEmpty(int64_t ms) {
  json t = IsoTime(ms);
  return t.is_string() ? t.get<std::string>() : std::string();
}

}  // namespace

std::string ExportJson(const pb::RunSnapshot& snapshot,
                       const std::vector<pb::Event>& events, int64_t now_ms) {
  json j = StatusJson(snapshot, now_ms);
  json list = json::array();
  for (const pb::Event* e : EventsInOrder(events)) list.push_back(EventJson(*e));
  j["events"] = std::move(list);
  j["exported_at"] = IsoTime(now_ms);
  j["format_version"] = 1;
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string ExportCsv(const pb::RunSnapshot& snapshot, int64_t now_ms) {
  std::string out =
      "id,type,provider,state,batch,attempt,started_at,finished_at,elapsed_s,"
      "tokens,cost,exit_code,progress,description,waiting_for,message\r\n";
  for (const pb::Step& step : snapshot.steps()) {
    const bool ran = step.started_at_ms() || step.previous_attempts_ms();
    std::string cells[] = {
        step.id(),
        step.type(),
        step.provider(),
        StepStateWord(step.state()),
        absl::StrCat(step.batch()),
        absl::StrCat(step.attempt()),
        IsoOrEmpty(step.started_at_ms()),
        IsoOrEmpty(step.finished_at_ms()),
        ran ? Decimal(StepElapsedMs(step, now_ms) / 1000.0, 3) : "",
        step.has_tokens() ? absl::StrCat(step.tokens()) : "",
        step.has_cost() ? Decimal(step.cost(), 10) : "",
        step.has_exit_code() ? absl::StrCat(step.exit_code()) : "",
        step.progress(),
        step.description(),
        step.waiting_for(),
        step.message(),  // why it failed, was skipped, or retries
    };
    bool first = true;
    for (const std::string& cell : cells) {
      if (!first) out.push_back(',');
      first = false;
      absl::StrAppend(&out, CsvField(cell));
    }
    absl::StrAppend(&out, "\r\n");
  }
  return out;
}

std::string ExportTrace(const pb::RunSnapshot& snapshot,
                        const std::vector<pb::Event>& events, int64_t now_ms) {
  const pb::Run& run = snapshot.run();
  const std::vector<const pb::Event*> ordered = EventsInOrder(events);
  std::vector<TimelineAttempt> attempts = RebuildAttempts(snapshot, ordered, now_ms);
  const int slots = AssignSlots(&attempts);

  // Time zero: the run's start; earlier if something happened before it
  // (timestamps stay non-negative).
  int64_t origin = run.started_at_ms() ? run.started_at_ms() : run.created_at_ms();
  for (const pb::Event* e : ordered) {
    if (e->time_ms() && (origin == 0 || e->time_ms() < origin)) origin = e->time_ms();
  }
  for (const TimelineAttempt& a : attempts) {
    if (origin == 0 || a.start_ms < origin) origin = a.start_ms;
  }
  auto us = [&](int64_t ms) { return (ms - origin) * 1000; };

  json trace = json::array();
  std::string name = absl::StrCat("run ", run.id());
  if (!run.description().empty()) absl::StrAppend(&name, ": ", run.description());
  trace.push_back({{"ph", "M"}, {"name", "process_name"}, {"pid", 1}, {"tid", 0},
                   {"args", {{"name", name}}}});
  for (int slot = 1; slot <= slots; ++slot) {
    trace.push_back({{"ph", "M"}, {"name", "thread_name"}, {"pid", 1}, {"tid", slot},
                     {"args", {{"name", absl::StrCat("slot ", slot)}}}});
    trace.push_back({{"ph", "M"}, {"name", "thread_sort_index"}, {"pid", 1},
                     {"tid", slot}, {"args", {{"sort_index", slot}}}});
  }
  for (const TimelineAttempt& a : attempts) {
    json args;
    args["state"] = a.state;
    args["attempt"] = a.attempt;
    args["exit_code"] = a.has_exit_code ? json(a.exit_code) : json(nullptr);
    args["provider"] = a.step ? a.step->provider() : "";
    args["description"] = a.step ? a.step->description() : "";
    args["message"] = a.message;
    args["tokens"] = a.has_tokens ? json(a.tokens) : json(nullptr);
    args["cost"] = a.has_cost ? json(a.cost) : json(nullptr);
    std::string cat = a.step && !a.step->type().empty() ? a.step->type() : "step";
    trace.push_back({{"ph", "X"},
                     {"name", a.step_id},
                     {"cat", cat},
                     {"pid", 1},
                     {"tid", a.slot},
                     {"ts", us(a.start_ms)},
                     {"dur", (a.end_ms - a.start_ms) * 1000},
                     {"args", std::move(args)}});
  }
  // The run's paused spans (SPEC §9) on its own track: from a pause to the
  // next state change, or to now while it lasts.
  const pb::Event* paused = nullptr;
  auto pause_slice = [&](int64_t end_ms) {
    trace.push_back({{"ph", "X"},
                     {"name", "paused"},
                     {"cat", "run"},
                     {"pid", 1},
                     {"tid", 0},
                     {"ts", us(paused->time_ms())},
                     {"dur", std::max<int64_t>(0, end_ms - paused->time_ms()) * 1000},
                     {"args", {{"message", paused->message()}}}});
  };
  for (const pb::Event* e : ordered) {
    if (e->kind() != pb::RUN_STATE_CHANGED) continue;
    if (paused) pause_slice(e->time_ms());
    paused = e->run_state() == pb::RUN_PAUSED ? e : nullptr;
  }
  if (paused) pause_slice(run.finished_at_ms() ? run.finished_at_ms() : now_ms);
  for (const pb::Event* e : ordered) {
    if (e->kind() != pb::RUN_STATE_CHANGED) continue;
    trace.push_back({{"ph", "i"},
                     {"s", "p"},
                     {"name", absl::StrCat("run ", RunStateWord(e->run_state()))},
                     {"cat", "run"},
                     {"pid", 1},
                     {"tid", 0},
                     {"ts", us(e->time_ms())},
                     {"args", {{"message", e->message()}}}});
  }
  json j;
  j["traceEvents"] = std::move(trace);
  j["displayTimeUnit"] = "ms";
  j["otherData"] = {{"run_id", run.id()},
                    {"description", run.description()},
                    {"state", RunStateWord(run.state())},
                    {"exported_at", IsoTime(now_ms)},
                    {"peak_parallelism", slots}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace aetherflow
