// The daemon's durable state: one SQLite database in WAL mode.
//
// Rows hold the API messages themselves (serialized aetherflow.v1.Run, Step
// and Event) next to the few columns we query by, so that what a client
// reads is exactly what was committed. Schema version: PRAGMA user_version.
//
// Thread-safety: the writer methods (CreateRun, Commit, Delete...) are called
// from the engine thread only; the reader methods may be called from any
// thread (they use a second connection behind a mutex, and WAL lets them
// read while the writer writes).
#ifndef AETHERFLOW_DAEMON_STATE_STORE_H_
#define AETHERFLOW_DAEMON_STATE_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "aetherflow/v1/aetherflow.pb.h"
#include "daemon/snapshot_rows.h"

namespace aetherflow {

namespace pb = ::aetherflow::v1;

// What a run needs beyond its Run message to be executed (again).
struct RunSource {
  std::string plan_json;
  std::map<std::string, std::string> env;  // secrets already removed
  uint32_t uid = 0;
};

// A set of changes committed in one transaction.
struct CommitBatch {
  struct StepRow {
    const std::string* run_id;
    int index;
    const pb::Step* step;
    int64_t pid = 0;           // process group of the running step, or 0
    uint64_t start_ticks = 0;  // its start time, against pid reuse
  };
  std::vector<const pb::Run*> runs;  // updated
  std::vector<StepRow> steps;        // updated
  std::vector<const pb::Event*> events;
  bool empty() const { return runs.empty() && steps.empty() && events.empty(); }
};

class StateStore {
 public:
  // Opens or creates `path` (0600), sets WAL, migrates the schema.
  static absl::StatusOr<std::unique_ptr<StateStore>> Open(const std::string& path);
  ~StateStore();

  // --- Writer side (engine thread) ---
  // Stores a new run, its steps and its first events atomically.
  absl::Status CreateRun(const pb::Run& run, const RunSource& source,
                         const std::vector<pb::Step>& steps,
                         const std::vector<pb::Event>& events);
  // Commits run and step updates and new events in one transaction.
  absl::Status Commit(const CommitBatch& batch);
  // Forgets a run: its row, steps and events.
  absl::Status DeleteRun(const std::string& run_id);
  // Replaces the stored environment of a run (resume brings a new one).
  absl::Status UpdateRunEnv(const std::string& run_id,
                            const std::map<std::string, std::string>& env);
  // Processes of steps that were running (StepRow::pid), to kill what a
  // crashed daemon left behind.
  struct OrphanProcess {
    int64_t pid;
    uint64_t start_ticks;
  };
  absl::StatusOr<std::vector<OrphanProcess>> StepProcesses();
  absl::Status ClearStepProcesses();

  // --- Reader side (any thread) ---
  // Resolves a run id, a unique prefix of one, or "last", among the runs of
  // `owner` (a uid; nullopt: everyone's). NotFound or InvalidArgument
  // (ambiguous prefix).
  absl::StatusOr<std::string> ResolveRunId(
      const std::string& ref, std::optional<uint32_t> owner = std::nullopt);
  // The run and its steps as of one committed transaction.
  absl::StatusOr<pb::RunSnapshot> GetRun(const std::string& run_id);
  // The same snapshot in its wire encoding, made from the stored rows
  // without decoding them (the GetRun RPC sends it as it is); for a run that
  // is going, from the rows in memory (SnapshotRows), without SQLite.
  absl::StatusOr<std::string> GetRunEncoded(const std::string& run_id);
  // Newest first, at most `limit` (0: all), of `owner` (nullopt: everyone).
  absl::StatusOr<std::vector<pb::Run>> ListRuns(
      int limit, std::optional<uint32_t> owner = std::nullopt);
  // The run alone, without its steps (cheap for 10,000-step runs).
  absl::StatusOr<pb::Run> GetRunOnly(const std::string& run_id);
  // One step of a run, by its index in the plan.
  absl::StatusOr<pb::Step> GetStep(const std::string& run_id, int index);
  // Runs whose state is one of `states` (e.g. running ones at start-up).
  absl::StatusOr<std::vector<std::string>> RunsInStates(
      const std::vector<pb::RunState>& states);
  absl::StatusOr<RunSource> GetRunSource(const std::string& run_id);
  // Events with seq > after_seq, in order, at most `limit`.
  absl::StatusOr<std::vector<pb::Event>> ReadEvents(const std::string& run_id,
                                                    int64_t after_seq,
                                                    int limit);
  // Runs finished before `before_ms`.
  absl::StatusOr<std::vector<std::string>> FinishedBefore(
      int64_t before_ms, std::optional<uint32_t> owner = std::nullopt);

  // Test hook: how many rows each table holds.
  absl::StatusOr<int64_t> TEST_CountRows(const std::string& table);
  // Test hooks: the database may not grow past `pages` pages (commits then
  // fail as on a full disk; a large number lifts it), and its size now.
  absl::Status TEST_LimitPages(int64_t pages);
  absl::StatusOr<int64_t> TEST_PageCount();

 private:
  class Db;
  explicit StateStore(std::unique_ptr<Db> writer, std::unique_ptr<Db> reader);
  std::unique_ptr<Db> writer_;
  std::unique_ptr<Db> reader_;
  SnapshotRows rows_;  // of the runs that are going
};

}  // namespace aetherflow

#endif  // AETHERFLOW_DAEMON_STATE_STORE_H_
