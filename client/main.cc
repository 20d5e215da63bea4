// aetherflow: the AetherFlow command line. Parses options and dispatches.
#include <langinfo.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <clocale>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "grpc/support/log.h"
#include "client/apply_commands.h"
#include "client/commands.h"
#include "client/connection.h"
#include "client/mcp.h"
#include "client/render.h"
#include "client/web_server.h"
#include "client/ship_commands.h"
#include "common/limits.h"
#include "common/paths.h"
#include "common/text.h"
#include "common/version.h"

namespace {

int TerminalWidth() {
  winsize size{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) {
    return size.ws_col;
  }
  if (const char* columns = std::getenv("COLUMNS")) {
    int width = std::atoi(columns);
    if (width > 20) return width;
  }
  return 120;
}

// A usage error: one line on stderr, exit 2 (README: exit codes).
int UsageError(const std::string& message) {
  std::fprintf(stderr, "aetherflow: %s\n", message.c_str());
  return aetherflow::kExitUsage;
}

// The command word of `args` (the first one that is neither an option nor
// the value of a global option that takes one), or "" if there is none.
std::string CommandWord(const std::vector<char*>& args) {
  static const char* const kTakesValue[] = {"--socket",   "--connect", "--tls-ca",
                                            "--tls-server-name", "--token-file",
                                            "--config"};
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string arg = args[i];
    if (arg.empty() || arg[0] != '-') return arg;
    for (const char* option : kTakesValue) {
      if (arg == option) ++i;  // its value is not the command
    }
  }
  return "";
}

std::vector<const CLI::App*> Commands(const CLI::App& app) {
  return app.get_subcommands(std::function<bool(const CLI::App*)>());
}

bool IsCommand(const std::string& word, const CLI::App& app) {
  for (const CLI::App* sub : Commands(app)) {
    if (sub->check_name(word)) return true;
  }
  return false;
}

// `aetherflow lss`: which command was meant, before CLI11 says only that
// one is required.
std::string UnknownCommand(const std::string& typed, const CLI::App& app) {
  const std::string word = aetherflow::FitWidth(typed, 60);  // one safe line
  std::vector<std::string> names;
  for (const CLI::App* sub : Commands(app)) names.push_back(sub->get_name());
  const std::vector<std::string_view> views(names.begin(), names.end());
  const std::string_view meant =
      aetherflow::ClosestMatch(word, views, word.size() <= 3 ? 1 : 2);
  if (!meant.empty()) {
    return absl::StrCat("unknown command \"", word, "\"; did you mean \"",
                        std::string(meant), "\"?");
  }
  return absl::StrCat("unknown command \"", word, "\" (commands: ",
                      absl::StrJoin(names, ", "), ")");
}

}  // namespace

int main(int argc, char** argv) {
  std::setlocale(LC_ALL, "");
  // gRPC's own log lines (a failed TLS handshake logs one) would break the
  // client's one-line errors; GRPC_VERBOSITY=DEBUG brings them back.
  if (!std::getenv("GRPC_VERBOSITY")) gpr_set_log_function([](gpr_log_func_args*) {});
  // `submit -- CMD ARGS` / `run -- CMD ARGS`: everything after "--" is the
  // command, untouched by option parsing.
  std::vector<std::string> command;
  std::vector<char*> args(argv, argv + argc);
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (std::strcmp(args[i], "--") == 0) {
      command.assign(args.begin() + i + 1, args.end());
      args.resize(i);
      break;
    }
  }

  CLI::App app{"aetherflow: run plans of steps on aetherflowd and watch them"};
  app.require_subcommand(1);
  app.fallthrough();
  std::string socket;
  bool json = false, no_color = false, plain = false;
  app.add_option("--socket", socket, "the daemon's Unix socket (no autostart)");
  aetherflow::RemoteFlags remote;
  app.add_option("--connect", remote.connect,
                 "HOST:PORT of a daemon started with --listen: TCP with TLS "
                 "(AETHERFLOW_CONNECT; no autostart)");
  app.add_option("--tls-ca", remote.tls_ca,
                 "CA certificate(s) (PEM) for --connect (AETHERFLOW_TLS_CA; "
                 "default: the system's)");
  app.add_option("--tls-server-name", remote.tls_server_name,
                 "name to check in the daemon's certificate (default: HOST)");
  app.add_option("--token-file", remote.token_file,
                 "bearer token for --connect, a file only you may read "
                 "(AETHERFLOW_TOKEN_FILE, or the token in AETHERFLOW_TOKEN)");
  app.add_flag("--insecure-plaintext", remote.insecure_plaintext,
               "--connect without TLS, to a loopback address only");
  app.add_flag("--json", json, "machine-readable output");
  app.add_flag("--no-color", no_color, "no colours (NO_COLOR works too)");
  app.add_flag("--plain", plain, "run/attach: lines, not the curses monitor");
  std::string config;
  app.add_option("--config", config,
                 "providers and prices for --dry-run (default: the user's config.toml)");
  app.set_version_flag("--version", absl::StrCat("aetherflow ", aetherflow::Version()));

  aetherflow::SubmitOptions submit_options;
  auto add_plan_options = [&](CLI::App* sub) {
    sub->add_option("plan", submit_options.plan_path, "plan file (JSON)");
    sub->add_option("--output,-o", submit_options.output_dir,
                    "directory for LLM outputs (default: the run's folder)");
    sub->add_flag("--dry-run", submit_options.dry_run,
                  "validate and print batches; run nothing");
    sub->add_flag("--apply", submit_options.apply,
                  "LLM steps edit the project (this directory): SEARCH/REPLACE edits, "
                  "checked, validated, revertible");
    sub->add_flag("--allow-dirty", submit_options.allow_dirty,
                  "--apply: touch files with uncommitted git changes");
    sub->add_flag("--commit", submit_options.commit,
                  "--apply: one git commit per applied step");
    sub->add_option("--profile", submit_options.profile,
                    "route LLM steps by [profiles.NAME.routing] of the daemon's config "
                    "(built in: fast, build, double-check)");
  };
  CLI::App* run = app.add_subcommand(
      "run", "submit a plan, then follow it; Ctrl-C cancels it");
  add_plan_options(run);
  run->footer("One command as a one-step plan: aetherflow run -- CMD ARGS...");
  CLI::App* submit = app.add_subcommand("submit", "submit a plan; print its run id");
  add_plan_options(submit);
  submit->footer(
      "One command as a one-step plan (overnight jobs): aetherflow submit -- CMD ARGS...\n"
      "Everything after -- is the command, as typed.");

  std::string run_ref = "last", step;
  auto add_run = [&](CLI::App* sub) {
    sub->add_option("run", run_ref, "run id, a unique prefix of one, or \"last\"")
        ->required();
  };
  // Commands that only look at a run default to the newest one.
  auto add_run_or_last = [&](CLI::App* sub) {
    sub->add_option("run", run_ref, "run id, a unique prefix of one, or \"last\" (default)");
  };
  CLI::App* attach = app.add_subcommand("attach", "follow a run; Ctrl-C detaches");
  add_run_or_last(attach);
  int limit = 0;
  CLI::App* ls = app.add_subcommand("ls", "runs, newest first");
  ls->add_option("--limit,-n", limit, "at most this many runs")->check(CLI::Range(0, 1'000'000));
  CLI::App* status = app.add_subcommand("status", "the run's table, once");
  add_run_or_last(status);
  bool follow = false;
  std::string tail_text;
  CLI::App* logs = app.add_subcommand("logs", "a step's log, or every step's");
  add_run(logs);
  logs->add_option("step", step, "the step (default: all, prefixed)");
  logs->add_flag("-f,--follow", follow, "keep printing what is written");
  // Read as text and checked below: the message and the range are ours,
  // and the range is the daemon's.
  logs->add_option("--tail,-n", tail_text,
                   absl::StrCat("start at the last N lines (0 to ",
                                aetherflow::FormatTokens(true, aetherflow::kMaxTailLines),
                                ")"));
  CLI::App* cancel = app.add_subcommand("cancel", "stop a run");
  add_run(cancel);
  CLI::App* pause = app.add_subcommand(
      "pause", "pause a run: no new step starts, running ones go on");
  add_run(pause);
  CLI::App* resume = app.add_subcommand(
      "resume", "let a paused run go on, or run again what did not complete");
  add_run(resume);
  bool resume_follow = false;
  resume->add_flag("-f,--follow", resume_follow, "then follow it");

  std::string wait = "300s", schedule, notify;
  bool from_start = false, cancel_on_critical = false;
  CLI::App* poll = app.add_subcommand("poll", "one check-in: exit 0 ok, 10 succeeded, "
                                              "11 failed, 12 attention, 13 discovery");
  add_run(poll);
  poll->add_option("--wait", wait, "the longest to block")->capture_default_str();
  poll->add_option("--schedule", schedule, "check-in offsets, e.g. 30s,90s,300s");
  poll->add_flag("--from-start", from_start, "ignore the saved cursor");
  CLI::App* watch = app.add_subcommand("watch", "check in until the run ends; speak up "
                                                "only when it matters");
  add_run(watch);
  watch->add_option("--schedule", schedule, "check-in offsets, e.g. 30s,90s,300s");
  watch->add_option("--notify", notify, "command run on each verdict worth a word");
  watch->add_flag("--cancel-on-critical", cancel_on_critical,
                  "cancel the run on a critical error in a running step");
  watch->add_flag("--from-start", from_start, "ignore the saved cursor");

  std::vector<std::string> rm_runs;
  CLI::App* rm = app.add_subcommand("rm", "forget finished runs and their logs");
  rm->add_option("runs", rm_runs, "run ids")->required();
  std::string older_than;
  std::vector<std::string> prune_rest;  // "--older-than 3 days": "days"
  CLI::App* prune = app.add_subcommand("prune", "forget runs finished long ago");
  prune->add_option("--older-than", older_than,
                    "one duration: 30d (days), 12h (hours), 30m (minutes)")
      ->required();
  prune->add_option("rest", prune_rest)->group("");
  bool diff_stat = false;
  CLI::App* diff = app.add_subcommand(
      "diff", "what an --apply run (or one step) changed in the project, as a unified diff");
  add_run_or_last(diff);
  diff->add_option("step", step, "one step's changes only");
  diff->add_flag("--stat", diff_stat, "files and lines changed, as git diff --stat");
  CLI::App* revert = app.add_subcommand(
      "revert", "put back what an --apply run (or one step) changed, byte for byte");
  add_run(revert);
  revert->add_option("step", step, "one step's changes only");
  std::string format = "json", output;
  CLI::App* export_cmd = app.add_subcommand(
      "export", "the run's monitor state as json, csv or a Chrome/Perfetto trace");
  add_run(export_cmd);
  export_cmd->add_option("--format", format, "json, csv or trace")->capture_default_str();
  export_cmd->add_option("-o,--output", output, "file (default: stdout)");

  CLI::App* mcp = app.add_subcommand(
      "mcp", "serve the check-in loop as MCP tools on stdio, for coding agents");
  // SPEC §13: the live page and the report file (client/web_server.h).
  aetherflow::WebOptions web_options;
  CLI::App* web = app.add_subcommand("web", "serve a live page of your runs, and /metrics");
  web->add_option("--listen", web_options.listen,
                  "HOST:PORT (port 0: any free one); off loopback needs --token-file")
      ->capture_default_str();
  web->add_flag("--open", web_options.open, "open the page in a browser");
  web->add_option("--token-file", web_options.token_file,
                  "the page's token, asked once by the browser (here, after \"web\"; "
                  "the daemon's --token-file goes before it)");
  std::string report_output;
  CLI::App* report = app.add_subcommand("report", "a run's page as one self-contained HTML file");
  add_run(report);
  report->add_option("-o,--output", report_output, "file (default: stdout)");
  // Issue 16: bare ids for completion, the completion scripts, the man
  // pages' generated sections (hidden), and doctor.
  bool ids_only = false;
  ls->add_flag("--ids", ids_only, "run ids only, one a line (for completion and scripts)");
  status->add_flag("--ids", ids_only, "the run's step ids only, one a line");
  std::string shell;
  CLI::App* completions = app.add_subcommand(
      "completions", "the completion script for bash, zsh or fish, from this definition");
  completions->add_option("shell", shell, "bash, zsh or fish")->required();
  bool stdin_batch = false;
  submit->add_flag("--stdin-batch", stdin_batch,
                   "one run per line of stdin (sh -c LINE), ids in order, one connection");
  CLI::App* doctor = app.add_subcommand(
      "doctor", "which daemon, versions, state directory, config, keys, terminal: "
                "exit 1 with one line per problem");
  CLI::App* manual = app.add_subcommand("manual", "the man page's generated sections");
  manual->group("");

  if (const std::string word = CommandWord(args); !word.empty() && !IsCommand(word, app)) {
    return UsageError(UnknownCommand(word, app));
  }
  try {
    app.parse(static_cast<int>(args.size()), args.data());
  } catch (const CLI::ParseError& e) {
    // --help and --version print and succeed.
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);
    const std::string what = e.what();
    if (what == "A subcommand is required") {
      return UsageError("a command is required (aetherflow --help lists them)");
    }
    // CLI11's message, on one safe line.
    return UsageError(absl::StrCat(aetherflow::FitWidth(what, 500), " (see --help)"));
  }
  int tail = 0;
  if (logs->parsed() && !tail_text.empty() &&
      (!absl::SimpleAtoi(tail_text, &tail) || tail < 0 ||
       tail > aetherflow::kMaxTailLines)) {
    return UsageError(absl::StrCat(
        "--tail: expected a number of lines from 0 to ",
        aetherflow::FormatTokens(true, aetherflow::kMaxTailLines), ", not \"",
        aetherflow::FitWidth(tail_text, 40), "\""));
  }
  if (prune->parsed() && !prune_rest.empty()) {
    older_than = absl::StrCat(older_than, " ", absl::StrJoin(prune_rest, " "));
  }

  if (completions->parsed()) return aetherflow::CmdCompletions(app, shell);
  if (manual->parsed()) return aetherflow::CmdManual(app);

  aetherflow::GlobalOptions global;
  global.socket_given = !socket.empty();
  global.socket = socket.empty() ? aetherflow::DefaultSocketPath() : socket;
  if (socket.empty()) global.fallback_socket = aetherflow::FallbackSocketPath();
  remote.socket_given = global.socket_given;
  absl::StatusOr<aetherflow::RemoteOptions> resolved = aetherflow::ResolveRemote(
      remote, [](const char* name) { return std::getenv(name); });
  if (!resolved.ok()) {
    std::fprintf(stderr, "aetherflow: %s\n",
                 std::string(resolved.status().message()).c_str());
    return aetherflow::kExitUsage;
  }
  global.remote = std::move(*resolved);
  global.json = json;
  global.config = config;
  global.stdout_tty = ::isatty(STDOUT_FILENO);
  const char* term = std::getenv("TERM");
  bool dumb = term && std::string(term) == "dumb";
  global.color = global.stdout_tty && !dumb && !no_color && !std::getenv("NO_COLOR");
  global.utf8 = std::strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
  // Off a terminal nothing is cut: a file or a pipe has no width.
  global.width = global.stdout_tty ? TerminalWidth() : aetherflow::kUnlimitedWidth;
  global.interactive = global.stdout_tty && ::isatty(STDIN_FILENO) && !dumb && !plain;

  if (!command.empty() && !(run->parsed() || submit->parsed())) {
    std::fprintf(stderr, "aetherflow: \"-- CMD\" goes with run or submit\n");
    return aetherflow::kExitUsage;
  }
  if (submit->parsed() && stdin_batch) {
    if (!submit_options.plan_path.empty() || !command.empty() || submit_options.dry_run) {
      std::fprintf(stderr, "aetherflow: --stdin-batch reads commands from stdin: "
                           "no plan file, -- or --dry-run with it\n");
      return aetherflow::kExitUsage;
    }
    return aetherflow::CmdSubmitBatch(global, submit_options);
  }
  if (run->parsed() || submit->parsed()) {
    submit_options.command = command;
    if (submit_options.plan_path.empty() == command.empty()) {
      std::fprintf(stderr,
                   "aetherflow: give a plan file, or -- and a command (not both)\n");
      return aetherflow::kExitUsage;
    }
    return run->parsed() ? aetherflow::CmdRun(global, submit_options)
                         : aetherflow::CmdSubmit(global, submit_options);
  }
  if (attach->parsed()) return aetherflow::CmdAttach(global, run_ref);
  if (doctor->parsed()) return aetherflow::CmdDoctor(global);
  if (ls->parsed() && ids_only) return aetherflow::CmdListIds(global, limit);
  if (status->parsed() && ids_only) return aetherflow::CmdStepIds(global, run_ref);
  if (ls->parsed()) return aetherflow::CmdList(global, limit);
  if (status->parsed()) return aetherflow::CmdStatus(global, run_ref);
  if (logs->parsed()) return aetherflow::CmdLogs(global, run_ref, step, follow, tail);
  if (cancel->parsed()) return aetherflow::CmdCancel(global, run_ref);
  if (pause->parsed()) return aetherflow::CmdPause(global, run_ref);
  if (resume->parsed()) return aetherflow::CmdResume(global, run_ref, resume_follow);
  if (poll->parsed()) return aetherflow::CmdPoll(global, run_ref, wait, schedule, from_start);
  if (watch->parsed()) {
    return aetherflow::CmdWatch(global, run_ref, schedule, notify, cancel_on_critical,
                                from_start);
  }
  if (rm->parsed()) return aetherflow::CmdRemove(global, rm_runs);
  if (prune->parsed()) return aetherflow::CmdPrune(global, older_than);
  if (diff->parsed()) return aetherflow::CmdDiff(global, run_ref, step, diff_stat);
  if (revert->parsed()) return aetherflow::CmdRevert(global, run_ref, step);
  if (export_cmd->parsed()) return aetherflow::CmdExport(global, run_ref, format, output);
  if (mcp->parsed()) return aetherflow::CmdMcp(global);
  if (web->parsed()) return aetherflow::CmdWeb(global, web_options);
  if (report->parsed()) return aetherflow::CmdReport(global, run_ref, report_output);
  return aetherflow::kExitUsage;
}
