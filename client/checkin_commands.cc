// `aetherflow poll` and `aetherflow watch` (SPEC §6): check-ins through the
// daemon's CheckIn long poll, with the cursor kept per user and run in the
// client's state directory.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "client/cli_util.h"
#include "client/commands.h"
#include "client/connection.h"
#include "common/checkin.h"
#include "common/duration.h"
#include "common/paths.h"

extern char** environ;

namespace aetherflow {
namespace {

namespace pb = ::aetherflow::v1;

std::string CursorPath(const std::string& run_id) {
  return DefaultStateDir() + "/poll-cursors/" + run_id;
}

std::string LoadCursor(const std::string& run_id) {
  std::ifstream in(CursorPath(run_id), std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void SaveCursor(const std::string& run_id, const std::string& cursor) {
  std::string dir = DefaultStateDir() + "/poll-cursors";
  if (!MakeDirs(dir, 0700)) return;
  std::string tmp = CursorPath(run_id) + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << cursor;
    if (!out.good()) return;
  }
  std::rename(tmp.c_str(), CursorPath(run_id).c_str());
}

// The full id of a run reference (prefix, "last"); prints the error.
std::optional<std::string> Resolve(const GlobalOptions& global, Connection* connection,
                                   const std::string& ref, int* exit_code) {
  pb::ListRunsRequest request;
  pb::ListRunsResponse response;
  grpc::ClientContext context;
  grpc::Status status = connection->stub()->ListRuns(&context, request, &response);
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", DescribeError(status, global.where()).c_str());
    *exit_code = ExitCodeFor(status);
    return std::nullopt;
  }
  std::vector<std::string> matches;
  for (const pb::Run& run : response.runs()) {
    if (run.id() == ref) return run.id();
    if (run.id().rfind(ref, 0) == 0) matches.push_back(run.id());
  }
  if (ref == "last" && response.runs_size() > 0) return response.runs(0).id();
  if (matches.size() == 1) return matches[0];
  std::fprintf(stderr, "aetherflow: %s\n",
               matches.empty() ? absl::StrCat("no run \"", ref, "\"").c_str()
                               : absl::StrCat("run id prefix \"", ref, "\" is ambiguous").c_str());
  *exit_code = kExitUsage;
  return std::nullopt;
}

// One CheckIn call; on a lost daemon (restart) it waits and tries again
// for up to `retry_for`. Returns the gRPC status of the last try.
grpc::Status CallCheckIn(Connection* connection, const pb::CheckInRequest& request,
                         pb::CheckInResponse* response,
                         std::chrono::seconds retry_for) {
  auto give_up = std::chrono::steady_clock::now() + retry_for;
  while (true) {
    grpc::ClientContext context;
    // The daemon answers by wait_ms (at most kMaxCheckinWaitMs); the
    // deadline only guards a hang. Clamped first: `--wait` may say more
    // than a time_point can hold.
    const int64_t wait_ms = std::clamp<int64_t>(request.wait_ms(), 0, kMaxCheckinWaitMs);
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::milliseconds(wait_ms) + std::chrono::seconds(30));
    grpc::Status status = connection->stub()->CheckIn(&context, request, response);
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE ||
        std::chrono::steady_clock::now() >= give_up) {
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

// Connects and resolves `ref` to a full run id; the exit code on failure
// (the error is printed).
int ConnectAndResolve(const GlobalOptions& global, const std::string& ref,
                      std::unique_ptr<Connection>* connection, std::string* id) {
  *connection = ConnectOrExplain(global);
  if (!*connection) return kExitUnreachable;
  int exit_code = kExitFailed;
  std::optional<std::string> resolved = Resolve(global, connection->get(), ref, &exit_code);
  if (!resolved) return exit_code;
  *id = *resolved;
  return kExitOk;
}

std::optional<std::vector<int64_t>> Schedule(const std::string& text) {
  if (text.empty()) return std::vector<int64_t>{};
  absl::StatusOr<std::vector<int64_t>> schedule = ParseSchedule(text);
  if (!schedule.ok()) {
    std::fprintf(stderr, "aetherflow: --schedule: %s\n",
                 std::string(schedule.status().message()).c_str());
    return std::nullopt;
  }
  return *schedule;
}

// Runs the --notify command with the verdict in its environment; waits for
// it at most 30 s so that a hung notifier cannot stall the watch.
void Notify(const std::string& command, const pb::CheckInResponse& response,
            const std::string& run_id) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) env.emplace_back(*e);
  env.push_back("AETHERFLOW_VERDICT=" + response.verdict());
  env.push_back("AETHERFLOW_RUN=" + run_id);
  env.push_back("AETHERFLOW_SUMMARY=" + response.summary());
  env.push_back("AETHERFLOW_REPORT=" + response.report());
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
  pid_t pid;
  if (posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char* const*>(argv),
                  envp.data()) != 0) {
    std::fprintf(stderr, "aetherflow: --notify: cannot run /bin/sh\n");
    return;
  }
  for (int i = 0; i < 300; ++i) {
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::fprintf(stderr, "aetherflow: --notify command failed\n");
      }
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::fprintf(stderr, "aetherflow: --notify command still running after 30 s; left alone\n");
}

std::string Clock() {
  std::time_t now = std::time(nullptr);
  char buffer[16];
  std::strftime(buffer, sizeof buffer, "%H:%M:%S", std::localtime(&now));
  return buffer;
}

}  // namespace

int CmdPoll(const GlobalOptions& global, const std::string& run,
            const std::string& wait, const std::string& schedule_text, bool from_start) {
  absl::StatusOr<int64_t> wait_ms = ParseDurationMs(wait);
  if (!wait_ms.ok()) {
    std::fprintf(stderr, "aetherflow: --wait: %s\n", std::string(wait_ms.status().message()).c_str());
    return kExitUsage;
  }
  std::optional<std::vector<int64_t>> schedule = Schedule(schedule_text);
  if (!schedule) return kExitUsage;
  std::unique_ptr<Connection> connection;
  std::string id;
  if (int code = ConnectAndResolve(global, run, &connection, &id); code != kExitOk) {
    return code;
  }
  pb::CheckInRequest request;
  request.set_run_id(id);
  if (!from_start) request.set_cursor(LoadCursor(id));
  request.set_wait_ms(*wait_ms);
  for (int64_t entry : *schedule) request.add_schedule_ms(entry);
  pb::CheckInResponse response;
  grpc::Status status = CallCheckIn(connection.get(), request, &response, std::chrono::seconds(0));
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", DescribeError(status, global.where()).c_str());
    return ExitCodeFor(status);
  }
  SaveCursor(id, response.cursor());
  if (global.json) {
    std::cout << response.report_json() << "\n";
  } else {
    std::cout << response.report();
  }
  return response.exit_code();
}

int CmdWatch(const GlobalOptions& global, const std::string& run,
             const std::string& schedule_text, const std::string& notify,
             bool cancel_on_critical, bool from_start) {
  std::optional<std::vector<int64_t>> schedule = Schedule(schedule_text);
  if (!schedule) return kExitUsage;
  std::unique_ptr<Connection> connection;
  std::string id;
  if (int code = ConnectAndResolve(global, run, &connection, &id); code != kExitOk) {
    return code;
  }
  std::string cursor = from_start ? "" : LoadCursor(id);
  while (true) {
    pb::CheckInRequest request;
    request.set_run_id(id);
    request.set_cursor(cursor);
    request.set_wait_ms(3600 * 1000);  // the daemon answers when due
    for (int64_t entry : *schedule) request.add_schedule_ms(entry);
    pb::CheckInResponse response;
    // A daemon restart is waited out (10 minutes at most).
    grpc::Status status =
        CallCheckIn(connection.get(), request, &response, std::chrono::minutes(10));
    if (!status.ok()) {
      std::fprintf(stderr, "%s\n", DescribeError(status, global.where()).c_str());
      return ExitCodeFor(status);
    }
    cursor = response.cursor();
    SaveCursor(id, cursor);
    std::optional<Verdict> verdict = VerdictFromName(response.verdict());
    if (!verdict || *verdict == Verdict::kOk) continue;  // silent while all is well
    if (!notify.empty()) Notify(notify, response, id);
    if (global.json) {
      std::cout << response.report_json() << std::endl;
    } else if (*verdict == Verdict::kDiscovery) {
      // One line per discovery: a metric's new bests are one line with the
      // value, the one it beat, where, and how many came in between.
      if (response.discoveries().empty()) {  // a daemon from before them
        std::cout << "[" << Clock() << "] discovery: " << response.summary() << std::endl;
      }
      for (const std::string& line : response.discoveries()) {
        std::cout << "[" << Clock() << "] discovery: " << line << std::endl;
      }
    } else {
      std::cout << response.report() << std::flush;
    }
    switch (*verdict) {
      case Verdict::kDiscovery:
        continue;
      case Verdict::kAttention:
        return 12;  // a person decides whether to go on
      case Verdict::kSucceeded:
        return kExitOk;
      case Verdict::kFailed:
        if (cancel_on_critical && response.critical_while_running()) {
          pb::CancelRunRequest cancel;
          cancel.set_run_id(id);
          pb::RunSnapshot snapshot;
          grpc::ClientContext context;
          grpc::Status cancelled = connection->stub()->CancelRun(&context, cancel, &snapshot);
          std::cerr << (cancelled.ok() ? "aetherflow: cancelled run " + id +
                                             " after a critical error\n"
                                       : "aetherflow: cancel failed: " +
                                             cancelled.error_message() + "\n");
        }
        return kExitFailed;
      default:
        continue;
    }
  }
}

}  // namespace aetherflow
