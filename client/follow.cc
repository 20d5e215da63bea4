#include "client/follow.h"

#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/cli_util.h"
#include "client/connection.h"
#include "client/monitor_view.h"
#include "client/render.h"
#include "client/step_log_view.h"
#include "common/duration.h"
#include "common/text.h"

namespace aetherflow {

namespace pb = ::aetherflow::v1;

namespace {

RenderOptions Render(const GlobalOptions& global) { return RenderOptionsFor(global); }

void Print(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

// The run as it was before its first event: what its events replay onto.
pb::RunSnapshot Pristine(const pb::RunSnapshot& now) {
  pb::RunSnapshot pristine;
  pb::Run* run = pristine.mutable_run();
  run->set_id(now.run().id());
  run->set_task_id(now.run().task_id());
  run->set_description(now.run().description());
  run->set_created_at_ms(now.run().created_at_ms());
  run->set_steps_total(now.run().steps_total());
  run->set_batches(now.run().batches());
  run->set_output_dir(now.run().output_dir());
  run->set_state(pb::RUN_QUEUED);
  for (const pb::Step& step : now.steps()) {
    pb::Step* s = pristine.add_steps();
    s->set_id(step.id());
    s->set_type(step.type());
    s->set_provider(step.provider());
    s->set_description(step.description());
    s->set_batch(step.batch());
    s->set_max_attempts(step.max_attempts());
    s->set_state(pb::STEP_PENDING);
  }
  return pristine;
}

absl::StatusOr<pb::RunSnapshot> GetSnapshot(Connection* connection,
                                            const std::string& run,
                                            grpc::Status* status) {
  pb::GetRunRequest request;
  request.set_run_id(run);
  pb::RunSnapshot snapshot;
  grpc::ClientContext context;
  *status = connection->stub()->GetRun(&context, request, &snapshot);
  if (!status->ok()) return absl::UnknownError(status->error_message());
  return snapshot;
}

constexpr int kPlainNewsIntervalMs = 1000;

// The plain-mode interval of progress lines; AETHERFLOW_PROGRESS_INTERVAL
// (a duration) changes it, for tests and impatient people.
std::chrono::milliseconds ProgressInterval() {
  if (const char* text = std::getenv("AETHERFLOW_PROGRESS_INTERVAL")) {
    if (auto ms = ParseDurationMs(text); ms.ok() && *ms > 0) {
      return std::chrono::milliseconds(*ms);
    }
  }
  return std::chrono::seconds(30);
}

}  // namespace

EventFeed::EventFeed(const GlobalOptions& global, Connection* connection,
                     std::string run_ref, bool from_start)
    : global_(global), connection_(connection), run_id_(std::move(run_ref)),
      from_start_(from_start) {}

EventFeed::~EventFeed() {
  Stop();
  if (reader_.joinable()) reader_.join();
}

int EventFeed::Start() {
  grpc::Status status;
  absl::StatusOr<pb::RunSnapshot> snapshot = GetSnapshot(connection_, run_id_, &status);
  if (!snapshot.ok()) {
    std::fprintf(stderr, "%s\n", DescribeError(status, global_.where()).c_str());
    return ExitCodeFor(status);
  }
  run_id_ = snapshot->run().id();
  if (from_start_) *snapshot = Pristine(*snapshot);
  model_ = std::make_unique<RunModel>(std::move(*snapshot));
  reader_ = std::thread([this] { ReadLoop(); });
  return 0;
}

void EventFeed::Stop() {
  stop_ = true;
  std::lock_guard<std::mutex> lock(mu_);
  if (context_) static_cast<grpc::ClientContext*>(context_)->TryCancel();
  cv_.notify_all();
}

void EventFeed::ReadLoop() {
  int reconnects = 0;
  int error_code = 0;
  while (!stop_) {
    grpc::ClientContext context;
    pb::StreamEventsRequest request;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (model_->finished()) break;
      context_ = &context;
      request.set_after_seq(model_->last_seq());
    }
    if (stop_) context.TryCancel();
    request.set_run_id(run_id_);
    request.set_follow(true);
    // Plain lines carry their own times: news once a second is plenty, and
    // costs the daemon a quarter of the writes a monitor's does.
    if (!global_.interactive) request.set_interval_ms(kPlainNewsIntervalMs);
    auto reader = connection_->stub()->StreamEvents(&context, request);
    pb::EventBatch batch;
    bool finished = false;
    while (reader->Read(&batch)) {
      reconnects = 0;
      std::lock_guard<std::mutex> lock(mu_);
      for (const pb::Event& event : batch.events()) {
        if (model_->Apply(event)) new_.push_back(event);
      }
      finished = model_->finished();
      cv_.notify_all();
      if (finished) {
        context.TryCancel();
        break;
      }
    }
    grpc::Status status = reader->Finish();
    {
      std::lock_guard<std::mutex> lock(mu_);
      context_ = nullptr;
    }
    if (finished || stop_) break;
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
        status.error_code() == grpc::StatusCode::CANCELLED || status.ok()) {
      // The daemon went away (a restart?): wait for it, then catch up from
      // the last event seen — nothing lost, nothing twice.
      if (++reconnects > 300) {
        std::fprintf(stderr, "%s\n", DescribeError(status, global_.where()).c_str());
        error_code = ExitCodeFor(status);
        break;
      }
      if (reconnects == 1) {
        std::fprintf(stderr, "aetherflow: lost the daemon; reconnecting…\n");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    std::fprintf(stderr, "%s\n", DescribeError(status, global_.where()).c_str());
    error_code = ExitCodeFor(status);
    break;
  }
  std::lock_guard<std::mutex> lock(mu_);
  done_ = true;
  error_exit_code_ = error_code;
  cv_.notify_all();
}

void EventFeed::Wait(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_until(lock, deadline, [this] { return done_ || !new_.empty() || stop_; });
}

std::vector<pb::Event> EventFeed::TakeEvents() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<pb::Event> events;
  events.swap(new_);
  return events;
}

pb::RunSnapshot EventFeed::Snapshot() {
  std::lock_guard<std::mutex> lock(mu_);
  return model_->snapshot();
}

void EventFeed::With(const std::function<void(const RunModel&)>& f) {
  std::lock_guard<std::mutex> lock(mu_);
  f(*model_);
}

void EventFeed::Notice(const std::string& text) {
  if (!in_monitor_) {
    std::fprintf(stderr, "\n%s\n", text.c_str());
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  notice_ = text;
  cv_.notify_all();
}

std::optional<std::string> EventFeed::TakeNotice() {
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<std::string> notice;
  notice.swap(notice_);
  return notice;
}

bool EventFeed::done() {
  std::lock_guard<std::mutex> lock(mu_);
  return done_;
}

bool EventFeed::finished() {
  std::lock_guard<std::mutex> lock(mu_);
  return model_ && model_->finished();
}

int EventFeed::error_exit_code() {
  std::lock_guard<std::mutex> lock(mu_);
  return error_exit_code_;
}

int FollowPlain(const GlobalOptions& global, Connection* connection,
                EventFeed* feed, const std::atomic<bool>& detached) {
  LineLayout layout;
  feed->With([&](const RunModel& model) {
    layout = ComputeLineLayout(model.snapshot());
    if (model.finished()) return;
    const pb::Run& run = model.snapshot().run();
    RenderOptions options = Render(global);
    // No description nor task id: nothing after the counts, not a dangling
    // dash. The text is made safe (and ASCII when the locale is not UTF-8).
    const std::string& name = run.description().empty() ? run.task_id() : run.description();
    std::string out = absl::StrCat(
        "Run ", run.id(), ": ", run.steps_total(),
        run.steps_total() == 1 ? " step" : " steps", " in ", run.batches(),
        run.batches() == 1 ? " batch" : " batches",
        name.empty() ? "" : absl::StrCat(options.utf8 ? " — " : " - ",
                                         FitWidth(name, options.width, options.utf8)),
        run.state() == pb::RUN_PAUSED ? "  (paused: aetherflow resume lets it go on)" : "",
        "\n");
    // What is already under way, as if it had just been seen.
    for (const pb::Step& step : model.snapshot().steps()) {
      if (step.state() != pb::STEP_RUNNING) continue;
      pb::Event event;
      event.set_kind(pb::STEP_STATE_CHANGED);
      event.set_step_id(step.id());
      event.set_step_state(step.state());
      event.set_time_ms(step.started_at_ms());
      absl::StrAppend(&out, RenderEventLine(event, &step, run, layout, options));
    }
    Print(out);
  });
  const auto interval = ProgressInterval();
  // Ticks on a fixed grid from now (never stretching); a tick prints a
  // progress line only if nothing was printed since the previous tick.
  auto next_tick = std::chrono::steady_clock::now() + interval;
  bool printed_since_tick = false;
  while (!detached) {
    feed->Wait(next_tick);
    std::vector<pb::Event> events = feed->TakeEvents();
    if (!events.empty()) {
      std::string lines;
      feed->With([&](const RunModel& model) {
        RenderOptions options = Render(global);
        for (const pb::Event& event : events) {
          absl::StrAppend(&lines, RenderEventLine(event, model.FindStep(event.step_id()),
                                                  model.snapshot().run(), layout,
                                                  options));
        }
      });
      if (!lines.empty()) {
        Print(lines);
        printed_since_tick = true;
      }
    }
    if (feed->done()) break;
    if (std::chrono::steady_clock::now() >= next_tick) {
      if (!printed_since_tick) {
        feed->With([&](const RunModel& model) {
          Print(RenderProgressLine(model.snapshot(), Render(global)));
        });
      }
      printed_since_tick = false;
      next_tick += interval;
    }
  }
  if (detached) {
    std::fprintf(stderr, "aetherflow: detached; run %s goes on (aetherflow attach %s)\n",
                 feed->run_id().c_str(), feed->run_id().c_str());
    return 130;
  }
  if (int code = feed->error_exit_code(); code != 0) return code;
  return PrintFinal(global, connection, feed->run_id(), feed);
}

int FollowRun(const GlobalOptions& global, Connection* connection,
              EventFeed* feed, std::atomic<bool>& detached, bool interrupt_cancels) {
  if (global.interactive && !feed->finished()) {
    int code = RunCursesMonitor(global, connection, feed, detached, interrupt_cancels);
    if (code == 130) {
      std::fprintf(stderr, "aetherflow: detached; run %s goes on (aetherflow attach %s)\n",
                   feed->run_id().c_str(), feed->run_id().c_str());
      return 130;
    }
    if (code == 0) {
      if (int error = feed->error_exit_code(); error != 0) return error;
      return PrintFinal(global, connection, feed->run_id(), feed);
    }
    // No usable terminal after all: plain mode.
  }
  return FollowPlain(global, connection, feed, detached);
}

std::string LogTail(Connection* connection, const std::string& run_id,
                    const std::string& step, int lines, bool utf8) {
  pb::ReadLogRequest request;
  request.set_run_id(run_id);
  request.set_step_id(step);
  request.set_tail_lines(lines);
  grpc::ClientContext context;
  auto reader = connection->stub()->ReadLog(&context, request);
  std::string text;
  pb::LogChunk chunk;
  // Attempt markers become headings (a tail shows the ones it reaches).
  StepLogViewOptions options;
  options.utf8 = utf8;
  StepLogView view(options);
  while (reader->Read(&chunk) && text.size() < 64 * 1024) text += view.Feed(chunk.data());
  text += view.Finish();
  reader->Finish();
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

int PrintFinal(const GlobalOptions& global, Connection* connection,
               const std::string& run_id, EventFeed* feed) {
  grpc::Status status;
  absl::StatusOr<pb::RunSnapshot> snapshot =
      feed && feed->finished() ? feed->Snapshot() : GetSnapshot(connection, run_id, &status);
  if (!snapshot.ok()) {
    std::fprintf(stderr, "%s\n", DescribeError(status, global.where()).c_str());
    return ExitCodeFor(status);
  }
  std::vector<std::string> tails(snapshot->steps_size());
  for (int i = 0; i < snapshot->steps_size(); ++i) {
    pb::StepState state = snapshot->steps(i).state();
    if (state == pb::STEP_FAILED || state == pb::STEP_INTERRUPTED) {
      tails[i] = LogTail(connection, run_id, snapshot->steps(i).id(), 5, global.utf8);
    }
  }
  RenderOptions options = Render(global);
  Print("\n" + RenderStatus(*snapshot, options) +
        RenderSummary(*snapshot, tails, options));
  return snapshot->run().state() == pb::RUN_SUCCEEDED ? kExitOk : kExitFailed;
}

}  // namespace aetherflow
