#include "common/checkin_corpus.h"

#include <cmath>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace aetherflow {
namespace {

absl::string_view AV(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

// The share a "D/T" or "N%" label names; negative for other labels.
double LabelFraction(std::string_view label) {
  if (label.empty()) return -1;
  double d, t;
  if (label.back() == '%') {
    if (!absl::SimpleAtod(AV(label.substr(0, label.size() - 1)), &d)) {
      return -1;
    }
    return d / 100;
  }
  const size_t slash = label.find('/');
  if (slash == std::string_view::npos ||
      !absl::SimpleAtod(AV(label.substr(0, slash)), &d) ||
      !absl::SimpleAtod(AV(label.substr(slash + 1)), &t) || t <= 0) {
    return -1;
  }
  return d / t;
}

}  // namespace

absl::StatusOr<std::vector<CorpusEntry>> ParseCorpusIndex(
    std::string_view tsv) {
  std::vector<CorpusEntry> out;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(AV(tsv), '\n')) {
    ++line_no;
    if (line_no == 1 || line.empty()) continue;  // the header
    std::vector<std::string> f = absl::StrSplit(line, '\t');
    auto bad = [&](std::string_view why) {
      return absl::InvalidArgumentError(
          absl::StrCat("index.tsv:", line_no, ": ", AV(why)));
    };
    if (f.size() != 6) return bad("expected 6 tab-separated fields");
    CorpusEntry e;
    e.file = f[0];
    e.source = f[1];
    e.library = f[2];
    for (absl::string_view v : absl::StrSplit(f[3], '|')) {
      std::optional<Verdict> verdict =
          VerdictFromName(std::string_view(v.data(), v.size()));
      if (!verdict) return bad(absl::StrCat("unknown verdict \"", v, "\""));
      e.verdicts.push_back(*verdict);
    }
    e.progress = f[4];
    if (e.progress != "-" && e.progress != "*" && e.progress[0] != '~' &&
        LabelFraction(e.progress) < 0) {
      return bad(absl::StrCat("bad progress label \"", e.progress, "\""));
    }
    e.notes = f[5];
    out.push_back(std::move(e));
  }
  return out;
}

bool VerdictAccepted(const CorpusEntry& entry, Verdict verdict) {
  for (Verdict v : entry.verdicts) {
    if (v == verdict) return true;
  }
  return false;
}

bool ShowsProgress(const CorpusEntry& entry) { return entry.progress != "-"; }

bool ProgressMatches(const CorpusEntry& entry, const Progress& progress) {
  const std::string& label = entry.progress;
  if (label == "-") return true;
  if (label == "*") return progress.known() || !progress.text.empty();
  if (label[0] == '~') {
    return progress.text.find(label.substr(1)) != std::string::npos;
  }
  return progress.known() &&
         std::abs(progress.fraction - LabelFraction(label)) < 1e-9;
}

CorpusCheckin CheckInOnLiveLog(std::string_view log) {
  StepCursor cursor;
  StepFacts step;
  step.id = "excerpt";
  step.running = true;
  step.analysis = AnalyzeLog(WatchSpec{}, log, &cursor);
  step.quiet_checkins = cursor.quiet_checkins;
  step.best = cursor.best;
  RunFacts run;
  run.state = RunState::kRunning;
  run.steps_total = 1;
  run.running = 1;
  run.elapsed_ms = 30'000;
  CorpusCheckin out;
  out.report = Decide(run, {step});
  out.verdict = out.report.verdict;
  out.progress = step.analysis.progress;
  return out;
}

void ScoreCorpusCheckin(const CorpusEntry& entry, const Verdict& verdict,
                        const Progress& progress, CorpusScore* score) {
  ++score->excerpts;
  const bool right = VerdictAccepted(entry, verdict);
  if (right) ++score->verdicts_right;
  if (!right && verdict == Verdict::kFailed) ++score->false_failed;
  std::vector<std::string> why;
  if (!right) {
    std::vector<std::string> want;
    for (Verdict v : entry.verdicts) want.emplace_back(VerdictName(v));
    why.push_back(absl::StrCat("verdict ", AV(VerdictName(verdict)),
                               ", want ", absl::StrJoin(want, "|")));
  }
  if (ShowsProgress(entry)) {
    ++score->with_progress;
    if (ProgressMatches(entry, progress)) {
      ++score->progress_read;
    } else {
      why.push_back(absl::StrCat("progress \"", progress.text, "\" (",
                                 progress.fraction, "), want ",
                                 entry.progress));
    }
  }
  if (!why.empty()) {
    score->misses.push_back(
        absl::StrCat(entry.file, ": ", absl::StrJoin(why, "; ")));
  }
}

}  // namespace aetherflow
