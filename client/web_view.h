// The web page's view of a run (SPEC §13), as JSON for its script: the
// monitor's header and table (the same cells and symbols as the terminal
// monitor: client/monitor_screen.h), the timeline of every attempt on the
// trace's lanes (client/timeline.h), and tokens and cost over time. Pure:
// the snapshot and events are passed in, time too. `aetherflow web` sends
// it over Server-Sent Events; `aetherflow report` writes it into the page.
#ifndef AETHERFLOW_CLIENT_WEB_VIEW_H_
#define AETHERFLOW_CLIENT_WEB_VIEW_H_

#include <cstdint>
#include <vector>

#include "aetherflow/v1/aetherflow.pb.h"
#include "nlohmann/json.hpp"

namespace aetherflow {

namespace pb = ::aetherflow::v1;

// {"run": {"id", "plan", "state" (word), "state_label" ("⏸ Paused"),
//          "finished", "completed", "total", "percent", "counts":
//          [{"name": "Completed", "value": 3}, ...] (Skipped, Cancelled,
//          Interrupted only when not 0, as the monitor), "batch" ("2/3"),
//          "elapsed", "tokens", "cost" (as the monitor prints them),
//          "reason" ("" while running), "last_seq"},
//  "columns": ["Step", "Type", "Provider", "Status", "Time", "Tokens",
//              "Cost", "Description"],
//  "steps": [{"id", "state" (word), "style" ("completed", "failed",
//             "running", "pending", "skipped", "warning", "dim"),
//             "cells": [8 strings, as the columns]}],
//  "timeline": {"lanes": N, "start_ms": 0, "end_ms": (ms since the run's
//               start), "attempts": [{"step", "lane" (1..N), "attempt",
//               "start_ms", "end_ms" (ms since the run's start), "state"}]},
//  "series": [{"t_ms", "tokens", "cost"}]  (the run's totals after each
//             change, t_ms since the run's start; cost null when unknown)}
// `events` in any order (each seq used once).
nlohmann::json RunViewJson(const pb::RunSnapshot& snapshot,
                           const std::vector<pb::Event>& events, int64_t now_ms);

// `aetherflow ls` for the page: [{"id", "state", "state_label", "progress"
// ("3/7", "+ (1 failed)"), "elapsed", "cost", "description", "finished"}],
// in the order given (the daemon's: newest first).
nlohmann::json RunListJson(const std::vector<pb::Run>& runs, int64_t now_ms);

}  // namespace aetherflow

#endif  // AETHERFLOW_CLIENT_WEB_VIEW_H_
