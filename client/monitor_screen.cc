#include "client/monitor_screen.h"

#include <algorithm>
#include <cmath>
#include <string_view>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/render.h"
#include "common/duration.h"
#include "common/text.h"

namespace aetherflow {
namespace {

// --- The frame: which parts of the screen get how many lines ------------

enum HeaderLine {
  kTitleLine,
  kRunLine,
  kProgressLine,
  kCountsLine,
  kFiguresLine,
  kReasonLine,
  kBlankLine,
  kHeaderLines
};

// The order in which header lines are given up as the screen gets
// shorter: the last ones first. Progress and state matter most.
constexpr HeaderLine kHeaderPriority[] = {kProgressLine, kRunLine,   kCountsLine,
                                          kFiguresLine,  kTitleLine, kReasonLine,
                                          kBlankLine};

// Below this many lines for the table and log together, the log takes the
// whole area instead of sharing it.
constexpr int kSplitLogMin = 12;

// A paused run is not over: it can be resumed or cancelled.
bool RunOver(const pb::Run& run) {
  return run.state() != pb::RUN_STATE_UNSPECIFIED && run.state() != pb::RUN_QUEUED &&
         run.state() != pb::RUN_RUNNING && run.state() != pb::RUN_PAUSED;
}

// A question waits for y/n.
bool Asking(const MonitorUi& ui) {
  return ui.confirm_cancel || ui.confirm_pause || ui.confirm_resume;
}

bool HasReasonLine(const pb::Run& run) {
  return RunOver(run) && !run.reason().empty();
}

struct Frame {
  bool header[kHeaderLines] = {};
  int header_count = 0;
  int table_lines = 0;  // the column header line included
  int log_lines = 0;    // the title line included
  int help_lines = 0;
  int footer_lines = 0;
  int rows() const { return std::max(0, table_lines - 1); }
};

Frame ComputeFrame(const pb::RunSnapshot& snapshot, const MonitorUi& ui, int height) {
  Frame f;
  if (height <= 0) return f;
  f.footer_lines = 1;
  const int n = snapshot.steps_size();
  // Keep room for the column header and a couple of rows whatever the
  // view, so that the header does not jump when the help or log opens.
  const int reserve = 1 + std::min(std::max(n, 1), 2);
  int budget = std::max(0, height - f.footer_lines - reserve);
  const bool reason = HasReasonLine(snapshot.run());
  for (HeaderLine line : kHeaderPriority) {
    if (budget == 0) break;
    if (line == kReasonLine && !reason) continue;
    f.header[line] = true;
    ++f.header_count;
    --budget;
  }
  const int area = std::max(0, height - f.footer_lines - f.header_count);
  if (ui.show_help) {
    f.help_lines = area;
  } else if (ui.show_log) {
    if (area >= kSplitLogMin) {
      f.table_lines = std::max(3, area / 3);
      f.log_lines = area - f.table_lines;
    } else {
      f.log_lines = area;
    }
  } else {
    f.table_lines = area;
  }
  return f;
}

int FirstRunning(const pb::RunSnapshot& snapshot) {
  for (int i = 0; i < snapshot.steps_size(); ++i) {
    if (snapshot.steps(i).state() == pb::STEP_RUNNING) return i;
  }
  return -1;
}

TableWindow Resolve(const pb::RunSnapshot& snapshot, const MonitorUi& ui,
                    const Frame& frame, int first_running) {
  TableWindow w;
  const int n = snapshot.steps_size();
  w.total = n;
  if (n == 0) return w;
  int sel = std::clamp(ui.selected, 0, n - 1);
  if (ui.follow && first_running >= 0) sel = first_running;
  w.selected = sel;
  // A split log view shows fewer rows than the table view; both keep the
  // selection in view.
  const int rows = frame.rows();
  const int max_first = std::max(0, n - rows);
  int first = std::clamp(ui.scroll, 0, max_first);
  if (rows > 0 && (sel < first || sel >= first + rows)) {
    if (ui.follow) {
      // Jump with some finished steps above for context, so that the
      // window moves rarely as running steps advance.
      first = sel - rows / 4;
    } else {
      first = sel < first ? sel : sel - rows + 1;
    }
    first = std::clamp(first, 0, max_first);
  }
  w.first = first;
  w.count = std::min(rows, n - first);
  return w;
}

// --- One O(n) scan for what column widths and the header need -----------

// The widest status cell: "○ Pending (a deepseek slot)" fits; longer
// reasons are cut. FitColumns cuts to kStatusNarrow on narrow screens.
constexpr int kStatusMax = 32;  // "↻ Retrying (connection refused)"
constexpr int kStatusNarrow = 18;  // "○ Pending (a slot)"

struct Scan {
  int first_running = -1;
  int batch = 0;
  int step_w = 4, type_w = 4, provider_w = 8;
  int status_w = 6;  // "Status"
  int tokens_w = 6;  // "Tokens"
  int cost_w = 4;    // "Cost"
};

// The status cell's label: StatusLabel, or "↻ Retrying" for a step that
// waits to try again.
std::string StatusCell(const pb::Step& step, bool utf8) {
  return StepStatusLabel(step, utf8);
}

// DisplayWidth, with a fast path for the usual ASCII ids, types and
// providers (a 10,000-step plan is scanned on every frame).
int TextColumns(std::string_view text) {
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) return DisplayWidth(text);
  }
  return static_cast<int>(text.size());
}

Scan ScanSteps(const pb::RunSnapshot& snapshot, bool utf8) {
  Scan s;
  int running_batch = 0, finished_batch = 0;
  bool seen[8] = {};
  bool retrying = false;
  int64_t max_tokens = 0;
  double max_cost = 0;
  bool tiny_cost = false;
  for (int i = 0; i < snapshot.steps_size(); ++i) {
    const pb::Step& step = snapshot.steps(i);
    const pb::StepState state = step.state();
    if (state == pb::STEP_RUNNING) {
      if (s.first_running < 0) s.first_running = i;
      running_batch = std::max(running_batch, step.batch());
    } else if (state == pb::STEP_COMPLETED || state == pb::STEP_FAILED) {
      finished_batch = std::max(finished_batch, step.batch());
    }
    if (state >= 0 && state < 8) seen[state] = true;
    if (state == pb::STEP_PENDING && step.retry_at_ms()) retrying = true;
    if ((state == pb::STEP_PENDING && !step.waiting_for().empty()) ||
        (state == pb::STEP_RUNNING && (!step.retrying().empty() || !step.phase().empty()))) {
      s.status_w = std::max(s.status_w, DisplayWidth(StepStatusLabel(step, utf8)));
    }
    s.step_w = std::max(s.step_w, TextColumns(step.id()));
    s.type_w = std::max(s.type_w, TextColumns(step.type()));
    s.provider_w = std::max(s.provider_w, TextColumns(step.provider()));
    if (step.has_tokens()) max_tokens = std::max(max_tokens, step.tokens());
    if (step.has_cost()) {
      max_cost = std::max(max_cost, step.cost());
      if (step.cost() > 0 && step.cost() < 0.00005) tiny_cost = true;
    }
  }
  s.batch = running_batch ? running_batch : finished_batch;
  s.step_w = std::min(s.step_w, 24);
  s.type_w = std::min(s.type_w, 16);
  s.provider_w = std::min(s.provider_w, 12);
  for (int state = 0; state < 8; ++state) {
    if (!seen[state]) continue;
    s.status_w = std::max(
        s.status_w, DisplayWidth(StatusLabel(static_cast<pb::StepState>(state), utf8)));
  }
  if (retrying) s.status_w = std::max(s.status_w, DisplayWidth(utf8 ? "↻ Retrying" : "~ Retrying"));
  // A long reason ("a deepseek slot") is cut rather than starve the table.
  s.status_w = std::min(s.status_w, kStatusMax);
  s.tokens_w = std::max(s.tokens_w, DisplayWidth(FormatTokens(true, max_tokens)));
  s.cost_w = std::max(s.cost_w, DisplayWidth(FormatCost(true, max_cost)));
  if (tiny_cost) s.cost_w = std::max(s.cost_w, DisplayWidth(FormatCost(true, 1e-6)));
  return s;
}

// --- The table's columns, fitted to the width ---------------------------

struct Columns {
  int sep = 2;
  int step_w = 4, type_w = 4, provider_w = 8, status_w = 11, time_w = 7;
  int tokens_w = 6, cost_w = 4;
  bool type = true, provider = true, figures = true, time = true;
  bool status_symbol_only = false;
  int desc_w = 0;  // 0: no description column

  int Fixed() const {
    int w = step_w + sep + status_w;
    if (time) w += sep + time_w;
    if (type) w += type_w + sep;
    if (provider) w += provider_w + sep;
    if (figures) w += sep + tokens_w + sep + cost_w;
    return w;
  }
};

// Columns shrink, then go, least useful first (tokens and cost, which the
// header totals; type; provider), then the description; on very narrow
// screens the status keeps only its symbol, then time goes.
Columns FitColumns(const Scan& scan, int width) {
  Columns c;
  c.sep = width < 60 ? 1 : 2;
  c.step_w = scan.step_w;
  c.type_w = scan.type_w;
  c.provider_w = scan.provider_w;
  c.status_w = scan.status_w;
  c.tokens_w = scan.tokens_w;
  c.cost_w = scan.cost_w;
  constexpr int kDescMin = 12;
  auto too_wide = [&] { return c.Fixed() + c.sep + kDescMin > width; };
  if (too_wide()) {
    c.step_w = std::min(c.step_w, 16);
    c.type_w = std::min(c.type_w, 11);
    c.provider_w = std::min(c.provider_w, 8);
    c.status_w = std::min(c.status_w, kStatusNarrow);
  }
  if (too_wide()) c.figures = false;
  if (too_wide()) c.type = false;
  if (too_wide()) c.provider = false;
  if (c.Fixed() > width) {
    c.status_symbol_only = true;
    c.status_w = 1;
  }
  if (c.Fixed() > width) c.step_w = std::max(6, width - (c.Fixed() - c.step_w));
  if (c.Fixed() > width) c.time = false;
  if (c.Fixed() > width) c.step_w = std::max(1, width - (c.Fixed() - c.step_w));
  const int left = width - c.Fixed() - c.sep;
  c.desc_w = left >= 4 ? left : 0;
  return c;
}

// `text` cut or padded on the left to exactly `width` columns.
std::string RightCell(const std::string& text, int width, bool utf8) {
  std::string fitted = FitWidth(text, width, utf8);
  return std::string(std::max(0, width - DisplayWidth(fitted)), ' ') + fitted;
}

// The first character of a status label (its symbol).
std::string Symbol(const std::string& label) {
  std::size_t end = 1;
  while (end < label.size() && (static_cast<unsigned char>(label[end]) & 0xc0) == 0x80) {
    ++end;
  }
  return label.substr(0, end);
}

void TrimRight(std::string* text) {
  while (!text->empty() && text->back() == ' ') text->pop_back();
}

// Builds a row from its cells; records the status cell's span.
ScreenLine TableRow(const Columns& c, bool utf8, const std::string& id,
                    const std::string& type, const std::string& provider,
                    const std::string& status, Style status_style,
                    const std::string& time, const std::string& tokens,
                    const std::string& cost, const std::string& desc) {
  ScreenLine line;
  const std::string sep(c.sep, ' ');
  std::string& t = line.text;
  t = PadWidth(id, c.step_w, utf8);
  int col = c.step_w;
  if (c.type) {
    absl::StrAppend(&t, sep, PadWidth(type, c.type_w, utf8));
    col += c.sep + c.type_w;
  }
  if (c.provider) {
    absl::StrAppend(&t, sep, PadWidth(provider, c.provider_w, utf8));
    col += c.sep + c.provider_w;
  }
  absl::StrAppend(&t, sep);
  col += c.sep;
  line.status_byte = static_cast<int>(t.size());
  line.status_col = col;
  std::string cell = PadWidth(status, c.status_w, utf8);
  std::string label = status;
  TrimRight(&label);
  line.status_bytes = static_cast<int>(std::min(label.size(), cell.size()));
  line.status_width = DisplayWidth(std::string_view(cell).substr(0, line.status_bytes));
  line.status_style = status_style;
  absl::StrAppend(&t, cell);
  if (c.time) absl::StrAppend(&t, sep, RightCell(time, c.time_w, utf8));
  if (c.figures) {
    absl::StrAppend(&t, sep, RightCell(tokens, c.tokens_w, utf8), sep,
                    RightCell(cost, c.cost_w, utf8));
  }
  if (c.desc_w) absl::StrAppend(&t, sep, FitWidth(desc, c.desc_w, utf8));
  TrimRight(&t);
  return line;
}

ScreenLine ColumnHeader(const Columns& c, bool utf8) {
  ScreenLine line = TableRow(c, utf8, "Step", "Type", "Provider",
                             c.status_symbol_only ? "S" : "Status", Style::kHeader,
                             "Time", "Tokens", "Cost", "Description");
  line.style = Style::kHeader;
  line.status_width = line.status_bytes = 0;
  return line;
}

ScreenLine StepRow(const pb::Step& step, const Columns& c, bool selected,
                   int64_t now_ms, bool utf8) {
  StepCells cells = MonitorStepCells(step, now_ms, utf8);
  if (c.status_symbol_only) cells.status = Symbol(cells.status);
  ScreenLine line = TableRow(c, utf8, cells.id, cells.type, cells.provider, cells.status,
                             cells.style, cells.time, cells.tokens, cells.cost,
                             cells.description);
  if (selected) line.style = Style::kSelected;
  return line;
}

// --- Header --------------------------------------------------------------

Style RunStyle(pb::RunState state) {
  switch (state) {
    case pb::RUN_RUNNING: return Style::kRunning;
    case pb::RUN_SUCCEEDED: return Style::kCompleted;
    case pb::RUN_FAILED:
    case pb::RUN_INTERRUPTED: return Style::kFailed;
    case pb::RUN_CANCELLED: return Style::kSkipped;
    case pb::RUN_PAUSED: return Style::kWarning;
    default: return Style::kPending;
  }
}

// A span over `text`'s bytes [from, from + bytes).
void SetSpan(ScreenLine* line, std::size_t from, std::size_t bytes, Style style) {
  line->status_byte = static_cast<int>(from);
  line->status_bytes = static_cast<int>(bytes);
  line->status_col = DisplayWidth(std::string_view(line->text).substr(0, from));
  line->status_width = DisplayWidth(std::string_view(line->text).substr(from, bytes));
  line->status_style = style;
}

std::string Bar(double fraction, int width, bool utf8) {
  int filled = static_cast<int>(std::lround(fraction * width));
  std::string out = "[";
  for (int i = 0; i < width; ++i) {
    out += i < filled ? (utf8 ? "█" : "#") : (utf8 ? "░" : ".");
  }
  return out + "]";
}

ScreenLine HeaderText(HeaderLine which, const pb::RunSnapshot& snapshot,
                      const Scan& scan, int width, int64_t now_ms, bool utf8) {
  const pb::Run& run = snapshot.run();
  ScreenLine line;
  std::string& t = line.text;
  switch (which) {
    case kTitleLine: {
      std::string name = !run.description().empty() ? run.description()
                         : !run.task_id().empty()    ? run.task_id()
                                                     : run.plan_path();
      t = absl::StrCat("Plan: ", name);
      line.style = Style::kTitle;
      break;
    }
    case kRunLine: {
      // Narrow screens get "ID state": the state must not be cut.
      const std::string word = RunStateLabel(run.state(), utf8);
      const bool full =
          DisplayWidth(absl::StrCat("Run: ", run.id(), "  State: ", word)) <= width;
      t = full ? absl::StrCat("Run: ", run.id(), "  State: ") : absl::StrCat(run.id(), " ");
      const std::size_t at = t.size();
      absl::StrAppend(&t, word);
      SetSpan(&line, at, word.size(), RunStyle(run.state()));
      if (full && !run.task_id().empty()) absl::StrAppend(&t, "  Task: ", run.task_id());
      break;
    }
    case kProgressLine: {
      const int total = run.steps_total() ? run.steps_total() : snapshot.steps_size();
      const double fraction =
          total ? std::clamp(static_cast<double>(run.completed()) / total, 0.0, 1.0) : 0;
      t = absl::StrFormat("Progress: %d/%d steps (%.1f%%)", run.completed(), total,
                          fraction * 100);
      if (DisplayWidth(t) > width) {
        t = absl::StrFormat("%d/%d (%.1f%%)", run.completed(), total, fraction * 100);
      }
      const int bar_w = std::min(30, width - DisplayWidth(t) - 3);
      if (bar_w >= 5) {
        absl::StrAppend(&t, " ");
        const std::string bar = Bar(fraction, bar_w, utf8);
        const std::size_t at = t.size();
        absl::StrAppend(&t, bar);
        SetSpan(&line, at, bar.size(),
                run.failed() ? Style::kFailed
                : run.state() == pb::RUN_SUCCEEDED ? Style::kCompleted
                                                    : Style::kRunning);
      }
      break;
    }
    case kCountsLine: {
      // "Completed: 3 | Failed: 0 | Running: 2 | Skipped: 1", or on narrow
      // screens "C:3 F:0 R:2 S:1".
      struct Count {
        const char* name;
        const char* letter;
        int value;
        bool always;
      };
      const Count counts[] = {{"Completed", "C", run.completed(), true},
                              {"Failed", "F", run.failed(), true},
                              {"Running", "R", run.running(), true},
                              {"Skipped", "S", run.skipped(), false},
                              {"Cancelled", "X", run.cancelled(), false},
                              {"Interrupted", "I", run.interrupted(), false}};
      for (bool compact : {false, true}) {
        t.clear();
        std::size_t failed_at = 0, failed_len = 0;
        for (const Count& c : counts) {
          if (!c.always && c.value == 0) continue;
          if (!t.empty()) t += compact ? " " : " | ";
          std::string item = compact ? absl::StrCat(c.letter, ":", c.value)
                                     : absl::StrCat(c.name, ": ", c.value);
          if (c.letter[0] == 'F') {
            failed_at = t.size();
            failed_len = item.size();
          }
          t += item;
        }
        if (run.failed()) SetSpan(&line, failed_at, failed_len, Style::kFailed);
        if (DisplayWidth(t) <= width) break;
      }
      break;
    }
    case kFiguresLine:
      t = absl::StrCat("Batch ", scan.batch, "/", run.batches(),
                       "  Elapsed: ", FormatDurationMs(RunElapsedMs(run, now_ms)),
                       "  Tokens: ", FormatTokens(run.has_tokens(), run.tokens()),
                       "  Cost: ", FormatCost(run.has_cost(), run.cost()));
      break;
    case kReasonLine:
      t = absl::StrCat("Reason: ", run.reason());
      line.style = run.state() == pb::RUN_SUCCEEDED ? Style::kNormal : Style::kWarning;
      break;
    default:
      break;
  }
  return line;
}

// --- Help, log, footer ----------------------------------------------------

std::vector<ScreenLine> HelpLines(bool utf8, bool interrupt_cancels) {
  const char* arrows = utf8 ? "↑ ↓  k j" : "Up Down  k j";
  std::vector<std::pair<std::string, std::string>> keys = {
      {"q", "detach (the run goes on)"},
      {"Ctrl-C", interrupt_cancels ? "cancel the run at once (again: detach)"
                                   : "detach (the run goes on)"},
      {"c", "cancel the run (asks y/n)"},
      {"p", "pause the run, or go on when paused (asks y/n)"},
      {arrows, "select a step"},
      {"PgUp PgDn", "page up / down"},
      {"Home End", "first / last step (also g G)"},
      {"f", "follow running steps"},
      {"Enter", "show / hide the selected step's log"},
      {"Esc", "close the log or this help"},
      {"?", "this help"},
  };
  std::vector<ScreenLine> lines;
  lines.push_back({"Keys (? or Esc to close)", Style::kHeader});
  for (const auto& [key, what] : keys) {
    lines.push_back({absl::StrCat("  ", PadWidth(key, 12, utf8), what)});
  }
  return lines;
}

// Fits the text to the width (and makes it safe); keeps the span inside
// the text, on character boundaries, its columns recomputed.
void Finish(ScreenLine* line, int width, bool utf8) {
  line->text = FitWidth(line->text, std::max(0, width), utf8);
  const std::string_view text = line->text;
  const int size = static_cast<int>(text.size());
  if (line->status_bytes <= 0 || line->status_byte >= size) {
    line->status_byte = line->status_col = line->status_bytes = line->status_width = 0;
    return;
  }
  int end = std::min(size, line->status_byte + line->status_bytes);
  while (end < size && (static_cast<unsigned char>(text[end]) & 0xc0) == 0x80) ++end;
  line->status_bytes = end - line->status_byte;
  line->status_col = DisplayWidth(text.substr(0, line->status_byte));
  line->status_width = DisplayWidth(text.substr(line->status_byte, line->status_bytes));
}

// What the log pane of a step that has not started says instead of its
// (empty) log: "not started: waiting for prep, fetch" (its dependencies
// that have not completed), else what the daemon says it waits for ("a
// slot", "gpu"), else why nothing starts. One O(steps) pass, only while
// such a pane is open.
std::string NotStartedText(const pb::RunSnapshot& snapshot, const pb::Step& step) {
  constexpr int kNamesShown = 5;
  std::vector<std::string> waiting;
  int more = 0;
  if (step.dependencies_size() > 0) {
    std::unordered_set<std::string_view> deps(step.dependencies().begin(),
                                              step.dependencies().end());
    for (const pb::Step& other : snapshot.steps()) {
      if (other.state() == pb::STEP_COMPLETED || !deps.count(other.id())) continue;
      if (static_cast<int>(waiting.size()) < kNamesShown) {
        waiting.push_back(other.id());
      } else {
        ++more;
      }
    }
  }
  if (!waiting.empty()) {
    std::string text =
        absl::StrCat("not started: waiting for ", absl::StrJoin(waiting, ", "));
    if (more) absl::StrAppend(&text, " and ", more, " more");
    return text;
  }
  if (!step.waiting_for().empty()) {
    return absl::StrCat("not started: waiting for ", step.waiting_for());
  }
  if (snapshot.run().state() == pb::RUN_PAUSED) return "not started: the run is paused";
  return "not started yet";
}

ScreenLine Footer(const pb::RunSnapshot& snapshot, const MonitorUi& ui,
                  const Frame& frame, const TableWindow& window, int width, bool utf8) {
  ScreenLine line;
  std::string left;
  bool message = true;
  if (Asking(ui)) {
    const char* verb = ui.confirm_cancel ? "Cancel"
                       : ui.confirm_pause ? "Pause"
                                          : "Resume";
    left = absl::StrCat(verb, " run ", snapshot.run().id(), "? y/n");
    if (ui.confirm_pause) absl::StrAppend(&left, " (running steps go on to their end)");
    line.style = Style::kWarning;
  } else if (!ui.flash.empty()) {
    left = ui.flash;
    line.style = Style::kWarning;
  } else {
    message = false;
    line.style = Style::kDim;
    if (ui.show_help) {
      left = "q detach  ? or Esc close help";
    } else {
      // In `run`, Ctrl-C cancels at once: the footer says so (`c` asks
      // first, see the help). In `attach`, Ctrl-C detaches as q does.
      left = absl::StrCat("q detach  ", ui.interrupt_cancels ? "^C cancel  " : "c cancel  ",
                          snapshot.run().state() == pb::RUN_PAUSED ? "p resume  " : "p pause  ",
                          utf8 ? "↑↓" : "up/down",
                          " select  Enter ", ui.show_log ? "close log" : "log",
                          "  ? help");
      if (!ui.follow) absl::StrAppend(&left, "  f follow");
    }
  }
  std::string right;
  if (frame.rows() > 0 && window.total > window.count && window.count > 0) {
    right = absl::StrCat("steps ", window.first + 1, "-", window.first + window.count,
                         " of ", window.total);
  }
  const int lw = DisplayWidth(left), rw = DisplayWidth(right);
  if (right.empty()) {
    line.text = left;
  } else if (lw + 2 + rw <= width) {
    line.text = absl::StrCat(left, std::string(width - lw - rw, ' '), right);
  } else if (message) {
    line.text = left;  // the question or message matters more
  } else {
    line.text = absl::StrCat(right, "  ", left);
  }
  return line;
}

}  // namespace

Style StepStyle(const pb::Step& step) {
  switch (step.state()) {
    case pb::STEP_COMPLETED: return Style::kCompleted;
    case pb::STEP_FAILED:
    case pb::STEP_INTERRUPTED: return Style::kFailed;
    case pb::STEP_RUNNING:
      return step.retrying().empty() && step.phase().rfind("repairing", 0) != 0
                 ? Style::kRunning
                 : Style::kWarning;
    case pb::STEP_PENDING: return step.retry_at_ms() ? Style::kWarning : Style::kPending;
    case pb::STEP_SKIPPED:
    case pb::STEP_CANCELLED: return Style::kSkipped;
    default: return Style::kDim;
  }
}

StepCells MonitorStepCells(const pb::Step& step, int64_t now_ms, bool utf8) {
  StepCells cells;
  cells.id = step.id();
  cells.type = step.type().empty() ? "-" : step.type();
  cells.provider = step.provider().empty() ? "-" : step.provider();
  cells.status = StatusCell(step, utf8);
  cells.style = StepStyle(step);
  cells.time = step.started_at_ms() || step.previous_attempts_ms()
                   ? FormatDurationMs(StepElapsedMs(step, now_ms))
                   : "-";
  cells.tokens = FormatTokens(step.has_tokens(), step.tokens());
  cells.cost = FormatCost(step.has_cost(), step.cost());
  cells.description = step.description();
  if (!step.progress().empty() && step.state() == pb::STEP_RUNNING) {
    cells.description = absl::StrCat("[", step.progress(), "] ", cells.description);
  }
  return cells;
}

TableWindow ResolveWindow(const pb::RunSnapshot& snapshot, const MonitorUi& ui,
                          int height) {
  return Resolve(snapshot, ui, ComputeFrame(snapshot, ui, height),
                 ui.follow ? FirstRunning(snapshot) : -1);
}

int ClampScroll(const pb::RunSnapshot& snapshot, const MonitorUi& ui, int height) {
  return ResolveWindow(snapshot, ui, height).first;
}

void SyncView(const pb::RunSnapshot& snapshot, MonitorUi* ui, int height) {
  TableWindow w = ResolveWindow(snapshot, *ui, height);
  ui->scroll = w.first;
  ui->selected = std::max(0, w.selected);
}

std::vector<ScreenLine> LayoutScreen(const pb::RunSnapshot& snapshot,
                                     const MonitorUi& ui, int width, int height,
                                     int64_t now_ms, bool utf8) {
  std::vector<ScreenLine> lines;
  if (height <= 0) return lines;
  lines.reserve(height);
  const Scan scan = ScanSteps(snapshot, utf8);
  const Frame frame = ComputeFrame(snapshot, ui, height);
  const TableWindow window = Resolve(snapshot, ui, frame, scan.first_running);

  for (int h = 0; h < kHeaderLines; ++h) {
    if (!frame.header[h]) continue;
    lines.push_back(HeaderText(static_cast<HeaderLine>(h), snapshot, scan, width,
                               now_ms, utf8));
  }

  if (frame.table_lines > 0) {
    const Columns columns = FitColumns(scan, width);
    lines.push_back(ColumnHeader(columns, utf8));
    const int rows = frame.rows();
    if (window.total == 0 && rows > 0) {
      lines.push_back({"(no steps)", Style::kDim});
    }
    for (int i = 0; i < window.count; ++i) {
      const int index = window.first + i;
      ScreenLine row = StepRow(snapshot.steps(index), columns,
                               index == window.selected, now_ms, utf8);
      if (row.style == Style::kSelected) {
        // The highlight spans the whole width.
        row.text.append(std::max(0, width - DisplayWidth(row.text)), ' ');
      }
      lines.push_back(std::move(row));
    }
    const int used = (window.total == 0 && rows > 0) ? 1 : window.count;
    for (int i = used; i < rows; ++i) lines.push_back({});
  }

  if (frame.log_lines > 0) {
    const pb::Step* shown =
        window.selected >= 0 ? &snapshot.steps(window.selected) : nullptr;
    // A running step's progress read from its log ("Epoch 9/20"), as `poll`
    // reads it, stays in view above its log.
    std::string title =
        shown ? absl::StrCat("Log of ", shown->id(),
                             shown->state() == pb::STEP_RUNNING && !shown->progress().empty()
                                 ? absl::StrCat(" [", shown->progress(), "]")
                                 : std::string(),
                             " (Enter/Esc to close)")
              : std::string("Log: no step (Enter/Esc to close)");
    lines.push_back({title, Style::kHeader});
    const int room = frame.log_lines - 1;
    const int have = static_cast<int>(ui.log_tail.size());
    if (have == 0 && room > 0) {
      const bool not_started = shown && shown->state() == pb::STEP_PENDING &&
                               !shown->started_at_ms() && !shown->retry_at_ms();
      lines.push_back({not_started ? NotStartedText(snapshot, *shown) : "(no output yet)",
                       Style::kDim});
      for (int i = 1; i < room; ++i) lines.push_back({});
    } else {
      const int shown = std::min(room, have);
      for (int i = have - shown; i < have; ++i) {
        lines.push_back({FitWidth(ui.log_tail[i], width, utf8)});
      }
      for (int i = shown; i < room; ++i) lines.push_back({});
    }
  }

  if (frame.help_lines > 0) {
    std::vector<ScreenLine> help = HelpLines(utf8, ui.interrupt_cancels);
    for (int i = 0; i < frame.help_lines; ++i) {
      lines.push_back(i < static_cast<int>(help.size()) ? help[i] : ScreenLine{});
    }
  }

  // Whatever happened above, exactly `height` lines, the footer last.
  lines.resize(height - frame.footer_lines);
  for (ScreenLine& line : lines) Finish(&line, width, utf8);
  if (frame.footer_lines) {
    // The bottom-right cell stays empty: curses cannot write there
    // without scrolling the screen.
    const int footer_width = std::max(1, width - 1);
    lines.push_back(Footer(snapshot, ui, frame, window, footer_width, utf8));
    Finish(&lines.back(), footer_width, utf8);
  }
  return lines;
}

MonitorAction HandleKey(int key, const pb::RunSnapshot& snapshot, MonitorUi* ui,
                        int height) {
  SyncView(snapshot, ui, height);
  if (key == 'q' || key == 'Q') return MonitorAction::kDetach;
  if (key == kKeyResize) return MonitorAction::kRedraw;
  if (Asking(*ui)) {
    const MonitorAction confirmed = ui->confirm_cancel  ? MonitorAction::kCancelConfirmed
                                    : ui->confirm_pause ? MonitorAction::kPauseConfirmed
                                                        : MonitorAction::kResumeConfirmed;
    if (key == 'y' || key == 'Y' || key == 'n' || key == 'N' || key == kKeyEscape) {
      ui->confirm_cancel = ui->confirm_pause = ui->confirm_resume = false;
      if (key == 'y' || key == 'Y') {
        ui->flash.clear();
        return confirmed;
      }
      return MonitorAction::kRedraw;
    }
    return MonitorAction::kNone;  // the question waits for its answer
  }
  const int n = snapshot.steps_size();
  const bool had_flash = !ui->flash.empty();
  const int rows = std::max(1, ResolveWindow(snapshot, *ui, height).count);

  // Moves the selection to `to` (clamped), follow off; in the log view, a
  // new step's log must be read.
  auto select = [&](int to, int scroll_by) {
    ui->flash.clear();
    ui->follow = false;
    if (n == 0) return MonitorAction::kRedraw;
    const int before = ui->selected;
    ui->selected = std::clamp(to, 0, n - 1);
    ui->scroll += scroll_by;
    SyncView(snapshot, ui, height);
    if (ui->show_log && ui->selected != before) {
      ui->log_tail.clear();
      return MonitorAction::kOpenLog;
    }
    return MonitorAction::kRedraw;
  };

  switch (key) {
    case kKeyUp:
    case 'k':
      return select(ui->selected - 1, 0);
    case kKeyDown:
    case 'j':
      return select(ui->selected + 1, 0);
    case kKeyPageUp:
      return select(ui->selected - rows, -rows);
    case kKeyPageDown:
      return select(ui->selected + rows, rows);
    case kKeyHome:
    case 'g':
      return select(0, 0);
    case kKeyEnd:
    case 'G':
      return select(n - 1, 0);
    case 'f':
    case 'F': {
      ui->flash.clear();
      const int before = ui->selected;
      ui->follow = true;
      SyncView(snapshot, ui, height);
      if (ui->show_log && ui->selected != before) {
        ui->log_tail.clear();
        return MonitorAction::kOpenLog;
      }
      return MonitorAction::kRedraw;
    }
    case 'c':
    case 'C':
      if (RunOver(snapshot.run())) {
        ui->flash = absl::StrCat("Run ", snapshot.run().id(), " is already ",
                                 RunStateWord(snapshot.run().state()));
      } else {
        ui->flash.clear();
        ui->confirm_cancel = true;
      }
      return MonitorAction::kRedraw;
    case 'p':
    case 'P':
      // The question names what y will do, decided now: a pause that lands
      // while it is asked does not turn "Pause?" into a resume.
      if (RunOver(snapshot.run())) {
        ui->flash = absl::StrCat("Run ", snapshot.run().id(), " is already ",
                                 RunStateWord(snapshot.run().state()));
      } else {
        ui->flash.clear();
        if (snapshot.run().state() == pb::RUN_PAUSED) {
          ui->confirm_resume = true;
        } else {
          ui->confirm_pause = true;
        }
      }
      return MonitorAction::kRedraw;
    case '?':
      ui->flash.clear();
      ui->show_help = !ui->show_help;
      return MonitorAction::kRedraw;
    case kKeyEscape:
      if (ui->show_help) {
        ui->show_help = false;
        ui->flash.clear();
        return MonitorAction::kRedraw;
      }
      if (ui->show_log) {
        ui->show_log = false;
        ui->log_tail.clear();
        ui->flash.clear();
        return MonitorAction::kCloseLog;
      }
      ui->flash.clear();
      return had_flash ? MonitorAction::kRedraw : MonitorAction::kNone;
    case kKeyEnter:
    case '\n':
    case '\r':
      ui->flash.clear();
      if (ui->show_help) {
        ui->show_help = false;
        return MonitorAction::kRedraw;
      }
      if (ui->show_log) {
        ui->show_log = false;
        ui->log_tail.clear();
        return MonitorAction::kCloseLog;
      }
      if (n == 0) {
        ui->flash = "No step to show the log of";
        return MonitorAction::kRedraw;
      }
      // The log stays on this step even when another one starts running.
      ui->follow = false;
      ui->show_log = true;
      ui->log_tail.clear();
      SyncView(snapshot, ui, height);
      return MonitorAction::kOpenLog;
    default:
      return MonitorAction::kNone;
  }
}

}  // namespace aetherflow
