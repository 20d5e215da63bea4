#include "client/web_metrics.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/render.h"

namespace aetherflow {
namespace {

std::string Escape(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out.push_back(c);
  }
  return out;
}

// Prometheus floats: integers without a fraction, else shortest round trip.
std::string Number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return absl::StrFormat("%.0f", v);
  return absl::StrFormat("%.17g", v);
}

void Family(std::string* out, const std::string& name, const char* type,
            const char* help) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
}

void Sample(std::string* out, const std::string& name, const std::string& label,
            const std::string& value, double v) {
  if (label.empty()) {
    absl::StrAppend(out, name, " ", Number(v), "\n");
  } else {
    absl::StrAppend(out, name, "{", label, "=\"", Escape(value), "\"} ", Number(v), "\n");
  }
}

template <typename Map>
void Labelled(std::string* out, const std::string& name, const char* type,
              const char* help, const char* label, const Map& values) {
  Family(out, name, type, help);
  for (const auto& [value, v] : values) Sample(out, name, label, value, v);
}

// Commands run as provider "shell"; every other provider is an LLM's.
bool IsLlm(const pb::Step& step) {
  return !step.provider().empty() && step.provider() != "shell";
}

}  // namespace

std::string MetricsText(const MetricsInput& input) {
  std::string out;
  std::map<std::string, double> runs;
  for (pb::RunState s : {pb::RUN_QUEUED, pb::RUN_RUNNING, pb::RUN_PAUSED, pb::RUN_SUCCEEDED,
                         pb::RUN_FAILED, pb::RUN_CANCELLED, pb::RUN_INTERRUPTED}) {
    runs[RunStateWord(s)] = 0;
  }
  std::map<std::string, double> steps;
  for (pb::StepState s : {pb::STEP_PENDING, pb::STEP_RUNNING, pb::STEP_COMPLETED,
                          pb::STEP_FAILED, pb::STEP_SKIPPED, pb::STEP_CANCELLED,
                          pb::STEP_INTERRUPTED}) {
    steps[StepStateWord(s)] = 0;
  }
  double queue = 0;
  for (const pb::Run& run : input.runs) {
    runs[RunStateWord(run.state())] += 1;
    if (run.state() == pb::RUN_QUEUED) queue += 1;
  }
  std::map<std::string, double> tokens, cost, errors, throttled, retries;
  std::vector<double> buckets(std::size(kStepDurationBuckets), 0);
  double duration_sum = 0, duration_count = 0;
  for (const pb::RunSnapshot& snapshot : input.snapshots) {
    const bool active = snapshot.run().state() == pb::RUN_RUNNING ||
                        snapshot.run().state() == pb::RUN_QUEUED;
    for (const pb::Step& step : snapshot.steps()) {
      steps[StepStateWord(step.state())] += 1;
      if (active && step.state() == pb::STEP_PENDING && !step.waiting_for().empty()) {
        queue += 1;
      }
      if (IsLlm(step)) {
        const std::string& p = step.provider();
        tokens[p] += step.has_tokens() ? step.tokens() : 0;
        cost[p] += step.has_cost() ? step.cost() : 0;
        errors[p] += step.state() == pb::STEP_FAILED ? 1 : 0;
        throttled[p] += step.throttled() && step.state() == pb::STEP_RUNNING ? 1 : 0;
        retries[p] += std::max(0, step.attempt() - 1);
      }
      if (step.finished_at_ms() && step.started_at_ms() && step.state() != pb::STEP_RUNNING &&
          step.state() != pb::STEP_PENDING) {
        const double seconds = StepElapsedMs(step, step.finished_at_ms()) / 1000.0;
        duration_sum += seconds;
        duration_count += 1;
        for (std::size_t i = 0; i < buckets.size(); ++i) {
          if (seconds <= kStepDurationBuckets[i]) buckets[i] += 1;
        }
      }
    }
  }
  Labelled(&out, "aetherflow_runs_total", "gauge",
           "Runs the daemon keeps for this user, by state.", "state", runs);
  Labelled(&out, "aetherflow_steps_total", "gauge",
           "Steps of those runs, by state.", "state", steps);
  Family(&out, "aetherflow_queue_length", "gauge",
         "Queued runs plus pending steps that are ready but wait for a slot or resource.");
  Sample(&out, "aetherflow_queue_length", "", "", queue);
  Labelled(&out, "aetherflow_tokens_total", "counter",
           "Tokens used by LLM steps, by provider.", "provider", tokens);
  Labelled(&out, "aetherflow_cost_dollars_total", "counter",
           "Cost of LLM steps in US dollars, by provider.", "provider", cost);
  const std::string h = "aetherflow_step_duration_seconds";
  Family(&out, h, "histogram", "Time steps that ended took, every attempt added up.");
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    absl::StrAppend(&out, h, "_bucket{le=\"", Number(kStepDurationBuckets[i]), "\"} ",
                    Number(buckets[i]), "\n");
  }
  absl::StrAppend(&out, h, "_bucket{le=\"+Inf\"} ", Number(duration_count), "\n");
  absl::StrAppend(&out, h, "_sum ", Number(duration_sum), "\n");
  absl::StrAppend(&out, h, "_count ", Number(duration_count), "\n");
  Labelled(&out, "aetherflow_provider_errors_total", "counter",
           "LLM steps that failed, by provider.", "provider", errors);
  Labelled(&out, "aetherflow_provider_throttled_steps", "gauge",
           "Running LLM steps waiting out a rate limit, by provider.", "provider", throttled);
  Labelled(&out, "aetherflow_provider_retries_total", "counter",
           "Attempts of LLM steps after their first, by provider.", "provider", retries);
  Labelled(&out, "aetherflow_checkin_verdicts", "gauge",
           "Runs by the verdict of a check-in from their start.", "verdict",
           input.checkin_verdicts);
  Family(&out, "aetherflow_web_daemon_streams", "gauge",
         "Event streams this aetherflow web holds to the daemon (one per followed run).");
  Sample(&out, "aetherflow_web_daemon_streams", "", "", input.web_streams);
  Family(&out, "aetherflow_web_clients", "gauge",
         "Pages following a run through this aetherflow web.");
  Sample(&out, "aetherflow_web_clients", "", "", input.web_clients);
  return out;
}

}  // namespace aetherflow
