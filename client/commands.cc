#include "client/commands.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "client/apply_commands.h"
#include "client/cli_util.h"
#include "client/client_api.h"
#include "client/connection.h"
#include "client/export.h"
#include "client/follow.h"
#include "client/render.h"
#include "client/run_model.h"
#include "client/step_log_view.h"
#include "common/config.h"
#include "common/duration.h"
#include "common/llm.h"
#include "common/plan.h"
#include "common/plan_parser.h"
#include "common/text.h"
#include "nlohmann/json.hpp"

extern char** environ;

namespace aetherflow {
namespace {

namespace pb = ::aetherflow::v1;

int64_t NowMs() { return WallNowMs(); }
RenderOptions Render(const GlobalOptions& global) { return RenderOptionsFor(global); }

void PrintError(const std::string& message) {
  std::fprintf(stderr, "%s\n", message.c_str());
}

int RpcFailed(const grpc::Status& status, const GlobalOptions& global) {
  PrintError(DescribeError(status, global.where()));
  return ExitCodeFor(status);
}

// A failed ClientApi call: its line, and the exit code that goes with it.
int ApiFailed(const absl::Status& status) {
  PrintError(std::string(status.message()));
  return ExitCodeOf(status);
}

std::unique_ptr<Connection> Connect(const GlobalOptions& global) {
  return ConnectOrExplain(global);
}

std::string CurrentDir() {
  std::string dir(4096, '\0');
  if (::getcwd(dir.data(), dir.size()) == nullptr) return "/";
  dir.resize(std::strlen(dir.c_str()));
  return dir;
}

std::string Absolute(const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  return CurrentDir() + "/" + path;
}

// Reads the plan file; prints the error and returns nullopt on failure.
std::optional<std::string> ReadPlanFile(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    PrintError(absl::StrCat("aetherflow: cannot read plan ", path, ": ",
                            std::strerror(errno)));
    return std::nullopt;
  }
  if (S_ISDIR(st.st_mode)) {
    PrintError(absl::StrCat("aetherflow: ", path, " is a directory, not a plan"));
    return std::nullopt;
  }
  if (static_cast<std::size_t>(st.st_size) > kMaxPlanBytes) {
    PrintError(absl::StrCat("aetherflow: ", path, ": plan is ", st.st_size,
                            " bytes; the limit is ", kMaxPlanBytes));
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in.good() && !in.eof()) {
    PrintError(absl::StrCat("aetherflow: cannot read plan ", path));
    return std::nullopt;
  }
  return text.str();
}

struct LoadedPlan {
  std::string text;
  std::string path;  // for messages
  Plan plan;
};

// Loads and validates locally (the daemon validates again). Prints every
// problem; nullopt means exit 2.
std::optional<LoadedPlan> LoadPlan(const SubmitOptions& options) {
  LoadedPlan loaded;
  if (!options.command.empty()) {
    loaded.text = CommandPlanJson(options.command);
    loaded.path = "<command>";
  } else {
    std::optional<std::string> text = ReadPlanFile(options.plan_path);
    if (!text) return std::nullopt;
    loaded.text = std::move(*text);
    loaded.path = options.plan_path;
  }
  absl::StatusOr<Plan> plan = ParsePlan(loaded.text, loaded.path);
  if (!plan.ok()) {
    std::string message(plan.status().message());
    std::fprintf(stderr, "%s\n", message.c_str());
    int problems = static_cast<int>(std::count(message.begin(), message.end(), '\n')) + 1;
    PrintError(absl::StrCat("aetherflow: ", loaded.path, " rejected (", problems,
                            problems == 1 ? " problem" : " problems",
                            "); nothing was submitted"));
    return std::nullopt;
  }
  for (const std::string& warning : plan->warnings) {
    std::fprintf(stderr, "%s\n", warning.c_str());
  }
  loaded.plan = std::move(*plan);
  return loaded;
}

// What a real submit of a plan with LLM steps would meet (issue 18.9):
// the daemon's refusal, one line each (a provider it has no key for,
// naming the steps, the variable and the config file it reads), or none.
// The daemon that answers is asked (CheckPlan; nothing is started or
// stored); when none does, the plan is checked against this shell's
// environment and `config` (`config_path`), which an autostarted daemon
// would have. `*who` says which.
std::vector<std::string> WouldRefuse(const GlobalOptions& global, const LoadedPlan& loaded,
                                     const Config& config, const std::string& config_path,
                                     const std::string& profile, std::string* who) {
  absl::StatusOr<std::unique_ptr<Connection>> connection =
      global.remote.enabled() ? Connection::OpenRemote(global.remote)
                              : Connection::Open(global.socket, /*autostart=*/false,
                                                 global.fallback_socket);
  if (connection.ok()) {
    pb::SubmitPlanRequest request;
    request.set_plan_json(loaded.text);
    request.set_plan_path(loaded.path);
    request.set_cwd(CurrentDir());
    request.set_profile(profile);
    pb::SubmitPlanResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    grpc::Status status = (*connection)->stub()->CheckPlan(&context, request, &response);
    *who = absl::StrCat("aetherflowd at ", (*connection)->where());
    if (status.ok()) return {};
    if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
      std::vector<std::string> lines = absl::StrSplit(status.error_message(), '\n');
      return lines;
    }
    *who = "";  // an older daemon, or another failure: not checked
    return {absl::StrCat("(keys not checked: ", DescribeError(status, global.where()), ")")};
  }
  *who = "this shell (no aetherflowd is running; one started from here would have its environment)";
  std::vector<std::string> lines;
  auto getenv = [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
  for (const KeyProblem& missing : FindMissingKeys(loaded.plan, config, getenv)) {
    lines.push_back(absl::StrCat(loaded.path, ": ", DescribeKeyProblem(missing, config_path)));
  }
  return lines;
}

int DryRun(const GlobalOptions& global, const LoadedPlan& loaded,
           const SubmitOptions& options) {
  const Plan& plan = loaded.plan;
  const bool apply = options.apply || plan.apply;
  const std::string project = CurrentDir();
  std::vector<ApplyTarget> targets;
  std::vector<std::string> apply_refusals;
  if (apply) {
    targets = ApplyTargets(plan, project);
    apply_refusals = ApplyRefusals(plan, project, options.allow_dirty, options.commit);
  }
  // The providers and prices of the user's configuration (as a user daemon
  // reads it), else the built-ins. No key is needed for a dry run.
  std::string config_path =
      global.config.empty() ? DefaultConfigPath(/*system=*/false) : global.config;
  absl::StatusOr<Config> config = LoadConfigFile(config_path);
  if (!config.ok() && absl::IsNotFound(config.status()) && global.config.empty()) {
    config = BuiltinConfig();
  }
  if (config.ok()) config = ApplyProfile(*std::move(config), options.profile);
  if (!config.ok()) {
    PrintError(absl::StrCat("aetherflow: ", config.status().message()));
    return kExitUsage;
  }
  std::vector<std::vector<std::string>> batches(plan.batches);
  std::vector<std::string> providers(plan.steps.size());
  std::vector<std::string> problems;
  int64_t tokens = 0;
  double cost_sum = 0;
  bool cost_known = true;
  std::map<std::string, std::pair<int, int64_t>> per_provider;  // steps, tokens
  std::map<std::string, std::optional<double>> provider_cost;
  int llm_steps = 0;
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    const Step& step = plan.steps[i];
    batches[plan.batch[i] - 1].push_back(step.id);
    if (step.is_command()) {
      providers[i] = "shell";
      continue;
    }
    ++llm_steps;
    absl::StatusOr<std::string> provider = RouteStep(*config, step);
    if (!provider.ok()) {
      problems.push_back(absl::StrCat(loaded.path, ": steps[", i, "] (", step.id, "): ",
                                      provider.status().message()));
      continue;
    }
    providers[i] = *provider;
    int64_t estimate = step.estimated_tokens.value_or(0);
    tokens += estimate;
    auto& [count, provider_tokens] = per_provider[*provider];
    ++count;
    provider_tokens += estimate;
    std::optional<double> step_cost = EstimateCost(estimate, config->providers.at(*provider));
    auto [it, inserted] = provider_cost.emplace(*provider, 0.0);
    if (step_cost && it->second) {
      it->second = *it->second + *step_cost;
    } else {
      it->second.reset();
    }
    if (step_cost) cost_sum += *step_cost; else cost_known = false;
  }
  if (!problems.empty()) {
    for (const std::string& problem : problems) PrintError(problem);
    return kExitUsage;
  }
  std::optional<double> cost;
  if (cost_known) cost = cost_sum;
  // A plan that passes here may still be refused by the daemon for want of
  // a key: say which steps, and why, rather than a bare "Plan OK".
  std::string checked_by;
  std::vector<std::string> refusals;
  if (llm_steps > 0) refusals = WouldRefuse(global, loaded, *config, config_path, options.profile, &checked_by);
  const bool refused =
      (!refusals.empty() && !checked_by.empty()) || !apply_refusals.empty();
  if (!apply_refusals.empty() && checked_by.empty()) {
    refusals.insert(refusals.end(), apply_refusals.begin(), apply_refusals.end());
    checked_by = "this shell (--apply)";
  } else {
    refusals.insert(refusals.end(), apply_refusals.begin(), apply_refusals.end());
  }
  if (global.json) {
    nlohmann::json out;
    out["valid"] = true;
    out["plan"] = loaded.path;
    out["task_id"] = plan.task_id;
    out["steps"] = plan.steps.size();
    out["batches"] = batches;
    out["llm_steps"] = llm_steps;
    out["estimated_tokens"] = tokens;
    out["estimated_cost"] = cost ? nlohmann::json(*cost) : nlohmann::json(nullptr);
    nlohmann::json by_provider = nlohmann::json::object();
    for (const auto& [name, figures] : per_provider) {
      by_provider[name] = {{"steps", figures.first},
                           {"estimated_tokens", figures.second},
                           {"estimated_cost", provider_cost[name]
                                                  ? nlohmann::json(*provider_cost[name])
                                                  : nlohmann::json(nullptr)}};
    }
    out["providers"] = by_provider;
    nlohmann::json steps = nlohmann::json::array();
    for (std::size_t i = 0; i < plan.steps.size(); ++i) {
      steps.push_back({{"id", plan.steps[i].id},
                       {"batch", plan.batch[i]},
                       {"provider", providers[i]}});
    }
    out["step_providers"] = steps;
    out["warnings"] = plan.warnings;
    // What a submit would meet: the daemon's refusal lines (empty: none),
    // and who said so (null: not checked).
    out["would_refuse"] = refused ? refusals : std::vector<std::string>{};
    out["checked_by"] = checked_by.empty() ? nlohmann::json(nullptr) : nlohmann::json(checked_by);
    if (apply) {
      nlohmann::json files = nlohmann::json::array();
      for (const ApplyTarget& t : targets) {
        files.push_back({{"step", t.step},
                         {"path", t.path},
                         {"exists", t.exists},
                         {"problem", t.problem.empty() ? nlohmann::json(nullptr)
                                                       : nlohmann::json(t.problem)}});
      }
      out["apply"] = {{"project", project}, {"files", files}};
    }
    std::cout << out.dump(2) << "\n";
    return refused ? kExitUsage : kExitOk;
  }
  std::cout << (refused ? "Plan valid, but a submit would be refused (see below): "
                        : "Plan OK: ")
            << loaded.path << " — " << plan.steps.size()
            << (plan.steps.size() == 1 ? " step" : " steps") << " in "
            << plan.batches << (plan.batches == 1 ? " batch" : " batches") << "\n";
  for (std::size_t b = 0; b < batches.size(); ++b) {
    std::string line = absl::StrCat("Batch ", b + 1, "/", batches.size(), " (",
                                    batches[b].size(), "): ");
    std::size_t shown = std::min<std::size_t>(batches[b].size(), 12);
    for (std::size_t k = 0; k < shown; ++k) {
      const std::string& id = batches[b][k];
      std::size_t i = 0;
      while (plan.steps[i].id != id) ++i;
      absl::StrAppend(&line, k ? ", " : "", id,
                      providers[i] == "shell" ? "" : absl::StrCat(" (", providers[i], ")"));
    }
    if (shown < batches[b].size()) {
      absl::StrAppend(&line, ", … ", batches[b].size() - shown, " more");
    }
    std::cout << line << "\n";
  }
  std::cout << "Command steps: " << plan.steps.size() - llm_steps
            << "  LLM steps: " << llm_steps << "\n";
  if (llm_steps) {
    for (const auto& [name, figures] : per_provider) {
      std::cout << "  " << name << ": " << figures.first
                << (figures.first == 1 ? " step, " : " steps, ")
                << FormatTokens(true, figures.second) << " tokens, "
                << (provider_cost[name] ? FormatCost(true, *provider_cost[name])
                                        : std::string("cost unknown (no price)"))
                << "\n";
    }
    std::cout << "Estimated tokens: " << FormatTokens(true, tokens)
              << "  Estimated cost: "
              << (cost ? FormatCost(true, *cost) : std::string("unknown")) << " (prices from "
              << config->source << ")\n";
  }
  if (apply) {
    std::cout << "Files the steps may write (--apply, project " << project << "):";
    if (targets.empty()) std::cout << " none (no LLM step with context.files applies)";
    std::cout << "\n";
    std::string current;
    std::string line;
    for (const ApplyTarget& t : targets) {
      if (t.step != current) {
        if (!line.empty()) std::cout << line << "\n";
        current = t.step;
        line = absl::StrCat("  ", t.step, ": ");
      } else {
        line += ", ";
      }
      absl::StrAppend(&line, t.path, " (",
                      !t.problem.empty() ? absl::StrCat("refused: ", t.problem)
                      : t.exists         ? "exists"
                                         : "new",
                      ")");
    }
    if (!line.empty()) std::cout << line << "\n";
  }
  if (refused) {
    std::cout << "A submit would be refused (checked by " << checked_by << "):\n";
    for (const std::string& line : refusals) std::cout << "  " << line << "\n";
  } else if (!refusals.empty()) {
    for (const std::string& line : refusals) std::cout << line << "\n";
  }
  // A dry run refuses what a submit would (with its exit code), so that a
  // script that checks a plan first learns it before it submits.
  return refused ? kExitUsage : kExitOk;
}

// --apply's checks in this shell (SPEC §11): a path that may not be
// written, a file with uncommitted changes, --commit outside git. A dry
// run lists them with the rest instead. kExitOk when it may go ahead.
int CheckApply(const LoadedPlan& loaded, const SubmitOptions& options) {
  const bool apply = options.apply || loaded.plan.apply;
  if ((options.commit || options.allow_dirty) && !apply) {
    PrintError(absl::StrCat("aetherflow: ", options.commit ? "--commit" : "--allow-dirty",
                            " goes with --apply (or \"apply\": true in the plan)"));
    return kExitUsage;
  }
  if (!apply || options.dry_run) return kExitOk;
  std::vector<std::string> refusals =
      ApplyRefusals(loaded.plan, CurrentDir(), options.allow_dirty, options.commit);
  if (refusals.empty()) return kExitOk;
  for (const std::string& line : refusals) PrintError(absl::StrCat("aetherflow: ", line));
  PrintError(absl::StrCat("aetherflow: ", loaded.path, " not submitted (--apply)"));
  return kExitUsage;
}

// Submits; returns the run id, or nullopt after printing why (exit code in
// *exit_code).
std::optional<std::string> SubmitPlan(const GlobalOptions& global,
                                      Connection* connection,
                                      const LoadedPlan& loaded,
                                      const SubmitOptions& options,
                                      int* exit_code) {
  pb::SubmitPlanRequest request;
  request.set_plan_json(loaded.text);
  request.set_plan_path(loaded.path);
  request.set_cwd(CurrentDir());
  // Steps create files as the submitting shell would: a system daemon's
  // umask (systemd's 0022) is not the user's.
  const mode_t mask = ::umask(0);
  ::umask(mask);
  request.set_umask(mask);
  for (char** env = environ; *env; ++env) {
    std::string entry(*env);
    std::size_t eq = entry.find('=');
    if (eq == std::string::npos) continue;
    (*request.mutable_env())[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  request.set_output_dir(Absolute(options.output_dir));
  request.set_apply(options.apply);
  request.set_commit(options.commit);
  request.set_profile(options.profile);
  pb::SubmitPlanResponse response;
  grpc::ClientContext context;
  grpc::Status status = connection->stub()->SubmitPlan(&context, request, &response);
  if (!status.ok()) {
    std::string message = status.error_message();
    if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
      // Every problem, one per line, as the daemon found them.
      std::fprintf(stderr, "%s\n", message.c_str());
      PrintError(absl::StrCat("aetherflow: ", loaded.path,
                              " rejected by the daemon; nothing was submitted"));
    } else {
      PrintError(DescribeError(status, global.where()));
    }
    *exit_code = ExitCodeFor(status);
    return std::nullopt;
  }
  return response.run_id();
}

// Watches SIGINT/SIGTERM while a run is followed in the foreground. Must
// be created before any other thread (gRPC's) so that they inherit the
// blocked mask.
class InterruptWatcher {
 public:
  explicit InterruptWatcher(std::function<void(int count)> on_interrupt)
      : on_interrupt_(std::move(on_interrupt)) {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
    thread_ = std::thread([this] {
      timespec timeout{0, 100'000'000};
      int count = 0;
      while (!stop_) {
        if (sigtimedwait(&set_, nullptr, &timeout) > 0) on_interrupt_(++count);
      }
    });
  }
  ~InterruptWatcher() {
    stop_ = true;
    thread_.join();
  }

 private:
  sigset_t set_, old_;
  std::function<void(int)> on_interrupt_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace

int CmdSubmit(const GlobalOptions& global, const SubmitOptions& options) {
  std::optional<LoadedPlan> loaded = LoadPlan(options);
  if (!loaded) return kExitUsage;
  if (int refused = CheckApply(*loaded, options); refused != kExitOk) return refused;
  if (options.dry_run) return DryRun(global, *loaded, options);
  std::unique_ptr<Connection> connection = Connect(global);
  if (!connection) return kExitUnreachable;
  int exit_code = kExitFailed;
  std::optional<std::string> id =
      SubmitPlan(global, connection.get(), *loaded, options, &exit_code);
  if (!id) return exit_code;
  if (global.json) {
    std::cout << nlohmann::json{{"run_id", *id}}.dump() << "\n";
  } else {
    std::cout << *id << "\n";
  }
  return kExitOk;
}

// `submit --stdin-batch` (issue 16): each line of stdin a one-step run of
// `/bin/sh -c LINE`, all on one connection, so a script queues a thousand
// commands in one process instead of a thousand. Blank lines and `#`
// comments are skipped. The ids come out in input order; the first line
// the daemon refuses stops the batch, and says which line it was.
int CmdSubmitBatch(const GlobalOptions& global, const SubmitOptions& options) {
  std::unique_ptr<Connection> connection = Connect(global);
  if (!connection) return kExitUnreachable;
  std::string line;
  int number = 0;
  std::string out;
  while (std::getline(std::cin, line)) {
    ++number;
    const absl::string_view command = absl::StripAsciiWhitespace(line);
    if (command.empty() || command.front() == '#') continue;
    const std::string text(command);
    nlohmann::json plan = nlohmann::json::parse(
        CommandPlanJson({std::string(text.substr(0, text.find_first_of(" \t")))}));
    plan["description"] = text;
    plan["steps"][0]["description"] = text;
    plan["steps"][0]["run"] = text;
    LoadedPlan loaded;
    loaded.text = plan.dump();
    loaded.path = absl::StrCat("<stdin line ", number, ">");
    int exit_code = kExitFailed;
    std::optional<std::string> id =
        SubmitPlan(global, connection.get(), loaded, options, &exit_code);
    if (!id) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      PrintError(absl::StrCat("aetherflow: stopped at stdin line ", number,
                              "; the lines before it were submitted"));
      return exit_code;
    }
    out += global.json ? nlohmann::json{{"run_id", *id}}.dump() + "\n" : *id + "\n";
    if (out.size() > 4096) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      out.clear();
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return kExitOk;
}

// `run` and `attach` (and `resume --follow`): follow in the foreground.
// With `cancel_on_interrupt`, the first Ctrl-C cancels the run and the
// second detaches; otherwise Ctrl-C detaches.
static int FollowForeground(const GlobalOptions& global,
                            std::function<std::optional<std::string>(
                                Connection*, int* exit_code)> start,
                            bool cancel_on_interrupt, bool from_start) {
  std::mutex mu;
  std::string run_id;
  Connection* connection_ptr = nullptr;
  EventFeed* feed_ptr = nullptr;
  std::atomic<bool> detached{false};
  bool done = false;
  // Created first: gRPC's threads must inherit the blocked signals.
  InterruptWatcher watcher([&](int count) {
    std::lock_guard<std::mutex> lock(mu);
    if (done) return;
    if (!feed_ptr) std::_Exit(130);  // nothing submitted yet
    if (cancel_on_interrupt && count == 1) {
      feed_ptr->Notice(absl::StrCat("aetherflow: cancelling run ", run_id,
                                    "… (Ctrl-C again to detach)"));
      pb::CancelRunRequest request;
      request.set_run_id(run_id);
      pb::RunSnapshot response;
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() +
                           std::chrono::seconds(10));
      connection_ptr->stub()->CancelRun(&context, request, &response);
      return;
    }
    detached = true;
    feed_ptr->Stop();
  });
  std::unique_ptr<Connection> connection = Connect(global);
  if (!connection) return kExitUnreachable;
  int exit_code = kExitFailed;
  std::optional<std::string> id = start(connection.get(), &exit_code);
  if (!id) return exit_code;
  EventFeed feed(global, connection.get(), *id, from_start);
  if (int code = feed.Start(); code != 0) return code;
  {
    std::lock_guard<std::mutex> lock(mu);
    run_id = feed.run_id();
    connection_ptr = connection.get();
    feed_ptr = &feed;
  }
  int code = FollowRun(global, connection.get(), &feed, detached, cancel_on_interrupt);
  std::lock_guard<std::mutex> lock(mu);
  done = true;
  return code;
}

int CmdRun(const GlobalOptions& global, const SubmitOptions& options) {
  std::optional<LoadedPlan> loaded = LoadPlan(options);
  if (!loaded) return kExitUsage;
  if (int refused = CheckApply(*loaded, options); refused != kExitOk) return refused;
  if (options.dry_run) return DryRun(global, *loaded, options);
  return FollowForeground(
      global,
      [&](Connection* connection, int* exit_code) {
        return SubmitPlan(global, connection, *loaded, options, exit_code);
      },
      /*cancel_on_interrupt=*/true, /*from_start=*/true);
}

int CmdAttach(const GlobalOptions& global, const std::string& run) {
  return FollowForeground(
      global,
      [&](Connection*, int*) { return std::optional<std::string>(run); },
      /*cancel_on_interrupt=*/false, /*from_start=*/false);
}

int CmdList(const GlobalOptions& global, int limit) {
  ClientApi api(global);
  absl::StatusOr<std::vector<pb::Run>> runs = api.ListRuns(limit);
  if (!runs.ok()) return ApiFailed(runs.status());
  if (global.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const pb::Run& run : *runs) out.push_back(RunJson(run, NowMs()));
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << RenderRunList(*runs, Render(global));
  }
  return kExitOk;
}

int CmdStatus(const GlobalOptions& global, const std::string& run) {
  ClientApi api(global);
  absl::StatusOr<pb::RunSnapshot> got = api.GetRun(run);
  if (!got.ok()) return ApiFailed(got.status());
  const pb::RunSnapshot& snapshot = *got;
  if (global.json) {
    std::cout << StatusJson(snapshot, NowMs()).dump(2) << "\n";
  } else {
    std::cout << RenderStatus(snapshot, Render(global));
    std::cout << RenderStepReasons(snapshot, Render(global));
    if (!snapshot.run().output_dir().empty()) {
      std::cout << "\nOutput: " << snapshot.run().output_dir() << "\n";
    }
  }
  return kExitOk;
}

int CmdLogs(const GlobalOptions& global, const std::string& run,
            const std::string& step, bool follow, int tail) {
  std::unique_ptr<Connection> connection = Connect(global);
  if (!connection) return kExitUnreachable;
  pb::ReadLogRequest request;
  request.set_run_id(run);
  request.set_step_id(step);
  request.set_follow(follow);
  request.set_tail_lines(tail);
  grpc::ClientContext context;
  auto reader = connection->stub()->ReadLog(&context, request);
  pb::LogChunk chunk;
  // All steps at once: prefix each line with its step, keeping partial
  // lines per step until they end.
  std::map<std::string, std::string> partial;
  int prefix_w = 0;
  auto emit = [&](const std::string& id, const std::string& text, bool flush) {
    std::string& pending = partial[id];
    pending.append(text);
    prefix_w = std::max(prefix_w, static_cast<int>(id.size()));
    std::size_t start = 0, end;
    std::string out;
    while ((end = pending.find('\n', start)) != std::string::npos) {
      absl::StrAppend(&out, id, std::string(prefix_w - id.size(), ' '), " | ",
                      absl::string_view(pending).substr(start, end - start + 1));
      start = end + 1;
    }
    pending.erase(0, start);
    if (flush && !pending.empty()) {
      absl::StrAppend(&out, id, std::string(prefix_w - id.size(), ' '), " | ",
                      pending, "\n");
      pending.clear();
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
  };
  // The daemon's attempt markers become headings, per step. Without -f an
  // attempt's heading waits for its end, so that it says how it ended.
  StepLogViewOptions view_options;
  view_options.utf8 = global.utf8;
  view_options.hold = !follow;
  std::map<std::string, StepLogView> views;
  auto view = [&](const std::string& id) -> StepLogView& {
    return views.try_emplace(id, view_options).first->second;
  };
  while (reader->Read(&chunk)) {
    std::string text = view(chunk.step_id()).Feed(chunk.data());
    if (step.empty()) {
      emit(chunk.step_id(), text, false);
    } else {
      std::fwrite(text.data(), 1, text.size(), stdout);
    }
    if (follow) std::fflush(stdout);
  }
  for (auto& [id, log_view] : views) {
    std::string text = log_view.Finish();
    if (step.empty()) {
      emit(id, text, false);
    } else {
      std::fwrite(text.data(), 1, text.size(), stdout);
    }
  }
  for (auto& [id, text] : partial) {
    if (!text.empty()) emit(id, "", true);
  }
  std::fflush(stdout);
  grpc::Status status = reader->Finish();
  if (!status.ok()) return RpcFailed(status, global);
  return kExitOk;
}

int CmdCancel(const GlobalOptions& global, const std::string& run) {
  ClientApi api(global);
  absl::StatusOr<pb::RunSnapshot> cancelled = api.Cancel(run);
  if (!cancelled.ok()) return ApiFailed(cancelled.status());
  const pb::RunSnapshot& snapshot = *cancelled;
  if (global.json) {
    std::cout << StatusJson(snapshot, NowMs()).dump(2) << "\n";
  } else {
    std::cout << "run " << snapshot.run().id() << " "
              << RunStateWord(snapshot.run().state())
              << (snapshot.run().running() ? " (stopping running steps)" : "")
              << "\n";
  }
  return kExitOk;
}

int CmdPause(const GlobalOptions& global, const std::string& run) {
  ClientApi api(global);
  absl::StatusOr<pb::RunSnapshot> paused_run = api.Pause(run);
  if (!paused_run.ok()) return ApiFailed(paused_run.status());
  const pb::RunSnapshot& snapshot = *paused_run;
  if (global.json) {
    std::cout << StatusJson(snapshot, NowMs()).dump(2) << "\n";
  } else {
    const pb::Run& paused = snapshot.run();
    std::cout << "run " << paused.id() << " " << RunStateWord(paused.state());
    if (paused.running()) {
      std::cout << " (" << paused.running()
                << (paused.running() == 1 ? " running step goes on to its end)"
                                          : " running steps go on to their end)");
    }
    std::cout << "; aetherflow resume " << paused.id() << " lets it go on\n";
  }
  return kExitOk;
}

int CmdResume(const GlobalOptions& global, const std::string& run, bool follow) {
  auto resume = [&](Connection* connection, int* exit_code) -> std::optional<std::string> {
    pb::ResumeRunRequest request;
    request.set_run_id(run);
    const std::map<std::string, std::string> env = ShellEnvironment();
    request.mutable_env()->insert(env.begin(), env.end());
    pb::RunSnapshot snapshot;
    grpc::ClientContext context;
    grpc::Status status = connection->stub()->ResumeRun(&context, request, &snapshot);
    if (!status.ok()) {
      *exit_code = RpcFailed(status, global);
      return std::nullopt;
    }
    return snapshot.run().id();
  };
  if (follow) {
    return FollowForeground(global, resume, /*cancel_on_interrupt=*/true,
                            /*from_start=*/false);
  }
  std::unique_ptr<Connection> connection = Connect(global);
  if (!connection) return kExitUnreachable;
  int exit_code = kExitFailed;
  std::optional<std::string> id = resume(connection.get(), &exit_code);
  if (!id) return exit_code;
  if (global.json) {
    std::cout << nlohmann::json{{"run_id", *id}}.dump() << "\n";
  } else {
    std::cout << *id << "\n";
  }
  return kExitOk;
}

static int DeleteRuns(const GlobalOptions& global, const pb::DeleteRunsRequest& request) {
  std::unique_ptr<Connection> connection = Connect(global);
  if (!connection) return kExitUnreachable;
  pb::DeleteRunsResponse response;
  grpc::ClientContext context;
  grpc::Status status = connection->stub()->DeleteRuns(&context, request, &response);
  if (!status.ok()) return RpcFailed(status, global);
  if (global.json) {
    std::cout << nlohmann::json{{"deleted", response.deleted()}, {"errors", response.errors()}}
                     .dump(2)
              << "\n";
  } else {
    for (const std::string& id : response.deleted()) std::cout << "deleted " << id << "\n";
  }
  for (const std::string& error : response.errors()) PrintError("aetherflow: " + error);
  return response.errors().empty() ? kExitOk : kExitFailed;
}

int CmdRemove(const GlobalOptions& global, const std::vector<std::string>& runs) {
  pb::DeleteRunsRequest request;
  for (const std::string& run : runs) request.add_run_ids(run);
  return DeleteRuns(global, request);
}

int CmdPrune(const GlobalOptions& global, const std::string& older_than) {
  absl::StatusOr<int64_t> ms = ParseDurationMs(older_than);
  if (!ms.ok()) {
    // "3 days", "3days", "2w": say how to write it.
    PrintError(absl::StrCat("aetherflow: --older-than: \"", FitWidth(older_than, 40, false),
                            "\" is not a duration; write one word such as 3d (days), "
                            "12h (hours) or 30m (minutes)"));
    return kExitUsage;
  }
  if (*ms <= 0) {
    PrintError("aetherflow: --older-than: must be more than 0");
    return kExitUsage;
  }
  pb::DeleteRunsRequest request;
  request.set_older_than_ms(*ms);
  return DeleteRuns(global, request);
}

int CmdExport(const GlobalOptions& global, const std::string& run,
              const std::string& format, const std::string& output) {
  if (format != "json" && format != "csv" && format != "trace") {
    PrintError("aetherflow: --format must be json, csv or trace");
    return kExitUsage;
  }
  std::unique_ptr<Connection> connection = Connect(global);
  if (!connection) return kExitUnreachable;
  pb::GetRunRequest get;
  get.set_run_id(run);
  pb::RunSnapshot snapshot;
  grpc::ClientContext context;
  grpc::Status status = connection->stub()->GetRun(&context, get, &snapshot);
  if (!status.ok()) return RpcFailed(status, global);
  std::vector<pb::Event> events;
  if (format != "csv") {
    // Only the events the snapshot includes, so both agree.
    pb::StreamEventsRequest request;
    request.set_run_id(snapshot.run().id());
    grpc::ClientContext stream_context;
    auto reader = connection->stub()->StreamEvents(&stream_context, request);
    pb::EventBatch batch;
    while (reader->Read(&batch)) {
      for (const pb::Event& event : batch.events()) {
        if (event.seq() <= snapshot.run().last_seq()) events.push_back(event);
      }
    }
    status = reader->Finish();
    if (!status.ok()) return RpcFailed(status, global);
  }
  int64_t now = NowMs();
  std::string text = format == "json"  ? ExportJson(snapshot, events, now)
                     : format == "csv" ? ExportCsv(snapshot, now)
                                       : ExportTrace(snapshot, events, now);
  if (output.empty() || output == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return kExitOk;
  }
  std::string tmp = output + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.good()) {
      PrintError(absl::StrCat("aetherflow: cannot write ", output, ": ", std::strerror(errno)));
      return kExitFailed;
    }
  }
  if (std::rename(tmp.c_str(), output.c_str()) != 0) {
    PrintError(absl::StrCat("aetherflow: cannot write ", output, ": ", std::strerror(errno)));
    return kExitFailed;
  }
  return kExitOk;
}

}  // namespace aetherflow
