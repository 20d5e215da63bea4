#include "daemon/pump.h"

#include <future>

#include "gtest/gtest.h"

namespace aetherflow {
namespace {

constexpr auto kBound = std::chrono::seconds(20);

// Tells the test once it is serviced.
class Probe : public StreamCore {
 public:
  void Service() override {
    if (!serviced_.exchange(true)) promise_.set_value();
  }
  std::future<void> Serviced() { return promise_.get_future(); }

 private:
  std::atomic<bool> serviced_{false};
  std::promise<void> promise_;
};

TEST(PumpTest, ATimerSetWhileThePumpSleepsFires) {
  Pump pump;
  pump.TEST_WaitForSleep();  // asleep with no timer at all
  auto probe = std::make_shared<Probe>();
  std::future<void> serviced = probe->Serviced();
  pump.WakeAt(Pump::Clock::now() + std::chrono::milliseconds(5), probe);
  EXPECT_EQ(serviced.wait_for(kBound), std::future_status::ready)
      << "a pump with no timer waited for queued work only";
}

TEST(PumpTest, AnEarlierTimerIsNotHeldBackByALaterOne) {
  Pump pump;
  auto later = std::make_shared<Probe>();
  pump.WakeAt(Pump::Clock::now() + std::chrono::hours(1), later);
  pump.TEST_WaitForSleep();  // asleep until the later one
  auto sooner = std::make_shared<Probe>();
  std::future<void> serviced = sooner->Serviced();
  pump.WakeAt(Pump::Clock::now() + std::chrono::milliseconds(5), sooner);
  EXPECT_EQ(serviced.wait_for(kBound), std::future_status::ready);
}

TEST(PumpTest, EnqueuedWorkIsServiced) {
  Pump pump;
  auto probe = std::make_shared<Probe>();
  std::future<void> serviced = probe->Serviced();
  pump.Enqueue(probe);
  EXPECT_EQ(serviced.wait_for(kBound), std::future_status::ready);
}

}  // namespace
}  // namespace aetherflow
