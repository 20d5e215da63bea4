// The daemon's calls as typed functions, shared by the CLI's commands and
// `aetherflow mcp` (SPEC §15). Nothing here prints: an error is an
// absl::Status whose message is the one line the CLI prints
// ("aetherflow: …"), and ExitCodeOf gives the CLI's exit code for it.
#ifndef AETHERFLOW_CLIENT_CLIENT_API_H_
#define AETHERFLOW_CLIENT_CLIENT_API_H_

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "aetherflow/v1/aetherflow.grpc.pb.h"
#include "client/commands.h"
#include "client/connection.h"

namespace aetherflow {

// Connects as the CLI does: over TCP with --connect, else on the socket,
// starting a daemon unless --socket was given or AETHERFLOW_NO_AUTOSTART=1.
// UnavailableError "aetherflow: cannot reach …" when it cannot.
absl::StatusOr<std::unique_ptr<Connection>> ConnectAsCli(const GlobalOptions& global);

// A failed RPC as a Status: the CLI's line (DescribeError) as message, the
// code kept so that ExitCodeOf gives the CLI's exit code.
absl::Status StatusFromRpc(const grpc::Status& status, const std::string& where);
int ExitCodeOf(const absl::Status& status);

// `submit -- CMD ARGS`: the one-step plan whose step runs `command` as is.
std::string CommandPlanJson(const std::vector<std::string>& command);

struct SubmitInput {
  std::string plan_json;
  std::string plan_path;  // for messages ("<command>" for a command)
  std::string cwd;        // absolute: where command steps run
  std::map<std::string, std::string> env;
  std::string output_dir;  // absolute or empty
  bool apply = false;      // SPEC §11: LLM steps edit the project (cwd)
};

struct SubmitOutput {
  std::string run_id;
  std::vector<std::string> warnings;
};

// One connection, opened on first use (again after a failure to connect);
// safe to use from several threads at once.
class ClientApi {
 public:
  explicit ClientApi(GlobalOptions global) : global_(std::move(global)) {}

  absl::StatusOr<Connection*> connection();
  const GlobalOptions& global() const { return global_; }

  // `ref`: an id, a unique prefix of one, or "last".
  absl::StatusOr<::aetherflow::v1::RunSnapshot> GetRun(const std::string& ref);
  absl::StatusOr<std::vector<::aetherflow::v1::Run>> ListRuns(int limit);
  absl::StatusOr<::aetherflow::v1::RunSnapshot> Cancel(const std::string& ref);
  absl::StatusOr<::aetherflow::v1::RunSnapshot> Pause(const std::string& ref);
  absl::StatusOr<::aetherflow::v1::RunSnapshot> Resume(
      const std::string& ref, const std::map<std::string, std::string>& env);
  // InvalidArgument with every problem of the plan, one per line, then
  // "aetherflow: PATH rejected by the daemon; nothing was submitted".
  absl::StatusOr<SubmitOutput> Submit(const SubmitInput& input);
  // SubmitPlan's checks, nothing stored: OK, or its refusal.
  absl::Status CheckPlan(const SubmitInput& input);
  // The last `tail` lines of a step's log, or of every step's (each line
  // then prefixed "STEP | "), with the attempt headings the CLI shows; at
  // most `max_bytes` (the end is kept).
  absl::StatusOr<std::string> ReadLogTail(const std::string& ref, const std::string& step,
                                          int tail, std::size_t max_bytes);
  // One check-in. `context` is the caller's, so that it can cancel the call
  // (TryCancel) from another thread; its deadline is set here.
  absl::StatusOr<::aetherflow::v1::CheckInResponse> CheckIn(
      const ::aetherflow::v1::CheckInRequest& request, grpc::ClientContext* context);

 private:
  const GlobalOptions global_;
  std::mutex mu_;
  std::unique_ptr<Connection> connection_;
};

}  // namespace aetherflow

#endif  // AETHERFLOW_CLIENT_CLIENT_API_H_
