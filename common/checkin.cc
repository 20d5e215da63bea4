#include "common/checkin.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/duration.h"

namespace aetherflow {
namespace {

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();

// Debian's Abseil has its own string_view type, distinct from std's.
absl::string_view AV(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

int64_t Saturate(__int128 v) {
  if (v > kInt64Max) return kInt64Max;
  if (v < kInt64Min) return kInt64Min;
  return static_cast<int64_t>(v);
}

const std::vector<int64_t>& DefaultScheduleMs() {
  static const auto* schedule =
      new std::vector<int64_t>{30'000, 90'000, 300'000};
  return *schedule;
}

constexpr std::array<std::string_view, 5> kVerdictNames = {
    "ok", "succeeded", "failed", "attention", "discovery"};

// Order of evidence: what made the verdict first, then the rest.
int Rank(Verdict verdict, FindingKind kind) {
  if (verdict == Verdict::kAttention) {
    switch (kind) {
      case FindingKind::kCritical:
        return 0;
      case FindingKind::kError:
        return 1;
      case FindingKind::kWarning:
        return 2;
      case FindingKind::kNewBest:
        return 3;
      case FindingKind::kDiscovery:
        return 4;
    }
  }
  if (verdict == Verdict::kDiscovery) {
    switch (kind) {
      case FindingKind::kNewBest:
        return 0;
      case FindingKind::kDiscovery:
        return 1;
      case FindingKind::kCritical:
        return 2;
      case FindingKind::kError:
        return 3;
      case FindingKind::kWarning:
        return 4;
    }
  }
  switch (kind) {
    case FindingKind::kCritical:
      return 0;
    case FindingKind::kError:
      return 1;
    case FindingKind::kNewBest:
      return 2;
    case FindingKind::kDiscovery:
      return 3;
    case FindingKind::kWarning:
      return 4;
  }
  return 5;
}

std::string Count(int64_t n, std::string_view one, std::string_view many) {
  return absl::StrCat(n, " ", AV(n == 1 ? one : many));
}

// "2 error lines, 1 warning line" for one step's findings; empty if none.
// A metric's new bests are named by their last value ("new best val_loss
// 0.47"): the evidence has the whole NewBestLine.
std::string CountsPhrase(const StepAnalysis& a) {
  std::vector<std::string> parts;
  auto add = [&](FindingKind kind, std::string_view one,
                 std::string_view many) {
    if (a.count(kind) > 0) parts.push_back(Count(a.count(kind), one, many));
  };
  add(FindingKind::kCritical, "critical line", "critical lines");
  add(FindingKind::kError, "error line", "error lines");
  if (a.new_best) {
    parts.push_back(
        absl::StrCat("new best ", a.new_best->metric, " ", a.new_best->value));
  } else {
    add(FindingKind::kNewBest, "new best", "new bests");
  }
  add(FindingKind::kDiscovery, "discovery", "discoveries");
  add(FindingKind::kWarning, "warning line", "warning lines");
  return absl::StrJoin(parts, ", ");
}

const StepFacts* FindStep(const std::vector<StepFacts>& steps,
                          const std::string& id) {
  for (const StepFacts& s : steps) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

std::string StepsPhrase(const RunFacts& run) {
  std::string s =
      absl::StrCat(run.completed, "/", run.steps_total, " steps completed");
  if (run.failed > 0) absl::StrAppend(&s, ", ", run.failed, " failed");
  return s;
}

}  // namespace

absl::StatusOr<std::vector<int64_t>> ParseSchedule(std::string_view text) {
  std::vector<int64_t> schedule;
  const absl::string_view all = AV(text);
  // Messages quote what the user wrote escaped, so that each stays on one
  // line (a plan's problems are listed one per line).
  const std::string quoted = absl::StrCat("\"", absl::CHexEscape(all), "\"");
  if (absl::StripAsciiWhitespace(all).empty()) {
    return absl::InvalidArgumentError("empty check-in schedule");
  }
  for (absl::string_view entry : absl::StrSplit(all, ',')) {
    entry = absl::StripAsciiWhitespace(entry);
    if (entry.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("check-in schedule ", quoted, ": empty entry"));
    }
    absl::StatusOr<int64_t> ms =
        ParseDurationMs(std::string_view(entry.data(), entry.size()));
    if (!ms.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("check-in schedule: ", ms.status().message()));
    }
    if (*ms <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "check-in schedule: \"", absl::CHexEscape(entry),
          "\" must be more than zero"));
    }
    schedule.push_back(*ms);
    if (schedule.size() > static_cast<size_t>(kMaxScheduleEntries)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "check-in schedule: more than ", kMaxScheduleEntries, " entries"));
    }
  }
  // The last entry is an interval; the others are offsets from the start.
  for (size_t i = 1; i + 1 < schedule.size(); ++i) {
    if (schedule[i] <= schedule[i - 1]) {
      return absl::InvalidArgumentError(
          absl::StrCat("check-in schedule ", quoted,
                       ": the offsets before the last entry must increase"));
    }
  }
  return schedule;
}

int64_t NextCheckinMs(int64_t start_ms, const std::vector<int64_t>& schedule,
                      int64_t after_ms) {
  const std::vector<int64_t>& s =
      schedule.empty() ? DefaultScheduleMs() : schedule;
  const size_t n = s.size();
  for (size_t i = 0; i + 1 < n; ++i) {
    const int64_t due = Saturate(static_cast<__int128>(start_ms) + s[i]);
    if (due > after_ms) return due;
  }
  const int64_t base =
      n > 1 ? Saturate(static_cast<__int128>(start_ms) + s[n - 2]) : start_ms;
  const int64_t interval = std::max<int64_t>(1, s[n - 1]);
  if (after_ms < base) return Saturate(static_cast<__int128>(base) + interval);
  const __int128 k =
      (static_cast<__int128>(after_ms) - base) / interval + 1;  // >= 1
  return Saturate(static_cast<__int128>(base) + k * interval);
}

std::string_view VerdictName(Verdict verdict) {
  return kVerdictNames[static_cast<int>(verdict)];
}

std::optional<Verdict> VerdictFromName(std::string_view name) {
  for (size_t i = 0; i < kVerdictNames.size(); ++i) {
    if (kVerdictNames[i] == name) return static_cast<Verdict>(i);
  }
  return std::nullopt;
}

int VerdictExitCode(Verdict verdict) {
  switch (verdict) {
    case Verdict::kOk:
      return 0;
    case Verdict::kSucceeded:
      return 10;
    case Verdict::kFailed:
      return 11;
    case Verdict::kAttention:
      return 12;
    case Verdict::kDiscovery:
      return 13;
  }
  return 0;
}

std::optional<int64_t> EstimateEtaMs(double fraction, int64_t elapsed_ms) {
  if (!(fraction > 0) || elapsed_ms < 0) return std::nullopt;  // NaN too
  if (fraction >= 1) return 0;
  const double eta =
      static_cast<double>(elapsed_ms) * (1 - fraction) / fraction;
  // Far beyond any run; also keeps the conversion defined.
  constexpr double kCap = 1e15;
  return static_cast<int64_t>(std::llround(std::min(eta, kCap)));
}

CheckinReport Decide(const RunFacts& run, const std::vector<StepFacts>& steps) {
  CheckinReport r;
  r.elapsed_ms = run.elapsed_ms;
  const bool ended = IsFinal(run.state);

  // Progress: whole steps done, plus the running steps' share read from logs.
  if (run.steps_total > 0) {
    double done = run.completed;
    r.progress_text = absl::StrCat(run.completed, "/", run.steps_total);
    int shown = 0;
    for (const StepFacts& s : steps) {
      if (!s.running || ended) continue;
      const Progress& p = s.analysis.progress;
      if (p.known() || !p.text.empty()) {
        StepProgressReport sp;
        sp.step = s.id;
        sp.progress = p;
        if (p.known()) sp.eta_ms = EstimateEtaMs(p.fraction, s.elapsed_ms);
        if (s.elapsed_ms <= 0) sp.eta_ms.reset();
        sp.text = StepProgressText(p, s.elapsed_ms);
        r.steps_progress.push_back(std::move(sp));
      }
      if (p.known()) done += std::min(1.0, p.fraction);
      if (!p.text.empty() && shown < 2) {
        absl::StrAppend(&r.progress_text, " ", s.id, ": ", p.text);
        ++shown;
      }
    }
    r.progress_fraction = std::min(1.0, done / run.steps_total);
  }

  // What the steps said.
  int64_t criticals = 0, errors = 0, warnings = 0, discoveries = 0;
  bool step_failed = run.step_failed_since_last;
  bool retried = run.retried_since_last;
  std::vector<const StepFacts*> stalled;
  for (const StepFacts& s : steps) {
    criticals += s.analysis.count(FindingKind::kCritical);
    errors += s.analysis.count(FindingKind::kError);
    warnings += s.analysis.count(FindingKind::kWarning);
    discoveries += s.analysis.count(FindingKind::kDiscovery) +
                   s.analysis.count(FindingKind::kNewBest);
    step_failed |= s.failed;
    retried |= s.retried;
    if (s.running && s.quiet_checkins >= 2) stalled.push_back(&s);
  }
  const bool budget_crossed = run.budget_fraction_spent &&
                              *run.budget_fraction_spent >= 0.9 &&
                              !(run.budget_fraction_at_last_checkin &&
                                *run.budget_fraction_at_last_checkin >= 0.9);

  // Attention outranks a discovery: a person must decide, and an agent
  // waiting for `attention` must not miss a warning behind a new best.
  if (run.state == RunState::kSucceeded) {
    r.verdict = Verdict::kSucceeded;
  } else if (ended || step_failed || criticals > 0) {
    r.verdict = Verdict::kFailed;
  } else if (errors > 0 || warnings > 0 || retried || !stalled.empty() ||
             budget_crossed) {
    r.verdict = Verdict::kAttention;
  } else if (discoveries > 0) {
    r.verdict = Verdict::kDiscovery;
  } else {
    r.verdict = Verdict::kOk;
  }

  // No ETA for a run that ended or is failing: it would not be met.
  if (r.verdict != Verdict::kFailed && r.verdict != Verdict::kSucceeded) {
    r.eta_ms = EstimateEtaMs(r.progress_fraction, run.elapsed_ms);
  }

  // Evidence: the lines behind the verdict first; steps and lines in order.
  // A step's new bests of its metric are one line (NewBestLine), in place
  // of its last new best: a 1,000-epoch run does not flood the report.
  std::vector<Evidence> all;
  int64_t counted = 0;
  for (const StepFacts& s : steps) {
    const std::optional<NewBestNews>& news = s.analysis.new_best;
    for (int k = 0; k < kFindingKinds; ++k) {
      const bool collapsed = news && k == static_cast<int>(FindingKind::kNewBest);
      counted += collapsed ? 1 : s.analysis.counts[k];
    }
    bool placed = false;
    for (const Finding& f : s.analysis.findings) {
      if (news && f.kind == FindingKind::kNewBest) {
        if (f.line != news->line || placed) continue;
        placed = true;
        all.push_back({s.id, Finding{f.kind, f.line, NewBestLine(*news)}});
        continue;
      }
      all.push_back({s.id, f});
    }
    if (news && !placed) {
      all.push_back({s.id, Finding{FindingKind::kNewBest, news->line,
                                   NewBestLine(*news)}});
    }
  }
  // Discoveries, whatever the verdict: new bests first, then the others.
  for (const StepFacts& s : steps) {
    if (!s.analysis.new_best) continue;
    const NewBestNews& news = *s.analysis.new_best;
    r.discoveries.push_back(
        {s.id, FindingKind::kNewBest, NewBestLine(news), news.line, news});
  }
  for (const Evidence& e : all) {
    if (r.discoveries.size() >= static_cast<size_t>(kMaxEvidence)) break;
    if (e.finding.kind == FindingKind::kDiscovery ||
        (e.finding.kind == FindingKind::kNewBest &&
         !FindStep(steps, e.step)->analysis.new_best)) {
      r.discoveries.push_back(
          {e.step, e.finding.kind, e.finding.text, e.finding.line, std::nullopt});
    }
  }
  std::stable_sort(all.begin(), all.end(),
                   [&](const Evidence& a, const Evidence& b) {
                     return Rank(r.verdict, a.finding.kind) <
                            Rank(r.verdict, b.finding.kind);
                   });
  if (all.size() > static_cast<size_t>(kMaxEvidence)) all.resize(kMaxEvidence);
  r.evidence = std::move(all);
  r.evidence_omitted =
      std::max<int64_t>(0, counted - static_cast<int64_t>(r.evidence.size()));

  // Summary: why, in one line.
  std::vector<std::string> parts;
  if (ended) {
    std::string head =
        absl::StrCat("run ", AV(RunStateName(run.state)),
                     run.state == RunState::kSucceeded ? " in " : " after ",
                     FormatDurationMs(run.elapsed_ms), ": ", StepsPhrase(run));
    if (run.tokens) absl::StrAppend(&head, ", ", *run.tokens, " tokens");
    if (run.cost) absl::StrAppend(&head, absl::StrFormat(", $%.4f", *run.cost));
    parts.push_back(std::move(head));
    std::vector<std::string> bests;
    for (const StepFacts& s : steps) {
      if (s.best) bests.push_back(absl::StrCat(s.id, " ", *s.best));
    }
    if (!bests.empty()) {
      parts.push_back(absl::StrCat("best: ", absl::StrJoin(bests, ", ")));
    }
  } else if (run.state == RunState::kQueued) {
    parts.push_back("queued");
  } else if (run.state == RunState::kPaused && r.verdict == Verdict::kOk) {
    parts.push_back(absl::StrCat("paused: ", StepsPhrase(run),
                                 "; `aetherflow resume` lets it go on"));
  } else if (r.verdict == Verdict::kOk) {
    parts.push_back(absl::StrCat("running: ", StepsPhrase(run), ", ",
                                 run.running, " running"));
  }
  bool named_failure = false;
  for (const StepFacts& s : steps) {
    if (!s.failed) continue;
    named_failure = true;
    parts.push_back(absl::StrCat("step ", s.id, " failed",
                                 s.failure.empty() ? "" : " (", s.failure,
                                 s.failure.empty() ? "" : ")"));
  }
  if (!ended && run.step_failed_since_last && !named_failure) {
    parts.push_back("a step failed with no retry left");
  }
  bool named_retry = false;
  for (const StepFacts& s : steps) {
    if (!s.retried) continue;
    named_retry = true;
    parts.push_back(absl::StrCat("step ", s.id, " failed and is retried"));
  }
  if (run.retried_since_last && !named_retry) {
    parts.push_back("a step failed and is retried");
  }
  for (const StepFacts& s : steps) {
    std::string counts = CountsPhrase(s.analysis);
    if (!counts.empty()) parts.push_back(absl::StrCat(s.id, ": ", counts));
  }
  if (!ended) {
    for (const StepFacts* s : stalled) {
      // How long says more than how many check-ins (their spacing varies).
      parts.push_back(
          s->quiet_ms ? absl::StrCat("no output from ", s->id, " for ",
                                     FormatDurationMs(*s->quiet_ms), " (",
                                     s->quiet_checkins, " check-ins)")
                      : absl::StrCat("no output from ", s->id, " for ",
                                     s->quiet_checkins, " check-ins"));
    }
  }
  if (budget_crossed) {
    parts.push_back(absl::StrFormat("%.0f%% of the budget spent",
                                    *run.budget_fraction_spent * 100));
  }
  if (r.evidence_omitted > 0) {
    parts.push_back(absl::StrCat(r.evidence_omitted, " more not shown"));
  }
  r.summary = absl::StrJoin(parts, "; ");
  return r;
}

std::string NewBestLine(const NewBestNews& news) {
  std::string line = absl::StrCat(
      "new best ", news.metric.empty() ? "metric" : news.metric, " ", news.value,
      news.was ? absl::StrCat(" (was ", *news.was, ")") : " (first value)");
  if (!news.where.empty()) {
    absl::StrAppend(&line, " at ", news.where);
  } else if (news.line > 0) {
    absl::StrAppend(&line, " at line ", news.line);
  }
  if (news.count > 1) absl::StrAppend(&line, " (", news.count - 1, " intermediate)");
  return line;
}

bool IsDecisive(const CheckinReport& report) {
  return report.verdict == Verdict::kFailed ||
         report.verdict == Verdict::kSucceeded;
}

std::string RenderReport(const CheckinReport& report, std::string_view run_id) {
  std::string progress =
      report.progress_text.empty() ? "-" : report.progress_text;
  if (progress.find(' ') != std::string::npos) {
    std::replace(progress.begin(), progress.end(), '"', '\'');
    progress = absl::StrCat("\"", progress, "\"");
  }
  std::string out = absl::StrCat(
      absl::AsciiStrToUpper(AV(VerdictName(report.verdict))),
      " run=", AV(run_id), " progress=", progress,
      " elapsed=", FormatDurationMs(report.elapsed_ms),
      " eta=", report.eta_ms ? FormatDurationMs(*report.eta_ms) : "-", "\n");
  for (const Evidence& e : report.evidence) {
    absl::StrAppend(&out, "  ", e.step, ":", e.finding.line, ": ",
                    e.finding.text, "\n");
  }
  for (const StepProgressReport& p : report.steps_progress) {
    absl::StrAppend(&out, "  ", p.step, " progress: ", p.text, "\n");
  }
  if (!report.summary.empty()) absl::StrAppend(&out, report.summary, "\n");
  return out;
}

}  // namespace aetherflow
