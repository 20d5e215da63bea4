// The corpus of real log excerpts (tests/data/logs) through a real daemon
// and `poll`, as a user would: each excerpt is the whole output of a step
// that is still running when `poll --from-start` checks in.
#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "common/checkin_corpus.h"
#include "tests/integration/harness.h"

namespace aetherflow::testing {
namespace {

using nlohmann::json;

// One batch of runs at a time (the daemon runs this many steps at once),
// each still running at its check-in and cancelled after it.
constexpr size_t kBatch = 8;
constexpr char kEndMarker[] = "corpus excerpt printed";

class CheckinCorpusTest : public DaemonTest {
 protected:
  CliResult Client(std::vector<std::string> args) {
    return Cli(std::move(args), {{"XDG_STATE_HOME", dir_ + "/client-state"}});
  }

  // Waits (bounded) until the step's log holds the whole excerpt.
  bool WaitForWholeExcerpt(const std::string& run) {
    const auto give_up =
        std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < give_up) {
      CliResult r = Client({"logs", run, "excerpt"});
      if (r.out.find(kEndMarker) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
};

TEST_F(CheckinCorpusTest, PollOnEveryExcerptMatchesItsLabel) {
  StopDaemon();
  StartDaemon({"--max-parallel", std::to_string(kBatch)});
  const std::string dir = DataDir() + "/logs";
  absl::StatusOr<std::vector<CorpusEntry>> entries =
      ParseCorpusIndex(ReadFile(dir + "/index.tsv"));
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_GE(entries->size(), 40u);
  CorpusScore score;
  for (size_t first = 0; first < entries->size(); first += kBatch) {
    const size_t last = std::min(entries->size(), first + kBatch);
    std::vector<std::string> runs;
    for (size_t i = first; i < last; ++i) {
      const CorpusEntry& e = (*entries)[i];
      // The marker line matches no rule; the step then waits to be
      // cancelled, so that the job is live at its check-in.
      const std::string plan = json{
          {"task_id", "corpus"},
          {"steps",
           json::array({{{"id", "excerpt"},
                         {"run", "cat '" + dir + "/" + e.file + "'; echo '" +
                                     kEndMarker + "'; exec sleep 600"}}})}}
                                   .dump();
      runs.push_back(Submit(WritePlan("corpus-" + std::to_string(i) + ".json",
                                      plan)));
    }
    for (size_t i = first; i < last; ++i) {
      const CorpusEntry& e = (*entries)[i];
      const std::string& run = runs[i - first];
      ASSERT_TRUE(WaitForWholeExcerpt(run)) << e.file;
      CliResult r = Client(
          {"poll", run, "--from-start", "--json", "--wait", "0s"});
      json report = json::parse(r.out, nullptr, false);
      ASSERT_FALSE(report.is_discarded()) << e.file << ": " << r.out << r.err;
      std::optional<Verdict> verdict =
          VerdictFromName(report.value("verdict", ""));
      ASSERT_TRUE(verdict.has_value()) << e.file << ": " << r.out;
      EXPECT_EQ(r.exit_code, VerdictExitCode(*verdict)) << e.file;
      Progress progress;
      if (!report["steps"].empty()) {
        const json& step = report["steps"][0];
        EXPECT_EQ(step["step"], "excerpt");
        progress.text = step["progress"].get<std::string>();
        if (step["fraction"].is_number()) {
          progress.fraction = step["fraction"].get<double>();
        }
      }
      ScoreCorpusCheckin(e, *verdict, progress, &score);
      EXPECT_TRUE(VerdictAccepted(e, *verdict))
          << e.file << ": " << r.out;
      EXPECT_TRUE(ProgressMatches(e, progress))
          << e.file << ": \"" << progress.text << "\", want " << e.progress;
    }
    for (const std::string& run : runs) {
      EXPECT_EQ(Client({"cancel", run}).exit_code, 0) << run;
    }
    for (const std::string& run : runs) WaitForEnd(run);
  }
  EXPECT_EQ(score.excerpts, static_cast<int>(entries->size()));
  EXPECT_EQ(score.false_failed, 0);
}

}  // namespace
}  // namespace aetherflow::testing
