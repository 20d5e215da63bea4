// The labelled corpus of real log excerpts (tests/data/logs/index.tsv) and
// how a check-in is scored on it: the unit test, the integration test and
// bench/checkin_corpus all read it through these functions. Pure: callers
// read the files.
#ifndef AETHERFLOW_COMMON_CHECKIN_CORPUS_H_
#define AETHERFLOW_COMMON_CHECKIN_CORPUS_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/checkin.h"
#include "common/log_analysis.h"

namespace aetherflow {

// One row of index.tsv: file, source URL, library, accepted verdicts for a
// job still running ("attention|ok": a debatable label accepts both),
// progress label, notes.
//
// Progress labels: "-" the excerpt shows none; "*" any progress; "D/T" the
// share D/T is read; "N%" the share N% is read; "~TEXT" the progress text
// contains TEXT.
struct CorpusEntry {
  std::string file;
  std::string source;
  std::string library;
  std::vector<Verdict> verdicts;
  std::string progress;
  std::string notes;
};

// Parses index.tsv (a header row first). InvalidArgumentError naming the
// line for a row without six fields, an unknown verdict or a bad progress
// label.
absl::StatusOr<std::vector<CorpusEntry>> ParseCorpusIndex(
    std::string_view tsv);

bool VerdictAccepted(const CorpusEntry& entry, Verdict verdict);
bool ShowsProgress(const CorpusEntry& entry);
// True when `progress` matches the entry's label (always for "-").
bool ProgressMatches(const CorpusEntry& entry, const Progress& progress);

// The first check-in of a one-step run whose step is still running and has
// written `log`: what `poll --from-start` answers at T+30s.
struct CorpusCheckin {
  Verdict verdict = Verdict::kOk;
  Progress progress;
  CheckinReport report;
};
CorpusCheckin CheckInOnLiveLog(std::string_view log);

struct CorpusScore {
  int excerpts = 0;
  int verdicts_right = 0;
  int false_failed = 0;  // "failed" where the label does not accept it
  int with_progress = 0;
  int progress_read = 0;
  std::vector<std::string> misses;  // "file: got X, want Y"
};
// Adds one excerpt's result to `score`.
void ScoreCorpusCheckin(const CorpusEntry& entry, const Verdict& verdict,
                        const Progress& progress, CorpusScore* score);

}  // namespace aetherflow

#endif  // AETHERFLOW_COMMON_CHECKIN_CORPUS_H_
