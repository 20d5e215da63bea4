#include "client/run_actions.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "client/render.h"

namespace aetherflow {

namespace pb = ::aetherflow::v1;

struct RunActions::Call {
  grpc::ClientContext context;
  pb::CancelRunRequest cancel;
  pb::PauseRunRequest pause;
  pb::ResumeRunRequest resume;
  RunActionOutcome outcome;
  bool finished = false;
};

RunActions::RunActions(pb::AetherFlow::Stub* stub, std::string run_id,
                       std::map<std::string, std::string> resume_env)
    : stub_(stub), run_id_(std::move(run_id)), resume_env_(std::move(resume_env)) {}

RunActions::~RunActions() {
  std::unique_lock<std::mutex> lock(mu_);
  // A cancel confirmed just before `q` should still reach the daemon: give
  // the answer a moment before giving up on it.
  if (!cv_.wait_for(lock, std::chrono::seconds(2), [this] { return !in_flight_; })) {
    call_->context.TryCancel();
  }
  cv_.wait(lock, [this] { return !in_flight_; });
}

bool RunActions::Start(RunAction action) {
  std::shared_ptr<Call> call;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (in_flight_) return false;
    call = std::make_shared<Call>();
    call_ = call;
    in_flight_ = true;
  }
  call->outcome.action = action;
  call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  // Runs on a gRPC thread: only records the outcome.
  auto done = [this, call](grpc::Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    call->outcome.status = std::move(status);
    call->finished = true;
    in_flight_ = false;
    cv_.notify_all();
  };
  pb::RunSnapshot* response = &call->outcome.snapshot;
  switch (action) {
    case RunAction::kCancel:
      call->cancel.set_run_id(run_id_);
      stub_->async()->CancelRun(&call->context, &call->cancel, response, done);
      break;
    case RunAction::kPause:
      call->pause.set_run_id(run_id_);
      stub_->async()->PauseRun(&call->context, &call->pause, response, done);
      break;
    case RunAction::kResume:
      call->resume.set_run_id(run_id_);
      call->resume.mutable_env()->insert(resume_env_.begin(), resume_env_.end());
      stub_->async()->ResumeRun(&call->context, &call->resume, response, done);
      break;
  }
  return true;
}

std::optional<RunActionOutcome> RunActions::Take() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!call_ || !call_->finished) return std::nullopt;
  RunActionOutcome outcome = std::move(call_->outcome);
  call_.reset();
  return outcome;
}

bool RunActions::busy() {
  std::lock_guard<std::mutex> lock(mu_);
  return in_flight_;
}

std::string RunActionPending(RunAction action, bool utf8) {
  const char* verb = action == RunAction::kCancel  ? "cancelling"
                     : action == RunAction::kPause ? "pausing"
                                                   : "resuming";
  return absl::StrCat(verb, " the run", utf8 ? "…" : "...");
}

std::string RunActionMessage(const RunActionOutcome& outcome) {
  if (!outcome.status.ok()) {
    if (!outcome.status.error_message().empty()) return outcome.status.error_message();
    // An older daemon answers UNIMPLEMENTED with no message at all.
    const char* verb = outcome.action == RunAction::kCancel  ? "cancel"
                       : outcome.action == RunAction::kPause ? "pause"
                                                             : "resume";
    return absl::StrCat("the daemon did not ", verb, " the run (gRPC status ",
                        static_cast<int>(outcome.status.error_code()), ")");
  }
  const pb::Run& run = outcome.snapshot.run();
  switch (outcome.action) {
    case RunAction::kCancel:
      return absl::StrCat("run ", run.id(), " ", RunStateWord(run.state()),
                          run.running() ? "; stopping running steps" : "");
    case RunAction::kPause:
      return absl::StrCat("run ", run.id(), " paused",
                          run.running() ? "; running steps go on to their end" : "",
                          "; p resumes");
    case RunAction::kResume:
      return absl::StrCat("run ", run.id(), " goes on");
  }
  return "";
}

}  // namespace aetherflow
