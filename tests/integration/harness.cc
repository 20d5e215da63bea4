#include "tests/integration/harness.h"

#include <algorithm>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace aetherflow::testing {
namespace {

bool SocketAnswers(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

std::vector<std::string> Environment(const std::map<std::string, std::string>& extra,
                                     bool autostart = false) {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string entry(*e);
    std::size_t eq = entry.find('=');
    if (eq != std::string::npos) env[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  env.erase("AETHERFLOW_SOCKET");
  // Provider keys of the machine running the tests must not reach them.
  for (auto it = env.begin(); it != env.end();) {
    it = it->first.find("API_KEY") != std::string::npos ? env.erase(it) : std::next(it);
  }
  env.erase("AETHERFLOW_STATE_DIR");
  if (!autostart) env["AETHERFLOW_NO_AUTOSTART"] = "1";
  env["NO_COLOR"] = "1";
  for (const auto& [k, v] : extra) env[k] = v;
  std::vector<std::string> out;
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

pid_t Spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env,
            const std::string& cwd, const std::string& out_path,
            const std::string& err_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  std::vector<char*> cargv, cenv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const auto& e : env) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, cargv.data(),
                       cenv.data());
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

}  // namespace

std::string BinDir() { return AETHERFLOW_BIN_DIR; }
std::string DataDir() { return AETHERFLOW_TEST_DATA; }

void DaemonTest::SetUp() {
  char tmpl[] = "/tmp/af-it-XXXXXX";
  dir_ = ::mkdtemp(tmpl);
  socket_ = dir_ + "/d.sock";
  state_dir_ = dir_ + "/state";
  StartDaemon();
}

void DaemonTest::TearDown() {
  if (daemon_pid_ > 0) StopDaemon(SIGTERM);
  std::error_code ignored;  // a process of the test may still be writing
  if (!HasFailure()) std::filesystem::remove_all(dir_, ignored);
  else std::fprintf(stderr, "test files kept in %s\n", dir_.c_str());
}

void DaemonTest::StartDaemon(std::vector<std::string> extra_args,
                             std::map<std::string, std::string> extra_env) {
  std::vector<std::string> argv = {BinDir() + "/aetherflowd", "--socket", socket_,
                                   "--state-dir", state_dir_};
  // A short grace unless the test asks for its own.
  if (std::find(extra_args.begin(), extra_args.end(), "--kill-grace-ms") == extra_args.end()) {
    argv.insert(argv.end(), {"--kill-grace-ms", "500"});
  }
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  daemon_pid_ = Spawn(argv, Environment(extra_env), "", dir_ + "/daemon.out",
                      dir_ + "/daemon.err." + std::to_string(::time(nullptr)));
  ASSERT_GT(daemon_pid_, 0);
  for (int i = 0; i < 1000 && !SocketAnswers(socket_); ++i) {
    int status;
    ASSERT_EQ(::waitpid(daemon_pid_, &status, WNOHANG), 0) << "daemon died";
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(SocketAnswers(socket_)) << "daemon never listened";
  // The daemon binds its socket before it opens its database: a test that
  // reads the database at once must find it there.
  for (int i = 0; i < 1000 && CountRows("runs") < 0; ++i) {
    int status;
    if (::waitpid(daemon_pid_, &status, WNOHANG) != 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void DaemonTest::StopDaemon(int signal) {
  ::kill(daemon_pid_, signal);
  int status;
  ::waitpid(daemon_pid_, &status, 0);
  daemon_pid_ = 0;
}

CliResult DaemonTest::Cli(std::vector<std::string> args,
                          std::map<std::string, std::string> env,
                          const std::string& cwd) {
  std::vector<std::string> argv = {BinDir() + "/aetherflow", "--socket", socket_};
  argv.insert(argv.end(), args.begin(), args.end());
  static int counter = 0;
  std::string tag = dir_ + "/cli" + std::to_string(++counter);
  pid_t pid = Spawn(argv, Environment(env), cwd.empty() ? dir_ : cwd, tag + ".out",
                    tag + ".err");
  return FinishCli(pid, tag);
}

CliResult DaemonTest::RawCli(std::vector<std::string> args,
                             std::map<std::string, std::string> env) {
  std::vector<std::string> argv = {BinDir() + "/aetherflow"};
  argv.insert(argv.end(), args.begin(), args.end());
  static int counter = 0;
  std::string tag = dir_ + "/raw" + std::to_string(++counter);
  pid_t pid = Spawn(argv, Environment(env, /*autostart=*/true), dir_, tag + ".out",
                    tag + ".err");
  return FinishCli(pid, tag);
}

pid_t DaemonTest::StartCli(std::vector<std::string> args, const std::string& tag,
                           std::map<std::string, std::string> env) {
  std::vector<std::string> argv = {BinDir() + "/aetherflow", "--socket", socket_};
  argv.insert(argv.end(), args.begin(), args.end());
  return Spawn(argv, Environment(env), dir_, dir_ + "/" + tag + ".out",
               dir_ + "/" + tag + ".err");
}

CliResult DaemonTest::FinishCli(pid_t pid, const std::string& tag) {
  CliResult result;
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::string base = tag.find('/') == std::string::npos ? dir_ + "/" + tag : tag;
  result.out = ReadFile(base + ".out");
  result.err = ReadFile(base + ".err");
  return result;
}

std::string DaemonTest::ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string DaemonTest::WritePlan(const std::string& name, const std::string& json) {
  std::string path = dir_ + "/" + name;
  std::ofstream(path) << json;
  return path;
}

std::string DaemonTest::Submit(const std::string& plan_path) {
  CliResult r = Cli({"submit", plan_path});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::string id = r.out;
  while (!id.empty() && id.back() == '\n') id.pop_back();
  EXPECT_FALSE(id.empty());
  EXPECT_EQ(id.find('\n'), std::string::npos) << "submit prints only the id";
  return id;
}

nlohmann::json DaemonTest::Status(const std::string& run) {
  CliResult r = Cli({"status", run, "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json status = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_FALSE(status.is_discarded()) << r.out;
  return status;
}

nlohmann::json DaemonTest::WaitFor(
    const std::string& run, const std::function<bool(const nlohmann::json&)>& done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  nlohmann::json status;
  while (std::chrono::steady_clock::now() < deadline) {
    status = Status(run);
    if (status.is_discarded() || done(status)) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << "condition never met; last status: " << status.dump(2);
  return status;
}

nlohmann::json DaemonTest::WaitForEnd(const std::string& run) {
  return WaitFor(run, [](const nlohmann::json& s) {
    std::string state = s["run"]["state"];
    return state != "queued" && state != "running" && state != "paused";
  });
}

const nlohmann::json& DaemonTest::StepOf(const nlohmann::json& status,
                                         const std::string& id) {
  for (const auto& step : status["steps"]) {
    if (step["id"] == id) return step;
  }
  static const nlohmann::json kNull;
  ADD_FAILURE() << "no step " << id;
  return kNull;
}

int64_t DaemonTest::CountRows(const std::string& table) {
  sqlite3* db = nullptr;
  std::string path = state_dir_ + "/aetherflow.db";
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return -1;
  }
  // The daemon may hold a lock for a moment (a checkpoint): wait for it.
  sqlite3_busy_timeout(db, 10'000);
  sqlite3_stmt* stmt = nullptr;
  std::string sql = "SELECT count(*) FROM " + table;
  int64_t count = -1;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW) {
    count = sqlite3_column_int64(stmt, 0);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return count;
}

}  // namespace aetherflow::testing
