#include "client/monitor_view.h"

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "client/cli_util.h"
#include "client/connection.h"
#include "client/follow.h"
#include "client/monitor_screen.h"
#include "client/run_actions.h"

// Last: <ncurses.h> defines macros (OK, ERR...) that clash with gRPC's
// names, so nothing may be included after it, and OK goes.
#include <ncurses.h>
#undef OK

namespace aetherflow {
namespace {

namespace pb = ::aetherflow::v1;

// Restores the terminal however the monitor ends (htop's CRT_done).
class Terminal {
 public:
  explicit Terminal(bool color) {
    screen_ = newterm(nullptr, stdout, stdin);
    if (!screen_) return;
    cbreak();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    curs_set(0);
    timeout(100);  // getch waits at most 100 ms: repaint within 100 ms
    set_escdelay(25);  // Esc closes views at once, not after a second
    if (color && has_colors()) {
      start_color();
      use_default_colors();
      init_pair(1, COLOR_GREEN, -1);
      init_pair(2, COLOR_RED, -1);
      init_pair(3, COLOR_YELLOW, -1);
      init_pair(4, COLOR_CYAN, -1);
      color_ = true;
    }
  }
  ~Terminal() {
    if (!screen_) return;
    endwin();
    delscreen(screen_);
  }
  bool ok() const { return screen_ != nullptr; }

  attr_t Attr(Style style) const {
    auto pair = [&](int n) { return color_ ? COLOR_PAIR(n) : A_NORMAL; };
    switch (style) {
      case Style::kTitle: return A_BOLD;
      case Style::kHeader: return A_BOLD | A_UNDERLINE;
      case Style::kDim:
      case Style::kPending:
      case Style::kSkipped: return A_DIM;
      case Style::kSelected: return A_REVERSE;
      case Style::kCompleted: return pair(1);
      case Style::kFailed: return pair(2) | A_BOLD;
      case Style::kRunning: return pair(3) | A_BOLD;
      case Style::kWarning: return pair(3);
      default: return A_NORMAL;
    }
  }

 private:
  SCREEN* screen_ = nullptr;
  bool color_ = false;
};

void Paint(const Terminal& term, const std::vector<ScreenLine>& lines) {
  erase();
  for (int row = 0; row < static_cast<int>(lines.size()); ++row) {
    const ScreenLine& line = lines[row];
    attr_t base = term.Attr(line.style);
    if (line.status_bytes > 0) {
      attrset(base);
      mvaddnstr(row, 0, line.text.data(), line.status_byte);
      attr_t status = term.Attr(line.status_style);
      if (line.style == Style::kSelected) status |= A_REVERSE;
      attrset(status);
      addnstr(line.text.data() + line.status_byte, line.status_bytes);
      attrset(base);
      addstr(line.text.c_str() + line.status_byte + line.status_bytes);
    } else {
      attrset(base);
      mvaddstr(row, 0, line.text.c_str());
    }
  }
  attrset(A_NORMAL);
  refresh();
}

std::vector<std::string> TailLines(const std::string& text) {
  return absl::StrSplit(text, '\n');
}

}  // namespace

int RunCursesMonitor(const GlobalOptions& global, Connection* connection,
                     EventFeed* feed, std::atomic<bool>& detached,
                     bool interrupt_cancels) {
  Terminal term(global.color);
  if (!term.ok()) return -1;  // the caller falls back to plain mode
  MonitorUi ui;
  ui.interrupt_cancels = interrupt_cancels;
  pb::RunSnapshot snapshot = feed->Snapshot();
  bool dirty = true;
  auto last_paint = std::chrono::steady_clock::now();
  auto last_log = last_paint;
  // Cancel, pause and resume answer later: the loop never waits on an RPC.
  RunActions actions(connection->stub(), feed->run_id(), ShellEnvironment());
  // Ctrl-C's notice goes to the footer while curses owns the screen: a
  // line on stderr would land in the middle of it.
  feed->set_in_monitor(true);
  struct Leave {
    EventFeed* feed;
    ~Leave() { feed->set_in_monitor(false); }
  } leave{feed};
  while (!detached) {
    if (std::optional<std::string> notice = feed->TakeNotice()) {
      ui.flash = std::string(absl::StripPrefix(*notice, "aetherflow: "));
      dirty = true;
    }
    if (std::optional<RunActionOutcome> outcome = actions.Take()) {
      ui.flash = RunActionMessage(*outcome);
      dirty = true;
    }
    if (!feed->TakeEvents().empty()) {
      snapshot = feed->Snapshot();
      dirty = true;
    }
    auto now = std::chrono::steady_clock::now();
    // Running steps' times tick: repaint at least every second.
    if (now - last_paint >= std::chrono::seconds(1)) dirty = true;
    if (ui.show_log && now - last_log >= std::chrono::seconds(1) &&
        ui.selected < snapshot.steps_size()) {
      ui.log_tail = TailLines(LogTail(connection, feed->run_id(),
                                      snapshot.steps(ui.selected).id(), LINES,
                                      global.utf8));
      last_log = now;
      dirty = true;
    }
    if (dirty) {
      SyncView(snapshot, &ui, LINES);
      Paint(term, LayoutScreen(snapshot, ui, COLS, LINES, WallNowMs(), global.utf8));
      last_paint = now;
      dirty = false;
    }
    if (feed->done()) break;
    int key = getch();
    if (key == ERR) continue;
    const MonitorAction confirmed = HandleKey(key, snapshot, &ui, LINES);
    switch (confirmed) {
      case MonitorAction::kNone:
        break;
      case MonitorAction::kDetach:
        detached = true;
        break;
      case MonitorAction::kCancelConfirmed:
      case MonitorAction::kPauseConfirmed:
      case MonitorAction::kResumeConfirmed: {
        const RunAction action = confirmed == MonitorAction::kCancelConfirmed
                                     ? RunAction::kCancel
                                 : confirmed == MonitorAction::kPauseConfirmed
                                     ? RunAction::kPause
                                     : RunAction::kResume;
        ui.flash = actions.Start(action) ? RunActionPending(action, global.utf8)
                                         : "still waiting for the daemon's answer";
        dirty = true;
        break;
      }
      case MonitorAction::kOpenLog:
        if (ui.selected < snapshot.steps_size()) {
          ui.log_tail = TailLines(LogTail(connection, feed->run_id(),
                                          snapshot.steps(ui.selected).id(), LINES,
                                          global.utf8));
          last_log = std::chrono::steady_clock::now();
        }
        dirty = true;
        break;
      case MonitorAction::kCloseLog:
      case MonitorAction::kRedraw:
        dirty = true;
        break;
    }
  }
  return detached ? 130 : 0;
}

}  // namespace aetherflow
