// The client's model of a followed run: a snapshot kept current by applying
// the run's events in sequence order. Pure.
#ifndef AETHERFLOW_CLIENT_RUN_MODEL_H_
#define AETHERFLOW_CLIENT_RUN_MODEL_H_

#include <string>
#include <unordered_map>

#include "aetherflow/v1/aetherflow.pb.h"

namespace aetherflow {

class RunModel {
 public:
  explicit RunModel(::aetherflow::v1::RunSnapshot snapshot);

  // Applies `event` if it is the next one (seq == last_seq + 1) or a later
  // one after a gap the caller accepts; ignores events already applied.
  // Returns whether it was applied. A step's waiting_for follows
  // STEP_FIGURES events (empty clears it) and clears when it leaves
  // pending.
  bool Apply(const ::aetherflow::v1::Event& event);

  const ::aetherflow::v1::RunSnapshot& snapshot() const { return snapshot_; }
  // The step with this id, or null.
  const ::aetherflow::v1::Step* FindStep(const std::string& id) const {
    auto it = index_.find(id);
    return it == index_.end() ? nullptr : &snapshot_.steps(it->second);
  }
  int64_t last_seq() const { return snapshot_.run().last_seq(); }
  // The run reached a final state: not queued, running or paused.
  bool finished() const;

 private:
  void Count(::aetherflow::v1::StepState state, int delta);
  ::aetherflow::v1::RunSnapshot snapshot_;
  std::unordered_map<std::string, int> index_;
};

}  // namespace aetherflow

#endif  // AETHERFLOW_CLIENT_RUN_MODEL_H_
