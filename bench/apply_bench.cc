// From an LLM answer to a project file applied and checked (SPEC §11, issue
// 12 point 9): the answer parsed into edits, applied to a 1,000-line Python
// file, written atomically with its pre-image kept, its syntax checked
// (python3) and a no-op `validate` run (/bin/true). Target: under 50 ms.
// Run: build/bench/apply_bench
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <filesystem>
#include <fstream>
#include <string>

#include "benchmark/benchmark.h"
#include "common/edit_format.h"
#include "daemon/check_runner.h"
#include "daemon/edit_step.h"
#include "daemon/project_writer.h"
#include "daemon/syntax_check.h"

extern char** environ;

namespace aetherflow {
namespace {

std::string ThousandLines() {
  std::string file = "import math\n\n";
  for (int i = 0; file.size() < 40'000 || i < 199; ++i) {
    if (std::count(file.begin(), file.end(), '\n') >= 995) break;
    file += "def f" + std::to_string(i) + "(x):\n    y = x * " + std::to_string(i) +
            "\n    return math.sqrt(y)\n\n";
  }
  while (std::count(file.begin(), file.end(), '\n') < 1000) file += "# end\n";
  return file;
}

std::string Answer() {
  return "I will change three functions.\n\n"
         "src/big.py\n```python\n"
         "<<<<<<< SEARCH\ndef f10(x):\n    y = x * 10\n=======\ndef f10(x):\n    y = x * 10.5\n>>>>>>> REPLACE\n"
         "```\n\nsrc/big.py\n```python\n"
         "<<<<<<< SEARCH\ndef f120(x):\n    y = x * 120\n    return math.sqrt(y)\n=======\n"
         "def f120(x):\n    return math.sqrt(abs(x * 120))\n>>>>>>> REPLACE\n"
         "<<<<<<< SEARCH\n  def f200(x):\n      y = x * 200\n=======\n  def f200(x: float) -> float:\n      y = x * 200\n"
         ">>>>>>> REPLACE\n```\n";
}

int RunTrue() {
  pid_t pid;
  char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
  if (posix_spawn(&pid, "/bin/true", nullptr, nullptr, argv, environ) != 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

class Project {
 public:
  explicit Project(const std::string& dir = "/tmp") {
    std::string tmpl = dir + "/af-apply-bench-XXXXXX";
    base_ = ::mkdtemp(tmpl.data());
    std::filesystem::create_directories(base_ + "/project/src");
    std::ofstream(base_ + "/project/src/big.py") << ThousandLines();
  }
  ~Project() { std::filesystem::remove_all(base_); }
  ProjectWriter::Options Options(int64_t n) const {
    ProjectWriter::Options o;
    o.project_dir = base_ + "/project";
    o.record_dir = base_ + "/runs/r/changes/s" + std::to_string(n);
    return o;
  }

 private:
  std::string base_;
};

// One step attempt: read, prompt, parse, apply, write, check, validate.
void Attempt(ProjectWriter& writer, const std::string& answer, bool check, benchmark::State& state) {
  absl::StatusOr<ProjectFile> read = writer.Read("src/big.py");
  std::string prompt = BuildEditPrompt({{read->path, read->content}});
  benchmark::DoNotOptimize(prompt);
  absl::StatusOr<std::vector<FileEdit>> edits = ParseEdits(answer, {"src/big.py"});
  absl::StatusOr<std::string> text = ApplyEdit(edits->at(0), read->content);
  if (!text.ok()) {
    state.SkipWithError(std::string(text.status().message()).c_str());
    return;
  }
  absl::StatusOr<AppliedAttempt> applied = writer.Apply({{"src/big.py", *text, read->stamp}});
  if (!applied.ok()) {
    state.SkipWithError(std::string(applied.status().message()).c_str());
    return;
  }
  if (check) {
    SyntaxCheckResult r = CheckSyntax("src/big.py", *text);
    if (!r.ok) state.SkipWithError(r.reason.c_str());
    RunTrue();
  }
  state.PauseTiming();
  (void)writer.Rollback(*applied);
  state.ResumeTiming();
}

// Ours alone: parse, apply, atomic write with pre-image (no external tool).
void BM_AnswerToApplied(benchmark::State& state) {
  Project project;
  const std::string answer = Answer();
  int64_t n = 0;
  for (auto _ : state) {
    ProjectWriter writer(project.Options(++n));
    Attempt(writer, answer, false, state);
  }
}
BENCHMARK(BM_AnswerToApplied)->Unit(benchmark::kMillisecond);

// The same on tmpfs, where fsync costs nothing: what is left is our CPU.
void BM_AnswerToAppliedTmpfs(benchmark::State& state) {
  Project project("/dev/shm");
  const std::string answer = Answer();
  int64_t n = 0;
  for (auto _ : state) {
    ProjectWriter writer(project.Options(++n));
    Attempt(writer, answer, false, state);
  }
}
BENCHMARK(BM_AnswerToAppliedTmpfs)->Unit(benchmark::kMillisecond);

// The daemon's own path (daemon/edit_step.h, daemon/check_runner.h): the
// files read through the writer, the prompt, ApplyAnswer (parse, apply,
// atomic write with pre-image, python3 syntax check), then a no-op
// `validate` (/bin/true) run by the CheckRunner as steps' checks are.
void BM_AnswerToAppliedAndValidated(benchmark::State& state) {
  Project project;
  const std::string answer = Answer();
  std::mutex mu;
  std::condition_variable cv;
  bool woken = false;
  CheckRunner checks([&] {
    std::lock_guard<std::mutex> lock(mu);
    woken = true;
    cv.notify_one();
  });
  int64_t n = 0;
  for (auto _ : state) {
    ProjectWriter writer(project.Options(++n));
    absl::StatusOr<std::vector<ProjectFile>> files = ReadWritableFiles(writer, {"src/big.py"});
    PromptInputs inputs;
    inputs.description = "Change three functions";
    benchmark::DoNotOptimize(BuildApplyPrompt(inputs, *files));
    RoundResult round = ApplyAnswer(writer, answer, *files);
    if (round.outcome != "applied") {
      state.SkipWithError(round.reason.c_str());
      return;
    }
    LaunchSpec spec;
    spec.key = n;
    spec.argv = {"/bin/true"};
    spec.cwd = "/";
    spec.log_path = "/dev/null";
    checks.Start(std::move(spec));
    for (bool done = false; !done;) {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return woken; });
      woken = false;
      lock.unlock();
      for (const CheckRunner::Done& d : checks.Take()) done |= d.key == n;
    }
    state.PauseTiming();
    (void)writer.Rollback(*round.applied);
    state.ResumeTiming();
  }
}
BENCHMARK(BM_AnswerToAppliedAndValidated)->Unit(benchmark::kMillisecond);

// The pure part: parse the answer and apply it to the 1,000 lines.
void BM_ParseAndApply(benchmark::State& state) {
  const std::string file = ThousandLines();
  const std::string answer = Answer();
  for (auto _ : state) {
    absl::StatusOr<std::vector<FileEdit>> edits = ParseEdits(answer, {"src/big.py"});
    absl::StatusOr<std::string> text = ApplyEdit(edits->at(0), file);
    benchmark::DoNotOptimize(text);
  }
}
BENCHMARK(BM_ParseAndApply)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace aetherflow

BENCHMARK_MAIN();
