#include "daemon/checkin_call.h"
#include "daemon/proto_states.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/checkin.h"
#include "common/log_analysis.h"
#include "common/plan_parser.h"
#include "daemon/engine.h"
#include "daemon/event_hub.h"
#include "daemon/pump.h"
#include "daemon/state_store.h"
#include "nlohmann/json.hpp"

namespace aetherflow {
namespace {

namespace pb = ::aetherflow::v1;
using Clock = std::chrono::steady_clock;

// Log bytes analysed per step per evaluation; the rest on the next one.
constexpr int64_t kMaxReadPerStep = 8 << 20;
// Evaluations while waiting are at least this far apart.
constexpr auto kMinInterval = std::chrono::milliseconds(100);

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

grpc::Status ToGrpc(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

// What the caller carries from one check-in to the next.
struct Cursor {
  int64_t seq = 0;           // last event seen
  int64_t last_ms = 0;       // when the previous check-in answered
  std::map<std::string, StepCursor> steps;
  std::optional<double> budget_fraction;
};

absl::StatusOr<Cursor> ParseCursor(const std::string& bytes, const std::string& run_id) {
  Cursor cursor;
  if (bytes.empty()) return cursor;
  nlohmann::json json = nlohmann::json::parse(bytes, nullptr, false);
  if (!json.is_object() || json.value("run", "") != run_id) {
    return absl::InvalidArgumentError("the check-in cursor is not one of this run's");
  }
  cursor.seq = json.value("seq", int64_t{0});
  cursor.last_ms = json.value("last_ms", int64_t{0});
  if (json.contains("steps") && json["steps"].is_object()) {
    for (auto& [id, step] : json["steps"].items()) {
      absl::StatusOr<StepCursor> parsed = StepCursorFromJson(step);
      if (!parsed.ok()) return parsed.status();
      cursor.steps[id] = *parsed;
    }
  }
  return cursor;
}

std::string SerializeCursor(const Cursor& cursor, const std::string& run_id) {
  nlohmann::json json;
  json["v"] = 1;
  json["run"] = run_id;
  json["seq"] = cursor.seq;
  json["last_ms"] = cursor.last_ms;
  json["steps"] = nlohmann::json::object();
  for (const auto& [id, step] : cursor.steps) json["steps"][id] = StepCursorToJson(step);
  return json.dump();
}

// Adds a later analysis of the same step to an earlier one.
void Merge(StepAnalysis* into, const StepAnalysis& more) {
  for (const Finding& finding : more.findings) {
    if (into->findings.size() < 200) into->findings.push_back(finding);
  }
  for (int k = 0; k < kFindingKinds; ++k) into->counts[k] += more.counts[k];
  if (more.progress.known()) into->progress = more.progress;
  into->progress_changed |= more.progress_changed;
  into->new_output |= more.new_output;
  MergeNewBest(&into->new_best, more.new_best);
}

class CheckInCall : public StreamCore,
                    public std::enable_shared_from_this<CheckInCall> {
 public:
  CheckInCall(StateStore* store, Engine* engine, Pump* pump, pb::CheckInResponse* response)
      : store_(store), engine_(engine), pump_(pump), response_(response) {}

  // Reads what the call needs once; an error finishes the call at once.
  absl::Status Init(const pb::CheckInRequest& request) {
    absl::StatusOr<std::string> id = store_->ResolveRunId(request.run_id());
    if (!id.ok()) return id.status();
    run_id_ = *id;
    absl::StatusOr<Cursor> cursor = ParseCursor(request.cursor(), run_id_);
    if (!cursor.ok()) return cursor.status();
    original_ = *cursor;
    work_ = *cursor;
    absl::StatusOr<RunSource> source = store_->GetRunSource(run_id_);
    if (!source.ok()) return source.status();
    absl::StatusOr<Plan> plan = ParsePlan(source->plan_json, "plan", PlanRules::kStored);
    if (!plan.ok()) return plan.status();
    // ParsePlan compiled each step's watch; no watch: the defaults.
    for (const Step& step : plan->steps) {
      specs_[step.id] = step.watch ? *step.watch : WatchSpec{};
    }
    schedule_.assign(request.schedule_ms().begin(), request.schedule_ms().end());
    if (schedule_.empty()) schedule_ = plan->checkin_schedule;  // the run's own
    for (int64_t entry : schedule_) {
      if (entry <= 0) return absl::InvalidArgumentError("schedule entries must be > 0");
    }
    absl::StatusOr<pb::RunSnapshot> snapshot = store_->GetRun(run_id_);
    if (!snapshot.ok()) return snapshot.status();
    int64_t start = snapshot->run().started_at_ms() ? snapshot->run().started_at_ms()
                                                    : snapshot->run().created_at_ms();
    int64_t now = NowMs();
    int64_t after = std::max(original_.last_ms, start);
    int64_t due = NextCheckinMs(start, schedule_, after);
    int64_t wait = std::clamp<int64_t>(request.wait_ms(), 0, kMaxCheckinWaitMs);
    answer_at_ms_ = std::min(due, now + wait);
    // A finished run has nothing more to wait for.
    if (snapshot->run().state() != pb::RUN_QUEUED &&
        snapshot->run().state() != pb::RUN_RUNNING) {
      answer_at_ms_ = now;
    }
    start_ms_ = start;
    // Steps worth reading: every step that ever ran (a pending step has no
    // log yet); more join as events show them starting.
    for (int i = 0; i < snapshot->steps_size(); ++i) {
      const pb::Step& step = snapshot->steps(i);
      if (step.state() != pb::STEP_PENDING || step.attempt() > 0) candidates_.insert(step.id());
    }
    return absl::OkStatus();
  }

  void Attach(grpc::ServerUnaryReactor* reactor) { reactor_ = reactor; }
  const std::string& run_id() const { return run_id_; }
  int64_t answer_at_ms() const { return answer_at_ms_; }

  void Service() override {
    std::unique_lock<std::mutex> lock(mu_);
    if (finished_ || reactor_ == nullptr) return;
    if (cancelled_) return Finish(&lock, grpc::Status::CANCELLED);
    auto now = Clock::now();
    int64_t now_ms = NowMs();
    bool due = now_ms >= answer_at_ms_;
    if (!due && now - last_eval_ < kMinInterval) {
      pump_->WakeAt(last_eval_ + kMinInterval, weak_from_this());
      return;
    }
    last_eval_ = now;
    absl::Status status = ReadNews();
    if (!status.ok()) return Finish(&lock, ToGrpc(status));
    bool decisive = run_ended_ || !failed_.empty() || critical_;
    if (!decisive && !due) {
      if (!timer_set_) {
        timer_set_ = true;
        auto when = Clock::now() + std::chrono::milliseconds(answer_at_ms_ - now_ms);
        pump_->WakeAt(when, weak_from_this());
      }
      return;
    }
    status = Answer(now_ms);
    Finish(&lock, status.ok() ? grpc::Status::OK : ToGrpc(status));
  }

  void Cancelled() {
    std::unique_lock<std::mutex> lock(mu_);
    cancelled_ = true;
    if (!finished_) Finish(&lock, grpc::Status::CANCELLED);
  }

  void Done() {
    std::lock_guard<std::mutex> lock(mu_);
    reactor_ = nullptr;
  }

 private:
  void Finish(std::unique_lock<std::mutex>* lock, const grpc::Status& status) {
    finished_ = true;
    grpc::ServerUnaryReactor* reactor = reactor_;
    lock->unlock();
    reactor->Finish(status);
  }

  // Events and log bytes since the working cursor.
  absl::Status ReadNews() {
    while (true) {
      absl::StatusOr<std::vector<pb::Event>> events =
          store_->ReadEvents(run_id_, work_.seq, 1000);
      if (!events.ok()) return events.status();
      if (events->empty()) break;
      for (const pb::Event& event : *events) {
        work_.seq = event.seq();
        if (event.kind() == pb::RUN_STATE_CHANGED) {
          run_ended_ = event.run_state() != pb::RUN_QUEUED &&
                       event.run_state() != pb::RUN_RUNNING;
        } else if (event.kind() == pb::STEP_STATE_CHANGED) {
          candidates_.insert(event.step_id());
          if (event.step_state() == pb::STEP_FAILED) {
            failed_[event.step_id()] = event.message();
          } else if (event.step_state() == pb::STEP_PENDING && event.retry_at_ms()) {
            retried_.insert(event.step_id());
          }
        }
      }
    }
    for (const std::string& id : candidates_) {
      std::string path = engine_->LogPath(run_id_, id);
      struct stat st;
      if (::stat(path.c_str(), &st) != 0) continue;
      StepCursor& cursor = work_.steps[id];
      int64_t from = cursor.offset;
      if (st.st_size <= from + cursor.pending) continue;
      int64_t size = std::min<int64_t>(st.st_size - from, kMaxReadPerStep);
      std::string data(size, '\0');
      int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      ssize_t n = ::pread(fd, data.data(), data.size(), from);
      ::close(fd);
      if (n <= 0) continue;
      data.resize(n);
      StepAnalysis analysis = AnalyzeLog(specs_[id], data, &cursor);
      if (analysis.count(FindingKind::kCritical) > 0) critical_ = true;
      Merge(&analyses_[id], analysis);
      if (st.st_size - from > kMaxReadPerStep) pump_->Enqueue(shared_from_this());
    }
    return absl::OkStatus();
  }

  absl::Status Answer(int64_t now_ms) {
    absl::StatusOr<pb::RunSnapshot> snapshot = store_->GetRun(run_id_);
    if (!snapshot.ok()) return snapshot.status();
    const pb::Run& run = snapshot->run();
    RunFacts facts;
    facts.state = FromProto(run.state());
    facts.steps_total = run.steps_total();
    facts.completed = run.completed();
    facts.failed = run.failed();
    facts.running = run.running();
    facts.step_failed_since_last = !failed_.empty();
    facts.retried_since_last = !retried_.empty();
    int64_t end = run.finished_at_ms() ? run.finished_at_ms() : now_ms;
    facts.elapsed_ms = run.started_at_ms() ? end - run.started_at_ms() : 0;
    if (run.has_tokens()) facts.tokens = run.tokens();
    if (run.has_cost()) facts.cost = run.cost();

    std::vector<StepFacts> steps;
    bool critical_running = false;
    for (const pb::Step& step : snapshot->steps()) {
      const std::string& id = step.id();
      bool running = step.state() == pb::STEP_RUNNING;
      bool failed = failed_.count(id) && step.state() == pb::STEP_FAILED;
      auto analysis = analyses_.find(id);
      bool has_cursor = work_.steps.count(id) > 0;
      // A finished run's summary names every step's best metric, even of
      // steps with nothing new.
      bool ended = IsFinal(facts.state) && has_cursor;
      if (!running && !failed && !retried_.count(id) && analysis == analyses_.end() &&
          !ended) {
        continue;
      }
      StepFacts fact;
      fact.id = id;
      fact.running = running;
      fact.failed = failed;
      fact.retried = retried_.count(id) > 0;
      if (running && step.started_at_ms() > 0) {
        fact.elapsed_ms = std::max<int64_t>(0, now_ms - step.started_at_ms());
      }
      if (failed) fact.failure = failed_[id];
      if (analysis != analyses_.end()) fact.analysis = analysis->second;
      StepCursor& cursor = work_.steps[id];
      // One check-in is one step in the stall count, however many times
      // the log was read while waiting.
      const auto before = original_.steps.find(id);
      int quiet_before = before == original_.steps.end() ? 0 : before->second.quiet_checkins;
      bool wrote_before = has_cursor && (cursor.offset > 0 || cursor.pending > 0);
      cursor.quiet_checkins = fact.analysis.new_output ? 0
                              : (running && wrote_before) ? quiet_before + 1
                                                          : quiet_before;
      fact.quiet_checkins = cursor.quiet_checkins;
      if (running && fact.quiet_checkins >= 2) {
        // For how long: since the log last changed.
        struct stat st;
        if (::stat(engine_->LogPath(run_id_, id).c_str(), &st) == 0) {
          const int64_t written_ms =
              int64_t{st.st_mtim.tv_sec} * 1000 + st.st_mtim.tv_nsec / 1'000'000;
          fact.quiet_ms = std::max<int64_t>(0, now_ms - written_ms);
        }
      }
      if (!fact.analysis.progress.known()) fact.analysis.progress = cursor.progress;
      fact.best = cursor.best;
      if (running && fact.analysis.count(FindingKind::kCritical) > 0) critical_running = true;
      steps.push_back(std::move(fact));
    }
    CheckinReport report = Decide(facts, steps);
    work_.last_ms = now_ms;

    response_->set_verdict(std::string(VerdictName(report.verdict)));
    response_->set_exit_code(VerdictExitCode(report.verdict));
    response_->set_report(RenderReport(report, run_id_));
    response_->set_summary(report.summary);
    response_->set_cursor(SerializeCursor(work_, run_id_));
    int64_t next = NextCheckinMs(start_ms_, schedule_, now_ms);
    response_->set_next_checkin_ms(next);
    response_->set_critical_while_running(critical_running);
    nlohmann::json json;
    json["verdict"] = VerdictName(report.verdict);
    json["run"] = run_id_;
    json["progress"] = report.progress_text;
    json["progress_fraction"] = report.progress_fraction >= 0
                                    ? nlohmann::json(report.progress_fraction)
                                    : nlohmann::json(nullptr);
    json["elapsed_s"] = report.elapsed_ms / 1000.0;
    json["eta_s"] = report.eta_ms ? nlohmann::json(*report.eta_ms / 1000.0)
                                  : nlohmann::json(nullptr);
    json["evidence"] = nlohmann::json::array();
    for (const Evidence& e : report.evidence) {
      json["evidence"].push_back({{"step", e.step},
                                  {"line", e.finding.line},
                                  {"text", e.finding.text},
                                  {"kind", FindingKindName(e.finding.kind)}});
    }
    json["evidence_omitted"] = report.evidence_omitted;
    json["steps"] = nlohmann::json::array();
    for (const StepProgressReport& p : report.steps_progress) {
      json["steps"].push_back(
          {{"step", p.step},
           {"progress", p.progress.text},
           {"fraction", p.progress.known() ? nlohmann::json(p.progress.fraction)
                                           : nlohmann::json(nullptr)},
           {"eta_s", p.eta_ms ? nlohmann::json(*p.eta_ms / 1000.0)
                              : nlohmann::json(nullptr)},
           {"text", p.text}});
    }
    // One entry per line `watch` prints; a metric's new bests with their
    // figures (README: poll --json).
    json["discoveries"] = nlohmann::json::array();
    for (const Discovery& d : report.discoveries) {
      response_->add_discoveries(absl::StrCat(d.step, ": ", d.text));
      nlohmann::json entry = {{"step", d.step},
                              {"kind", FindingKindName(d.kind)},
                              {"line", d.line},
                              {"text", d.text}};
      if (d.new_best) {
        const NewBestNews& n = *d.new_best;
        entry["metric"] = n.metric;
        entry["value"] = n.value;
        entry["was"] = n.was ? nlohmann::json(*n.was) : nlohmann::json(nullptr);
        entry["where"] = n.where.empty() ? nlohmann::json(nullptr) : nlohmann::json(n.where);
        entry["intermediate"] = n.count - 1;
      }
      json["discoveries"].push_back(std::move(entry));
    }
    json["summary"] = report.summary;
    json["run_state"] = RunStateName(facts.state);
    json["next_checkin_s"] = IsFinal(facts.state)
                                 ? nlohmann::json(nullptr)
                                 : nlohmann::json(std::max<int64_t>(0, next - now_ms) / 1000.0);
    response_->set_report_json(json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return absl::OkStatus();
  }

  StateStore* store_;
  Engine* engine_;
  Pump* pump_;
  pb::CheckInResponse* response_;
  std::string run_id_;
  std::map<std::string, WatchSpec> specs_;
  std::vector<int64_t> schedule_;
  int64_t answer_at_ms_ = 0;
  int64_t start_ms_ = 0;

  std::mutex mu_;
  grpc::ServerUnaryReactor* reactor_ = nullptr;  // null after OnDone
  bool finished_ = false;
  bool cancelled_ = false;
  bool timer_set_ = false;
  Clock::time_point last_eval_{};
  Cursor original_, work_;
  std::set<std::string> candidates_;
  std::map<std::string, StepAnalysis> analyses_;
  std::map<std::string, std::string> failed_;  // step -> how it failed
  std::set<std::string> retried_;
  bool run_ended_ = false;
  bool critical_ = false;
};

class CheckInReactor : public grpc::ServerUnaryReactor {
 public:
  CheckInReactor(std::shared_ptr<CheckInCall> call, EventHub* hub, Pump* pump)
      : call_(std::move(call)), hub_(hub) {
    call_->Attach(this);
    std::weak_ptr<CheckInCall> weak = call_;
    token_ = hub_->Subscribe(call_->run_id(), [weak, pump] {
      if (auto call = weak.lock()) pump->Enqueue(std::move(call));
    });
    pump->Enqueue(call_);
  }
  void OnCancel() override { call_->Cancelled(); }
  void OnDone() override {
    hub_->Unsubscribe(call_->run_id(), token_);
    call_->Done();
    delete this;
  }

 private:
  std::shared_ptr<CheckInCall> call_;
  EventHub* hub_;
  int64_t token_ = 0;
};

class FailedReactor : public grpc::ServerUnaryReactor {
 public:
  explicit FailedReactor(const absl::Status& status) { Finish(ToGrpc(status)); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerUnaryReactor* StartCheckIn(grpc::CallbackServerContext* context,
                                       const pb::CheckInRequest* request,
                                       pb::CheckInResponse* response, StateStore* store,
                                       Engine* engine, EventHub* hub, Pump* pump) {
  auto call = std::make_shared<CheckInCall>(store, engine, pump, response);
  absl::Status status = call->Init(*request);
  if (!status.ok()) return new FailedReactor(status);
  return new CheckInReactor(std::move(call), hub, pump);
}

}  // namespace aetherflow
