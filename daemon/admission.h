// Admission: which ready step of which run starts now, across runs. Pure,
// like RunScheduler (no clocks, no I/O): the engine asks, then starts what
// it is told. It holds every limit a step must fit under before it starts —
//   * the daemon's slots for command steps (--max-parallel),
//   * each provider's slots for LLM steps (max_concurrency),
//   * same-file locks (two steps never write one file at once),
//   * resources (cpu, mem, gpu: SPEC §9) and which GPUs each step holds,
//   * each run's budget (estimates reserved while a step is in flight),
// and it shares them fairly: runs take turns, one step each, whatever kind
// of step they start (SPEC §9). A run's own DAG, retries, cap, pause and
// cancel are its RunScheduler's.
//
// Not thread-safe: the engine thread drives it.
#ifndef AETHERFLOW_DAEMON_ADMISSION_H_
#define AETHERFLOW_DAEMON_ADMISSION_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/plan.h"
#include "daemon/capacity.h"
#include "daemon/scheduler.h"

namespace aetherflow {

// What one step needs beyond its place in the DAG.
struct StepDemand {
  std::string provider;            // an LLM step's provider; "" for commands
  std::vector<std::string> files;  // output paths it writes (exclusive)
  StepResources resources;
  int64_t est_tokens = 0;          // reserved against the run's budget
  std::optional<double> est_cost;  // likewise (unknown: not counted)
};

struct RunBudget {
  std::optional<int64_t> tokens;
  std::optional<double> cost;
};

// The figures a run has spent so far (the engine's counters).
struct Spent {
  int64_t tokens = 0;
  double cost = 0;
};

class Admission {
 public:
  Admission(int max_parallel, Capacity capacity);

  // The daemon's cap on command steps running at once.
  void set_max_parallel(int max_parallel) { max_parallel_ = max_parallel; }
  // Slots per provider; a provider not named gets one.
  void set_provider_slots(std::map<std::string, int> slots) {
    provider_slots_ = std::move(slots);
  }
  // Applies to steps that start from now on; running ones keep theirs.
  void set_capacity(Capacity capacity);
  const Capacity& capacity() const { return capacity_; }

  // A run takes part until RemoveRun; it is served first (it has waited
  // least but holds nothing). `scheduler` and `demands` must stay valid
  // until then; `spent` is called when a budget must be checked.
  void AddRun(const std::string& run, RunScheduler* scheduler,
              const std::vector<StepDemand>* demands, RunBudget budget,
              std::function<Spent()> spent);
  // Forgets a run. Its running steps must have been Released.
  void RemoveRun(const std::string& run);

  struct Started {
    std::string run;
    int step = 0;
    std::vector<int> gpu_ids;  // the GPUs it holds, in order
  };
  struct Waiting {
    std::string run;
    int step = 0;
    std::string reason;  // what it waits for now; "" when nothing special
  };
  struct Decisions {
    std::vector<Started> started;   // already marked running in their run
    std::vector<Waiting> waiting;   // changes of what ready steps wait for
    // Runs whose next LLM step would exceed their budget: stopped
    // (RunScheduler::StopForBudget), with the transitions to apply.
    std::vector<std::pair<std::string, Update>> over_budget;
  };
  // Starts what can start at `now_ms`, fairly.
  Decisions Dispatch(int64_t now_ms);

  // `step` of `run` no longer runs: what it held is free again.
  void Release(const std::string& run, int step);

  // What a step that is running holds.
  const std::vector<int>* gpus_of(const std::string& run, int step) const;
  int commands_running() const { return commands_running_; }

  // Whether `demand` can ever fit this daemon; the resource it lacks
  // otherwise ("gpu": asks for 4, the daemon has 2).
  std::optional<std::string> NeverFits(const StepResources& demand) const;

 private:
  struct RunEntry {
    RunScheduler* scheduler = nullptr;
    const std::vector<StepDemand>* demands = nullptr;
    RunBudget budget;
    std::function<Spent()> spent;
    bool only_commands = true;  // no LLM step: skipped at once when full
    int64_t reserved_tokens = 0;
    double reserved_cost = 0;
    std::unordered_map<int, std::string> waiting;  // step -> reason shown
  };
  struct Held {
    bool command = false;
    std::string provider;
    std::vector<std::string> files;
    double cpu = 0;
    int64_t mem_bytes = 0;
    std::vector<int> gpu_ids;
    int64_t est_tokens = 0;
    double est_cost = 0;
  };

  // "" when `demand` fits now, else what it waits for.
  std::string Blocker(const StepDemand& demand, bool command) const;
  bool OverBudget(RunEntry& entry, const StepDemand& demand) const;
  void Take(const std::string& run, RunEntry& entry, int step, bool command,
            Started* started);

  int max_parallel_;
  Capacity capacity_;
  std::map<std::string, int> provider_slots_;
  std::unordered_map<std::string, RunEntry> runs_;
  FairShare fair_;
  std::map<std::pair<std::string, int>, Held> held_;  // (run, step)
  int commands_running_ = 0;
  std::map<std::string, int> provider_busy_;
  std::set<std::string> files_busy_;
  double cpu_busy_ = 0;
  int64_t mem_busy_ = 0;
  std::set<int> gpus_free_;
};

}  // namespace aetherflow

#endif  // AETHERFLOW_DAEMON_ADMISSION_H_
