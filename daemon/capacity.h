// The daemon's capacity for steps' resources (SPEC §9): what `--resources`
// names, else what the config's [resources] names, else what the machine
// has (its CPUs, its memory, and the GPUs it finds as /dev/nvidia[0-9]*).
#ifndef AETHERFLOW_DAEMON_CAPACITY_H_
#define AETHERFLOW_DAEMON_CAPACITY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/config.h"
#include "common/plan.h"

namespace aetherflow {

struct Capacity {
  double cpu = 0;              // CPUs
  int64_t mem_bytes = 0;       // bytes
  std::vector<int> gpu_ids;    // the GPUs' indices (CUDA_VISIBLE_DEVICES)
  int gpus() const { return static_cast<int>(gpu_ids.size()); }
};

// What this machine has: CPUs online, MemTotal of /proc/meminfo, and the
// indices N of the /dev/nvidiaN devices under `dev_dir`.
Capacity DetectCapacity(const std::string& dev_dir = "/dev",
                        const std::string& meminfo = "/proc/meminfo");

// Each resource from `flag` (--resources), else `config` ([resources]),
// else `detected`. A configured GPU count gives indices 0..N-1.
Capacity ResolveCapacity(const ResourceCapacity& flag,
                         const ResourceCapacity& config,
                         const Capacity& detected);

// "cpu=16, mem=64G, gpu=2 (0,1)": for the daemon's start-up log line.
std::string DescribeCapacity(const Capacity& capacity);

// Whether every step of `plan` can ever start on `capacity` (SPEC §9: a
// step that asks for more than the daemon has is refused at submit).
// InvalidArgumentError with one line per step and resource that cannot,
// `FILE: steps[3] "train": asks for gpu=4, more than this daemon has
// (gpu=2)`, FILE being `path`; OK otherwise.
absl::Status CheckPlanFits(const Plan& plan, const Capacity& capacity,
                           const std::string& path);

}  // namespace aetherflow

#endif  // AETHERFLOW_DAEMON_CAPACITY_H_
