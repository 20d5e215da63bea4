#include "client/mcp.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "client/apply_commands.h"
#include "client/cli_util.h"
#include "client/client_api.h"
#include "client/render.h"
#include "client/run_actions.h"
#include "common/plan.h"
#include "common/plan_parser.h"
#include "common/text.h"

namespace aetherflow {
namespace {

namespace pb = ::aetherflow::v1;
namespace fs = std::filesystem;
using nlohmann::json;
using mcp::CallContext;
using mcp::Tool;
using mcp::ToolResult;

// Log lines on stderr (stdout carries the protocol).
void Log(const std::string& level, const std::string& message) {
  std::fprintf(stderr, "aetherflow mcp: [%s] %s\n", level.c_str(), message.c_str());
}

constexpr char kLoop[] =
    "The check-in loop: after submit_plan or run_command, call check_in with the run; "
    "it waits by itself until the next check-in is due (T+30s, T+90s, then every 5 "
    "minutes from the run's start) or something decisive happens, never longer than "
    "300 s, so never sleep or poll status in between. Verdict ok: say nothing and call "
    "check_in again. discovery: tell the user once, in one line, then go on. attention: "
    "stop and ask the user whether to go on or cancel. succeeded: summarise for the user "
    "(time, steps, tokens, cost, best metric). failed: analyse the error lines and the "
    "step, tell the user. Speak only on success, a critical failure or a major discovery.";

constexpr char kRunRef[] = "run id, a unique prefix of one, or \"last\" (the newest run)";

json RunProperty(const std::string& extra = "") {
  return {{"type", "string"}, {"minLength", 1}, {"description", std::string(kRunRef) + extra}};
}

json ObjectSchema(json properties, std::vector<std::string> required = {}) {
  json schema = {{"type", "object"},
                 {"properties", std::move(properties)},
                 {"additionalProperties", false}};
  if (!required.empty()) schema["required"] = required;
  return schema;
}

ToolResult Failed(const absl::Status& status) {
  return ToolResult::Error(std::string(status.message()));
}

std::string CurrentDir() {
  std::error_code error;
  fs::path dir = fs::current_path(error);
  return error ? "/" : dir.string();
}

// True when `path` (absolute, normalised) lies in `dir` or below it.
bool Inside(const fs::path& path, const fs::path& dir) {
  std::error_code error;
  fs::path canonical_path = fs::weakly_canonical(path, error);
  if (error) canonical_path = path;
  fs::path canonical_dir = fs::weakly_canonical(dir, error);
  if (error) canonical_dir = dir;
  fs::path relative = canonical_path.lexically_relative(canonical_dir);
  return !relative.empty() && *relative.begin() != "..";
}

// The directory steps run in: `cwd` (absolute, or relative to the working
// directory), which must exist.
absl::StatusOr<std::string> RunDirectory(const json& arguments, const McpSession& session) {
  if (!arguments.contains("cwd")) return session.workdir;
  fs::path dir = arguments["cwd"].get<std::string>();
  if (dir.is_relative()) dir = fs::path(session.workdir) / dir;
  dir = dir.lexically_normal();
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    return absl::InvalidArgumentError(
        absl::StrCat("aetherflow: cwd ", dir.string(), " is not a directory"));
  }
  std::string text = dir.string();
  if (text.size() > 1 && text.back() == '/') text.pop_back();
  return text;
}

// A plan file as the agent names it. A relative path is read from `base`
// and must stay inside the agent's working directory; anything else must
// be given as an absolute path (and be readable by this user).
absl::StatusOr<std::string> ReadPlan(const std::string& given, const std::string& base,
                                     const McpSession& session, std::string* path_out) {
  fs::path path = given;
  if (path.is_relative()) {
    path = (fs::path(base) / path).lexically_normal();
    if (!Inside(path, session.workdir)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "aetherflow: plan_path \"", FitWidth(given, 200), "\" is outside the working directory ",
          session.workdir, "; give an absolute path to use a plan from elsewhere"));
    }
  }
  *path_out = path.string();
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || ::access(path.c_str(), R_OK) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("aetherflow: cannot read plan ", path.string(), ": ", std::strerror(errno)));
  }
  if (S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat("aetherflow: ", path.string(), " is a directory, not a plan"));
  }
  if (static_cast<std::size_t>(st.st_size) > kMaxPlanBytes) {
    return absl::InvalidArgumentError(absl::StrCat("aetherflow: ", path.string(), ": plan is ",
                                                   st.st_size, " bytes; the limit is ",
                                                   kMaxPlanBytes));
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in.good() && !in.eof()) {
    return absl::InvalidArgumentError(absl::StrCat("aetherflow: cannot read plan ", path.string()));
  }
  return text.str();
}

// The local check the CLI makes before it submits.
absl::StatusOr<Plan> CheckLocally(const std::string& text, const std::string& path) {
  absl::StatusOr<Plan> plan = ParsePlan(text, path);
  if (plan.ok()) return plan;
  std::string message(plan.status().message());
  int problems = static_cast<int>(std::count(message.begin(), message.end(), '\n')) + 1;
  return absl::InvalidArgumentError(absl::StrCat(message, "\naetherflow: ", path, " rejected (",
                                                 problems, problems == 1 ? " problem" : " problems",
                                                 "); nothing was submitted"));
}

std::string NextStep(const std::string& run_id) {
  return absl::StrCat("Next: call check_in with run \"", run_id,
                      "\" (again and again while the verdict is ok).");
}

ToolResult Submitted(ClientApi* api, const SubmitInput& input, size_t steps) {
  absl::StatusOr<SubmitOutput> submitted = api->Submit(input);
  if (!submitted.ok()) return Failed(submitted.status());
  Log("info", absl::StrCat("submitted run ", submitted->run_id, " (", input.plan_path, ")"));
  ToolResult result;
  result.structured = {{"run", submitted->run_id}, {"warnings", submitted->warnings}};
  result.text = absl::StrCat("Submitted run ", submitted->run_id, " (", steps,
                             steps == 1 ? " step). " : " steps). ", NextStep(submitted->run_id));
  for (const std::string& warning : submitted->warnings) absl::StrAppend(&result.text, "\n", warning);
  return result;
}

ToolResult DryRun(ClientApi* api, const SubmitInput& input, const Plan& plan) {
  std::vector<std::vector<std::string>> batches(plan.batches);
  int64_t tokens = 0;
  int llm_steps = 0;
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    batches[plan.batch[i] - 1].push_back(plan.steps[i].id);
    if (!plan.steps[i].is_command()) {
      ++llm_steps;
      tokens += plan.steps[i].estimated_tokens.value_or(0);
    }
  }
  json out = {{"valid", true},
              {"plan", input.plan_path},
              {"task_id", plan.task_id},
              {"steps", plan.steps.size()},
              {"batches", batches},
              {"llm_steps", llm_steps},
              {"estimated_tokens", tokens},
              {"warnings", plan.warnings},
              {"would_refuse", json::array()},
              {"checked_by", nullptr}};
  std::string text = absl::StrCat("Plan OK: ", input.plan_path, " — ", plan.steps.size(),
                                  plan.steps.size() == 1 ? " step in " : " steps in ",
                                  plan.batches, plan.batches == 1 ? " batch" : " batches");
  if (llm_steps > 0) {
    // What a submit would meet: the daemon's own checks (keys, providers).
    absl::Status checked = api->CheckPlan(input);
    if (checked.ok()) {
      out["checked_by"] = absl::StrCat("aetherflowd at ", api->global().where());
    } else if (absl::IsInvalidArgument(checked)) {
      out["checked_by"] = absl::StrCat("aetherflowd at ", api->global().where());
      std::vector<std::string> lines = absl::StrSplit(checked.message(), '\n');
      out["would_refuse"] = lines;
      absl::StrAppend(&text, "; a submit would be refused:\n", checked.message());
    } else {
      absl::StrAppend(&text, " (keys not checked: ", checked.message(), ")");
    }
  }
  for (const std::string& warning : plan.warnings) absl::StrAppend(&text, "\n", warning);
  ToolResult result;
  result.structured = std::move(out);
  result.text = std::move(text);
  return result;
}

// --- submit_plan, run_command --------------------------------------------

Tool SubmitPlanTool(ClientApi* api, McpSession* session) {
  Tool tool;
  tool.name = "submit_plan";
  tool.title = "Submit a plan";
  tool.description = absl::StrCat(
      "Submit a plan of steps (AetherFlow's JSON plan: task_id, steps with run or prompt, "
      "dependencies) to aetherflowd, which runs it in the background, outliving this "
      "session. Give plan_path (a file inside the working directory, or an absolute path) "
      "or plan (the JSON itself). Returns {\"run\": id}; with dry_run, the batches and the "
      "token estimate and nothing runs. ",
      kLoop);
  tool.input_schema = ObjectSchema(
      {{"plan_path",
        {{"type", "string"},
         {"minLength", 1},
         {"description",
          "the plan file: relative to cwd and inside the working directory, or absolute"}}},
       {"plan", {{"type", "object"}, {"description", "the plan itself, instead of plan_path"}}},
       {"cwd",
        {{"type", "string"},
         {"minLength", 1},
         {"description", "where command steps run (default: the working directory)"}}},
       {"apply",
        {{"type", "boolean"},
         {"description",
          "let LLM steps change the project's files (cwd) with checked, validated, "
          "revertible edits (aetherflow diff / revert); refused for files with "
          "uncommitted git changes"}}},
       {"dry_run", {{"type", "boolean"}, {"description", "validate and estimate; run nothing"}}}});
  tool.output_schema = {{"type", "object"},
                        {"properties",
                         {{"run", {{"type", "string"}}},
                          {"warnings", {{"type", "array"}, {"items", {{"type", "string"}}}}},
                          {"valid", {{"type", "boolean"}}},
                          {"batches", {{"type", "array"}}},
                          {"estimated_tokens", {{"type", "integer"}}}}}};
  tool.handler = [api, session](const json& arguments, CallContext&) -> ToolResult {
    const bool has_path = arguments.contains("plan_path");
    if (has_path == arguments.contains("plan")) {
      return ToolResult::Error("aetherflow: submit_plan: give plan_path or plan (not both)");
    }
    absl::StatusOr<std::string> cwd = RunDirectory(arguments, *session);
    if (!cwd.ok()) return Failed(cwd.status());
    SubmitInput input;
    input.cwd = *cwd;
    input.env = ShellEnvironment();
    if (has_path) {
      absl::StatusOr<std::string> text =
          ReadPlan(arguments["plan_path"].get<std::string>(), *cwd, *session, &input.plan_path);
      if (!text.ok()) return Failed(text.status());
      input.plan_json = std::move(*text);
    } else {
      input.plan_json = arguments["plan"].dump(2);
      input.plan_path = "<plan>";
    }
    absl::StatusOr<Plan> plan = CheckLocally(input.plan_json, input.plan_path);
    if (!plan.ok()) return Failed(plan.status());
    input.apply = arguments.value("apply", false);
    if (input.apply || plan->apply) {
      std::vector<std::string> refusals = ApplyRefusals(*plan, input.cwd, false, false);
      if (!refusals.empty()) {
        return ToolResult::Error(absl::StrCat("aetherflow: submit_plan: ",
                                              absl::StrJoin(refusals, "; ")));
      }
    }
    if (arguments.value("dry_run", false)) return DryRun(api, input, *plan);
    return Submitted(api, input, plan->steps.size());
  };
  return tool;
}

Tool RunCommandTool(ClientApi* api, McpSession* session) {
  Tool tool;
  tool.name = "run_command";
  tool.title = "Run a long command";
  tool.description = absl::StrCat(
      "Run one long command (a training, a hyperparameter search, a long build or test "
      "suite) as a one-step run of aetherflowd: it goes on after this session ends, and "
      "its log is analysed at each check-in (crashes, errors, progress such as Trial "
      "5/100, new best metrics). argv is the command and its arguments, run as is, not "
      "through a shell (use [\"sh\", \"-c\", \"...\"] for shell syntax). Returns "
      "{\"run\": id}. ",
      kLoop);
  tool.input_schema = ObjectSchema(
      {{"argv",
        {{"type", "array"},
         {"items", {{"type", "string"}}},
         {"minItems", 1},
         {"description", "the command and its arguments"}}},
       {"cwd",
        {{"type", "string"},
         {"minLength", 1},
         {"description", "where it runs (default: the working directory)"}}},
       {"env",
        {{"type", "object"},
         {"additionalProperties", {{"type", "string"}}},
         {"description", "variables added to this server's environment"}}}},
      {"argv"});
  tool.output_schema = {{"type", "object"},
                        {"properties", {{"run", {{"type", "string"}}}}},
                        {"required", {"run"}}};
  tool.handler = [api, session](const json& arguments, CallContext&) -> ToolResult {
    std::vector<std::string> argv = arguments["argv"].get<std::vector<std::string>>();
    if (argv[0].empty()) return ToolResult::Error("aetherflow: run_command: argv[0] is empty");
    absl::StatusOr<std::string> cwd = RunDirectory(arguments, *session);
    if (!cwd.ok()) return Failed(cwd.status());
    SubmitInput input;
    input.cwd = *cwd;
    input.env = ShellEnvironment();
    if (arguments.contains("env")) {
      for (const auto& [name, value] : arguments["env"].items()) {
        input.env[name] = value.get<std::string>();
      }
    }
    input.plan_json = CommandPlanJson(argv);
    input.plan_path = "<command>";
    absl::StatusOr<Plan> plan = CheckLocally(input.plan_json, input.plan_path);
    if (!plan.ok()) return Failed(plan.status());
    return Submitted(api, input, 1);
  };
  return tool;
}

// --- check_in ---------------------------------------------------------------

// Progress notifications while a check-in waits: one at once, then one
// every 10 s (a client that resets its timeout on progress keeps waiting).
class ProgressTicker {
 public:
  ProgressTicker(CallContext& call, int wait_s, std::string run_id)
      : call_(call), wait_s_(wait_s), run_id_(std::move(run_id)) {
    if (!call_.wants_progress()) return;
    thread_ = std::thread([this] { Loop(); });
  }
  ~ProgressTicker() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Loop() {
    const auto start = std::chrono::steady_clock::now();
    std::unique_lock<std::mutex> lock(mu_);
    while (!done_) {
      const double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      call_.Progress(elapsed, wait_s_,
                     absl::StrCat("waiting for the next check-in of run ", run_id_, " (",
                                  static_cast<int>(elapsed), " of at most ", wait_s_, " s)"));
      cv_.wait_for(lock, std::chrono::seconds(10), [&] { return done_; });
    }
  }

  CallContext& call_;
  const int wait_s_;
  const std::string run_id_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

std::string NextAction(const std::string& verdict, const json& report) {
  if (verdict == "ok") {
    std::string due;
    if (report.contains("next_checkin_s") && report["next_checkin_s"].is_number()) {
      due = absl::StrCat(" (the next check-in is due in ",
                         static_cast<int64_t>(report["next_checkin_s"].get<double>()), " s)");
    }
    return absl::StrCat("Nothing to tell the user: call check_in again now", due, ".");
  }
  if (verdict == "discovery") {
    return "Tell the user this discovery once, in one line; then call check_in again.";
  }
  if (verdict == "attention") {
    return "Stop and ask the user whether to go on (call check_in again) or cancel the run.";
  }
  if (verdict == "succeeded") return "The run is over: summarise it for the user.";
  if (verdict == "failed") {
    return "The run failed: analyse the error lines and the step, and tell the user.";
  }
  return "Call check_in again.";
}

Tool CheckInTool(ClientApi* api, McpSession* session) {
  Tool tool;
  tool.name = "check_in";
  tool.title = "Check in on a run";
  tool.description = absl::StrCat(
      "One check-in on a run: blocks until the next check-in is due or something "
      "decisive happens (the run ends, a step fails, a process crashes: answered at "
      "once), at most wait_s seconds (default 240, at most 300: a tool call must not wait "
      "longer), then gives a verdict on what is new since this session's previous "
      "check_in on the run: ok, discovery, attention, succeeded or failed, with the "
      "evidence (log lines), progress, elapsed time and ETA. ",
      kLoop);
  tool.input_schema = ObjectSchema(
      {{"run", RunProperty()},
       {"wait_s",
        {{"type", "integer"},
         {"minimum", 0},
         {"description", "the longest to wait, in seconds (default 240; above 300 is "
                         "clamped to 300)"}}}},
      {"run"});
  tool.output_schema = {
      {"type", "object"},
      {"properties",
       {{"verdict",
         {{"type", "string"}, {"enum", {"ok", "succeeded", "failed", "attention", "discovery"}}}},
        {"run", {{"type", "string"}}},
        {"summary", {{"type", "string"}}},
        {"evidence", {{"type", "array"}}},
        {"discoveries", {{"type", "array"}, {"items", {{"type", "string"}}}}},
        {"next_action", {{"type", "string"}}},
        {"wait_s", {{"type", "integer"}}},
        {"note", {{"type", "string"}}}}},
      {"required", {"verdict", "run"}}};
  tool.handler = [api, session](const json& arguments, CallContext& call) -> ToolResult {
    const std::string ref = arguments["run"].get<std::string>();
    // A number, checked >= 0 by the schema; bounded before it becomes an
    // integer (1e300 is an integer to JSON Schema).
    int64_t asked = arguments.contains("wait_s")
                        ? static_cast<int64_t>(std::min(arguments["wait_s"].get<double>(), 1e12))
                        : kMcpDefaultWaitS;
    std::string note;
    if (asked > kMcpMaxWaitS) {
      note = absl::StrCat("wait_s ", asked, " is more than ", kMcpMaxWaitS, "; waited at most ",
                          kMcpMaxWaitS, " s (a tool call must not wait longer)");
    }
    const int wait_s = static_cast<int>(std::min<int64_t>(asked, kMcpMaxWaitS));
    // The full id first: the cursor is kept by it, and an unknown run or
    // another user's is an error before anything waits.
    absl::StatusOr<pb::RunSnapshot> snapshot = api->GetRun(ref);
    if (!snapshot.ok()) return Failed(snapshot.status());
    const std::string id = snapshot->run().id();
    pb::CheckInRequest request;
    request.set_run_id(id);
    request.set_wait_ms(int64_t{wait_s} * 1000);
    {
      std::lock_guard<std::mutex> lock(session->mu);
      request.set_cursor(session->cursors[id]);
    }
    grpc::ClientContext context;
    call.SetOnCancel([&context] { context.TryCancel(); });
    absl::StatusOr<pb::CheckInResponse> response;
    {
      ProgressTicker ticker(call, wait_s, id);
      response = api->CheckIn(request, &context);
    }
    call.ClearOnCancel();
    if (call.cancelled()) {
      Log("info", absl::StrCat("check_in on run ", id, " cancelled by the client"));
      return ToolResult::Error("aetherflow: check_in cancelled");
    }
    if (!response.ok()) return Failed(response.status());
    {
      std::lock_guard<std::mutex> lock(session->mu);
      session->cursors[id] = response->cursor();
    }
    json report = json::parse(response->report_json(), nullptr, false);
    if (!report.is_object()) report = {{"verdict", response->verdict()}, {"run", id}};
    report["discoveries"] = std::vector<std::string>(response->discoveries().begin(),
                                                     response->discoveries().end());
    report["next_action"] = NextAction(response->verdict(), report);
    report["wait_s"] = wait_s;
    ToolResult result;
    result.text = response->report();
    if (!result.text.empty() && result.text.back() != '\n') result.text += '\n';
    if (!note.empty()) {
      report["note"] = note;
      absl::StrAppend(&result.text, "Note: ", note, "\n");
    }
    absl::StrAppend(&result.text, report["next_action"].get<std::string>());
    result.structured = std::move(report);
    return result;
  };
  return tool;
}

// --- status, logs, list_runs, cancel, pause, resume -------------------------

Tool StatusTool(ClientApi* api) {
  Tool tool;
  tool.name = "status";
  tool.title = "A run's state";
  tool.description =
      "The run's state and every step's (state, attempt, elapsed time, tokens, cost, "
      "progress), as `aetherflow status --json`. For watching a run, use check_in, which "
      "waits and reads the logs; status answers at once.";
  tool.input_schema = ObjectSchema({{"run", RunProperty(" (default: last)")}});
  tool.output_schema = {{"type", "object"},
                        {"properties", {{"run", {{"type", "object"}}}, {"steps", {{"type", "array"}}}}},
                        {"required", {"run", "steps"}}};
  tool.handler = [api](const json& arguments, CallContext&) -> ToolResult {
    absl::StatusOr<pb::RunSnapshot> snapshot = api->GetRun(arguments.value("run", "last"));
    if (!snapshot.ok()) return Failed(snapshot.status());
    json status = StatusJson(*snapshot, WallNowMs());
    const json& run = status["run"];
    ToolResult result;
    result.text = absl::StrCat(
        "run ", run.value("id", ""), " ", run.value("state", ""), ": ",
        run.value("completed", 0), "/", run.value("steps_total", 0), " steps completed, ",
        run.value("failed", 0), " failed, ", run.value("running", 0), " running");
    for (const json& step : status["steps"]) {
      absl::StrAppend(&result.text, "\n  ", step.value("id", ""), ": ", step.value("state", ""));
      if (step.contains("progress") && step["progress"].is_string()) {
        absl::StrAppend(&result.text, " (", step["progress"].get<std::string>(), ")");
      }
    }
    result.structured = std::move(status);
    return result;
  };
  return tool;
}

Tool LogsTool(ClientApi* api) {
  Tool tool;
  tool.name = "logs";
  tool.title = "A step's log";
  tool.description =
      "The last lines of a step's log, or of every step's (each line then starts with "
      "\"STEP | \"). check_in already quotes the lines that matter; read logs to analyse "
      "a failure or when the user asks.";
  tool.input_schema = ObjectSchema(
      {{"run", RunProperty()},
       {"step", {{"type", "string"}, {"description", "the step's id (default: every step)"}}},
       {"tail",
        {{"type", "integer"},
         {"minimum", 1},
         {"maximum", 10000},
         {"description", "how many lines, from the end (default 50)"}}}},
      {"run"});
  tool.output_schema = {{"type", "object"},
                        {"properties", {{"run", {{"type", "string"}}}, {"log", {{"type", "string"}}}}},
                        {"required", {"run", "log"}}};
  tool.handler = [api](const json& arguments, CallContext&) -> ToolResult {
    const std::string ref = arguments["run"].get<std::string>();
    const std::string step = arguments.value("step", "");
    const int tail = static_cast<int>(arguments.value("tail", 50.0));
    absl::StatusOr<pb::RunSnapshot> snapshot = api->GetRun(ref);
    if (!snapshot.ok()) return Failed(snapshot.status());
    absl::StatusOr<std::string> log =
        api->ReadLogTail(snapshot->run().id(), step, tail, 256 * 1024);
    if (!log.ok()) return Failed(log.status());
    ToolResult result;
    result.structured = {{"run", snapshot->run().id()}, {"step", step}, {"log", *log}};
    result.text = log->empty() ? "(no log lines yet)" : *log;
    return result;
  };
  return tool;
}

Tool ListRunsTool(ClientApi* api) {
  Tool tool;
  tool.name = "list_runs";
  tool.title = "Runs";
  tool.description =
      "This user's runs, newest first (id, state, progress, elapsed, cost, description), as "
      "`aetherflow ls --json`; to find a run to check in on.";
  tool.input_schema = ObjectSchema(
      {{"limit",
        {{"type", "integer"},
         {"minimum", 1},
         {"maximum", 1000},
         {"description", "at most this many runs (default 20)"}}}});
  tool.output_schema = {{"type", "object"},
                        {"properties", {{"runs", {{"type", "array"}}}}},
                        {"required", {"runs"}}};
  tool.handler = [api](const json& arguments, CallContext&) -> ToolResult {
    absl::StatusOr<std::vector<pb::Run>> runs =
        api->ListRuns(static_cast<int>(arguments.value("limit", 20.0)));
    if (!runs.ok()) return Failed(runs.status());
    json list = json::array();
    ToolResult result;
    const int64_t now = WallNowMs();
    for (const pb::Run& run : *runs) {
      json entry = RunJson(run, now);
      absl::StrAppend(&result.text, result.text.empty() ? "" : "\n", run.id(), " ",
                      RunStateWord(run.state()), " ", entry.value("completed", 0), "/",
                      entry.value("steps_total", 0), " ", run.description());
      list.push_back(std::move(entry));
    }
    if (runs->empty()) result.text = "no runs";
    result.structured = {{"runs", std::move(list)}};
    return result;
  };
  return tool;
}

Tool ActionTool(ClientApi* api, RunAction action) {
  Tool tool;
  switch (action) {
    case RunAction::kCancel:
      tool.name = "cancel";
      tool.title = "Cancel a run";
      tool.description =
          "Stop a run: running steps are stopped, nothing more starts. Only when the user "
          "asks, or a check_in said failed with a step still running (hung after a crash).";
      break;
    case RunAction::kPause:
      tool.name = "pause";
      tool.title = "Pause a run";
      tool.description =
          "Pause a run: no new step starts; running steps go on to their end. resume lets "
          "it go on.";
      break;
    case RunAction::kResume:
      tool.name = "resume";
      tool.title = "Resume a run";
      tool.description =
          "Let a paused run go on, or run again what did not complete of a finished run "
          "(failed, cancelled, interrupted). Then check_in on it.";
      break;
  }
  tool.input_schema = ObjectSchema({{"run", RunProperty()}}, {"run"});
  tool.output_schema = {{"type", "object"},
                        {"properties", {{"run", {{"type", "string"}}}, {"state", {{"type", "string"}}}}},
                        {"required", {"run", "state"}}};
  tool.handler = [api, action](const json& arguments, CallContext&) -> ToolResult {
    const std::string ref = arguments["run"].get<std::string>();
    absl::StatusOr<pb::RunSnapshot> snapshot =
        action == RunAction::kCancel  ? api->Cancel(ref)
        : action == RunAction::kPause ? api->Pause(ref)
                                      : api->Resume(ref, ShellEnvironment());
    if (!snapshot.ok()) return Failed(snapshot.status());
    RunActionOutcome outcome;
    outcome.action = action;
    outcome.snapshot = *snapshot;
    ToolResult result;
    result.structured = {{"run", snapshot->run().id()},
                         {"state", RunStateWord(snapshot->run().state())},
                         {"running", snapshot->run().running()}};
    result.text = RunActionMessage(outcome);
    return result;
  };
  return tool;
}

}  // namespace

std::vector<mcp::Tool> McpTools(ClientApi* api, McpSession* session) {
  return {SubmitPlanTool(api, session),          RunCommandTool(api, session),
          CheckInTool(api, session),             StatusTool(api),
          LogsTool(api),                         ListRunsTool(api),
          ActionTool(api, RunAction::kCancel),   ActionTool(api, RunAction::kPause),
          ActionTool(api, RunAction::kResume)};
}

int CmdMcp(const GlobalOptions& global) {
  // A client that goes away must not kill us mid-write; stdin's end follows.
  ::signal(SIGPIPE, SIG_IGN);
  ClientApi api(global);
  McpSession session;
  session.workdir = CurrentDir();
  mcp::Server server({"aetherflow", "0.1.0", kLoop}, McpTools(&api, &session),
                     mcp::FdWriter(STDOUT_FILENO));
  Log("info", absl::StrCat("serving MCP on stdio (daemon: ", global.where(), ")"));
  mcp::ServeFd(server, STDIN_FILENO);
  return kExitOk;
}

}  // namespace aetherflow
