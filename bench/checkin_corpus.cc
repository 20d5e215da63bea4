// Scores the check-in analyser on the labelled corpus of real log excerpts
// (tests/data/logs): verdict accuracy on jobs still running, false "failed"
// on them, and progress read where an excerpt shows one.
//
//   build/bench/checkin_corpus [tests/data/logs] [-v]
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "common/checkin_corpus.h"

namespace {

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream text;
  text << in.rdbuf();
  *out = text.str();
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "tests/data/logs";
  bool verbose = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-v") {
      verbose = true;
    } else {
      dir = arg;
    }
  }
  std::string index;
  if (!ReadFile(dir + "/index.tsv", &index)) {
    std::fprintf(stderr, "checkin_corpus: cannot read %s/index.tsv\n",
                 dir.c_str());
    return 2;
  }
  auto entries = aetherflow::ParseCorpusIndex(index);
  if (!entries.ok()) {
    std::fprintf(stderr, "checkin_corpus: %s\n",
                 std::string(entries.status().message()).c_str());
    return 2;
  }
  aetherflow::CorpusScore score;
  for (const aetherflow::CorpusEntry& e : *entries) {
    std::string log;
    if (!ReadFile(dir + "/" + e.file, &log)) {
      std::fprintf(stderr, "checkin_corpus: cannot read %s\n", e.file.c_str());
      return 2;
    }
    aetherflow::CorpusCheckin c = aetherflow::CheckInOnLiveLog(log);
    aetherflow::ScoreCorpusCheckin(e, c.verdict, c.progress, &score);
    if (verbose) {
      std::printf("%-36s %-10s %-22s %s\n", e.file.c_str(),
                  std::string(aetherflow::VerdictName(c.verdict)).c_str(),
                  c.progress.text.c_str(), c.report.summary.c_str());
    }
  }
  auto pct = [](int a, int b) { return b == 0 ? 100.0 : 100.0 * a / b; };
  std::printf("excerpts (live jobs):     %d\n", score.excerpts);
  std::printf("verdicts right:           %d/%d (%.1f%%)\n", score.verdicts_right,
              score.excerpts, pct(score.verdicts_right, score.excerpts));
  std::printf("false failed (live):      %d\n", score.false_failed);
  std::printf("progress read:            %d/%d (%.1f%%)\n", score.progress_read,
              score.with_progress, pct(score.progress_read, score.with_progress));
  if (verbose || !score.misses.empty()) {
    for (const std::string& m : score.misses) std::printf("  miss %s\n", m.c_str());
  }
  return 0;
}
