#include "daemon/llm_executor.h"

#include <algorithm>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/llm.h"
#include "daemon/identity.h"
#include "daemon/run_layout.h"

namespace aetherflow {
namespace {

StepEnded Stopped() {
  StepEnded ended;
  ended.stopped = true;
  return ended;
}
StepEnded Succeeded() {
  StepEnded ended;
  ended.succeeded = true;
  return ended;
}
StepEnded Failed(std::string message) {
  StepEnded ended;
  ended.message = std::move(message);
  return ended;
}

}  // namespace

LlmExecutor::LlmExecutor(std::function<void()> wakeup, Getenv getenv, Clock now_ms)
    : wakeup_(std::move(wakeup)),
      getenv_(std::move(getenv)),
      now_ms_(std::move(now_ms)),
      worker_(std::make_unique<Worker>()),
      http_(std::make_unique<LlmRunner>(wakeup_)),
      checks_(std::make_unique<CheckRunner>(wakeup_)) {}

LlmExecutor::~LlmExecutor() {
  http_.reset();    // aborts what is in flight
  worker_.reset();  // finishes the jobs posted
}

absl::Status LlmExecutor::Start(const StepLaunch& launch) {
  Call& call = calls_[launch.key];
  call.launch = launch;
  call.busy = true;
  if (launch.apply) {
    call.edit = std::make_shared<Edit>();
    ProjectWriter::Options options;
    options.project_dir = launch.project_dir;
    options.record_dir = launch.record_dir;
    options.credentials = launch.credentials;
    options.umask = launch.umask;
    call.edit->writer = std::make_unique<ProjectWriter>(std::move(options));
  }
  // The key (maybe a file), the prompt's files and the dependencies'
  // answers are read on the worker, with the submitter's rights.
  worker_->Post([this, launch, edit = call.edit] {
    Prepared prepared{launch.key, absl::UnknownError("")};
    prepared.request = [&]() -> absl::StatusOr<LlmRequest> {
      absl::StatusOr<std::string> api_key = ProviderKey(launch.provider_config, getenv_);
      if (!api_key.ok()) return api_key.status();
      if (edit) {
        // What a daemon that died in the middle of writing left is put
        // back first; then the files as they are now (after the step's
        // dependencies were applied).
        if (absl::Status recovered = edit->writer->Recover(); !recovered.ok()) {
          return recovered;
        }
        // A round a stopped daemon left applied and unchecked (kill -9
        // while it validated) is not the step's result: an attempt starts
        // from the files as they were before the step.
        absl::StatusOr<std::vector<ProjectWriter::Change>> left = edit->writer->Changes();
        if (!left.ok()) return left.status();
        if (!left->empty()) {
          if (absl::Status reverted = edit->writer->Revert(); !reverted.ok()) {
            return reverted;
          }
        }
        absl::StatusOr<std::vector<std::string>> files = WritableFiles(*launch.step);
        if (!files.ok()) return files.status();
        absl::StatusOr<std::vector<ProjectFile>> read = ReadWritableFiles(*edit->writer, *files);
        if (!read.ok()) return read.status();
        edit->files = std::move(*read);
      }
      ScopedFileIdentity as_owner(launch.credentials);
      if (!as_owner.status().ok()) return as_owner.status();
      if (edit) {
        return PrepareEditRequest(*launch.step, launch.step->dependencies, launch.cwd,
                                  launch.output_dir, launch.provider_config, *api_key,
                                  launch.key, edit->files, &edit->conversation);
      }
      return PrepareLlmRequest(*launch.step, launch.step->dependencies, launch.cwd,
                               launch.output_dir, launch.provider_config, *api_key,
                               launch.key);
    }();
    {
      std::lock_guard<std::mutex> lock(mu_);
      prepared_.push_back(std::move(prepared));
    }
    wakeup_();
  });
  return absl::OkStatus();
}

void LlmExecutor::Send(Call& call) {
  ++call.http_attempt;
  call.in_runner = true;
  http_->Start(call.request);
}

void LlmExecutor::End(int64_t key, StepEnded ended, std::vector<ExecutorEvent>* out) {
  ended.key = key;
  for (auto it = retries_.begin(); it != retries_.end();) {
    it = it->second == key ? retries_.erase(it) : std::next(it);
  }
  calls_.erase(key);
  out->push_back(std::move(ended));
}

void LlmExecutor::Stop(int64_t key) {
  auto it = calls_.find(key);
  if (it == calls_.end() || it->second.stop) return;
  Call& call = it->second;
  call.stop = true;
  if (call.in_runner) {
    http_->Cancel(key);  // it answers "cancelled"
  } else if (call.edit && call.edit->stage != Edit::Stage::kNone && !call.busy) {
    if (committing_ == key || call.edit->stage == Edit::Stage::kCheck) {
      checks_->Stop(key);  // its Done undoes the round
    } else {
      // Waiting for its turn to commit.
      std::erase(commit_queue_, key);
      call.busy = true;
      Undo(call, "");
    }
  } else if (!call.busy) {
    // Waiting out a retry: nothing is out to cancel. Ends at the next
    // Collect, which the engine makes on its next turn.
    retries_.emplace(0, key);
  }
}

void LlmExecutor::Collect(std::vector<ExecutorEvent>* out) {
  std::vector<Prepared> prepared;
  std::vector<Handled> handled;
  std::vector<Undone> undone;
  {
    std::lock_guard<std::mutex> lock(mu_);
    prepared.swap(prepared_);
    handled.swap(handled_);
    undone.swap(undone_);
  }
  for (Prepared& p : prepared) {
    auto it = calls_.find(p.key);
    if (it == calls_.end()) continue;
    Call& call = it->second;
    call.busy = false;
    if (call.stop) {
      End(p.key, Stopped(), out);
    } else if (!p.request.ok()) {
      End(p.key, Failed(std::string(p.request.status().message())), out);
    } else {
      call.request = std::move(*p.request);
      Send(call);
    }
  }
  for (LlmResponse& response : http_->TakeResponses()) {
    auto it = calls_.find(response.key);
    if (it == calls_.end()) continue;
    Call& call = it->second;
    call.in_runner = false;
    if (call.stop) {
      End(response.key, Stopped(), out);
      continue;
    }
    // Reading the answer writes its files: on the worker, as the submitter.
    call.busy = true;
    worker_->Post([this, response = std::move(response), launch = call.launch,
                   attempt = call.http_attempt, now = now_ms_(), edit = call.edit] {
      Handled result{response.key, {}};
      {
        ScopedFileIdentity as_owner(launch.credentials);
        if (as_owner.status().ok()) {
          result.outcome = HandleLlmResponse(response, *launch.step, launch.output_dir,
                                             launch.provider_config, attempt, now,
                                             launch.umask, /*edits=*/edit != nullptr);
        } else {
          result.outcome.kind = LlmOutcome::Kind::kFailed;
          result.outcome.message = std::string(as_owner.status().message());
        }
      }
      if (edit && result.outcome.kind == LlmOutcome::Kind::kSucceeded) {
        ++edit->round;
        edit->tokens = result.outcome.tokens;
        edit->cost = result.outcome.cost;
        edit->conversation.push_back({"assistant", result.outcome.text});
        edit->result = ApplyAnswer(*edit->writer, result.outcome.text, edit->files);
        result.outcome.text.clear();
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        handled_.push_back(std::move(result));
      }
      wakeup_();
    });
  }
  for (Handled& h : handled) {
    auto it = calls_.find(h.key);
    if (it == calls_.end()) continue;
    Call& call = it->second;
    call.busy = false;
    const LlmOutcome& outcome = h.outcome;
    if (call.stop && outcome.kind != LlmOutcome::Kind::kSucceeded) {
      End(h.key, Stopped(), out);
      continue;
    }
    switch (outcome.kind) {
      case LlmOutcome::Kind::kRetry: {
        int64_t delay = LlmBackoffMs(call.http_attempt, outcome.retry_after_ms);
        retries_.emplace(now_ms_() + delay, h.key);
        StepFigures figures;
        figures.key = h.key;
        figures.throttled = outcome.throttled;
        // A 429 shows as throttled; any other retry as retrying, with why.
        figures.retrying = outcome.throttled ? "" : outcome.retry_reason;
        figures.message = absl::StrFormat(
            "%s; asking again in %.1fs",
            outcome.throttled ? absl::StrCat("throttled by ", call.launch.provider, " (429)")
                              : outcome.message,
            delay / 1000.0);
        out->push_back(std::move(figures));
        break;
      }
      case LlmOutcome::Kind::kSucceeded: {
        StepFigures figures;
        figures.key = h.key;
        figures.tokens = outcome.tokens;
        figures.cost = outcome.cost;
        figures.add = true;
        figures.throttled = false;
        figures.retrying = "";
        out->push_back(std::move(figures));
        if (!call.edit) {
          End(h.key, Succeeded(), out);
        } else if (call.stop) {
          if (call.edit->result.applied) {
            call.busy = true;
            Undo(call, "");
          } else {
            End(h.key, Stopped(), out);
          }
        } else {
          AfterRound(call, out);
        }
        break;
      }
      case LlmOutcome::Kind::kFailed:
        End(h.key, Failed(outcome.message), out);
        break;
      case LlmOutcome::Kind::kCancelled:
        End(h.key, Stopped(), out);
        break;
    }
  }
  for (Undone& u : undone) {
    auto it = calls_.find(u.key);
    if (it == calls_.end()) continue;
    Call& call = it->second;
    call.busy = false;
    Edit& edit = *call.edit;
    edit.result.applied.reset();
    if (call.stop) {
      ReportRound(call, "rolled back", "stopped", out);
      End(u.key, Stopped(), out);
    } else if (!u.status.ok()) {
      ReportRound(call, edit.result.outcome, edit.result.reason, out);
      End(u.key,
          Failed(absl::StrCat(edit.result.reason, "; putting the files back failed: ",
                              u.status.message())),
          out);
    } else {
      ReportRound(call, edit.result.outcome, edit.result.reason, out);
      Repair(call, absl::StrCat(edit.result.feedback, u.feedback), out);
    }
  }
  for (const CheckRunner::Done& done : checks_->Take()) CheckDone(done, out);
  int64_t now = now_ms_();
  while (!retries_.empty() && retries_.begin()->first <= now) {
    int64_t key = retries_.begin()->second;
    retries_.erase(retries_.begin());
    auto it = calls_.find(key);
    if (it == calls_.end()) continue;
    Call& call = it->second;
    if (call.stop) {
      End(key, Stopped(), out);
      continue;
    }
    StepFigures figures;
    figures.key = key;
    figures.throttled = false;
    figures.message = absl::StrCat("asking ", call.launch.provider, " again (try ",
                                   call.http_attempt + 1, ")");
    out->push_back(std::move(figures));
    Send(call);
  }
}

std::optional<int64_t> LlmExecutor::NextWakeup() const {
  if (retries_.empty()) return std::nullopt;
  return retries_.begin()->first;
}

void LlmExecutor::StopAll() {
  for (auto& [key, call] : calls_) {
    if (call.in_runner) http_->Cancel(key);
    // A round applied and not yet checked is not left half-done in the
    // project: the worker puts it back before the daemon exits.
    if (call.edit && !call.busy && call.edit->result.applied) {
      worker_->Post([edit = call.edit] { (void)edit->writer->Rollback(*edit->result.applied); });
    }
  }
  calls_.clear();
  retries_.clear();
}

}  // namespace aetherflow

// ------------------------------------------------------------ edit rounds

namespace aetherflow {
namespace {

std::string CommandText(const ValidateCommand& command) {
  if (command.shell) return *command.shell;
  return absl::StrJoin(*command.argv, " ");
}

std::string ExitText(const CheckRunner::Done& done) {
  if (!done.started) return absl::StrCat("could not start: ", done.error);
  if (done.signal) return absl::StrCat("killed by signal ", done.signal);
  return absl::StrCat("exit ", done.exit_code);
}

// The log from `offset` to its end, at most the last 64 KiB.
std::string ReadLogFrom(const std::string& path, int64_t offset) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  in.seekg(0, std::ios::end);
  const int64_t size = in.tellg();
  const int64_t from = std::max(offset, size - int64_t{64} * 1024);
  if (size <= from) return "";
  in.seekg(from);
  std::string text(static_cast<std::size_t>(size - from), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return text;
}

}  // namespace

void LlmExecutor::ReportRound(Call& call, std::string outcome, std::string reason,
                              std::vector<ExecutorEvent>* out) {
  Edit& edit = *call.edit;
  StepFigures figures;
  figures.key = call.launch.key;
  EditRoundReport report;
  report.round = edit.round;
  report.outcome = std::move(outcome);
  report.reason = std::move(reason);
  report.files = edit.result.files;
  report.tokens = edit.tokens;
  report.cost = edit.cost;
  figures.message = report.reason.empty()
                        ? absl::StrCat("answer ", edit.round, " ", report.outcome)
                        : absl::StrCat("answer ", edit.round, ": ", report.reason);
  figures.round = std::move(report);
  out->push_back(std::move(figures));
}

void LlmExecutor::SetPhase(Call& call, std::string phase, std::string message,
                           std::vector<ExecutorEvent>* out) {
  StepFigures figures;
  figures.key = call.launch.key;
  figures.phase = std::move(phase);
  figures.message = std::move(message);
  out->push_back(std::move(figures));
}

void LlmExecutor::AfterRound(Call& call, std::vector<ExecutorEvent>* out) {
  Edit& edit = *call.edit;
  const RoundResult& result = edit.result;
  if (result.outcome == "failed") {
    ReportRound(call, "failed", result.reason, out);
    End(call.launch.key, Failed(result.reason), out);
  } else if (result.outcome == "applied") {
    edit.next_check = 0;
    if (call.launch.step->validate.empty()) {
      Finish(call, out);
    } else {
      SetPhase(call, "validating",
               absl::StrCat("answer ", edit.round, " applied to ",
                            absl::StrJoin(result.files, ", "), "; validating"),
               out);
      StartCheck(call, out);
    }
  } else {  // rejected, syntax: nothing of it is in place
    ReportRound(call, result.outcome, result.reason, out);
    Repair(call, result.feedback, out);
  }
}

void LlmExecutor::Repair(Call& call, const std::string& feedback,
                         std::vector<ExecutorEvent>* out) {
  Edit& edit = *call.edit;
  const int repairs = call.launch.step->repair;
  const int repair = edit.round;  // the repair this would be
  edit.stage = Edit::Stage::kNone;
  if (repair > repairs) {
    std::string why = edit.result.reason;
    if (repairs > 0) {
      absl::StrAppend(&why, " (after ", repairs, repairs == 1 ? " repair)" : " repairs)");
    }
    End(call.launch.key, Failed(std::move(why)), out);
    return;
  }
  SetPhase(call, absl::StrCat("repairing ", repair, "/", repairs),
           absl::StrCat("asking for repair ", repair, " of ", repairs), out);
  edit.conversation.push_back({"user", RepairPrompt(feedback, repair, repairs)});
  call.request.body = BuildChatRequest(call.launch.provider_config.model, kEditSystemMessage,
                                       edit.conversation);
  call.http_attempt = 0;
  Send(call);
}

void LlmExecutor::StartCheck(Call& call, std::vector<ExecutorEvent>* out) {
  Edit& edit = *call.edit;
  const Step& step = *call.launch.step;
  const ValidateCommand& command = step.validate[edit.next_check];
  edit.stage = Edit::Stage::kCheck;
  edit.check_name = absl::StrCat("`", CommandText(command), "`");
  LaunchSpec spec;
  spec.key = call.launch.key;
  spec.argv = command.shell ? std::vector<std::string>{"/bin/sh", "-c", *command.shell}
                            : *command.argv;
  spec.shared_env = call.launch.shared_env;
  spec.env = call.launch.env;
  spec.cwd = call.launch.project_dir;
  spec.log_path = call.launch.log_path;
  spec.credentials = call.launch.credentials;
  spec.umask = call.launch.umask;
  AppendToLog(spec.log_path,
              absl::StrCat("── validate ", edit.next_check + 1, "/", step.validate.size(),
                           " (answer ", edit.round, "): ", CommandText(command), "\n"));
  edit.check_offset = LogSize(spec.log_path);
  checks_->Start(std::move(spec));
}

void LlmExecutor::StartGit(Call& call, std::vector<std::string> args, std::string title) {
  LaunchSpec spec;
  spec.key = call.launch.key;
  spec.argv = {"git"};
  for (std::string& a : args) spec.argv.push_back(std::move(a));
  spec.shared_env = call.launch.shared_env;
  spec.env = call.launch.env;
  spec.cwd = call.launch.project_dir;
  spec.log_path = call.launch.log_path;
  spec.credentials = call.launch.credentials;
  spec.umask = call.launch.umask;
  AppendToLog(spec.log_path, absl::StrCat("── ", title, "\n"));
  call.edit->check_offset = LogSize(spec.log_path);
  checks_->Start(std::move(spec));
}

void LlmExecutor::CheckDone(const CheckRunner::Done& done, std::vector<ExecutorEvent>* out) {
  auto it = calls_.find(done.key);
  if (it == calls_.end()) return;
  Call& call = it->second;
  Edit& edit = *call.edit;
  const bool ok = done.started && done.signal == 0 && done.exit_code == 0;
  const Edit::Stage stage = edit.stage;
  const bool git = stage == Edit::Stage::kGitAdd || stage == Edit::Stage::kGitCommit;
  // The next step waiting to commit goes once this one is through with git.
  auto next_commit = [&] {
    committing_ = 0;
    while (!commit_queue_.empty()) {
      auto waiting = calls_.find(commit_queue_.front());
      commit_queue_.pop_front();
      if (waiting != calls_.end()) {
        Finish(waiting->second, out);
        break;
      }
    }
  };
  if (git && (call.stop || !ok || stage == Edit::Stage::kGitCommit)) next_commit();
  if (call.stop) {
    call.busy = true;
    Undo(call, "");
    return;
  }
  if (stage == Edit::Stage::kCheck) {
    if (ok) {
      if (++edit.next_check < call.launch.step->validate.size()) {
        StartCheck(call, out);
      } else {
        Finish(call, out);
      }
      return;
    }
    edit.result.outcome = "validate";
    edit.result.reason = absl::StrCat(edit.check_name, " failed (", ExitText(done), ")");
    edit.result.feedback = absl::StrCat(
        "The edits applied, then the check ", edit.check_name, " failed (", ExitText(done),
        "). Its output:\n");
    call.busy = true;
    Undo(call, call.launch.log_path);
    return;
  }
  // git
  if (!ok) {
    edit.stage = Edit::Stage::kNone;
    ReportRound(call, "applied", "", out);
    StepFigures figures;
    figures.key = call.launch.key;
    figures.changed_files = edit.result.files;
    out->push_back(std::move(figures));
    End(call.launch.key,
        Failed(absl::StrCat("the edits are applied, but `git ",
                            stage == Edit::Stage::kGitAdd ? "add" : "commit", "` failed (",
                            ExitText(done), "); see the step's log")),
        out);
    return;
  }
  if (stage == Edit::Stage::kGitAdd) {
    edit.stage = Edit::Stage::kGitCommit;
    const Step& step = *call.launch.step;
    std::string message = absl::StrCat(step.id, ": ",
                                       step.description.empty() ? "edits" : step.description);
    std::vector<std::string> args = {"commit", "-q", "-m", message, "-m",
                                     absl::StrCat("Applied by AetherFlow, run ",
                                                  call.launch.run_id, "."),
                                     "--"};
    for (const AppliedAttempt::File& f : edit.result.applied->files) args.push_back(f.path);
    StartGit(call, std::move(args), "git commit");
    return;
  }
  edit.result.applied.reset();  // committed: kept
  edit.stage = Edit::Stage::kNone;
  Finish(call, out);
}

void LlmExecutor::Finish(Call& call, std::vector<ExecutorEvent>* out) {
  Edit& edit = *call.edit;
  if (call.launch.commit && edit.result.applied) {
    if (committing_ != 0 && committing_ != call.launch.key) {
      edit.stage = Edit::Stage::kGitAdd;  // waiting: Stop knows it by the queue
      commit_queue_.push_back(call.launch.key);
      return;
    }
    committing_ = call.launch.key;
    edit.stage = Edit::Stage::kGitAdd;
    std::vector<std::string> args = {"add", "--"};
    for (const AppliedAttempt::File& f : edit.result.applied->files) args.push_back(f.path);
    StartGit(call, std::move(args), "git add");
    return;
  }
  edit.stage = Edit::Stage::kNone;
  ReportRound(call, "applied", "", out);
  StepFigures figures;
  figures.key = call.launch.key;
  figures.phase = "";
  std::vector<std::string> changed;
  if (edit.result.applied) {
    for (const AppliedAttempt::File& f : edit.result.applied->files) changed.push_back(f.path);
  } else {
    changed = edit.result.files;
  }
  figures.changed_files = std::move(changed);
  out->push_back(std::move(figures));
  End(call.launch.key, Succeeded(), out);
}

void LlmExecutor::Undo(Call& call, std::string log_path) {
  worker_->Post([this, key = call.launch.key, edit = call.edit, log_path = std::move(log_path),
                 offset = call.edit->check_offset] {
    Undone undone{key, absl::OkStatus(), ""};
    if (edit->result.applied) undone.status = edit->writer->Rollback(*edit->result.applied);
    if (!log_path.empty()) {
      undone.feedback = absl::StrCat("```\n", OutputTail(ReadLogFrom(log_path, offset)),
                                     "\n```\n");
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      undone_.push_back(std::move(undone));
    }
    wakeup_();
  });
}

}  // namespace aetherflow
