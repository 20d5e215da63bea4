// The engine: one thread (like ninja's build loop) that asks Admission and
// the runs' schedulers what starts, hands steps to executors, feeds what
// they report back to the schedulers, and lets the Journal commit every
// change before it is published. RPC handlers post requests to it and get
// a callback.
#ifndef AETHERFLOW_DAEMON_ENGINE_H_
#define AETHERFLOW_DAEMON_ENGINE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/config.h"
#include "daemon/capacity.h"
#include "daemon/event_hub.h"
#include "daemon/process_runner.h"
#include "daemon/state_store.h"
#include "daemon/step_executor.h"

namespace aetherflow {

struct EngineOptions {
  std::string state_dir;       // runs/<id>/logs/<step>.log live below it
  int max_parallel = 0;        // daemon-wide cap; 0 = CPUs + 2 (ninja's -j)
  int64_t kill_grace_ms = 5000;   // SIGTERM -> SIGKILL
  int64_t retry_base_ms = 1000;   // first retry back-off
  int64_t retry_max_ms = 60'000;
  uint32_t uid = 0;            // the daemon's own uid
  // Runs queued or running per owner; more are refused (RESOURCE_EXHAUSTED).
  int max_runs_per_user = 100;
  Config config = BuiltinConfig();  // providers, routing
  // The configuration file the daemon reads (it may not exist): named when
  // a plan is refused for a missing key.
  std::string config_path;
  // What steps' `resources` draw from (SPEC §9): --resources, else the
  // config's [resources], else the machine's (ResolveCapacity).
  Capacity capacity;
  // Where API keys come from (the daemon's environment); never stored.
  std::function<std::optional<std::string>(const std::string&)> getenv;
  // Milliseconds since the epoch; tests pass a fake clock.
  std::function<int64_t()> clock;
};

// What runs steps, for Engine::Start: the command executor (also the
// Waiter the engine thread sleeps on) and the LLM one. Tests pass fakes.
struct Executors {
  std::unique_ptr<StepExecutor> command;
  std::unique_ptr<StepExecutor> llm;
  Waiter* waiter = nullptr;  // owned by one of the two
};

struct SubmitRequest {
  std::string plan_json;
  std::string plan_path;
  std::string cwd;
  std::map<std::string, std::string> env;
  std::string output_dir;
  std::optional<uint32_t> umask;  // the submitter's; steps run with it
  // Who submits (the caller's credentials). A root daemon runs the steps
  // as them; any other daemon runs steps as itself, so it takes runs only
  // from its own user and root.
  pb::RunOwner owner;
  // Only check the plan as a submit would (submit --dry-run): the answer
  // is an empty run id, or the refusal; nothing is stored.
  bool check_only = false;
  // SPEC §11: --apply (the plan's "apply": true also applies) and --commit.
  bool apply = false;
  bool commit = false;
  std::string profile;  // SPEC §12: --profile NAME; empty: [routing]
};

struct SubmitResult {
  std::string run_id;
  std::vector<std::string> warnings;
};

class Engine {
 public:
  using SnapshotCallback = std::function<void(absl::StatusOr<pb::RunSnapshot>)>;
  using SubmitCallback = std::function<void(absl::StatusOr<SubmitResult>)>;

  // Recovers from the store (runs that were running become interrupted,
  // processes a crashed daemon left are killed) and starts the engine
  // thread. `store` and `hub` must outlive the engine.
  static absl::StatusOr<std::unique_ptr<Engine>> Start(
      EngineOptions options, StateStore* store, EventHub* hub,
      std::unique_ptr<ProcessRunner> runner);
  // The same with given executors (tests).
  static absl::StatusOr<std::unique_ptr<Engine>> Start(EngineOptions options,
                                                       StateStore* store, EventHub* hub,
                                                       Executors executors);
  ~Engine();  // Stop()s if needed.

  // Graceful stop: running steps are killed and recorded as interrupted,
  // their runs too; then the engine thread ends. Idempotent.
  void Stop();

  // Each request is validated, then executed on the engine thread; `done`
  // is called there (or at once on a validation error) after the changes
  // are committed. Thread-safe.
  void Submit(SubmitRequest request, SubmitCallback done);
  void Cancel(std::string run_ref, SnapshotCallback done);
  // On a paused run: it goes on. On a finished or interrupted one: runs
  // again what did not complete (SPEC §3).
  void Resume(std::string run_ref, std::map<std::string, std::string> env,
              SnapshotCallback done);
  // No new step of the run starts; running ones go on (SPEC §9).
  void Pause(std::string run_ref, SnapshotCallback done);

  // Deletes finished runs (ids already resolved), or with `ids` empty the
  // runs finished before `finished_before_ms`: rows, logs and the run's
  // folder (an --output directory elsewhere is the user's and stays).
  using DeleteCallback =
      std::function<void(std::vector<std::string> deleted,
                         std::vector<std::string> errors)>;
  // `owner`: whose old runs an age-based delete considers (nullopt: all).
  void Delete(std::vector<std::string> ids, int64_t finished_before_ms,
              std::optional<uint32_t> owner, DeleteCallback done);

  // What an applying run (ids already resolved) changed in its project,
  // one step's or every step's (SPEC §11); with `revert`, puts it back
  // (refused while the run is executing). NotFound for an unknown step.
  using ChangesCallback = std::function<void(absl::StatusOr<pb::DiffRunResponse>)>;
  void Changes(std::string run_id, std::string step_id, bool revert, ChangesCallback done);

  // Calls `done` on the engine thread once it gets to this request (proof
  // of life for systemd's watchdog); never, if the engine is stuck or
  // stopping. Thread-safe.
  void Ping(std::function<void()> done);

  // Calls `done` on the engine thread once everything that happened before
  // this call is committed and published (tests). Thread-safe.
  void Sync(std::function<void()> done);

  // Replaces providers, routing and the capacity for steps that start from
  // now on (SIGHUP); running steps keep what they hold. Thread-safe.
  void ReloadConfig(Config config, std::optional<Capacity> capacity = std::nullopt);

  // Where a step's log is. Thread-safe.
  std::string LogPath(const std::string& run_id, const std::string& step_id) const;
  std::string RunDir(const std::string& run_id) const;

 private:
  class Impl;
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace aetherflow

#endif  // AETHERFLOW_DAEMON_ENGINE_H_
