#include "client/ship_commands.h"

#include <cstdio>
#include <string>

#include "aetherflow/v1/aetherflow.grpc.pb.h"
#include "client/cli_doc.h"
#include "client/cli_util.h"
#include "client/connection.h"
#include "common/text.h"

namespace aetherflow {
namespace {

namespace pb = ::aetherflow::v1;

int Failed(const grpc::Status& status, const GlobalOptions& global) {
  std::fprintf(stderr, "%s\n", DescribeError(status, global.where()).c_str());
  return ExitCodeFor(status);
}

}  // namespace

int CmdListIds(const GlobalOptions& global, int limit) {
  std::unique_ptr<Connection> connection = ConnectOrExplain(global);
  if (!connection) return kExitUnreachable;
  pb::ListRunsRequest request;
  request.set_limit(limit);
  pb::ListRunsResponse response;
  grpc::ClientContext context;
  grpc::Status status = connection->stub()->ListRuns(&context, request, &response);
  if (!status.ok()) return Failed(status, global);
  std::string out;
  for (const pb::Run& run : response.runs()) out += run.id() + "\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
  return kExitOk;
}

int CmdStepIds(const GlobalOptions& global, const std::string& run) {
  std::unique_ptr<Connection> connection = ConnectOrExplain(global);
  if (!connection) return kExitUnreachable;
  pb::GetRunRequest request;
  request.set_run_id(run);
  pb::RunSnapshot snapshot;
  grpc::ClientContext context;
  grpc::Status status = connection->stub()->GetRun(&context, request, &snapshot);
  if (!status.ok()) return Failed(status, global);
  std::string out;
  for (const pb::Step& step : snapshot.steps()) out += step.id() + "\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
  return kExitOk;
}

int CmdCompletions(const CLI::App& app, const std::string& shell) {
  const std::string script = CompletionScript(app, shell);
  if (script.empty()) {
    std::fprintf(stderr, "aetherflow: completions for bash, zsh or fish, not \"%s\"\n",
                 FitWidth(shell, 40).c_str());  // one safe line
    return kExitUsage;
  }
  std::fwrite(script.data(), 1, script.size(), stdout);
  return kExitOk;
}

int CmdManual(const CLI::App& app) {
  const std::string text = ManualSections(app);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return kExitOk;
}

}  // namespace aetherflow
