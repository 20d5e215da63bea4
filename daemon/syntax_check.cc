#include "daemon/syntax_check.h"

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "toml++/toml.h"

extern char** environ;

namespace aetherflow {
namespace {

absl::string_view AbslView(std::string_view s) { return {s.data(), s.size()}; }

std::string Lower(std::string_view s) { return absl::AsciiStrToLower(AbslView(s)); }

std::string Extension(std::string_view path) {
  const std::size_t slash = path.rfind('/');
  const std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
  const std::size_t dot = base.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return "";
  return Lower(base.substr(dot + 1));
}

std::string FirstLine(std::string_view s) { return std::string(s.substr(0, s.find('\n'))); }

// The full path of `program` on PATH, or "".
std::string Which(const std::string& program) {
  const char* path = std::getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(path ? path : "/usr/bin:/bin", ':')) {
    if (dir.empty()) continue;
    std::string full = absl::StrCat(dir, "/", program);
    if (::access(full.c_str(), X_OK) == 0) return full;
  }
  return "";
}

struct Ran {
  bool started = false;
  bool timed_out = false;
  int exit_code = -1;  // -1: killed by a signal
  std::string output;  // stdout and stderr, at most max bytes
  std::size_t dropped = 0;
  std::string error;   // why it could not start
};

int64_t NowMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1'000'000;
}

// Runs argv with `input` on stdin and stdout+stderr captured.
Ran Run(const std::vector<std::string>& argv, std::string_view input, const SyntaxCheckOptions& options) {
  Ran ran;
  int in = ::memfd_create("aetherflow-check", MFD_CLOEXEC);
  if (in < 0) {
    ran.error = absl::StrCat("memfd_create: ", std::strerror(errno));
    return ran;
  }
  for (std::size_t done = 0; done < input.size();) {
    ssize_t n = ::write(in, input.data() + done, input.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ran.error = absl::StrCat("cannot pass the file: ", std::strerror(errno));
      ::close(in);
      return ran;
    }
    done += static_cast<std::size_t>(n);
  }
  ::lseek(in, 0, SEEK_SET);
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    ran.error = absl::StrCat("pipe: ", std::strerror(errno));
    ::close(in);
    return ran;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, out[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env = {"LC_ALL=C.UTF-8", "PYTHONDONTWRITEBYTECODE=1", "NODE_NO_WARNINGS=1"};
  if (const char* path = std::getenv("PATH")) env.push_back(absl::StrCat("PATH=", path));
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0].c_str(), &actions, &attr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(in);
  ::close(out[1]);
  if (rc != 0) {
    ran.error = absl::StrCat("cannot start ", argv[0], ": ", std::strerror(rc));
    ::close(out[0]);
    return ran;
  }
  ran.started = true;
  const int64_t deadline = NowMs() + options.timeout_ms;
  char buffer[4096];
  for (;;) {
    const int64_t left = deadline - NowMs();
    if (left <= 0) {
      ran.timed_out = true;
      ::kill(-pid, SIGKILL);
      break;
    }
    struct pollfd p = {out[0], POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 1000)));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    ssize_t n = ::read(out[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    const std::size_t room = options.max_output_bytes > ran.output.size() ? options.max_output_bytes - ran.output.size() : 0;
    const std::size_t take = std::min(room, static_cast<std::size_t>(n));
    ran.output.append(buffer, take);
    ran.dropped += static_cast<std::size_t>(n) - take;
  }
  ::close(out[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ran.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return ran;
}

SyntaxCheckResult Failure(std::string checker, std::string_view path, std::string_view problem,
                          std::string output = "") {
  SyntaxCheckResult r;
  r.checker = std::move(checker);
  r.ok = false;
  std::string line = FirstLine(problem);
  if (line.size() > 300) line = line.substr(0, 300) + "...";
  r.reason = absl::StrCat(std::string(path), ": ", r.checker, ": ", line);
  r.output = std::move(output);
  return r;
}

// The result of running a checker tool: ok on exit 0.
SyntaxCheckResult FromRun(const std::string& checker, std::string_view path, Ran ran,
                          const std::vector<std::string_view>& stdin_names,
                          std::string_view useful_prefix = "") {
  SyntaxCheckResult r;
  r.checker = checker;
  if (!ran.started) return Failure(checker, path, ran.error);
  if (ran.timed_out) return Failure(checker, path, "timed out", ran.output);
  if (ran.exit_code == 0) return r;
  std::string output = ran.output;
  for (std::string_view name : stdin_names) {
    output = absl::StrReplaceAll(output, {{AbslView(name), AbslView(path)}});
  }
  if (ran.dropped > 0) absl::StrAppend(&output, "\n... (", ran.dropped, " more bytes)\n");
  // The reason: the first line with the useful prefix, else the first line.
  std::string problem;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    if (problem.empty()) problem = std::string(line);
    if (!useful_prefix.empty() && absl::StrContains(line, AbslView(useful_prefix))) {
      problem = std::string(line);
      break;
    }
  }
  if (problem.empty()) problem = absl::StrCat("exit status ", ran.exit_code);
  // "a.py: python3: a.py:3:5: msg" reads twice; keep what follows the name.
  if (absl::StartsWith(problem, absl::StrCat(std::string(path), ":"))) {
    problem = std::string(absl::StripAsciiWhitespace(problem.substr(path.size() + 1)));
  }
  return Failure(checker, path, problem, output);
}

constexpr char kPythonCheck[] = R"(import sys
src = sys.stdin.buffer.read()
try:
    compile(src, sys.argv[1], "exec", dont_inherit=True)
except SyntaxError as e:
    print("%s:%s:%s: %s" % (sys.argv[1], e.lineno, e.offset, e.msg))
    if e.text:
        print("    " + e.text.rstrip())
    sys.exit(1)
except ValueError as e:
    print("%s: %s" % (sys.argv[1], e))
    sys.exit(1)
)";

constexpr char kYamlCheck[] = R"(import sys
try:
    import yaml
except ImportError:
    sys.exit(3)
try:
    for _ in yaml.compose_all(sys.stdin.buffer.read()):
        pass
except yaml.YAMLError as e:
    print("%s: %s" % (sys.argv[1], str(e).replace("\n", " ")))
    sys.exit(1)
)";

bool PythonHasYaml() {
  static const bool has = [] {
    const std::string python = Which("python3");
    if (python.empty()) return false;
    Ran ran = Run({python, "-c", "import yaml"}, "", {});
    return ran.started && ran.exit_code == 0;
  }();
  return has;
}

std::string ShellOf(std::string_view path, std::string_view content) {
  const std::string ext = Extension(path);
  std::string shebang;
  if (absl::StartsWith(AbslView(content), "#!")) shebang = FirstLine(content);
  if (ext == "bash" || absl::StrContains(shebang, "bash")) return "bash";
  if (ext == "sh") return "sh";
  if (!shebang.empty()) {
    for (std::string_view shell : {"/sh", " sh", "/dash", " dash"}) {
      if (absl::EndsWith(absl::StripTrailingAsciiWhitespace(shebang), AbslView(shell)) ||
          absl::StrContains(shebang, absl::StrCat(std::string(shell), " "))) {
        return "sh";
      }
    }
  }
  return "";
}

}  // namespace

std::string SyntaxCheckerFor(std::string_view path, std::string_view content) {
  const std::string ext = Extension(path);
  if (ext == "py") return Which("python3").empty() ? "" : "python3";
  if (ext == "json") return "json";
  if (ext == "toml") return "toml";
  if (ext == "yaml" || ext == "yml") return PythonHasYaml() ? "yaml" : "";
  if (ext == "js" || ext == "cjs" || ext == "mjs") return Which("node").empty() ? "" : "node";
  const std::string shell = ShellOf(path, content);
  if (!shell.empty()) return Which(shell).empty() ? "" : shell;
  return "";
}

SyntaxCheckResult CheckSyntax(std::string_view path, std::string_view content,
                              const SyntaxCheckOptions& options) {
  const std::string checker = SyntaxCheckerFor(path, content);
  SyntaxCheckResult ok;
  ok.checker = checker;
  if (checker.empty()) return ok;
  const std::string name(path);
  if (checker == "json") {
    try {
      (void)nlohmann::json::parse(content, nullptr, true, /*ignore_comments=*/true);
      return ok;
    } catch (const nlohmann::json::exception& e) {
      std::string what = e.what();
      // "[json.exception.parse_error.101] parse error at line 3, ..."
      const std::size_t close = what.find("] ");
      if (close != std::string::npos) what = what.substr(close + 2);
      return Failure("json", path, what, what);
    }
  }
  if (checker == "toml") {
#if TOML_EXCEPTIONS
    try {
      (void)toml::parse(content, name);
      return ok;
    } catch (const toml::parse_error& e) {
      const std::string what = absl::StrCat("line ", static_cast<uint64_t>(e.source().begin.line), ": ", std::string(e.description()));
      return Failure("toml", path, what, what);
    } catch (const std::exception& e) {
      return Failure("toml", path, e.what());
    }
#else
    toml::parse_result parsed = toml::parse(content, name);
    if (parsed) return ok;
    const std::string what =
        absl::StrCat("line ", static_cast<uint64_t>(parsed.error().source().begin.line), ": ", std::string(parsed.error().description()));
    return Failure("toml", path, what, what);
#endif
  }
  if (checker == "python3") {
    return FromRun(checker, path, Run({Which("python3"), "-I", "-S", "-c", kPythonCheck, name}, content, options), {});
  }
  if (checker == "yaml") {
    return FromRun(checker, path, Run({Which("python3"), "-I", "-c", kYamlCheck, name}, content, options), {});
  }
  if (checker == "sh" || checker == "bash") {
    // Both name the script after themselves when it comes on stdin.
    return FromRun(checker, path, Run({Which(checker), "-n"}, content, options),
                   {checker == "sh" ? "sh:" : "bash:"}, "rror");
  }
  if (checker == "node") {
    const std::string node = Which("node");
    const std::string ext = Extension(path);
    const bool module_first = ext == "mjs" ||
                              (ext == "js" && (absl::StrContains(AbslView(content), "\nimport ") ||
                                               absl::StartsWith(AbslView(content), "import ") ||
                                               absl::StrContains(AbslView(content), "\nexport ") ||
                                               absl::StartsWith(AbslView(content), "export ")));
    auto run = [&](bool module) {
      std::vector<std::string> argv = {node};
      if (module) argv.push_back("--input-type=module");
      argv.push_back("--check");
      return FromRun(checker, path, Run(argv, content, options), {"[stdin]"}, "Error");
    };
    SyntaxCheckResult first = run(module_first);
    if (first.ok || ext == "mjs" || ext == "cjs") return first;
    // A .js file may be either kind (package.json decides): either passes.
    SyntaxCheckResult second = run(!module_first);
    return second.ok ? second : first;
  }
  return ok;
}

}  // namespace aetherflow
