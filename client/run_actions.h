// Cancel, pause and resume of a run from a loop that must not block (the
// curses monitor: STYLE rules 9 and 17). The RPC runs on gRPC's callback
// threads; the loop starts it and later takes its outcome.
#ifndef AETHERFLOW_CLIENT_RUN_ACTIONS_H_
#define AETHERFLOW_CLIENT_RUN_ACTIONS_H_

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "aetherflow/v1/aetherflow.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace aetherflow {

enum class RunAction { kCancel, kPause, kResume };

// A finished call: the daemon's answer, or its error.
struct RunActionOutcome {
  RunAction action = RunAction::kCancel;
  grpc::Status status;
  ::aetherflow::v1::RunSnapshot snapshot;  // when status.ok()
};

// One call at a time. Not thread-safe itself: one owner (the UI thread)
// calls Start and Take; the callback only fills the outcome under its lock.
class RunActions {
 public:
  // `stub` must outlive this object. `resume_env` goes with a resume, as
  // `aetherflow resume` sends the shell's environment.
  RunActions(::aetherflow::v1::AetherFlow::Stub* stub, std::string run_id,
             std::map<std::string, std::string> resume_env = {});
  // Waits up to 2 s for a call still in flight, then cancels it, and waits
  // for its callback (gRPC finishes every call, cancelled or not), so
  // nothing outlives this.
  ~RunActions();

  // Sends `action` unless a call is in flight (then false: the user
  // pressed again before the daemon answered). Returns at once; the call
  // has a 10 s deadline.
  bool Start(RunAction action);
  // The outcome of the last call, once, when it has finished; nullopt
  // while it is in flight or when there is none.
  std::optional<RunActionOutcome> Take();
  bool busy();

 private:
  struct Call;
  ::aetherflow::v1::AetherFlow::Stub* stub_;
  const std::string run_id_;
  const std::map<std::string, std::string> resume_env_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<Call> call_ ABSL_GUARDED_BY(mu_);  // in flight or finished
  bool in_flight_ ABSL_GUARDED_BY(mu_) = false;
};

// The verb of a flash while `action` is under way: "cancelling the run…"
// ("..." without UTF-8).
std::string RunActionPending(RunAction action, bool utf8);
// One line for the outcome: "run 1a2b paused; running steps go on to their
// end", "run 1a2b goes on", or the daemon's error message.
std::string RunActionMessage(const RunActionOutcome& outcome);

}  // namespace aetherflow

#endif  // AETHERFLOW_CLIENT_RUN_ACTIONS_H_
