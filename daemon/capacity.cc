#include "daemon/capacity.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/byte_size.h"

namespace aetherflow {
namespace {

// MemTotal of a /proc/meminfo text ("MemTotal:  16318480 kB"), in bytes;
// 0 when the file or the line is missing.
int64_t ReadMemTotal(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("MemTotal:", 0) != 0) continue;
    std::istringstream fields(line.substr(9));
    int64_t kib = 0;
    std::string unit;
    if (!(fields >> kib) || kib <= 0) return 0;
    fields >> unit;
    // The kernel always says kB (KiB); a bare number would be bytes.
    const int64_t bytes = unit.empty() ? kib : kib * 1024;
    return std::min(bytes, kMaxByteSize);
  }
  return 0;
}

// The N of every /dev/nvidiaN: nvidiactl, nvidia-uvm, nvidia-modeset and
// nvidia-caps are not GPUs.
std::vector<int> FindGpus(const std::string& dev_dir) {
  std::vector<int> ids;
  DIR* dir = ::opendir(dev_dir.c_str());
  if (dir == nullptr) return ids;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string_view name = entry->d_name;
    constexpr std::string_view kPrefix = "nvidia";
    if (name.substr(0, kPrefix.size()) != kPrefix) continue;
    const std::string_view digits = name.substr(kPrefix.size());
    if (digits.empty() || digits.size() > 6 ||
        digits.find_first_not_of("0123456789") != std::string_view::npos) {
      continue;
    }
    int id = 0;
    if (absl::SimpleAtoi(absl::string_view(digits.data(), digits.size()), &id)) {
      ids.push_back(id);
    }
  }
  ::closedir(dir);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  if (ids.size() > static_cast<size_t>(kMaxGpus)) ids.resize(kMaxGpus);
  return ids;
}

}  // namespace

Capacity DetectCapacity(const std::string& dev_dir, const std::string& meminfo) {
  Capacity c;
  long online = ::sysconf(_SC_NPROCESSORS_ONLN);
  if (online <= 0) online = static_cast<long>(std::thread::hardware_concurrency());
  c.cpu = static_cast<double>(std::clamp<long>(online, 1, kMaxCpus));
  c.mem_bytes = ReadMemTotal(meminfo);
  c.gpu_ids = FindGpus(dev_dir);
  return c;
}

Capacity ResolveCapacity(const ResourceCapacity& flag,
                         const ResourceCapacity& config,
                         const Capacity& detected) {
  Capacity c = detected;
  if (flag.cpu) {
    c.cpu = *flag.cpu;
  } else if (config.cpu) {
    c.cpu = *config.cpu;
  }
  if (flag.mem_bytes) {
    c.mem_bytes = *flag.mem_bytes;
  } else if (config.mem_bytes) {
    c.mem_bytes = *config.mem_bytes;
  }
  const std::optional<int> gpus = flag.gpu ? flag.gpu : config.gpu;
  if (gpus) {
    c.gpu_ids.clear();
    for (int i = 0; i < *gpus; ++i) c.gpu_ids.push_back(i);
  }
  return c;
}

std::string DescribeCapacity(const Capacity& capacity) {
  std::string out = absl::StrCat("cpu=", capacity.cpu, ", mem=",
                                 FormatByteSize(capacity.mem_bytes),
                                 ", gpu=", capacity.gpus());
  if (!capacity.gpu_ids.empty()) {
    absl::StrAppend(&out, " (", absl::StrJoin(capacity.gpu_ids, ","), ")");
  }
  return out;
}

absl::Status CheckPlanFits(const Plan& plan, const Capacity& capacity,
                           const std::string& path) {
  std::vector<std::string> problems;
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const StepResources& r = plan.steps[i].resources;
    auto refuse = [&](const std::string& asked, const std::string& has) {
      // Ids are safe names (ParsePlan), so the line stays one line.
      problems.push_back(absl::StrCat(path, ": steps[", i, "] \"",
                                      plan.steps[i].id, "\": asks for ", asked,
                                      ", more than this daemon has (", has,
                                      ")"));
    };
    if (r.cpu && *r.cpu > capacity.cpu) {
      refuse(absl::StrCat("cpu=", *r.cpu), absl::StrCat("cpu=", capacity.cpu));
    }
    if (r.mem_bytes && *r.mem_bytes > capacity.mem_bytes) {
      refuse(absl::StrCat("mem=", FormatByteSize(*r.mem_bytes)),
             absl::StrCat("mem=", FormatByteSize(capacity.mem_bytes)));
    }
    if (r.gpu && *r.gpu > capacity.gpus()) {
      refuse(absl::StrCat("gpu=", *r.gpu), absl::StrCat("gpu=", capacity.gpus()));
    }
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
}

}  // namespace aetherflow
