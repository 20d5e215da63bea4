#include "client/client_api.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <map>

#include "absl/strings/str_cat.h"
#include "client/step_log_view.h"
#include "common/checkin.h"
#include "common/limits.h"
#include "common/text.h"
#include "nlohmann/json.hpp"

namespace aetherflow {
namespace {

namespace pb = ::aetherflow::v1;

// Calls that answer at once get this long; a hung daemon is an error.
constexpr auto kCallTimeout = std::chrono::seconds(30);

void SetDeadline(grpc::ClientContext* context, std::chrono::seconds timeout = kCallTimeout) {
  context->set_deadline(std::chrono::system_clock::now() + timeout);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Connection>> ConnectAsCli(const GlobalOptions& global) {
  absl::StatusOr<std::unique_ptr<Connection>> connection;
  if (global.remote.enabled()) {
    connection = Connection::OpenRemote(global.remote);
  } else {
    const char* no_autostart = std::getenv("AETHERFLOW_NO_AUTOSTART");
    bool autostart = !global.socket_given && !(no_autostart && std::string(no_autostart) == "1");
    connection = Connection::Open(global.socket, autostart, global.fallback_socket);
  }
  if (!connection.ok()) {
    return absl::Status(connection.status().code(),
                        absl::StrCat("aetherflow: ", connection.status().message()));
  }
  return connection;
}

absl::Status StatusFromRpc(const grpc::Status& status, const std::string& where) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      DescribeError(status, where));
}

int ExitCodeOf(const absl::Status& status) {
  return ExitCodeFor(grpc::Status(static_cast<grpc::StatusCode>(status.code()), ""));
}

std::string CommandPlanJson(const std::vector<std::string>& command) {
  std::string base = command[0].substr(command[0].rfind('/') + 1);
  std::string id;
  for (char c : base) {
    id.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '_' ||
                         c == '-' || c == '.'
                     ? c
                     : '_');
  }
  if (id.empty() || id == "." || id == ".." ||
      id.find("..") != std::string::npos) {
    id = "command";
  }
  // Shown as a shell would read it back ("sh -c 'exit 3'"); no type, as a
  // plan's command step without one shows "-".
  const std::string shown = ShellJoin(command);
  nlohmann::json plan;
  plan["task_id"] = id;
  plan["description"] = shown;
  plan["steps"] =
      nlohmann::json::array({{{"id", id}, {"description", shown}, {"run", command}}});
  return plan.dump(2);
}

absl::StatusOr<Connection*> ClientApi::connection() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!connection_) {
    absl::StatusOr<std::unique_ptr<Connection>> opened = ConnectAsCli(global_);
    if (!opened.ok()) return opened.status();
    connection_ = std::move(*opened);
  }
  return connection_.get();
}

absl::StatusOr<pb::RunSnapshot> ClientApi::GetRun(const std::string& ref) {
  absl::StatusOr<Connection*> connection = this->connection();
  if (!connection.ok()) return connection.status();
  pb::GetRunRequest request;
  request.set_run_id(ref);
  pb::RunSnapshot snapshot;
  grpc::ClientContext context;
  SetDeadline(&context);
  grpc::Status status = (*connection)->stub()->GetRun(&context, request, &snapshot);
  if (!status.ok()) return StatusFromRpc(status, global_.where());
  return snapshot;
}

absl::StatusOr<std::vector<pb::Run>> ClientApi::ListRuns(int limit) {
  absl::StatusOr<Connection*> connection = this->connection();
  if (!connection.ok()) return connection.status();
  pb::ListRunsRequest request;
  request.set_limit(limit);
  pb::ListRunsResponse response;
  grpc::ClientContext context;
  SetDeadline(&context);
  grpc::Status status = (*connection)->stub()->ListRuns(&context, request, &response);
  if (!status.ok()) return StatusFromRpc(status, global_.where());
  return std::vector<pb::Run>(response.runs().begin(), response.runs().end());
}

absl::StatusOr<pb::RunSnapshot> ClientApi::Cancel(const std::string& ref) {
  absl::StatusOr<Connection*> connection = this->connection();
  if (!connection.ok()) return connection.status();
  pb::CancelRunRequest request;
  request.set_run_id(ref);
  pb::RunSnapshot snapshot;
  grpc::ClientContext context;
  SetDeadline(&context);
  grpc::Status status = (*connection)->stub()->CancelRun(&context, request, &snapshot);
  if (!status.ok()) return StatusFromRpc(status, global_.where());
  return snapshot;
}

absl::StatusOr<pb::RunSnapshot> ClientApi::Pause(const std::string& ref) {
  absl::StatusOr<Connection*> connection = this->connection();
  if (!connection.ok()) return connection.status();
  pb::PauseRunRequest request;
  request.set_run_id(ref);
  pb::RunSnapshot snapshot;
  grpc::ClientContext context;
  SetDeadline(&context);
  grpc::Status status = (*connection)->stub()->PauseRun(&context, request, &snapshot);
  if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED && status.error_message().empty()) {
    return absl::UnimplementedError(absl::StrCat("aetherflow: the daemon at ", global_.where(),
                                                 " cannot pause runs (it is older than this client)"));
  }
  if (!status.ok()) return StatusFromRpc(status, global_.where());
  return snapshot;
}

absl::StatusOr<pb::RunSnapshot> ClientApi::Resume(const std::string& ref,
                                                  const std::map<std::string, std::string>& env) {
  absl::StatusOr<Connection*> connection = this->connection();
  if (!connection.ok()) return connection.status();
  pb::ResumeRunRequest request;
  request.set_run_id(ref);
  request.mutable_env()->insert(env.begin(), env.end());
  pb::RunSnapshot snapshot;
  grpc::ClientContext context;
  SetDeadline(&context);
  grpc::Status status = (*connection)->stub()->ResumeRun(&context, request, &snapshot);
  if (!status.ok()) return StatusFromRpc(status, global_.where());
  return snapshot;
}

namespace {

pb::SubmitPlanRequest SubmitRequest(const SubmitInput& input) {
  pb::SubmitPlanRequest request;
  request.set_plan_json(input.plan_json);
  request.set_plan_path(input.plan_path);
  request.set_cwd(input.cwd);
  request.mutable_env()->insert(input.env.begin(), input.env.end());
  request.set_output_dir(input.output_dir);
  request.set_apply(input.apply);
  return request;
}

}  // namespace

absl::StatusOr<SubmitOutput> ClientApi::Submit(const SubmitInput& input) {
  absl::StatusOr<Connection*> connection = this->connection();
  if (!connection.ok()) return connection.status();
  pb::SubmitPlanRequest request = SubmitRequest(input);
  // Steps create files as the submitting process would.
  const mode_t mask = ::umask(0);
  ::umask(mask);
  request.set_umask(mask);
  pb::SubmitPlanResponse response;
  grpc::ClientContext context;
  SetDeadline(&context, std::chrono::seconds(120));
  grpc::Status status = (*connection)->stub()->SubmitPlan(&context, request, &response);
  if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
    return absl::InvalidArgumentError(
        absl::StrCat(status.error_message(), "\naetherflow: ", input.plan_path,
                     " rejected by the daemon; nothing was submitted"));
  }
  if (!status.ok()) return StatusFromRpc(status, global_.where());
  SubmitOutput output;
  output.run_id = response.run_id();
  output.warnings.assign(response.warnings().begin(), response.warnings().end());
  return output;
}

absl::Status ClientApi::CheckPlan(const SubmitInput& input) {
  absl::StatusOr<Connection*> connection = this->connection();
  if (!connection.ok()) return connection.status();
  pb::SubmitPlanRequest request = SubmitRequest(input);
  pb::SubmitPlanResponse response;
  grpc::ClientContext context;
  SetDeadline(&context);
  grpc::Status status = (*connection)->stub()->CheckPlan(&context, request, &response);
  if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
    return absl::InvalidArgumentError(status.error_message());
  }
  return StatusFromRpc(status, global_.where());
}

absl::StatusOr<std::string> ClientApi::ReadLogTail(const std::string& ref, const std::string& step,
                                                   int tail, std::size_t max_bytes) {
  absl::StatusOr<Connection*> connection = this->connection();
  if (!connection.ok()) return connection.status();
  pb::ReadLogRequest request;
  request.set_run_id(ref);
  request.set_step_id(step);
  request.set_tail_lines(std::clamp(tail, 0, kMaxTailLines));
  grpc::ClientContext context;
  SetDeadline(&context, std::chrono::seconds(60));
  auto reader = (*connection)->stub()->ReadLog(&context, request);
  StepLogViewOptions options;
  options.hold = true;
  std::map<std::string, StepLogView> views;
  std::map<std::string, std::string> texts;
  std::vector<std::string> order;
  pb::LogChunk chunk;
  auto keep_end = [&](std::string* text) {
    if (text->size() > max_bytes) text->erase(0, text->size() - max_bytes);
  };
  while (reader->Read(&chunk)) {
    auto [view, inserted] = views.try_emplace(chunk.step_id(), options);
    if (inserted) order.push_back(chunk.step_id());
    std::string& text = texts[chunk.step_id()];
    text += view->second.Feed(chunk.data());
    keep_end(&text);
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) return StatusFromRpc(status, global_.where());
  std::string out;
  for (const std::string& id : order) {
    std::string text = texts[id] + views.at(id).Finish();
    if (!step.empty()) {
      out += text;
      continue;
    }
    std::size_t start = 0;
    while (start < text.size()) {
      std::size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size() - 1;
      absl::StrAppend(&out, id, " | ", absl::string_view(text).substr(start, end - start + 1));
      if (text[end] != '\n') out += '\n';
      start = end + 1;
    }
  }
  keep_end(&out);
  return out;
}

absl::StatusOr<pb::CheckInResponse> ClientApi::CheckIn(const pb::CheckInRequest& request,
                                                       grpc::ClientContext* context) {
  absl::StatusOr<Connection*> connection = this->connection();
  if (!connection.ok()) return connection.status();
  // The daemon answers by wait_ms (at most kMaxCheckinWaitMs); the deadline
  // only guards a hang.
  const int64_t wait_ms = std::clamp<int64_t>(request.wait_ms(), 0, kMaxCheckinWaitMs);
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(wait_ms) +
                        std::chrono::seconds(30));
  pb::CheckInResponse response;
  grpc::Status status = (*connection)->stub()->CheckIn(context, request, &response);
  if (!status.ok()) return StatusFromRpc(status, global_.where());
  return response;
}

}  // namespace aetherflow
