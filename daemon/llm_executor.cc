#include "daemon/llm_executor.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/llm.h"
#include "daemon/identity.h"

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
      http_(std::make_unique<LlmRunner>(wakeup_)) {}

LlmExecutor::~LlmExecutor() {
  http_.reset();    // aborts what is in flight
  worker_.reset();  // finishes the jobs posted
}

absl::Status LlmExecutor::Start(const StepLaunch& launch) {
  Call& call = calls_[launch.key];
  call.launch = launch;
  call.busy = true;
  // The key (maybe a file), the prompt's files and the dependencies'
  // answers are read on the worker, with the submitter's rights.
  worker_->Post([this, launch] {
    Prepared prepared{launch.key, absl::UnknownError("")};
    prepared.request = [&]() -> absl::StatusOr<LlmRequest> {
      absl::StatusOr<std::string> api_key = ProviderKey(launch.provider_config, getenv_);
      if (!api_key.ok()) return api_key.status();
      ScopedFileIdentity as_owner(launch.credentials);
      if (!as_owner.status().ok()) return as_owner.status();
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
  } else if (!call.busy) {
    // Waiting out a retry: nothing is out to cancel. Ends at the next
    // Collect, which the engine makes on its next turn.
    retries_.emplace(0, key);
  }
}

void LlmExecutor::Collect(std::vector<ExecutorEvent>* out) {
  std::vector<Prepared> prepared;
  std::vector<Handled> handled;
  {
    std::lock_guard<std::mutex> lock(mu_);
    prepared.swap(prepared_);
    handled.swap(handled_);
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
                   attempt = call.http_attempt, now = now_ms_()] {
      Handled result{response.key, {}};
      ScopedFileIdentity as_owner(launch.credentials);
      if (as_owner.status().ok()) {
        result.outcome = HandleLlmResponse(response, *launch.step, launch.output_dir,
                                           launch.provider_config, attempt, now,
                                           launch.umask);
      } else {
        result.outcome.kind = LlmOutcome::Kind::kFailed;
        result.outcome.message = std::string(as_owner.status().message());
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
        out->push_back(std::move(figures));
        End(h.key, Succeeded(), out);
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
  }
  calls_.clear();
  retries_.clear();
}

}  // namespace aetherflow
