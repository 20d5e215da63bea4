// Following a run: a background reader keeps a RunModel current from the
// daemon's event stream (reconnecting and catching up from the last
// sequence number if the daemon restarts), and front ends show it: plain
// lines (pipes, CI, TERM=dumb) or the curses monitor.
#ifndef AETHERFLOW_CLIENT_FOLLOW_H_
#define AETHERFLOW_CLIENT_FOLLOW_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "aetherflow/v1/aetherflow.pb.h"
#include "client/commands.h"
#include "client/run_model.h"

namespace aetherflow {

class Connection;

class EventFeed {
 public:
  // With `from_start`, the model starts from the run as it was before its
  // first event and every event is delivered; otherwise from now on.
  EventFeed(const GlobalOptions& global, Connection* connection,
            std::string run_ref, bool from_start);
  ~EventFeed();

  // Takes the first snapshot and starts the reader. Returns 0, or the exit
  // code after printing why it could not.
  int Start();
  // Ends the stream; Wait() returns and done() becomes true.
  void Stop();

  // Waits until there are new events, the feed ended, or `deadline`.
  void Wait(std::chrono::steady_clock::time_point deadline);
  // The events applied since the last call, in order.
  std::vector<::aetherflow::v1::Event> TakeEvents();
  // A copy of the current model's snapshot.
  ::aetherflow::v1::RunSnapshot Snapshot();
  // Runs `f` on the model under the feed's lock.
  void With(const std::function<void(const RunModel&)>& f);

  bool done();
  bool finished();  // the run reached a final state
  // Set when the feed ended on an error (then already printed).
  int error_exit_code();
  const std::string& run_id() const { return run_id_; }

  // A line for the person watching (the Ctrl-C that cancels): on stderr,
  // or, while the curses monitor owns the screen, in its footer.
  void Notice(const std::string& text);
  std::optional<std::string> TakeNotice();  // for the monitor
  void set_in_monitor(bool on) { in_monitor_ = on; }

 private:
  void ReadLoop();

  const GlobalOptions& global_;
  Connection* connection_;
  std::string run_id_;
  bool from_start_;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::unique_ptr<RunModel> model_;            // guarded by mu_
  std::vector<::aetherflow::v1::Event> new_;  // guarded by mu_
  bool done_ = false;                          // guarded by mu_
  int error_exit_code_ = 0;                    // guarded by mu_
  std::atomic<bool> stop_{false};
  void* context_ = nullptr;                    // grpc::ClientContext*, mu_
  std::optional<std::string> notice_;          // guarded by mu_
  std::atomic<bool> in_monitor_{false};
};

// Plain mode: one line per state change, a progress line when nothing has
// changed for `progress_interval`, then the final table and summary.
// Returns the run's exit code (0 succeeded, 1 otherwise), 130 if detached.
int FollowPlain(const GlobalOptions& global, Connection* connection,
                EventFeed* feed, const std::atomic<bool>& detached);

// The curses monitor when stdout is a terminal (and TERM is not dumb,
// and --plain was not given), else plain mode; then the final summary.
// `interrupt_cancels`: Ctrl-C cancels the run (`run`), which the monitor's
// footer says.
int FollowRun(const GlobalOptions& global, Connection* connection,
              EventFeed* feed, std::atomic<bool>& detached,
              bool interrupt_cancels = false);

// The final table and summary (with the failed steps' log tails) of a run:
// from `feed`'s model when it followed the run to its end (every event
// applied: nothing to ask the daemon again), else from the daemon.
int PrintFinal(const GlobalOptions& global, Connection* connection,
               const std::string& run_id, EventFeed* feed = nullptr);

// The last `lines` lines of a step's log ("" if none), attempt markers
// shown as headings ("──" or, without `utf8`, "--").
std::string LogTail(Connection* connection, const std::string& run_id,
                    const std::string& step, int lines, bool utf8 = true);

}  // namespace aetherflow

#endif  // AETHERFLOW_CLIENT_FOLLOW_H_
