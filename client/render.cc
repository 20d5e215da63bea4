#include "client/render.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "client/run_times.h"
#include "common/duration.h"
#include "common/states.h"
#include "common/text.h"

namespace aetherflow {
namespace {

constexpr const char* kGreen = "\033[32m";
constexpr const char* kRed = "\033[31m";
constexpr const char* kYellow = "\033[33m";
constexpr const char* kDim = "\033[2m";
constexpr const char* kReset = "\033[0m";

const char* StateColor(pb::StepState state) {
  switch (state) {
    case pb::STEP_COMPLETED: return kGreen;
    case pb::STEP_FAILED:
    case pb::STEP_INTERRUPTED: return kRed;
    case pb::STEP_RUNNING: return kYellow;
    default: return kDim;
  }
}

std::string WithThousands(int64_t value) {
  std::string digits = std::to_string(value < 0 ? -value : value);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return value < 0 ? "-" + out : out;
}

std::string Bar(double fraction, int width, bool utf8) {
  int filled = static_cast<int>(std::lround(fraction * width));
  std::string out = "[";
  for (int i = 0; i < width; ++i) {
    out += i < filled ? (utf8 ? "█" : "#") : (utf8 ? "░" : ".");
  }
  return out + "]";
}

int CurrentBatch(const pb::RunSnapshot& snapshot) {
  int running = 0, finished = 0;
  for (const pb::Step& step : snapshot.steps()) {
    if (step.state() == pb::STEP_RUNNING) running = std::max(running, step.batch());
    if (step.state() == pb::STEP_COMPLETED || step.state() == pb::STEP_FAILED) {
      finished = std::max(finished, step.batch());
    }
  }
  return running ? running : finished;
}

// "2/3" for a step that has started, "-" for one that has not.
std::string AttemptsCell(const pb::Step& step) {
  if (step.attempt() <= 0) return "-";
  return absl::StrCat(step.attempt(), "/", std::max(step.attempt(), step.max_attempts()));
}

}  // namespace

std::string StatusLabel(pb::StepState state, bool utf8) {
  switch (state) {
    case pb::STEP_PENDING: return utf8 ? "○ Pending" : "o Pending";
    case pb::STEP_RUNNING: return utf8 ? "⟳ Running" : "> Running";
    case pb::STEP_COMPLETED: return utf8 ? "✓ Completed" : "v Completed";
    case pb::STEP_FAILED: return utf8 ? "✗ Failed" : "x Failed";
    case pb::STEP_SKIPPED: return utf8 ? "⊘ Skipped" : "- Skipped";
    case pb::STEP_CANCELLED: return utf8 ? "⊗ Cancelled" : "x Cancelled";
    case pb::STEP_INTERRUPTED: return utf8 ? "↯ Interrupted" : "! Interrupted";
    default: return "?";
  }
}

std::string StepStatusLabel(const pb::Step& step, bool utf8) {
  if (step.throttled() && step.state() == pb::STEP_RUNNING) {
    return utf8 ? "⏸ Throttled" : "| Throttled";
  }
  // An LLM step asking its provider again, as a command step's retry reads.
  if (!step.retrying().empty() && step.state() == pb::STEP_RUNNING) {
    return absl::StrCat(utf8 ? "↻ Retrying" : "~ Retrying", " (", step.retrying(), ")");
  }
  if (!step.phase().empty() && step.state() == pb::STEP_RUNNING) {
    return PhaseLabel(step.phase(), utf8);
  }
  if (step.state() != pb::STEP_PENDING) return StatusLabel(step.state(), utf8);
  std::string label = step.retry_at_ms() ? (utf8 ? "↻ Retrying" : "~ Retrying")
                                         : StatusLabel(pb::STEP_PENDING, utf8);
  return WithWaitingFor(std::move(label), step.waiting_for());
}

std::string PhaseLabel(const std::string& phase, bool utf8) {
  std::string word = phase;
  if (!word.empty() && word[0] >= 'a' && word[0] <= 'z') word[0] = static_cast<char>(word[0] - 32);
  return absl::StrCat(utf8 ? "⟳ " : "~ ", word);
}

std::string WithWaitingFor(std::string label, const std::string& waiting_for) {
  if (waiting_for.empty()) return label;
  return absl::StrCat(label, " (", waiting_for, ")");
}

std::string RunStateLabel(pb::RunState state, bool utf8) {
  if (state == pb::RUN_PAUSED) return utf8 ? "⏸ Paused" : "|| Paused";
  return RunStateWord(state);
}

// The numbers are common/states.h's, whose names (string literals, so
// NUL-terminated) are the --json words.
const char* StepStateWord(pb::StepState state) {
  return StepStateName(static_cast<StepState>(state)).data();
}

const char* RunStateWord(pb::RunState state) {
  return RunStateName(static_cast<RunState>(state)).data();
}

std::string FormatTokens(bool known, int64_t tokens) {
  return known ? WithThousands(tokens) : "-";
}

std::string FormatCost(bool known, double cost) {
  if (!known) return "-";
  // A tiny cost must not read as a known zero.
  if (cost > 0 && cost < 0.00005) return "<$0.0001";
  return absl::StrFormat("$%.4f", cost);
}

int64_t StepElapsedMs(const pb::Step& step, int64_t now_ms) {
  int64_t ms = step.previous_attempts_ms();
  if (step.started_at_ms()) {
    int64_t end = step.finished_at_ms() ? step.finished_at_ms() : now_ms;
    ms += std::max<int64_t>(0, end - step.started_at_ms());
  }
  return ms;
}

int64_t AttemptElapsedMs(const pb::Step& step, int64_t now_ms) {
  if (!step.started_at_ms()) return 0;
  int64_t end = step.finished_at_ms() ? step.finished_at_ms() : now_ms;
  return std::max<int64_t>(0, end - step.started_at_ms());
}

int64_t RunWallMs(const pb::Run& run, int64_t now_ms) {
  if (!run.started_at_ms()) return 0;
  int64_t end = run.finished_at_ms() ? run.finished_at_ms() : now_ms;
  return std::max<int64_t>(0, end - run.started_at_ms());
}

int64_t RunElapsedMs(const pb::Run& run, int64_t now_ms) {
  return std::max<int64_t>(0, RunWallMs(run, now_ms) - run.stopped_ms());
}

namespace {

// The step table's columns, fitted to a width: columns shrink, then the
// least useful ones go (tokens and cost, which the header totals; then type
// and provider), then the description gets what is left.
struct TableLayout {
  int step_w = 4, type_w = 4, provider_w = 8;
  int status_w = 13, time_w = 8, tokens_w = 8, cost_w = 9;
  int attempts_w = 8;  // "Attempts"
  bool figures = true, type = true, provider = true;
  bool attempts = false;  // only for plans where a step may run again
  int desc_w = 0;  // 0: no description column

  int Fixed() const {
    int w = step_w + status_w + time_w + 3 * 2;
    if (type) w += type_w + 2;
    if (provider) w += provider_w + 2;
    if (attempts) w += attempts_w + 2;
    if (figures) w += tokens_w + cost_w + 2 * 2;
    return w;
  }
};

TableLayout FitTable(const pb::RunSnapshot& snapshot, int width) {
  TableLayout t;
  for (const pb::Step& step : snapshot.steps()) {
    t.step_w = std::max(t.step_w, DisplayWidth(step.id()));
    t.type_w = std::max(t.type_w, DisplayWidth(step.type()));
    t.provider_w = std::max(t.provider_w, DisplayWidth(step.provider()));
    if (!step.waiting_for().empty() || !step.retrying().empty()) {
      t.status_w = std::max(t.status_w, DisplayWidth(StepStatusLabel(step, true)));
    }
    if (step.max_attempts() > 1 || step.attempt() > 1) t.attempts = true;
  }
  t.step_w = std::min(t.step_w, 24);
  t.type_w = std::min(t.type_w, 16);
  t.provider_w = std::min(t.provider_w, 12);
  t.status_w = std::min(t.status_w, 32);  // "↻ Retrying (connection refused)"
  constexpr int kDescMin = 12;
  if (t.Fixed() + kDescMin > width) {
    t.step_w = std::min(t.step_w, 16);
    t.type_w = std::min(t.type_w, 11);
    t.provider_w = std::min(t.provider_w, 8);
    t.status_w = std::min(t.status_w, 18);  // "○ Pending (a slot)"
  }
  if (t.Fixed() + kDescMin > width) t.figures = false;
  if (t.Fixed() + kDescMin > width) t.attempts = false;
  if (t.Fixed() + kDescMin > width) t.type = false;
  if (t.Fixed() + kDescMin > width) t.provider = false;
  if (t.Fixed() + kDescMin > width) {
    t.step_w = std::max(6, width - (t.Fixed() - t.step_w) - kDescMin);
  }
  int left = width - t.Fixed();
  t.desc_w = left >= 4 ? left : 0;
  return t;
}

std::string RightAlign(const std::string& text, int width) {
  return std::string(std::max(0, width - DisplayWidth(text)), ' ') + text;
}

}  // namespace

std::string RenderStatus(const pb::RunSnapshot& snapshot,
                         const RenderOptions& options) {
  const pb::Run& run = snapshot.run();
  const bool utf8 = options.utf8;
  const int width = options.width;
  std::string out;
  auto line = [&](const std::string& text) {
    absl::StrAppend(&out, FitWidth(text, width, utf8), "\n");
  };
  line(absl::StrCat("Plan: ", !run.description().empty() ? run.description()
                              : !run.task_id().empty()    ? run.task_id()
                                                          : run.plan_path()));
  line(absl::StrCat("Run: ", run.id(),
                    run.task_id().empty() ? "" : absl::StrCat("  Task: ", run.task_id()),
                    "  State: ", RunStateWord(run.state())));
  int total = run.steps_total();
  double fraction = total ? static_cast<double>(run.completed()) / total : 0;
  line(absl::StrCat(absl::StrFormat("Progress: %d/%d steps (%.1f%%) ", run.completed(),
                                    total, fraction * 100),
                    Bar(fraction, 20, utf8)));
  std::string counts = absl::StrCat("Completed: ", run.completed(), " | Failed: ",
                                    run.failed(), " | Running: ", run.running(),
                                    " | Skipped: ", run.skipped());
  if (run.cancelled()) absl::StrAppend(&counts, " | Cancelled: ", run.cancelled());
  if (run.interrupted()) absl::StrAppend(&counts, " | Interrupted: ", run.interrupted());
  line(counts);
  line(absl::StrCat("Batch ", CurrentBatch(snapshot), "/", run.batches(),
                    "  Elapsed: ", ElapsedText(ComputeRunTimes(snapshot, options.now_ms)),
                    "  Tokens: ", FormatTokens(run.has_tokens(), run.tokens()),
                    "  Cost: ", FormatCost(run.has_cost(), run.cost())));
  if (!run.reason().empty() && run.state() != pb::RUN_RUNNING) {
    line(absl::StrCat("Reason: ", run.reason()));
  }
  absl::StrAppend(&out, "\n");

  const TableLayout t = FitTable(snapshot, width);
  auto row = [&](const std::string& id, const std::string& type,
                 const std::string& provider, const std::string& status_cell,
                 const std::string& attempts, const std::string& time,
                 const std::string& tokens, const std::string& cost,
                 const std::string& desc) {
    std::string text = PadWidth(id, t.step_w, utf8);
    if (t.type) absl::StrAppend(&text, "  ", PadWidth(type, t.type_w, utf8));
    if (t.provider) absl::StrAppend(&text, "  ", PadWidth(provider, t.provider_w, utf8));
    absl::StrAppend(&text, "  ", status_cell);
    if (t.attempts) absl::StrAppend(&text, "  ", RightAlign(attempts, t.attempts_w));
    absl::StrAppend(&text, "  ", RightAlign(time, t.time_w));
    if (t.figures) {
      absl::StrAppend(&text, "  ", RightAlign(tokens, t.tokens_w), "  ",
                      RightAlign(cost, t.cost_w));
    }
    if (t.desc_w) absl::StrAppend(&text, "  ", FitWidth(desc, t.desc_w, utf8));
    while (!text.empty() && text.back() == ' ') text.pop_back();
    absl::StrAppend(&out, text, "\n");
  };
  row("Step", "Type", "Provider", PadWidth("Status", t.status_w), "Attempts", "Time",
      "Tokens", "Cost", "Description");
  for (const pb::Step& step : snapshot.steps()) {
    std::string status = PadWidth(StepStatusLabel(step, utf8), t.status_w, utf8);
    if (options.color) status = absl::StrCat(StateColor(step.state()), status, kReset);
    // The time of the attempt that counted; Attempts says there were more.
    std::string time = step.started_at_ms()
                           ? FormatDurationMs(AttemptElapsedMs(step, options.now_ms))
                           : "-";
    std::string desc = step.description();
    if (!step.progress().empty() && step.state() == pb::STEP_RUNNING) {
      desc = absl::StrCat("[", step.progress(), "] ", desc);
    }
    row(step.id(), step.type().empty() ? "-" : step.type(),
        step.provider().empty() ? "-" : step.provider(), status, AttemptsCell(step), time,
        FormatTokens(step.has_tokens(), step.tokens()),
        FormatCost(step.has_cost(), step.cost()), desc);
  }
  return out;
}

std::string RenderStepReasons(const pb::RunSnapshot& snapshot,
                              const RenderOptions& options) {
  std::vector<const pb::Step*> bad;
  int id_w = 0;
  for (const pb::Step& step : snapshot.steps()) {
    if (step.state() != pb::STEP_FAILED && step.state() != pb::STEP_INTERRUPTED) continue;
    bad.push_back(&step);
    if (static_cast<int>(bad.size()) <= kMaxReasonLines) {
      id_w = std::max(id_w, std::min(24, DisplayWidth(step.id())));
    }
  }
  if (bad.empty()) return "";
  std::string out = "\nReasons:\n";
  const std::size_t shown = std::min<std::size_t>(bad.size(), kMaxReasonLines);
  for (std::size_t i = 0; i < shown; ++i) {
    const pb::Step& step = *bad[i];
    std::string reason = step.message().empty()
                             ? std::string(StepStateWord(step.state()))
                             : step.message();
    if (step.attempt() > 1) absl::StrAppend(&reason, " (attempt ", step.attempt(), ")");
    // Never cut: the reason is what the line is for.
    absl::StrAppend(&out, "  ", PadWidth(step.id(), id_w, options.utf8), "  ", reason,
                    "\n");
  }
  if (bad.size() > shown) {
    absl::StrAppend(&out, "  ", options.utf8 ? "… " : "... ", bad.size() - shown,
                    " more: aetherflow status ", snapshot.run().id(), " --json\n");
  }
  return out;
}

std::string RenderSummary(const pb::RunSnapshot& snapshot,
                          const std::vector<std::string>& log_tails,
                          const RenderOptions& options) {
  const pb::Run& run = snapshot.run();
  std::string out;
  const RunTimes times = ComputeRunTimes(snapshot, options.now_ms);
  absl::StrAppend(&out, "\nRun ", run.id(), " ", RunStateWord(run.state()), " in ",
                  ElapsedText(times), ": ", run.completed(), "/",
                  run.steps_total(), " steps completed");
  if (run.failed()) absl::StrAppend(&out, ", ", run.failed(), " failed");
  if (run.skipped()) absl::StrAppend(&out, ", ", run.skipped(), " skipped");
  if (run.cancelled()) absl::StrAppend(&out, ", ", run.cancelled(), " cancelled");
  if (run.interrupted()) {
    absl::StrAppend(&out, ", ", run.interrupted(), " interrupted");
  }
  absl::StrAppend(&out, "\n");
  // Nothing about parallelism when it bought nothing or cannot be told.
  if (std::optional<std::string> parallelism = ParallelismLine(times, options.utf8)) {
    absl::StrAppend(&out, *parallelism, "\n");
  }
  for (int i = 0; i < snapshot.steps_size(); ++i) {
    const pb::Step& step = snapshot.steps(i);
    if (step.state() != pb::STEP_FAILED && step.state() != pb::STEP_INTERRUPTED) {
      continue;
    }
    absl::StrAppend(&out, "\n", StatusLabel(step.state(), options.utf8), ": ",
                    step.id());
    if (!step.message().empty()) absl::StrAppend(&out, " (", step.message(), ")");
    absl::StrAppend(&out, "\n");
    if (i < static_cast<int>(log_tails.size()) && !log_tails[i].empty()) {
      std::string_view tail = log_tails[i];
      while (!tail.empty()) {
        std::size_t end = tail.find('\n');
        std::string_view line = tail.substr(0, end);
        absl::StrAppend(&out, "  | ", FitWidth(line, options.width - 4, options.utf8),
                        "\n");
        if (end == tail.npos) break;
        tail.remove_prefix(end + 1);
      }
    }
  }
  if (run.state() == pb::RUN_PAUSED) {
    absl::StrAppend(&out, "\nPaused: no new step starts.    Go on: aetherflow resume ",
                    run.id(), "\n");
  }
  if (run.state() == pb::RUN_INTERRUPTED || run.state() == pb::RUN_FAILED ||
      run.state() == pb::RUN_CANCELLED) {
    absl::StrAppend(&out, "\nLogs: aetherflow logs ", run.id(),
                    " STEP    Again: aetherflow resume ", run.id(), "\n");
  }
  return out;
}

LineLayout ComputeLineLayout(const pb::RunSnapshot& snapshot) {
  LineLayout layout;
  for (const pb::Step& step : snapshot.steps()) {
    layout.step_w = std::max(layout.step_w, DisplayWidth(step.id()));
    layout.type_w = std::max(layout.type_w, DisplayWidth(step.type()));
    layout.provider_w = std::max(layout.provider_w, DisplayWidth(step.provider()));
  }
  layout.step_w = std::min(layout.step_w, 24);
  layout.type_w = std::min(layout.type_w, 16);
  layout.provider_w = std::min(layout.provider_w, 12);
  return layout;
}

std::string RenderEventLine(const pb::Event& event,
                            const pb::RunSnapshot& snapshot,
                            const RenderOptions& options) {
  const pb::Step* step = nullptr;
  for (const pb::Step& s : snapshot.steps()) {
    if (s.id() == event.step_id()) step = &s;
  }
  return RenderEventLine(event, step, snapshot.run(), ComputeLineLayout(snapshot),
                         options);
}

std::string RenderEventLine(const pb::Event& event, const pb::Step* found,
                            const pb::Run& run, const LineLayout& layout,
                            const RenderOptions& options) {
  int64_t since = run.started_at_ms() ? run.started_at_ms() : run.created_at_ms();
  std::string stamp =
      absl::StrFormat("[%7.1fs] ", std::max<int64_t>(0, event.time_ms() - since) / 1000.0);
  if (event.kind() == pb::RUN_STATE_CHANGED) {
    std::string line = absl::StrCat(stamp, "run ", run.id(), " ",
                                    RunStateWord(event.run_state()));
    if (!event.message().empty()) absl::StrAppend(&line, ": ", event.message());
    return FitWidth(line, options.width, options.utf8) + "\n";
  }
  // A rate limit or a retry is worth a line; other figures are not.
  bool throttled = event.kind() == pb::STEP_FIGURES && event.throttled();
  bool retrying = event.kind() == pb::STEP_FIGURES && !throttled && !event.retrying().empty();
  // An applying step's phase changes, and each answer's outcome, come with
  // a message (SPEC §11); its token updates do not.
  bool phased = event.kind() == pb::STEP_FIGURES && !throttled && !retrying &&
                !event.phase().empty() && !event.message().empty();
  if (event.kind() != pb::STEP_STATE_CHANGED && !throttled && !retrying && !phased) return "";
  std::string line = absl::StrCat(
      stamp, PadWidth(event.step_id(), layout.step_w, options.utf8), "  ",
      PadWidth(found ? found->type() : "", layout.type_w, options.utf8), "  ",
      PadWidth(found ? found->provider() : "", layout.provider_w, options.utf8),
      "  ");
  std::string status = StatusLabel(event.step_state(), options.utf8);
  if (event.step_state() == pb::STEP_PENDING && event.retry_at_ms()) {
    status = options.utf8 ? "↻ Retrying" : "~ Retrying";
  }
  if (event.step_state() == pb::STEP_PENDING && found) {
    status = WithWaitingFor(std::move(status), found->waiting_for());
  }
  if (throttled) status = options.utf8 ? "⏸ Throttled" : "| Throttled";
  if (retrying) {
    status = absl::StrCat(options.utf8 ? "↻ Retrying" : "~ Retrying", " (", event.retrying(), ")");
  }
  if (phased) status = PhaseLabel(event.phase(), options.utf8);
  const std::size_t status_at = line.size();
  absl::StrAppend(&line, status);
  if (!throttled && !retrying && !phased && event.step_state() != pb::STEP_RUNNING && found &&
      found->started_at_ms()) {
    absl::StrAppend(&line, " (",
                    FormatDurationMs(std::max<int64_t>(
                        0, event.time_ms() - found->started_at_ms())),
                    ")");
  }
  if (!event.message().empty()) absl::StrAppend(&line, "  ", event.message());
  line = FitWidth(line, options.width, options.utf8);
  if (options.color && line.compare(status_at, status.size(), status) == 0) {
    line.insert(status_at + status.size(), kReset);
    line.insert(status_at, StateColor(event.step_state()));
  }
  return line + "\n";
}

std::string RenderProgressLine(const pb::RunSnapshot& snapshot,
                               const RenderOptions& options) {
  const pb::Run& run = snapshot.run();
  int64_t since = run.started_at_ms() ? run.started_at_ms() : run.created_at_ms();
  std::string line = absl::StrFormat(
      "[%7.1fs] %s %d/%d steps completed", std::max<int64_t>(0, options.now_ms - since) / 1000.0,
      options.utf8 ? "…" : "...", run.completed(), run.steps_total());
  if (run.failed()) absl::StrAppend(&line, ", ", run.failed(), " failed");
  std::string running;
  int shown = 0;
  for (const pb::Step& step : snapshot.steps()) {
    if (step.state() != pb::STEP_RUNNING) continue;
    if (shown++ == 3) {
      absl::StrAppend(&running, options.utf8 ? ", …" : ", ...");
      break;
    }
    absl::StrAppend(&running, running.empty() ? "" : ", ", step.id(), " (",
                    FormatDurationMs(StepElapsedMs(step, options.now_ms)), ")");
    if (!step.progress().empty()) absl::StrAppend(&running, " ", step.progress());
  }
  if (!running.empty()) absl::StrAppend(&line, "; running: ", running);
  // Why ready steps do not start (SPEC §9), for whoever reads a CI log.
  std::string waiting;
  shown = 0;
  for (const pb::Step& step : snapshot.steps()) {
    if (step.state() != pb::STEP_PENDING || step.waiting_for().empty()) continue;
    if (shown++ == 3) {
      absl::StrAppend(&waiting, ", ", options.utf8 ? "…" : "...");
      break;
    }
    absl::StrAppend(&waiting, waiting.empty() ? "" : ", ", step.id(), " (",
                    step.waiting_for(), ")");
  }
  if (!waiting.empty()) absl::StrAppend(&line, "; waiting: ", waiting);
  if (run.state() == pb::RUN_PAUSED) absl::StrAppend(&line, "; paused");
  return FitWidth(line, options.width, options.utf8) + "\n";
}

std::string RenderRunList(const std::vector<pb::Run>& runs,
                          const RenderOptions& options) {
  std::vector<std::string> progress;
  int progress_w = 8;
  for (const pb::Run& run : runs) {
    progress.push_back(absl::StrFormat("%d/%d", run.completed(), run.steps_total()));
    if (run.failed()) absl::StrAppend(&progress.back(), " (", run.failed(), " failed)");
    progress_w = std::max(progress_w, static_cast<int>(progress.back().size()));
  }
  std::string out = absl::StrFormat("%-10s %-11s %-*s %8s %9s  %s\n", "RUN", "STATE",
                                    progress_w, "PROGRESS", "ELAPSED", "COST",
                                    "DESCRIPTION");
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const pb::Run& run = runs[i];
    std::string line = absl::StrFormat(
        "%-10s %-11s %-*s %8s %9s  ", run.id(), RunStateWord(run.state()),
        progress_w, progress[i], FormatDurationMs(RunElapsedMs(run, options.now_ms)),
        FormatCost(run.has_cost(), run.cost()));
    std::string desc = run.description().empty() ? run.task_id() : run.description();
    absl::StrAppend(&line, FitWidth(desc, std::max(10, options.width - DisplayWidth(line)),
                                    options.utf8));
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

nlohmann::json IsoTime(int64_t ms) {
  if (ms == 0) return nullptr;
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMillis(ms),
                          absl::UTCTimeZone());
}

nlohmann::json RunJson(const pb::Run& run, int64_t now_ms) {
  nlohmann::json j;
  j["id"] = run.id();
  j["task_id"] = run.task_id();
  j["description"] = run.description();
  j["state"] = RunStateWord(run.state());
  j["created_at"] = IsoTime(run.created_at_ms());
  j["started_at"] = IsoTime(run.started_at_ms());
  j["finished_at"] = IsoTime(run.finished_at_ms());
  j["elapsed_s"] = run.started_at_ms() ? nlohmann::json(RunElapsedMs(run, now_ms) / 1000.0)
                                       : nlohmann::json(nullptr);
  j["steps_total"] = run.steps_total();
  j["completed"] = run.completed();
  j["failed"] = run.failed();
  j["running"] = run.running();
  j["skipped"] = run.skipped();
  j["cancelled"] = run.cancelled();
  j["interrupted"] = run.interrupted();
  j["batch"] = run.batch();
  j["batches"] = run.batches();
  j["tokens"] = run.has_tokens() ? nlohmann::json(run.tokens()) : nlohmann::json(nullptr);
  j["cost"] = run.has_cost() ? nlohmann::json(run.cost()) : nlohmann::json(nullptr);
  j["last_seq"] = run.last_seq();
  // Time it sat ended before a resume: elapsed_s + stopped_s is the time
  // since it started.
  j["stopped_s"] = run.stopped_ms() / 1000.0;
  j["reason"] = run.reason();
  j["output_dir"] = run.output_dir();
  j["plan"] = run.plan_path();
  j["cwd"] = run.cwd();
  return j;
}

nlohmann::json ResourcesJson(const pb::Step& step) {
  if (!step.has_resources()) return nullptr;
  const pb::StepResources& r = step.resources();
  if (r.cpu() == 0 && r.mem_bytes() == 0 && r.gpu() == 0 && r.gpu_ids().empty()) {
    return nullptr;
  }
  return {{"cpu", r.cpu()},
          {"mem_bytes", r.mem_bytes()},
          {"gpu", r.gpu()},
          {"gpu_ids", std::vector<int>(r.gpu_ids().begin(), r.gpu_ids().end())}};
}

nlohmann::json StatusJson(const pb::RunSnapshot& snapshot, int64_t now_ms) {
  nlohmann::json j;
  pb::Run run = snapshot.run();
  run.set_batch(CurrentBatch(snapshot));
  j["run"] = RunJson(run, now_ms);
  nlohmann::json steps = nlohmann::json::array();
  for (const pb::Step& step : snapshot.steps()) {
    nlohmann::json s;
    s["id"] = step.id();
    s["type"] = step.type();
    s["provider"] = step.provider();
    s["state"] = StepStateWord(step.state());
    s["throttled"] = step.throttled();
    // Why a running LLM step asks its provider again; null when it does not.
    s["retrying"] = step.retrying().empty() ? nlohmann::json(nullptr)
                                            : nlohmann::json(step.retrying());
    s["batch"] = step.batch();
    s["attempt"] = step.attempt();
    s["max_attempts"] = step.max_attempts();
    s["attempts"] = step.attempt();  // attempts started (in this go of the run)
    s["started_at"] = IsoTime(step.started_at_ms());
    s["finished_at"] = IsoTime(step.finished_at_ms());
    s["elapsed_s"] = step.started_at_ms()
                         ? nlohmann::json(StepElapsedMs(step, now_ms) / 1000.0)
                         : nlohmann::json(nullptr);
    // elapsed_s adds up every attempt; this is the one that counted.
    s["attempt_elapsed_s"] = step.started_at_ms()
                                 ? nlohmann::json(AttemptElapsedMs(step, now_ms) / 1000.0)
                                 : nlohmann::json(nullptr);
    s["tokens"] = step.has_tokens() ? nlohmann::json(step.tokens()) : nlohmann::json(nullptr);
    s["cost"] = step.has_cost() ? nlohmann::json(step.cost()) : nlohmann::json(nullptr);
    s["exit_code"] = step.has_exit_code() ? nlohmann::json(step.exit_code())
                                          : nlohmann::json(nullptr);
    s["signal"] = step.signal() ? nlohmann::json(step.signal()) : nlohmann::json(nullptr);
    s["progress"] = step.progress().empty() ? nlohmann::json(nullptr)
                                            : nlohmann::json(step.progress());
    s["waiting_for"] = step.waiting_for().empty() ? nlohmann::json(nullptr)
                                                  : nlohmann::json(step.waiting_for());
    s["resources"] = ResourcesJson(step);
    // SPEC §11: an applying step's phase (null: none), each answer and
    // what became of it, and the project files it left changed.
    s["phase"] = step.phase().empty() ? nlohmann::json(nullptr) : nlohmann::json(step.phase());
    nlohmann::json rounds = nlohmann::json::array();
    for (const pb::EditRound& r : step.edit_rounds()) {
      rounds.push_back({{"round", r.round()},
                        {"outcome", r.outcome()},
                        {"reason", r.reason().empty() ? nlohmann::json(nullptr)
                                                      : nlohmann::json(r.reason())},
                        {"files", std::vector<std::string>(r.files().begin(), r.files().end())},
                        {"tokens", r.has_tokens() ? nlohmann::json(r.tokens())
                                                  : nlohmann::json(nullptr)},
                        {"cost", r.has_cost() ? nlohmann::json(r.cost())
                                              : nlohmann::json(nullptr)}});
    }
    s["edit_rounds"] = std::move(rounds);
    s["changed_files"] = std::vector<std::string>(step.changed_files().begin(),
                                                  step.changed_files().end());
    s["message"] = step.message();
    s["description"] = step.description();
    s["dependencies"] = std::vector<std::string>(step.dependencies().begin(),
                                                 step.dependencies().end());
    steps.push_back(std::move(s));
  }
  j["steps"] = std::move(steps);
  return j;
}

}  // namespace aetherflow
