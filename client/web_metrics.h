// `/metrics` of `aetherflow web` (SPEC §13): Prometheus' text exposition
// format 0.0.4, from what the daemon shows its user. Pure: the runs and
// snapshots are passed in.
#ifndef AETHERFLOW_CLIENT_WEB_METRICS_H_
#define AETHERFLOW_CLIENT_WEB_METRICS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "aetherflow/v1/aetherflow.pb.h"

namespace aetherflow {

namespace pb = ::aetherflow::v1;

// What /metrics is made of.
struct MetricsInput {
  std::vector<pb::Run> runs;               // every run (ListRuns)
  std::vector<pb::RunSnapshot> snapshots;  // the same runs with their steps
  // The check-in verdict (SPEC §6: "ok", "attention"...) a check-in from
  // the start would give for each run; empty when none was asked for.
  std::map<std::string, int> checkin_verdicts;
  int web_streams = 0;  // event streams `aetherflow web` holds to the daemon
  int web_clients = 0;  // pages following a run through them
};

// Upper bounds (seconds) of the step-duration histogram's buckets; +Inf
// comes after them.
inline constexpr double kStepDurationBuckets[] = {1,   5,    10,   30,   60,
                                                  300, 900, 1800, 3600, 14400};

// Families, each with # HELP and # TYPE:
//   aetherflow_runs_total{state}            gauge  runs by state (every state)
//   aetherflow_steps_total{state}           gauge  steps by state (every state)
//   aetherflow_queue_length                 gauge  queued runs plus pending
//                                                  steps ready but waiting
//   aetherflow_tokens_total{provider}       counter
//   aetherflow_cost_dollars_total{provider} counter
//   aetherflow_step_duration_seconds        histogram (ended steps, every
//                                           attempt; _bucket{le}, _sum, _count)
//   aetherflow_provider_errors_total{provider}  counter  failed LLM steps
//   aetherflow_provider_throttled_steps{provider} gauge  throttled now
//   aetherflow_provider_retries_total{provider} counter  extra attempts
//   aetherflow_checkin_verdicts{verdict}    gauge  runs by check-in verdict
//   aetherflow_web_daemon_streams           gauge
//   aetherflow_web_clients                  gauge
// Provider families count LLM steps only (commands are provider "shell");
// label values are escaped (\\, \", \n). Ends with a newline.
std::string MetricsText(const MetricsInput& input);

}  // namespace aetherflow

#endif  // AETHERFLOW_CLIENT_WEB_METRICS_H_
