// The curses monitor: paints the pure screen model (client/monitor_screen.h)
// on the terminal and turns keys into actions. The only file of the client
// that includes <ncurses.h>; one UI thread (curses is not thread-safe): the
// event feed's reader thread only fills the model.
#ifndef AETHERFLOW_CLIENT_MONITOR_VIEW_H_
#define AETHERFLOW_CLIENT_MONITOR_VIEW_H_

#include <atomic>

#include "client/commands.h"

namespace aetherflow {

class Connection;
class EventFeed;

// Shows the run live until it ends or the user detaches (q, or
// `detached` set by a signal). Returns 130 when detached, else 0 (the
// caller prints the final summary once the terminal is restored).
// `interrupt_cancels`: Ctrl-C cancels the run (the footer says so).
int RunCursesMonitor(const GlobalOptions& global, Connection* connection,
                     EventFeed* feed, std::atomic<bool>& detached,
                     bool interrupt_cancels = false);

}  // namespace aetherflow

#endif  // AETHERFLOW_CLIENT_MONITOR_VIEW_H_
