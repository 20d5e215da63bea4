#include "daemon/admission.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace aetherflow {

Admission::Admission(int max_parallel, Capacity capacity) : max_parallel_(max_parallel) {
  set_capacity(std::move(capacity));
}

void Admission::set_capacity(Capacity capacity) {
  capacity_ = std::move(capacity);
  gpus_free_.clear();
  std::set<int> held;
  for (const auto& [key, h] : held_) held.insert(h.gpu_ids.begin(), h.gpu_ids.end());
  for (int id : capacity_.gpu_ids) {
    if (!held.count(id)) gpus_free_.insert(id);
  }
}

void Admission::AddRun(const std::string& run, RunScheduler* scheduler,
                       const std::vector<StepDemand>* demands, RunBudget budget,
                       std::function<Spent()> spent) {
  RunEntry& entry = runs_[run];
  entry.scheduler = scheduler;
  entry.demands = demands;
  entry.budget = budget;
  entry.spent = std::move(spent);
  entry.only_commands = std::all_of(demands->begin(), demands->end(),
                                    [](const StepDemand& d) { return d.provider.empty(); });
  fair_.Add(run);
}

void Admission::RemoveRun(const std::string& run) {
  for (auto it = held_.lower_bound({run, 0});
       it != held_.end() && it->first.first == run;) {
    int step = it->first.second;
    ++it;
    Release(run, step);
  }
  runs_.erase(run);
  fair_.Remove(run);
}

std::optional<std::string> Admission::NeverFits(const StepResources& demand) const {
  if (demand.cpu && *demand.cpu > capacity_.cpu) {
    return absl::StrCat("cpu: asks for ", *demand.cpu, ", this daemon has ", capacity_.cpu);
  }
  if (demand.mem_bytes && *demand.mem_bytes > capacity_.mem_bytes) {
    return absl::StrCat("mem: asks for ", *demand.mem_bytes, " bytes, this daemon has ",
                        capacity_.mem_bytes);
  }
  if (demand.gpu && *demand.gpu > capacity_.gpus()) {
    return absl::StrCat("gpu: asks for ", *demand.gpu, ", this daemon has ",
                        capacity_.gpus());
  }
  return std::nullopt;
}

std::string Admission::Blocker(const StepDemand& demand, bool command) const {
  if (!command) {
    auto slots = provider_slots_.find(demand.provider);
    int cap = slots == provider_slots_.end() ? 1 : std::max(1, slots->second);
    auto busy = provider_busy_.find(demand.provider);
    if (busy != provider_busy_.end() && busy->second >= cap) {
      return absl::StrCat("a ", demand.provider, " slot");
    }
  }
  const StepResources& r = demand.resources;
  if (r.gpu && *r.gpu > static_cast<int>(gpus_free_.size())) return "gpu";
  if (r.cpu && cpu_busy_ + *r.cpu > capacity_.cpu + 1e-9) return "cpu";
  if (r.mem_bytes && mem_busy_ + *r.mem_bytes > capacity_.mem_bytes) return "mem";
  for (const std::string& file : demand.files) {
    if (files_busy_.count(file)) return "a file another step writes";
  }
  return "";
}

bool Admission::OverBudget(RunEntry& entry, const StepDemand& demand) const {
  if (!entry.budget.tokens && !entry.budget.cost) return false;
  Spent spent = entry.spent ? entry.spent() : Spent{};
  if (entry.budget.tokens &&
      spent.tokens + entry.reserved_tokens + demand.est_tokens > *entry.budget.tokens) {
    return true;
  }
  return entry.budget.cost && demand.est_cost &&
         spent.cost + entry.reserved_cost + *demand.est_cost > *entry.budget.cost;
}

void Admission::Take(const std::string& run, RunEntry& entry, int step, bool command,
                     Started* started) {
  const StepDemand& demand = (*entry.demands)[step];
  Held h;
  h.command = command;
  if (command) {
    ++commands_running_;
  } else {
    h.provider = demand.provider;
    ++provider_busy_[demand.provider];
    h.est_tokens = demand.est_tokens;
    h.est_cost = demand.est_cost.value_or(0);
    entry.reserved_tokens += h.est_tokens;
    entry.reserved_cost += h.est_cost;
  }
  for (const std::string& file : demand.files) files_busy_.insert(file);
  h.files = demand.files;
  h.cpu = demand.resources.cpu.value_or(0);
  h.mem_bytes = demand.resources.mem_bytes.value_or(0);
  cpu_busy_ += h.cpu;
  mem_busy_ += h.mem_bytes;
  for (int i = 0; i < demand.resources.gpu.value_or(0); ++i) {
    h.gpu_ids.push_back(*gpus_free_.begin());
    gpus_free_.erase(gpus_free_.begin());
  }
  started->run = run;
  started->step = step;
  started->gpu_ids = h.gpu_ids;
  held_[{run, step}] = std::move(h);
}

Admission::Decisions Admission::Dispatch(int64_t now_ms) {
  Decisions out;
  auto note_waiting = [&](RunEntry& entry, const std::string& run, int step,
                          const std::string& reason) {
    auto it = entry.waiting.find(step);
    const bool waited = it != entry.waiting.end();
    if (waited ? it->second == reason : reason.empty()) return;
    if (reason.empty()) {
      entry.waiting.erase(it);
    } else {
      entry.waiting[step] = reason;
    }
    out.waiting.push_back({run, step, reason});
  };
  bool progress = true;
  while (progress) {
    progress = false;
    // One step per run per round, in turn (the rotation moves on as runs
    // are served).
    std::vector<std::string> order(fair_.order().begin(), fair_.order().end());
    for (const std::string& run : order) {
      RunEntry& entry = runs_.at(run);
      RunScheduler* scheduler = entry.scheduler;
      if (!scheduler->HasWork(now_ms)) continue;
      bool commands_full = commands_running_ >= max_parallel_;
      if (commands_full && entry.only_commands) continue;
      std::optional<int> chosen;
      bool over_budget = false;
      for (int step : scheduler->Ready(now_ms)) {
        const StepDemand& demand = (*entry.demands)[step];
        bool command = demand.provider.empty();
        if (command && commands_full) {
          // Waiting for the daemon's slots is the ordinary pending.
          if (entry.waiting.count(step)) note_waiting(entry, run, step, "");
          continue;
        }
        std::string blocker = Blocker(demand, command);
        if (!blocker.empty()) {
          note_waiting(entry, run, step, blocker);
          continue;
        }
        if (!command && OverBudget(entry, demand)) {
          over_budget = true;
          break;
        }
        chosen = step;
        break;
      }
      if (over_budget) {
        out.over_budget.emplace_back(run, scheduler->StopForBudget());
        continue;
      }
      if (!chosen) continue;
      bool command = (*entry.demands)[*chosen].provider.empty();
      if (entry.waiting.count(*chosen)) entry.waiting.erase(*chosen);
      scheduler->Start(*chosen, now_ms);
      Started started;
      Take(run, entry, *chosen, command, &started);
      out.started.push_back(std::move(started));
      fair_.Served(run);
      progress = true;
      break;  // the rotation changed: start the round again from its front
    }
  }
  return out;
}

void Admission::Release(const std::string& run, int step) {
  auto it = held_.find({run, step});
  if (it == held_.end()) return;
  Held& h = it->second;
  if (h.command) {
    --commands_running_;
  } else {
    --provider_busy_[h.provider];
    if (auto entry = runs_.find(run); entry != runs_.end()) {
      entry->second.reserved_tokens -= h.est_tokens;
      entry->second.reserved_cost -= h.est_cost;
    }
  }
  for (const std::string& file : h.files) files_busy_.erase(file);
  cpu_busy_ -= h.cpu;
  mem_busy_ -= h.mem_bytes;
  for (int id : h.gpu_ids) {
    if (std::find(capacity_.gpu_ids.begin(), capacity_.gpu_ids.end(), id) !=
        capacity_.gpu_ids.end()) {
      gpus_free_.insert(id);
    }
  }
  held_.erase(it);
}

const std::vector<int>* Admission::gpus_of(const std::string& run, int step) const {
  auto it = held_.find({run, step});
  return it == held_.end() ? nullptr : &it->second.gpu_ids;
}

}  // namespace aetherflow
