#include "daemon/state_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>
#include <sys/stat.h>

#include <algorithm>
#include <mutex>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace aetherflow {
namespace {

constexpr int kSchemaVersion = 1;

constexpr char kSchemaSql[] = R"sql(
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL,
  finished_at INTEGER NOT NULL DEFAULT 0,
  state INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  plan_json TEXT NOT NULL,
  env_json TEXT NOT NULL,
  data BLOB NOT NULL              -- aetherflow.v1.Run
);
CREATE INDEX IF NOT EXISTS runs_by_created ON runs(created_at);
CREATE TABLE IF NOT EXISTS steps (
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  idx INTEGER NOT NULL,
  pid INTEGER NOT NULL DEFAULT 0,         -- process group of a running step
  start_ticks INTEGER NOT NULL DEFAULT 0, -- its start time, against pid reuse
  data BLOB NOT NULL,                     -- aetherflow.v1.Step
  PRIMARY KEY (run_id, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  data BLOB NOT NULL,                     -- aetherflow.v1.Event
  PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
)sql";

absl::Status SqliteError(sqlite3* db, absl::string_view what) {
  int code = sqlite3_extended_errcode(db);
  std::string message = absl::StrCat("state database: ", what, ": ",
                                     sqlite3_errmsg(db));
  switch (code & 0xff) {
    case SQLITE_FULL:
      // Not the caller's fault (RESOURCE_EXHAUSTED means a request over a
      // limit): the operation failed and can be tried again.
      return absl::AbortedError(message);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace

// One connection with its cached prepared statements.
class StateStore::Db {
 public:
  ~Db() {
    for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
    sqlite3_close(db_);
  }

  static absl::StatusOr<std::unique_ptr<Db>> Open(const std::string& path) {
    auto db = std::unique_ptr<Db>(new Db);
    int rc = sqlite3_open_v2(
        path.c_str(), &db->db_,
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) return SqliteError(db->db_, absl::StrCat("open ", path));
    sqlite3_extended_result_codes(db->db_, 1);
    // The busy timeout first: switching to WAL takes a lock that someone
    // reading the file at that moment (sqlite3, a backup) holds briefly.
    AF_RETURN_IF_ERROR(db->Exec(
        "PRAGMA busy_timeout=5000; PRAGMA journal_mode=WAL; "
        "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"));
    return db;
  }

  absl::Status Exec(const char* sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
      std::string message = error ? error : "unknown error";
      sqlite3_free(error);
      return SqliteError(db_, message);
    }
    return absl::OkStatus();
  }

  // A cached statement, reset and with its bindings cleared.
  absl::StatusOr<sqlite3_stmt*> Prepare(const char* sql) {
    auto it = cache_.find(sql);
    if (it != cache_.end()) {
      sqlite3_reset(it->second);
      sqlite3_clear_bindings(it->second);
      return it->second;
    }
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt,
                           nullptr) != SQLITE_OK) {
      return SqliteError(db_, "prepare");
    }
    cache_.emplace(sql, stmt);
    return stmt;
  }

  // Steps a statement that returns no rows.
  absl::Status Run(sqlite3_stmt* stmt) {
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return SqliteError(db_, "write");
    return absl::OkStatus();
  }

  absl::Status StepError() { return SqliteError(db_, "read"); }

  sqlite3* raw() { return db_; }
  std::mutex& mu() { return mu_; }

 private:
  Db() = default;
  sqlite3* db_ = nullptr;
  std::unordered_map<const char*, sqlite3_stmt*> cache_;
  std::mutex mu_;  // serializes users of the reader connection
};

namespace {

// Rolls back unless committed (Chromium's sql::Transaction).
class Transaction {
 public:
  absl::Status Begin(sqlite3* raw, bool write) {
    raw_ = raw;
    int rc = sqlite3_exec(raw, write ? "BEGIN IMMEDIATE" : "BEGIN", nullptr,
                          nullptr, nullptr);
    if (rc != SQLITE_OK) return SqliteError(raw, "begin");
    open_ = true;
    return absl::OkStatus();
  }
  absl::Status Commit() {
    int rc = sqlite3_exec(raw_, "COMMIT", nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return SqliteError(raw_, "commit");
    open_ = false;
    return absl::OkStatus();
  }
  ~Transaction() {
    if (open_) sqlite3_exec(raw_, "ROLLBACK", nullptr, nullptr, nullptr);
  }

 private:
  sqlite3* raw_ = nullptr;
  bool open_ = false;
};

void BindText(sqlite3_stmt* stmt, int index, const std::string& text) {
  sqlite3_bind_text(stmt, index, text.data(), static_cast<int>(text.size()),
                    SQLITE_TRANSIENT);
}

// Binds a uid filter; NULL (nullopt) matches every owner.
void BindOwner(sqlite3_stmt* stmt, int index, std::optional<uint32_t> owner) {
  if (owner.has_value()) {
    sqlite3_bind_int64(stmt, index, *owner);
  } else {
    sqlite3_bind_null(stmt, index);
  }
}

// Binds `message` encoded, and returns the encoding.
std::string BindMessage(sqlite3_stmt* stmt, int index,
                        const google::protobuf::MessageLite& message) {
  std::string blob = message.SerializeAsString();
  sqlite3_bind_blob(stmt, index, blob.data(), static_cast<int>(blob.size()),
                    SQLITE_TRANSIENT);
  return blob;
}

// A run in this state will not change again (a paused one may).
bool IsFinal(int state) {
  return state != pb::RUN_QUEUED && state != pb::RUN_RUNNING && state != pb::RUN_PAUSED;
}

template <typename Message>
bool ColumnMessage(sqlite3_stmt* stmt, int column, Message* message) {
  const void* data = sqlite3_column_blob(stmt, column);
  int size = sqlite3_column_bytes(stmt, column);
  return message->ParseFromArray(data, size);
}

// Appends the blob in `column` as field `field` of a message being encoded:
// tag (wire type 2), length, bytes. The blobs are encoded messages already.
void AppendBlobField(sqlite3_stmt* stmt, int column, uint32_t field, std::string* out) {
  const char* data = static_cast<const char*>(sqlite3_column_blob(stmt, column));
  std::size_t size = static_cast<std::size_t>(sqlite3_column_bytes(stmt, column));
  AppendBytesField(field, data ? data : "", size, out);
}

std::string ColumnBlob(sqlite3_stmt* stmt, int column) {
  const char* data = static_cast<const char*>(sqlite3_column_blob(stmt, column));
  return std::string(data ? data : "",
                     static_cast<std::size_t>(sqlite3_column_bytes(stmt, column)));
}

std::string ColumnText(sqlite3_stmt* stmt, int column) {
  const unsigned char* text = sqlite3_column_text(stmt, column);
  return text ? std::string(reinterpret_cast<const char*>(text),
                            sqlite3_column_bytes(stmt, column))
              : std::string();
}

std::string EnvToJson(const std::map<std::string, std::string>& env) {
  return nlohmann::json(env).dump(-1, ' ', false,
                                  nlohmann::json::error_handler_t::replace);
}

}  // namespace

StateStore::StateStore(std::unique_ptr<Db> writer, std::unique_ptr<Db> reader)
    : writer_(std::move(writer)), reader_(std::move(reader)) {}

StateStore::~StateStore() = default;

absl::StatusOr<std::unique_ptr<StateStore>> StateStore::Open(
    const std::string& path) {
  // Create the file private before SQLite does (it would use the umask).
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("state database ", path));
  }
  ::close(fd);
  AF_ASSIGN_OR_RETURN(auto writer, Db::Open(path));
  sqlite3_stmt* version_stmt = nullptr;
  sqlite3_prepare_v2(writer->raw(), "PRAGMA user_version", -1, &version_stmt,
                     nullptr);
  int version = 0;
  if (version_stmt && sqlite3_step(version_stmt) == SQLITE_ROW) {
    version = sqlite3_column_int(version_stmt, 0);
  }
  sqlite3_finalize(version_stmt);
  if (version > kSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "state database ", path, " has schema version ", version,
        ", newer than this aetherflowd understands (", kSchemaVersion, ")"));
  }
  if (version < kSchemaVersion) {
    // Version 0 is a new file; later versions add migrations here, each in
    // its own transaction.
    AF_RETURN_IF_ERROR(writer->Exec("BEGIN IMMEDIATE"));
    absl::Status status = writer->Exec(kSchemaSql);
    if (status.ok()) {
      status = writer->Exec(
          absl::StrCat("PRAGMA user_version=", kSchemaVersion).c_str());
    }
    if (!status.ok()) {
      writer->Exec("ROLLBACK").IgnoreError();
      return status;
    }
    AF_RETURN_IF_ERROR(writer->Exec("COMMIT"));
  }
  AF_ASSIGN_OR_RETURN(auto reader, Db::Open(path));
  return std::unique_ptr<StateStore>(
      new StateStore(std::move(writer), std::move(reader)));
}

absl::Status StateStore::CreateRun(const pb::Run& run, const RunSource& source,
                                   const std::vector<pb::Step>& steps,
                                   const std::vector<pb::Event>& events) {
  static constexpr char kInsertRun[] =
      "INSERT INTO runs (id, created_at, finished_at, state, uid, plan_json, "
      "env_json, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
  static constexpr char kInsertStep[] =
      "INSERT INTO steps (run_id, idx, data) VALUES (?, ?, ?)";
  Transaction txn;
  AF_RETURN_IF_ERROR(txn.Begin(writer_->raw(), true));
  AF_ASSIGN_OR_RETURN(sqlite3_stmt * insert_run, writer_->Prepare(kInsertRun));
  BindText(insert_run, 1, run.id());
  sqlite3_bind_int64(insert_run, 2, run.created_at_ms());
  sqlite3_bind_int64(insert_run, 3, run.finished_at_ms());
  sqlite3_bind_int(insert_run, 4, run.state());
  sqlite3_bind_int64(insert_run, 5, source.uid);
  BindText(insert_run, 6, source.plan_json);
  BindText(insert_run, 7, EnvToJson(source.env));
  std::string run_blob = BindMessage(insert_run, 8, run);
  AF_RETURN_IF_ERROR(writer_->Run(insert_run));
  AF_ASSIGN_OR_RETURN(sqlite3_stmt * insert_step, writer_->Prepare(kInsertStep));
  std::vector<std::string> step_blobs;
  step_blobs.reserve(steps.size());
  for (std::size_t i = 0; i < steps.size(); ++i) {
    sqlite3_reset(insert_step);
    BindText(insert_step, 1, run.id());
    sqlite3_bind_int(insert_step, 2, static_cast<int>(i));
    step_blobs.push_back(BindMessage(insert_step, 3, steps[i]));
    AF_RETURN_IF_ERROR(writer_->Run(insert_step));
  }
  CommitBatch batch;
  for (const pb::Event& event : events) batch.events.push_back(&event);
  static constexpr char kInsertEvent[] =
      "INSERT INTO events (run_id, seq, data) VALUES (?, ?, ?)";
  AF_ASSIGN_OR_RETURN(sqlite3_stmt * insert_event, writer_->Prepare(kInsertEvent));
  for (const pb::Event& event : events) {
    BindText(insert_event, 1, event.run_id());
    sqlite3_bind_int64(insert_event, 2, event.seq());
    BindMessage(insert_event, 3, event);
    AF_RETURN_IF_ERROR(writer_->Run(insert_event));
  }
  AF_RETURN_IF_ERROR(txn.Commit());
  if (!IsFinal(run.state())) {
    rows_.Insert(run.id(), std::move(run_blob), std::move(step_blobs));
  }
  return absl::OkStatus();
}

absl::Status StateStore::Commit(const CommitBatch& batch) {
  if (batch.empty()) return absl::OkStatus();
  static constexpr char kUpdateRun[] =
      "UPDATE runs SET state = ?, finished_at = ?, data = ? WHERE id = ?";
  static constexpr char kUpdateStep[] =
      "UPDATE steps SET data = ?, pid = ?, start_ticks = ? "
      "WHERE run_id = ? AND idx = ?";
  static constexpr char kInsertEvent[] =
      "INSERT INTO events (run_id, seq, data) VALUES (?, ?, ?)";
  Transaction txn;
  AF_RETURN_IF_ERROR(txn.Begin(writer_->raw(), true));
  std::vector<SnapshotRows::Update> updates;
  updates.reserve(batch.runs.size() + batch.steps.size());
  AF_ASSIGN_OR_RETURN(sqlite3_stmt * update_run, writer_->Prepare(kUpdateRun));
  for (const pb::Run* run : batch.runs) {
    sqlite3_bind_int(update_run, 1, run->state());
    sqlite3_bind_int64(update_run, 2, run->finished_at_ms());
    std::string blob = BindMessage(update_run, 3, *run);
    BindText(update_run, 4, run->id());
    AF_RETURN_IF_ERROR(writer_->Run(update_run));
    updates.push_back({run->id(), -1, std::move(blob), IsFinal(run->state())});
  }
  AF_ASSIGN_OR_RETURN(sqlite3_stmt * update_step, writer_->Prepare(kUpdateStep));
  for (const CommitBatch::StepRow& row : batch.steps) {
    updates.push_back({*row.run_id, row.index, BindMessage(update_step, 1, *row.step)});
    sqlite3_bind_int64(update_step, 2, row.pid);
    sqlite3_bind_int64(update_step, 3, static_cast<int64_t>(row.start_ticks));
    BindText(update_step, 4, *row.run_id);
    sqlite3_bind_int(update_step, 5, row.index);
    AF_RETURN_IF_ERROR(writer_->Run(update_step));
  }
  AF_ASSIGN_OR_RETURN(sqlite3_stmt * insert_event, writer_->Prepare(kInsertEvent));
  for (const pb::Event* event : batch.events) {
    BindText(insert_event, 1, event->run_id());
    sqlite3_bind_int64(insert_event, 2, event->seq());
    BindMessage(insert_event, 3, *event);
    AF_RETURN_IF_ERROR(writer_->Run(insert_event));
  }
  AF_RETURN_IF_ERROR(txn.Commit());
  // Steps first, then the run: a run that ended drops its rows.
  std::stable_partition(updates.begin(), updates.end(),
                        [](const SnapshotRows::Update& u) { return u.index >= 0; });
  rows_.Apply(std::move(updates));
  return absl::OkStatus();
}

absl::Status StateStore::DeleteRun(const std::string& run_id) {
  static constexpr char kDelete[] = "DELETE FROM runs WHERE id = ?";
  AF_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, writer_->Prepare(kDelete));
  BindText(stmt, 1, run_id);
  absl::Status status = writer_->Run(stmt);
  rows_.Erase(run_id);
  return status;
}

absl::Status StateStore::UpdateRunEnv(
    const std::string& run_id, const std::map<std::string, std::string>& env) {
  static constexpr char kUpdate[] = "UPDATE runs SET env_json = ? WHERE id = ?";
  AF_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, writer_->Prepare(kUpdate));
  BindText(stmt, 1, EnvToJson(env));
  BindText(stmt, 2, run_id);
  return writer_->Run(stmt);
}

absl::StatusOr<std::vector<StateStore::OrphanProcess>>
StateStore::StepProcesses() {
  static constexpr char kSelect[] =
      "SELECT pid, start_ticks FROM steps WHERE pid != 0";
  AF_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, writer_->Prepare(kSelect));
  std::vector<OrphanProcess> out;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    out.push_back({sqlite3_column_int64(stmt, 0),
                   static_cast<uint64_t>(sqlite3_column_int64(stmt, 1))});
  }
  sqlite3_reset(stmt);
  if (rc != SQLITE_DONE) return writer_->StepError();
  return out;
}

absl::Status StateStore::ClearStepProcesses() {
  return writer_->Exec("UPDATE steps SET pid = 0, start_ticks = 0 WHERE pid != 0");
}

absl::StatusOr<std::string> StateStore::ResolveRunId(
    const std::string& ref, std::optional<uint32_t> owner) {
  std::lock_guard<std::mutex> lock(reader_->mu());
  if (ref == "last") {
    static constexpr char kLast[] =
        "SELECT id FROM runs WHERE (?1 IS NULL OR uid = ?1) "
        "ORDER BY created_at DESC, rowid DESC LIMIT 1";
    AF_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, reader_->Prepare(kLast));
    BindOwner(stmt, 1, owner);
    std::string id;
    if (sqlite3_step(stmt) == SQLITE_ROW) id = ColumnText(stmt, 0);
    sqlite3_reset(stmt);
    if (id.empty()) return absl::NotFoundError("no runs yet");
    return id;
  }
  static constexpr char kPrefix[] =
      "SELECT id FROM runs WHERE id >= ?1 AND id < ?1 || x'ff' "
      "AND (?2 IS NULL OR uid = ?2) ORDER BY id LIMIT 2";
  AF_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, reader_->Prepare(kPrefix));
  BindText(stmt, 1, ref);
  BindOwner(stmt, 2, owner);
  std::vector<std::string> ids;
  while (sqlite3_step(stmt) == SQLITE_ROW) ids.push_back(ColumnText(stmt, 0));
  sqlite3_reset(stmt);
  for (const std::string& id : ids) {
    if (id == ref) return id;
  }
  if (ref.empty() || ids.empty()) {
    return absl::NotFoundError(absl::StrCat("no run \"", ref, "\""));
  }
  if (ids.size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "run id prefix \"", ref, "\" is ambiguous (", ids[0], ", ", ids[1],
        "…)"));
  }
  return ids[0];
}

absl::StatusOr<pb::RunSnapshot> StateStore::GetRun(const std::string& run_id) {
  // The stored rows are the snapshot's own encoding: one parse of them.
  AF_ASSIGN_OR_RETURN(std::string encoded, GetRunEncoded(run_id));
  pb::RunSnapshot snapshot;
  if (!snapshot.ParseFromString(encoded)) {
    return absl::DataLossError(absl::StrCat("run ", run_id, ": stored rows do not parse"));
  }
  return snapshot;
}

absl::StatusOr<std::string> StateStore::GetRunEncoded(const std::string& run_id) {
  std::string encoded;
  if (rows_.Encode(run_id, &encoded)) return encoded;
  static constexpr char kRun[] = "SELECT state, data FROM runs WHERE id = ?";
  static constexpr char kSteps[] =
      "SELECT data FROM steps WHERE run_id = ? ORDER BY idx";
  // RunSnapshot's field numbers.
  constexpr uint32_t kRunField = pb::RunSnapshot::kRunFieldNumber;
  constexpr uint32_t kStepsField = pb::RunSnapshot::kStepsFieldNumber;
  uint64_t generation = rows_.generation();  // before the read
  std::lock_guard<std::mutex> lock(reader_->mu());
  Transaction txn;
  AF_RETURN_IF_ERROR(txn.Begin(reader_->raw(), false));
  AF_ASSIGN_OR_RETURN(sqlite3_stmt * run_stmt, reader_->Prepare(kRun));
  BindText(run_stmt, 1, run_id);
  bool found = sqlite3_step(run_stmt) == SQLITE_ROW;
  bool going = found && !IsFinal(sqlite3_column_int(run_stmt, 0));
  std::string run_blob;
  std::vector<std::string> step_blobs;
  if (found) {
    AppendBlobField(run_stmt, 1, kRunField, &encoded);
    if (going) run_blob = ColumnBlob(run_stmt, 1);
  }
  sqlite3_reset(run_stmt);
  if (!found) return absl::NotFoundError(absl::StrCat("no run \"", run_id, "\""));
  AF_ASSIGN_OR_RETURN(sqlite3_stmt * steps_stmt, reader_->Prepare(kSteps));
  BindText(steps_stmt, 1, run_id);
  int rc;
  while ((rc = sqlite3_step(steps_stmt)) == SQLITE_ROW) {
    AppendBlobField(steps_stmt, 0, kStepsField, &encoded);
    if (going) step_blobs.push_back(ColumnBlob(steps_stmt, 0));
  }
  sqlite3_reset(steps_stmt);
  if (rc != SQLITE_DONE) return reader_->StepError();
  AF_RETURN_IF_ERROR(txn.Commit());
  // The next attach of a run that is going (restored at start-up, say)
  // needs no query.
  if (going) rows_.Fill(generation, run_id, std::move(run_blob), std::move(step_blobs));
  return encoded;
}

absl::StatusOr<pb::Run> StateStore::GetRunOnly(const std::string& run_id) {
  static constexpr char kSelect[] = "SELECT data FROM runs WHERE id = ?";
  std::lock_guard<std::mutex> lock(reader_->mu());
  AF_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, reader_->Prepare(kSelect));
  BindText(stmt, 1, run_id);
  pb::Run run;
  bool found = sqlite3_step(stmt) == SQLITE_ROW && ColumnMessage(stmt, 0, &run);
  sqlite3_reset(stmt);
  if (!found) return absl::NotFoundError(absl::StrCat("no run \"", run_id, "\""));
  return run;
}

absl::StatusOr<pb::Step> StateStore::GetStep(const std::string& run_id,
                                             int index) {
  static constexpr char kSelect[] =
      "SELECT data FROM steps WHERE run_id = ? AND idx = ?";
  std::lock_guard<std::mutex> lock(reader_->mu());
  AF_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, reader_->Prepare(kSelect));
  BindText(stmt, 1, run_id);
  sqlite3_bind_int(stmt, 2, index);
  pb::Step step;
  bool found = sqlite3_step(stmt) == SQLITE_ROW && ColumnMessage(stmt, 0, &step);
  sqlite3_reset(stmt);
  if (!found) return absl::NotFoundError("no such step");
  return step;
}

absl::StatusOr<std::vector<pb::Run>> StateStore::ListRuns(
    int limit, std::optional<uint32_t> owner) {
  static constexpr char kList[] =
      "SELECT data FROM runs WHERE (?2 IS NULL OR uid = ?2) "
      "ORDER BY created_at DESC, rowid DESC LIMIT ?1";
  std::lock_guard<std::mutex> lock(reader_->mu());
  AF_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, reader_->Prepare(kList));
  sqlite3_bind_int(stmt, 1, limit > 0 ? limit : -1);
  BindOwner(stmt, 2, owner);
  std::vector<pb::Run> runs;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    runs.emplace_back();
    ColumnMessage(stmt, 0, &runs.back());
  }
  sqlite3_reset(stmt);
  if (rc != SQLITE_DONE) return reader_->StepError();
  return runs;
}

absl::StatusOr<std::vector<std::string>> StateStore::RunsInStates(
    const std::vector<pb::RunState>& states) {
  static constexpr char kSelect[] =
      "SELECT id FROM runs WHERE state = ? ORDER BY created_at";
  std::lock_guard<std::mutex> lock(reader_->mu());
  std::vector<std::string> ids;
  for (pb::RunState state : states) {
    AF_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, reader_->Prepare(kSelect));
    sqlite3_bind_int(stmt, 1, state);
    while (sqlite3_step(stmt) == SQLITE_ROW) ids.push_back(ColumnText(stmt, 0));
    sqlite3_reset(stmt);
  }
  return ids;
}

absl::StatusOr<RunSource> StateStore::GetRunSource(const std::string& run_id) {
  static constexpr char kSelect[] =
      "SELECT plan_json, env_json, uid FROM runs WHERE id = ?";
  std::lock_guard<std::mutex> lock(reader_->mu());
  AF_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, reader_->Prepare(kSelect));
  BindText(stmt, 1, run_id);
  if (sqlite3_step(stmt) != SQLITE_ROW) {
    sqlite3_reset(stmt);
    return absl::NotFoundError(absl::StrCat("no run \"", run_id, "\""));
  }
  RunSource source;
  source.plan_json = ColumnText(stmt, 0);
  std::string env_json = ColumnText(stmt, 1);
  source.uid = static_cast<uint32_t>(sqlite3_column_int64(stmt, 2));
  sqlite3_reset(stmt);
  nlohmann::json env = nlohmann::json::parse(env_json, nullptr, false);
  if (env.is_object()) {
    for (auto& [key, value] : env.items()) {
      if (value.is_string()) source.env[key] = value.get<std::string>();
    }
  }
  return source;
}

absl::StatusOr<std::vector<pb::Event>> StateStore::ReadEvents(
    const std::string& run_id, int64_t after_seq, int limit) {
  static constexpr char kSelect[] =
      "SELECT data FROM events WHERE run_id = ? AND seq > ? ORDER BY seq "
      "LIMIT ?";
  std::lock_guard<std::mutex> lock(reader_->mu());
  AF_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, reader_->Prepare(kSelect));
  BindText(stmt, 1, run_id);
  sqlite3_bind_int64(stmt, 2, after_seq);
  sqlite3_bind_int(stmt, 3, limit);
  std::vector<pb::Event> events;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    events.emplace_back();
    ColumnMessage(stmt, 0, &events.back());
  }
  sqlite3_reset(stmt);
  if (rc != SQLITE_DONE) return reader_->StepError();
  return events;
}

absl::StatusOr<std::vector<std::string>> StateStore::FinishedBefore(
    int64_t before_ms, std::optional<uint32_t> owner) {
  static constexpr char kSelect[] =
      "SELECT id FROM runs WHERE finished_at != 0 AND finished_at < ?1 "
      "AND (?2 IS NULL OR uid = ?2)";
  std::lock_guard<std::mutex> lock(reader_->mu());
  AF_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, reader_->Prepare(kSelect));
  sqlite3_bind_int64(stmt, 1, before_ms);
  BindOwner(stmt, 2, owner);
  std::vector<std::string> ids;
  while (sqlite3_step(stmt) == SQLITE_ROW) ids.push_back(ColumnText(stmt, 0));
  sqlite3_reset(stmt);
  return ids;
}

absl::StatusOr<int64_t> StateStore::TEST_CountRows(const std::string& table) {
  std::lock_guard<std::mutex> lock(reader_->mu());
  std::string sql = absl::StrCat("SELECT count(*) FROM ", table);
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(reader_->raw(), sql.c_str(), -1, &stmt, nullptr) !=
      SQLITE_OK) {
    return reader_->StepError();
  }
  int64_t count = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : -1;
  sqlite3_finalize(stmt);
  return count;
}

absl::Status StateStore::TEST_LimitPages(int64_t pages) {
  // SQLite answers SQLITE_FULL once the file would grow past the limit: a
  // full disk, as far as a commit can tell.
  return writer_->Exec(absl::StrCat("PRAGMA max_page_count = ", pages).c_str());
}

absl::StatusOr<int64_t> StateStore::TEST_PageCount() {
  std::lock_guard<std::mutex> lock(reader_->mu());
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(reader_->raw(), "PRAGMA page_count", -1, &stmt, nullptr) !=
      SQLITE_OK) {
    return reader_->StepError();
  }
  int64_t count = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : -1;
  sqlite3_finalize(stmt);
  return count;
}

}  // namespace aetherflow
