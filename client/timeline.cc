#include "client/timeline.h"

#include <algorithm>
#include <functional>
#include <map>
#include <queue>
#include <set>
#include <utility>

#include "client/render.h"

namespace aetherflow {

std::vector<const pb::Event*> EventsInOrder(const std::vector<pb::Event>& events) {
  std::vector<const pb::Event*> out;
  out.reserve(events.size());
  for (const pb::Event& e : events) out.push_back(&e);
  std::stable_sort(out.begin(), out.end(), [](const pb::Event* a, const pb::Event* b) {
    return a->seq() < b->seq();
  });
  out.erase(std::unique(out.begin(), out.end(),
                        [](const pb::Event* a, const pb::Event* b) {
                          return a->seq() == b->seq() && a->seq() != 0;
                        }),
            out.end());
  return out;
}

std::vector<TimelineAttempt> RebuildAttempts(const pb::RunSnapshot& snapshot,
                                             const std::vector<const pb::Event*>& events,
                                             int64_t now_ms) {
  std::map<std::string, const pb::Step*> steps;
  for (const pb::Step& step : snapshot.steps()) steps[step.id()] = &step;
  std::vector<TimelineAttempt> done;
  std::map<std::string, TimelineAttempt> open;
  int order = 0;
  auto close = [&](std::map<std::string, TimelineAttempt>::iterator it) {
    done.push_back(std::move(it->second));
    open.erase(it);
  };
  for (const pb::Event* e : events) {
    if (e->kind() == pb::STEP_FIGURES) {
      auto it = open.find(e->step_id());
      if (it == open.end()) continue;
      TimelineAttempt& a = it->second;
      if (e->has_tokens()) {
        a.has_tokens = true;
        a.tokens = e->tokens();
      }
      if (e->has_cost()) {
        a.has_cost = true;
        a.cost = e->cost();
      }
      continue;
    }
    if (e->kind() != pb::STEP_STATE_CHANGED) continue;
    auto it = open.find(e->step_id());
    if (e->step_state() == pb::STEP_RUNNING) {
      if (it != open.end()) {  // a lost end: this start ends the last one
        it->second.end_ms = e->time_ms();
        it->second.state = "unknown";
        close(it);
      }
      TimelineAttempt a;
      a.step_id = e->step_id();
      auto found = steps.find(a.step_id);
      a.step = found == steps.end() ? nullptr : found->second;
      a.attempt = e->attempt();
      a.start_ms = e->time_ms();
      a.order = order++;
      open.emplace(a.step_id, std::move(a));
      continue;
    }
    if (it == open.end()) continue;
    TimelineAttempt& a = it->second;
    a.end_ms = e->time_ms();
    a.state = e->step_state() == pb::STEP_PENDING && e->retry_at_ms()
                  ? "retrying"
                  : StepStateWord(e->step_state());
    a.has_exit_code = e->has_exit_code();
    a.exit_code = e->exit_code();
    a.message = e->message();
    close(it);
  }
  for (auto it = open.begin(); it != open.end();) {
    it->second.end_ms = now_ms;
    auto next = std::next(it);
    close(it);
    it = next;
  }
  // Steps the events do not show running (a partial event list): one
  // slice from the snapshot.
  std::set<std::string> seen;
  for (const TimelineAttempt& a : done) seen.insert(a.step_id);
  for (const pb::Step& step : snapshot.steps()) {
    if (!step.started_at_ms() || seen.count(step.id())) continue;
    TimelineAttempt a;
    a.step_id = step.id();
    a.step = &step;
    a.attempt = step.attempt();
    a.start_ms = step.started_at_ms();
    a.end_ms = step.finished_at_ms() ? step.finished_at_ms() : now_ms;
    a.state = StepStateWord(step.state());
    a.has_exit_code = step.has_exit_code();
    a.exit_code = step.exit_code();
    a.message = step.message();
    a.has_tokens = step.has_tokens();
    a.tokens = step.tokens();
    a.has_cost = step.has_cost();
    a.cost = step.cost();
    a.order = order++;
    done.push_back(std::move(a));
  }
  for (TimelineAttempt& a : done) a.end_ms = std::max(a.end_ms, a.start_ms);
  std::sort(done.begin(), done.end(), [](const TimelineAttempt& a, const TimelineAttempt& b) {
    return a.start_ms != b.start_ms ? a.start_ms < b.start_ms : a.order < b.order;
  });
  return done;
}

// Greedy interval partitioning in start order: optimal for intervals, the
// number of slots equals the peak overlap.
int AssignSlots(std::vector<TimelineAttempt>* attempts) {
  using Busy = std::pair<int64_t, int>;  // end, slot
  std::priority_queue<Busy, std::vector<Busy>, std::greater<Busy>> busy;
  std::set<int> free;
  int slots = 0;
  for (TimelineAttempt& a : *attempts) {
    while (!busy.empty() && busy.top().first <= a.start_ms) {
      free.insert(busy.top().second);
      busy.pop();
    }
    if (free.empty()) {
      a.slot = ++slots;
    } else {
      a.slot = *free.begin();
      free.erase(free.begin());
    }
    busy.emplace(a.end_ms, a.slot);
  }
  return slots;
}

}  // namespace aetherflow
