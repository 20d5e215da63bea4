// The live monitor's screen as a pure view model (STYLE rule 9): what the
// curses loop paints, line by line, and what a key press does to the UI
// state. No curses here, no I/O, time passed in, so tests check the screen
// for any terminal size.
//
// The painter's loop, per frame:
//   SyncView(snapshot, &ui, rows);        // follow + clamping, stored back
//   for (line : LayoutScreen(snapshot, ui, cols, rows, now_ms, utf8))
//     paint line.text with line.style, then the status span;
// and per key: act on HandleKey(key, snapshot, &ui, rows).
#ifndef AETHERFLOW_CLIENT_MONITOR_SCREEN_H_
#define AETHERFLOW_CLIENT_MONITOR_SCREEN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "aetherflow/v1/aetherflow.pb.h"

namespace aetherflow {

namespace pb = ::aetherflow::v1;

// The monitor's UI state, owned by the curses loop.
struct MonitorUi {
  int scroll = 0;    // index in steps of the first table row shown
  int selected = 0;  // index in steps of the selected row
  // Keep running steps in view: the selection follows the first running
  // step. Moving the selection turns it off, `f` turns it back on.
  bool follow = true;
  bool show_help = false;
  bool show_log = false;
  // The selected step's log, one line per element (the caller reads it;
  // control characters and ANSI escapes are made safe by LayoutScreen).
  std::vector<std::string> log_tail;
  bool confirm_cancel = false;  // "Cancel run ID? y/n" is asked
  // "Pause run ID? y/n" is asked, or "Resume run ID? y/n" when the run was
  // paused as the question was put.
  bool confirm_pause = false;
  bool confirm_resume = false;
  std::string flash;            // a one-line message in the footer
  // Ctrl-C cancels the run (`run`, `resume --follow`: SPEC §4's foreground
  // semantics); otherwise it detaches (`attach`). The footer says which.
  bool interrupt_cancels = false;
};

// What a line (or span) means; the painter maps it to attributes, e.g.
// kTitle A_BOLD, kHeader A_BOLD|A_UNDERLINE, kDim A_DIM, kSelected
// A_REVERSE, kCompleted green, kFailed red (bold), kRunning yellow,
// kPending and kSkipped A_DIM, kWarning yellow/bold.
enum class Style {
  kNormal,
  kTitle,
  kHeader,
  kDim,
  kSelected,
  kCompleted,
  kFailed,
  kRunning,
  kPending,
  kSkipped,
  kWarning
};

// One screen line: `text` takes at most the screen's width in display
// columns and holds no control characters. `style` applies to the whole
// line; when status_width > 0, the span [status_col, status_col +
// status_width) (display columns; bytes [status_byte, status_byte +
// status_bytes) of text) is drawn with `status_style` on top (a step's
// status cell, the run's state word). A kSelected line keeps its status
// span: paint it as status_style plus reverse.
struct ScreenLine {
  std::string text;
  Style style = Style::kNormal;
  int status_col = 0;
  int status_width = 0;
  int status_byte = 0;
  int status_bytes = 0;
  Style status_style = Style::kNormal;
};

// The style of a step's status cell (kCompleted for completed...).
Style StepStyle(const pb::Step& step);

// A step's row of the monitor's table, cell by cell, uncut (the web page
// shows the same): Step, Type ("-" when none), Provider ("-"), Status
// (StepStatusLabel), Time (every attempt; "-" before the first), Tokens,
// Cost, Description ("[progress] " first while it runs).
struct StepCells {
  std::string id, type, provider, status, time, tokens, cost, description;
  Style style = Style::kNormal;  // of the status cell
};
StepCells MonitorStepCells(const pb::Step& step, int64_t now_ms, bool utf8);

// The table rows in view, after follow and clamping: rows
// [first, first + count) of steps, and the selected row (-1 when there
// are no steps). O(steps) at most once (to find the first running step).
struct TableWindow {
  int first = 0;
  int count = 0;
  int selected = -1;
  int total = 0;
};
TableWindow ResolveWindow(const pb::RunSnapshot& snapshot, const MonitorUi& ui,
                          int height);
// ResolveWindow(...).first: the scroll the screen of this height shows.
int ClampScroll(const pb::RunSnapshot& snapshot, const MonitorUi& ui, int height);
// Stores the resolved scroll and selection into *ui, so that the window
// stays put from frame to frame and keys move from what the user sees.
// Call it before each LayoutScreen (HandleKey calls it itself).
void SyncView(const pb::RunSnapshot& snapshot, MonitorUi* ui, int height);

// The whole screen: exactly `height` lines (empty ones pad), each at most
// `width` display columns, for width >= 20 and height >= 5 (smaller sizes
// give a best effort). Header (plan description, run id and state,
// progress bar, counts, batch, elapsed, tokens, cost — fewer lines when
// the screen is short; a paused run's state reads "⏸ Paused"), the step
// table (columns dropped as the width shrinks; only the rows in view are
// formatted; a waiting step's status says for what), or the help, or the
// selected step's log tail; last line: key hints ("^C cancel" with
// ui.interrupt_cancels), ui.flash, or the cancel, pause or resume prompt, with "steps 41-60 of 10000" when not every row
// fits (at most width - 1 columns: the bottom-right cell stays empty for
// curses). The
// selected row is padded with spaces to the full width for the highlight.
// `now_ms` makes running steps' times tick; `utf8` false: ASCII symbols.
std::vector<ScreenLine> LayoutScreen(const pb::RunSnapshot& snapshot,
                                     const MonitorUi& ui, int width, int height,
                                     int64_t now_ms, bool utf8);

// Key codes: the values of ncurses' KEY_* (so no curses header is needed
// here); plain keys are their characters.
inline constexpr int kKeyEscape = 27;
inline constexpr int kKeyDown = 0402;      // KEY_DOWN
inline constexpr int kKeyUp = 0403;        // KEY_UP
inline constexpr int kKeyHome = 0406;      // KEY_HOME
inline constexpr int kKeyNextPage = 0522;  // KEY_NPAGE
inline constexpr int kKeyPageDown = kKeyNextPage;
inline constexpr int kKeyPrevPage = 0523;  // KEY_PPAGE
inline constexpr int kKeyPageUp = kKeyPrevPage;
inline constexpr int kKeyEnter = 0527;     // KEY_ENTER (also '\n', '\r')
inline constexpr int kKeyEnd = 0550;       // KEY_END
inline constexpr int kKeyResize = 0632;    // KEY_RESIZE

// What the loop must do after a key.
enum class MonitorAction {
  kNone,             // nothing changed
  kRedraw,           // the UI state changed: paint again
  kDetach,           // leave; the run goes on
  kCancelConfirmed,  // call CancelRun, then keep monitoring
  kPauseConfirmed,   // call PauseRun, then keep monitoring
  kResumeConfirmed,  // call ResumeRun (the run is paused), keep monitoring
  kOpenLog,          // (re)load ui->log_tail for steps(ui->selected), paint
  kCloseLog,         // stop reading the log, paint
};

// Applies `key` to *ui for a screen of `height` lines:
//   q Q          detach (always, even in the log, help or prompt)
//   c C          ask "Cancel run ID? y/n" (a flash when the run is over)
//   p P          ask "Pause run ID? y/n", or "Resume run ID? y/n" when the
//                run is paused (a flash when the run is over)
//   y Y          while asked: kCancelConfirmed, kPauseConfirmed or
//                kResumeConfirmed; n N Esc: dismiss
//   ?            toggle the help;  Esc: close help, else log, else flash
//   Up/k Down/j  PgUp PgDn  Home/g End/G: move the selection (follow off);
//                in the log view a new selection gives kOpenLog
//   f F          follow running steps again
//   Enter        open the selected step's log (follow off, so the log
//                stays on that step) / close it
//   resize       kRedraw
// Any other key: kNone. A handled key clears ui->flash unless it sets a
// new one.
MonitorAction HandleKey(int key, const pb::RunSnapshot& snapshot, MonitorUi* ui,
                        int height);

}  // namespace aetherflow

#endif  // AETHERFLOW_CLIENT_MONITOR_SCREEN_H_
