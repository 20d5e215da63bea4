// `aetherflow export RUN --format json|trace|csv`: a run's full monitor
// state as a file. Pure: the snapshot and events are passed in, time too;
// the caller writes the text to stdout or `-o FILE`.
#ifndef AETHERFLOW_CLIENT_EXPORT_H_
#define AETHERFLOW_CLIENT_EXPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "aetherflow/v1/aetherflow.pb.h"

namespace aetherflow {

namespace pb = ::aetherflow::v1;

// StatusJson(snapshot) (SPEC §4 `status --json`: "run", "steps") plus
// "events": [{"seq", "time" (ISO 8601 UTC), "kind" ("run_state_changed",
// "step_state_changed", "step_figures"), "step" (null for run events),
// "state" (the run or step state word; null for figures), "attempt",
// "exit_code", "signal", "tokens", "cost", "progress", "message",
// "retry_at", "waiting_for"}] in seq order, "exported_at" (now_ms, ISO) and
// "format_version": 1. Unknown figures are null. Stable key names: fields
// are added, never renamed. Ends with a newline.
std::string ExportJson(const pb::RunSnapshot& snapshot,
                       const std::vector<pb::Event>& events, int64_t now_ms);

// One RFC 4180 row per step after a header row: id, type, provider,
// state, batch, attempt, started_at, finished_at, elapsed_s, tokens, cost,
// exit_code, progress, description, waiting_for. Rows end with CRLF; a field holding a
// comma, a quote, CR or LF is quoted with quotes doubled. Unknown values
// (no start, no tokens, no exit code...) are empty cells, never 0. Times
// ISO 8601 UTC; elapsed_s and cost are plain decimals ("25.3", "0.0123").
std::string ExportCsv(const pb::RunSnapshot& snapshot, int64_t now_ms);

// A Chrome trace-event JSON object that Perfetto (ui.perfetto.dev) and
// chrome://tracing open as a timeline:
//   {"traceEvents": [...], "displayTimeUnit": "ms", "otherData": {...}}
// pid 1 is the run (process_name "run ID: description"); each step
// attempt is a complete slice ("ph": "X", name = step id, cat = type,
// args = {state, attempt, exit_code, provider, description, message,
// tokens, cost}) with "ts"/"dur" in microseconds from the run's start.
// Attempts are rebuilt from STEP_STATE_CHANGED events: one starts at a
// RUNNING event and ends at the step's next non-running event; one still
// open at the end ends at now_ms (state "running"). A step the events do
// not show running but whose snapshot has a start gets one slice from the
// snapshot. Tracks ("tid") are parallel slots: each attempt, by start
// time, takes the lowest-numbered slot free at its start (a slot frees
// when its attempt ends, so back-to-back attempts share a track), so
// overlapping attempts are on different tracks and the number of tracks
// is the peak parallelism; "thread_name" metadata names them "slot 1"...
// The run's state changes are process-wide instant events ("ph": "i",
// "s": "p", name "run <state>"); the spans it was paused are slices named
// "paused" (cat "run") on track 0, to the next state change or now_ms.
std::string ExportTrace(const pb::RunSnapshot& snapshot,
                        const std::vector<pb::Event>& events, int64_t now_ms);

}  // namespace aetherflow

#endif  // AETHERFLOW_CLIENT_EXPORT_H_
