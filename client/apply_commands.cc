#include "client/apply_commands.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "client/cli_util.h"
#include "client/connection.h"
#include "common/project_path.h"
#include "common/unified_diff.h"
#include "nlohmann/json.hpp"
#include "aetherflow/v1/aetherflow.grpc.pb.h"

extern char** environ;

namespace aetherflow {
namespace pb = ::aetherflow::v1;
namespace {

struct Captured {
  bool ran = false;     // git could be started
  int exit_code = -1;
  std::string out;      // stdout (stderr goes to /dev/null)
};

// Runs `git ARGS` in `dir`, capturing its output.
Captured Git(const std::string& dir, const std::vector<std::string>& args) {
  Captured result;
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return result;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, pipefd[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  std::vector<std::string> argv = {"git", "-C", dir};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> c_argv;
  for (std::string& a : argv) c_argv.push_back(a.data());
  c_argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, "git", &actions, nullptr, c_argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipefd[1]);
  if (rc != 0) {
    ::close(pipefd[0]);
    return result;
  }
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(pipefd[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    result.out.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(pipefd[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.ran = true;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

bool InGitWorkTree(const std::string& dir) {
  Captured c = Git(dir, {"rev-parse", "--is-inside-work-tree"});
  return c.ran && c.exit_code == 0 && c.out.rfind("true", 0) == 0;
}

}  // namespace

std::vector<ApplyTarget> ApplyTargets(const Plan& plan, const std::string& project) {
  std::vector<ApplyTarget> targets;
  for (const Step& step : plan.steps) {
    if (!StepApplies(step, true)) continue;
    std::set<std::string> seen;
    for (const std::string& path : step.context.files) {
      ApplyTarget target;
      target.step = step.id;
      absl::StatusOr<std::string> normal = NormalizeProjectPath(path);
      if (!normal.ok()) {
        target.path = path;
        target.problem = std::string(normal.status().message());
      } else {
        if (!seen.insert(*normal).second) continue;
        target.path = *normal;
        struct stat st;
        const std::string full = project + "/" + *normal;
        target.exists = ::lstat(full.c_str(), &st) == 0;
        if (target.exists && S_ISLNK(st.st_mode)) {
          std::error_code error;
          std::filesystem::path real = std::filesystem::weakly_canonical(full, error);
          std::filesystem::path root = std::filesystem::weakly_canonical(project, error);
          std::string r = real.string(), p = root.string() + "/";
          if (r.rfind(p, 0) != 0) target.problem = "a symbolic link out of the project";
        } else if (target.exists && !S_ISREG(st.st_mode)) {
          target.problem = "not a regular file";
        } else if (target.exists && st.st_nlink > 1) {
          target.problem = "has other hard links";
        }
      }
      targets.push_back(std::move(target));
    }
  }
  return targets;
}

std::vector<std::string> ApplyRefusals(const Plan& plan, const std::string& project,
                                       bool allow_dirty, bool commit) {
  std::vector<std::string> refusals;
  std::vector<std::string> paths;
  for (const ApplyTarget& t : ApplyTargets(plan, project)) {
    if (!t.problem.empty()) {
      refusals.push_back(absl::StrCat("step ", t.step, " may not write ", t.path, ": ",
                                      t.problem));
    } else {
      paths.push_back(t.path);
    }
  }
  const bool git = InGitWorkTree(project);
  if (commit && !git) {
    refusals.push_back(absl::StrCat("--commit: ", project, " is not in a git work tree"));
  }
  if (git && !allow_dirty && !paths.empty()) {
    std::vector<std::string> args = {"status", "--porcelain=v1", "-z",
                                     "--untracked-files=all", "--"};
    args.insert(args.end(), paths.begin(), paths.end());
    Captured status = Git(project, args);
    std::vector<std::string> dirty;
    if (status.ran && status.exit_code == 0) {
      std::vector<std::string> entries = absl::StrSplit(status.out, '\0', absl::SkipEmpty());
      for (std::size_t i = 0; i < entries.size(); ++i) {
        const std::string& e = entries[i];
        if (e.size() < 4) continue;
        dirty.push_back(e.substr(3));
        if (e[0] == 'R' || e[0] == 'C') ++i;  // the source path follows
      }
    }
    for (const std::string& path : dirty) {
      refusals.push_back(absl::StrCat(
          path, " has uncommitted changes (commit or stash them, or pass --allow-dirty)"));
    }
  }
  return refusals;
}

int CmdDiff(const GlobalOptions& global, const std::string& run, const std::string& step,
            bool stat) {
  std::unique_ptr<Connection> connection = ConnectOrExplain(global);
  if (!connection) return kExitUnreachable;
  pb::DiffRunRequest request;
  request.set_run_id(run);
  request.set_step_id(step);
  pb::DiffRunResponse response;
  grpc::ClientContext context;
  grpc::Status status = connection->stub()->DiffRun(&context, request, &response);
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", DescribeError(status, global.where()).c_str());
    return ExitCodeFor(status);
  }
  auto side = [](bool has, const std::string& text) -> std::optional<std::string> {
    if (!has) return std::nullopt;
    return text;
  };
  if (global.json) {
    nlohmann::json files = nlohmann::json::array();
    for (const pb::FileChange& c : response.changes()) {
      DiffCounts counts = CountChanges(side(c.has_before(), c.before()), side(c.has_now(), c.now()));
      files.push_back({{"step", c.step_id()},
                       {"path", c.path()},
                       {"created", !c.has_before()},
                       {"removed", !c.has_now()},
                       {"added_lines", counts.added},
                       {"removed_lines", counts.removed},
                       {"binary", counts.binary},
                       {"diff", UnifiedDiff(side(c.has_before(), c.before()),
                                            side(c.has_now(), c.now()), c.path())}});
    }
    std::cout << nlohmann::json{{"run_id", response.run_id()},
                                {"project", response.project_dir()},
                                {"files", files}}
                     .dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
              << "\n";
    return kExitOk;
  }
  if (stat) {
    std::vector<StatLine> lines;
    for (const pb::FileChange& c : response.changes()) {
      lines.push_back({c.path(), CountChanges(side(c.has_before(), c.before()),
                                              side(c.has_now(), c.now()))});
    }
    std::cout << FormatDiffStat(lines, global.stdout_tty ? global.width : 80);
    return kExitOk;
  }
  if (response.changes().empty()) {
    // Said on stderr: the diff itself (nothing) stays on stdout.
    std::fprintf(stderr, "aetherflow: run %s left no changed file in the project%s\n",
                 response.run_id().c_str(),
                 step.empty() ? " (only runs submitted with --apply change it)" : "");
    return kExitOk;
  }
  DiffOptions options;
  options.colour = global.color;
  for (const pb::FileChange& c : response.changes()) {
    std::cout << UnifiedDiff(side(c.has_before(), c.before()), side(c.has_now(), c.now()),
                             c.path(), options);
  }
  return kExitOk;
}

int CmdRevert(const GlobalOptions& global, const std::string& run, const std::string& step) {
  std::unique_ptr<Connection> connection = ConnectOrExplain(global);
  if (!connection) return kExitUnreachable;
  pb::RevertRunRequest request;
  request.set_run_id(run);
  request.set_step_id(step);
  pb::RevertRunResponse response;
  grpc::ClientContext context;
  grpc::Status status = connection->stub()->RevertRun(&context, request, &response);
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", DescribeError(status, global.where()).c_str());
    // A file changed since the run is the user's to sort out: exit 1.
    return status.error_code() == grpc::StatusCode::FAILED_PRECONDITION ? kExitFailed
                                                                        : ExitCodeFor(status);
  }
  if (global.json) {
    nlohmann::json files = nlohmann::json::array();
    for (const pb::FileChange& c : response.reverted()) {
      files.push_back({{"step", c.step_id()},
                       {"path", c.path()},
                       {"action", c.has_before() ? "restored" : "removed"}});
    }
    std::cout << nlohmann::json{{"run_id", response.run_id()}, {"reverted", files}}.dump(2)
              << "\n";
    return kExitOk;
  }
  if (response.reverted().empty()) {
    std::cout << "nothing to revert: run " << response.run_id()
              << " left no changed file in place\n";
    return kExitOk;
  }
  for (const pb::FileChange& c : response.reverted()) {
    std::cout << (c.has_before() ? "restored " : "removed ") << c.path() << " (step "
              << c.step_id() << ")\n";
  }
  return kExitOk;
}

}  // namespace aetherflow
