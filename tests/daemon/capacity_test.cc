#include "daemon/capacity.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/plan_parser.h"
#include "gtest/gtest.h"

namespace aetherflow {
namespace {

namespace fs = std::filesystem;

class CapacityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = ::testing::TempDir() + "/capacity_test.XXXXXX";
    ASSERT_NE(::mkdtemp(templ.data()), nullptr);
    dir_ = templ;
    fs::create_directory(dev());
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string dev() const { return dir_ + "/dev"; }
  void Touch(const std::string& name) { std::ofstream(dev() + "/" + name); }
  std::string Meminfo(const std::string& text) {
    const std::string path = dir_ + "/meminfo";
    std::ofstream(path) << text;
    return path;
  }

  std::string dir_;
};

TEST_F(CapacityTest, GpusAreTheNvidiaNumberedDevicesInNumericOrder) {
  for (const char* name : {"nvidia10", "nvidia1", "nvidiactl", "nvidia0",
                           "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset",
                           "nvidia2", "nvidia2x", "nvme0", "null"}) {
    Touch(name);
  }
  fs::create_directory(dev() + "/nvidia-caps");
  const Capacity c = DetectCapacity(dev(), Meminfo(""));
  EXPECT_EQ(c.gpu_ids, (std::vector<int>{0, 1, 2, 10}));
  EXPECT_EQ(c.gpus(), 4);
}

TEST_F(CapacityTest, NoNvidiaDevicesNoGpus) {
  Touch("nvidiactl");
  EXPECT_TRUE(DetectCapacity(dev(), Meminfo("")).gpu_ids.empty());
  EXPECT_TRUE(DetectCapacity(dir_ + "/missing", Meminfo("")).gpu_ids.empty());
}

TEST_F(CapacityTest, MemoryIsMemTotalAndCpusAreOnline) {
  const Capacity c = DetectCapacity(
      dev(), Meminfo("MemFree:         1000 kB\n"
                     "MemTotal:       16318480 kB\n"
                     "MemAvailable:    9000000 kB\n"));
  EXPECT_EQ(c.mem_bytes, int64_t{16318480} * 1024);
  EXPECT_EQ(c.cpu, static_cast<double>(::sysconf(_SC_NPROCESSORS_ONLN)));
  EXPECT_GE(c.cpu, 1);
  // No meminfo, or no MemTotal line: memory unknown (0).
  EXPECT_EQ(DetectCapacity(dev(), dir_ + "/none").mem_bytes, 0);
  EXPECT_EQ(DetectCapacity(dev(), Meminfo("MemFree: 1 kB\n")).mem_bytes, 0);
}

TEST_F(CapacityTest, TheRealMachineHasCpusAndMemory) {
  const Capacity c = DetectCapacity();
  EXPECT_GE(c.cpu, 1);
  EXPECT_GT(c.mem_bytes, 0);
}

TEST(ResolveCapacityTest, FlagThenConfigThenDetected) {
  Capacity detected;
  detected.cpu = 8;
  detected.mem_bytes = int64_t{32} << 30;
  detected.gpu_ids = {0, 2, 3};
  // Nothing named: what the machine has.
  Capacity c = ResolveCapacity({}, {}, detected);
  EXPECT_EQ(c.cpu, 8);
  EXPECT_EQ(c.mem_bytes, int64_t{32} << 30);
  EXPECT_EQ(c.gpu_ids, (std::vector<int>{0, 2, 3}));

  ResourceCapacity config;
  config.cpu = 4;
  config.gpu = 2;
  ResourceCapacity flag;
  flag.cpu = 16;
  flag.mem_bytes = int64_t{64} << 30;
  c = ResolveCapacity(flag, config, detected);
  EXPECT_EQ(c.cpu, 16);                        // the flag
  EXPECT_EQ(c.mem_bytes, int64_t{64} << 30);  // the flag
  EXPECT_EQ(c.gpu_ids, (std::vector<int>{0, 1}));  // the config: 0..N-1

  c = ResolveCapacity({}, config, detected);
  EXPECT_EQ(c.cpu, 4);
  EXPECT_EQ(c.mem_bytes, int64_t{32} << 30);  // detected

  flag = {};
  flag.gpu = 0;  // no GPUs, although the machine and the config have some
  c = ResolveCapacity(flag, config, detected);
  EXPECT_TRUE(c.gpu_ids.empty());
}

TEST(ResolveCapacityTest, Describe) {
  Capacity c;
  c.cpu = 16;
  c.mem_bytes = int64_t{64} << 30;
  c.gpu_ids = {0, 1};
  EXPECT_EQ(DescribeCapacity(c), "cpu=16, mem=64G, gpu=2 (0,1)");
  c.cpu = 1.5;
  c.mem_bytes = int64_t{16318480} * 1024;
  c.gpu_ids.clear();
  EXPECT_EQ(DescribeCapacity(c), "cpu=1.5, mem=15.6G, gpu=0");
}

TEST(CheckPlanFitsTest, NamesEveryStepAndResourceThatCanNeverFit) {
  Capacity c;
  c.cpu = 4;
  c.mem_bytes = int64_t{8} << 30;
  c.gpu_ids = {0, 1};
  absl::StatusOr<Plan> plan = ParsePlan(R"({"steps": [
    {"id": "fits", "run": "true", "resources": {"cpu": 4, "mem": "8G", "gpu": 2}},
    {"id": "plain", "run": "true"},
    {"id": "big", "run": "true", "resources": {"cpu": 4.5, "mem": "9G"}},
    {"id": "gpus", "run": "true", "resources": {"gpu": 3}}]})",
                                        "plan.json");
  ASSERT_TRUE(plan.ok()) << plan.status();
  absl::Status fits = CheckPlanFits(*plan, c, "plan.json");
  EXPECT_EQ(fits.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(fits.message(),
            "plan.json: steps[2] \"big\": asks for cpu=4.5, more than this daemon "
            "has (cpu=4)\n"
            "plan.json: steps[2] \"big\": asks for mem=9G, more than this daemon "
            "has (mem=8G)\n"
            "plan.json: steps[3] \"gpus\": asks for gpu=3, more than this daemon "
            "has (gpu=2)");
  c.cpu = 8;
  c.mem_bytes = int64_t{16} << 30;
  c.gpu_ids = {0, 1, 2};
  EXPECT_TRUE(CheckPlanFits(*plan, c, "plan.json").ok());
}

}  // namespace
}  // namespace aetherflow
