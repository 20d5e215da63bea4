// Remote access (SPEC §7): TCP is off by default; `aetherflowd --listen`
// needs TLS (or explicit plaintext on loopback) and a bearer token from a
// file only its owner may read; the real client reaches it with --connect.
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <future>
#include <set>
#include <sstream>
#include <thread>

#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "tests/integration/harness.h"

extern char** environ;

namespace aetherflow::testing {
namespace {

using nlohmann::json;

constexpr char kToken[] = "7f3c9a1e-remote-test-token";

// Runs a program to its end (at most `limit`, then SIGKILL) with stdout and
// stderr in files; returns its exit code (128 + signal when killed).
int RunToEnd(const std::vector<std::string>& argv, const std::string& out_path,
             const std::string& err_path,
             std::chrono::seconds limit = std::chrono::seconds(60)) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, argv[0].c_str(), &actions, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return -1;
  auto deadline = std::chrono::steady_clock::now() + limit;
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// A port nothing listens on right now (the kernel's choice for port 0).
int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

bool TcpAnswers(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// The TCP ports on which process `pid` has a listening socket: the socket
// inodes among its file descriptors, looked up in its network namespace's
// /proc/net/tcp and tcp6 (state 0A is LISTEN).
std::set<int> TcpListenPorts(pid_t pid) {
  std::set<std::string> inodes;
  std::string fd_dir = "/proc/" + std::to_string(pid) + "/fd";
  if (DIR* dir = ::opendir(fd_dir.c_str())) {
    while (dirent* entry = ::readdir(dir)) {
      char target[256];
      std::string link = fd_dir + "/" + entry->d_name;
      ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
      if (n <= 0) continue;
      std::string text(target, static_cast<std::size_t>(n));
      if (text.rfind("socket:[", 0) == 0) inodes.insert(text.substr(8, text.size() - 9));
    }
    ::closedir(dir);
  }
  std::set<int> ports;
  for (const char* table : {"tcp", "tcp6"}) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/net/" + table);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout,
          inode;
      fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >>
          uid >> timeout >> inode;
      if (state != "0A" || !inodes.count(inode)) continue;
      ports.insert(std::stoi(local.substr(local.rfind(':') + 1), nullptr, 16));
    }
  }
  return ports;
}

int CountLines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

bool Contains(const std::string& text, const std::string& part) {
  std::string lower_text = text, lower_part = part;
  for (char& c : lower_text) c = static_cast<char>(std::tolower(c));
  for (char& c : lower_part) c = static_cast<char>(std::tolower(c));
  return lower_text.find(lower_part) != std::string::npos;
}

class RemoteTest : public DaemonTest {
 protected:
  void SetUp() override {
    DaemonTest::SetUp();
    cert_ = dir_ + "/cert.pem";
    key_ = dir_ + "/key.pem";
    // A self-signed certificate for this machine's loopback names.
    int rc = RunToEnd({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                       "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key_,
                       "-out", cert_, "-days", "2", "-subj", "/CN=localhost",
                       "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1"},
                      dir_ + "/openssl.out", dir_ + "/openssl.err");
    ASSERT_EQ(rc, 0) << "openssl: " << ReadFile(dir_ + "/openssl.err");
    // The daemon's token file, with the whitespace an editor leaves.
    daemon_token_ = WriteSecret("daemon.token", std::string("  ") + kToken + "\n\n", 0600);
    client_token_ = WriteSecret("client.token", std::string(kToken) + "\n", 0600);
  }

  std::string WriteSecret(const std::string& name, const std::string& text, mode_t mode) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    ::chmod(path.c_str(), mode);
    return path;
  }

  // Restarts the daemon with `--listen 127.0.0.1:PORT` and `listen_args`;
  // waits until the port accepts connections.
  void Listen(std::vector<std::string> listen_args) {
    StopDaemon();
    port_ = FreePort();
    ASSERT_GT(port_, 0);
    address_ = "127.0.0.1:" + std::to_string(port_);
    std::vector<std::string> args = {"--listen", address_};
    args.insert(args.end(), listen_args.begin(), listen_args.end());
    StartDaemon(args);
    for (int i = 0; i < 1000 && !TcpAnswers(port_); ++i) {
      int status;
      ASSERT_EQ(::waitpid(daemon_pid_, &status, WNOHANG), 0) << "daemon died";
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_TRUE(TcpAnswers(port_)) << "daemon never listened on " << address_;
  }
  void ListenTls() {
    Listen({"--tls-cert", cert_, "--tls-key", key_, "--token-file", daemon_token_});
  }
  void ListenPlaintext() {
    Listen({"--insecure-plaintext", "--token-file", daemon_token_});
  }

  // The client over TCP: `args` after --connect, with no remote-access
  // settings of the environment running the tests.
  CliResult Remote(std::vector<std::string> args,
                   std::map<std::string, std::string> env = {}) {
    std::vector<std::string> argv = {"--connect", address_};
    argv.insert(argv.end(), args.begin(), args.end());
    for (const char* name : {"AETHERFLOW_CONNECT", "AETHERFLOW_TLS_CA",
                             "AETHERFLOW_TOKEN_FILE", "AETHERFLOW_TOKEN"}) {
      env.emplace(name, "");
    }
    env.emplace("XDG_STATE_HOME", dir_ + "/client-state");  // poll cursors
    return RawCli(argv, env);
  }
  CliResult RemoteTls(std::vector<std::string> args) {
    std::vector<std::string> argv = {"--tls-ca", cert_, "--token-file", client_token_};
    argv.insert(argv.end(), args.begin(), args.end());
    return Remote(argv);
  }

  // Starts aetherflowd with its own socket and state directory and
  // `args`; returns its exit code once it ended by itself, or -1 when it
  // was still running after 30 s (it then is killed).
  int DaemonExitCode(std::vector<std::string> args, std::string* err) {
    static int counter = 0;
    std::string tag = dir_ + "/refused" + std::to_string(++counter);
    std::vector<std::string> argv = {BinDir() + "/aetherflowd", "--socket", tag + ".sock",
                                     "--state-dir", tag + ".state"};
    argv.insert(argv.end(), args.begin(), args.end());
    int code = RunToEnd(argv, tag + ".out", tag + ".err", std::chrono::seconds(30));
    *err = ReadFile(tag + ".err");
    return code == 128 + SIGKILL ? -1 : code;
  }

  std::string cert_, key_, daemon_token_, client_token_;
  int port_ = 0;
  std::string address_;
};

constexpr char kPlan[] = R"({
  "task_id": "remote", "description": "over TCP",
  "steps": [
    {"id": "hello", "run": "echo hello from afar"},
    {"id": "after", "run": "echo after $AETHERFLOW_STEP_ID", "dependencies": ["hello"]}
  ]})";

TEST_F(RemoteTest, TcpIsOffByDefault) {
  // The fixture's daemon was started without --listen.
  EXPECT_TRUE(TcpListenPorts(daemon_pid_).empty());
  ListenTls();
  EXPECT_EQ(TcpListenPorts(daemon_pid_), std::set<int>{port_})
      << "the check sees a listener when there is one";
}

TEST_F(RemoteTest, TlsWithTokenRunsPlansAndEveryCommandWorks) {
  ListenTls();
  std::string plan = WritePlan("remote.json", kPlan);
  CliResult run = RemoteTls({"run", plan});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_NE(run.out.find("succeeded"), std::string::npos) << run.out;

  CliResult ls = RemoteTls({"ls", "--json"});
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  json runs = json::parse(ls.out, nullptr, false);
  ASSERT_FALSE(runs.is_discarded()) << ls.out;
  CliResult text_ls = RemoteTls({"ls"});
  ASSERT_EQ(text_ls.exit_code, 0) << text_ls.err;
  EXPECT_NE(text_ls.out.find("over TCP"), std::string::npos) << text_ls.out;

  CliResult status = RemoteTls({"status", "last", "--json"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  json doc = json::parse(status.out, nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << status.out;
  EXPECT_EQ(doc["run"]["state"], "succeeded");
  EXPECT_EQ(doc["run"]["completed"], 2);
  std::string id = doc["run"]["id"];

  CliResult logs = RemoteTls({"logs", id});
  ASSERT_EQ(logs.exit_code, 0) << logs.err;
  EXPECT_NE(logs.out.find("hello from afar"), std::string::npos) << logs.out;
  EXPECT_NE(logs.out.find("after after"), std::string::npos) << logs.out;

  CliResult submitted = RemoteTls({"submit", plan});
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  std::string second = submitted.out.substr(0, submitted.out.find('\n'));
  json end = WaitForEnd(second);  // through the Unix socket, which keeps working
  EXPECT_EQ(end["run"]["state"], "succeeded");
  CliResult poll = RemoteTls({"poll", second, "--wait", "1s"});
  EXPECT_EQ(poll.exit_code, 10) << "succeeded\n" << poll.out << poll.err;

  // The same run through the Unix socket: remote callers act as the
  // daemon's user by default.
  CliResult local = Cli({"status", id, "--json"});
  ASSERT_EQ(local.exit_code, 0) << local.err;
  EXPECT_EQ(json::parse(local.out)["run"]["state"], "succeeded");
}

TEST_F(RemoteTest, TheEnvironmentNamesTheDaemonCaAndToken) {
  ListenTls();
  CliResult ls = RawCli({"ls"}, {{"AETHERFLOW_CONNECT", address_},
                                 {"AETHERFLOW_TLS_CA", cert_},
                                 {"AETHERFLOW_TOKEN_FILE", ""},
                                 {"AETHERFLOW_TOKEN", kToken}});
  EXPECT_EQ(ls.exit_code, 0) << ls.err;
  ls = RawCli({"ls"}, {{"AETHERFLOW_CONNECT", address_},
                       {"AETHERFLOW_TLS_CA", cert_},
                       {"AETHERFLOW_TOKEN_FILE", client_token_},
                       {"AETHERFLOW_TOKEN", ""}});
  EXPECT_EQ(ls.exit_code, 0) << ls.err;
  // "localhost" is a name of the certificate too. Checked by name on the
  // loopback address, so that no test needs localhost in /etc/hosts.
  CliResult by_name = RawCli({"--connect", address_, "--tls-server-name", "localhost",
                              "--tls-ca", cert_, "--token-file", client_token_, "ls"},
                             {{"AETHERFLOW_TOKEN", ""}});
  EXPECT_EQ(by_name.exit_code, 0) << by_name.err;
}

TEST_F(RemoteTest, WrongOrMissingTokenIsUnauthenticated) {
  ListenTls();
  std::string wrong = WriteSecret("wrong.token", "not-the-token\n", 0600);
  std::vector<CliResult> refused = {
      Remote({"--tls-ca", cert_, "--token-file", wrong, "ls"}),
      Remote({"--tls-ca", cert_, "ls"}),
      Remote({"--tls-ca", cert_, "status", "last"}, {{"AETHERFLOW_TOKEN", "nope"}}),
      Remote({"--tls-ca", cert_, "submit", WritePlan("p.json", kPlan)}),
  };
  for (const CliResult& r : refused) {
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_EQ(CountLines(r.err), 1) << r.err;
    EXPECT_TRUE(Contains(r.err, "token")) << r.err;
    EXPECT_TRUE(Contains(r.err, address_)) << r.err;
  }
  EXPECT_EQ(CountRows("runs"), 0) << "nothing was submitted";
}

class EveryServiceNeedsTheToken : public RemoteTest,
                                  public ::testing::WithParamInterface<bool> {};

TEST_P(EveryServiceNeedsTheToken, HealthReflectionAndTheApi) {
  const bool tls = GetParam();
  std::shared_ptr<grpc::Channel> channel;
  if (tls) {
    ListenTls();
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ReadFile(cert_);
    channel = grpc::CreateChannel(address_, grpc::SslCredentials(ssl));
  } else {
    ListenPlaintext();
    channel = grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
  }
  auto call = [&](const std::string& method, const std::string& token) {
    grpc::GenericStub stub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
    grpc::Slice empty("");
    grpc::ByteBuffer request(&empty, 1), response;
    std::promise<grpc::Status> done;
    stub.UnaryCall(&context, method, grpc::StubOptions(), &request, &response,
                   [&done](grpc::Status status) { done.set_value(status); });
    return done.get_future().get().error_code();
  };
  const std::string health = "/grpc.health.v1.Health/Check";
  EXPECT_EQ(call(health, ""), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(call(health, "wrong"), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(call(health, kToken), grpc::StatusCode::OK);
  EXPECT_EQ(call("/aetherflow.v1.AetherFlow/ListRuns", ""),
            grpc::StatusCode::UNAUTHENTICATED);
}

INSTANTIATE_TEST_SUITE_P(TlsAndPlaintext, EveryServiceNeedsTheToken, ::testing::Bool());

TEST_F(RemoteTest, ClientRefusesATokenFileOthersMayRead) {
  ListenTls();
  std::string open = WriteSecret("open.token", kToken, 0644);
  CliResult r = Remote({"--tls-ca", cert_, "--token-file", open, "ls"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(CountLines(r.err), 1) << r.err;
  EXPECT_TRUE(Contains(r.err, open)) << r.err;
  EXPECT_TRUE(Contains(r.err, "chmod 600")) << r.err;
}

TEST_F(RemoteTest, TlsMismatchesFailWithOneLine) {
  ListenTls();
  // Plaintext to the TLS port.
  CliResult plain = Remote({"--insecure-plaintext", "--token-file", client_token_, "ls"});
  EXPECT_EQ(plain.exit_code, 3) << plain.err;
  EXPECT_EQ(CountLines(plain.err), 1) << plain.err;
  EXPECT_TRUE(Contains(plain.err, "without TLS")) << plain.err;
  // A certificate no CA of the system signed.
  CliResult untrusted = Remote({"--token-file", client_token_, "ls"});
  EXPECT_EQ(untrusted.exit_code, 3) << untrusted.err;
  EXPECT_EQ(CountLines(untrusted.err), 1) << untrusted.err;
  EXPECT_TRUE(Contains(untrusted.err, "certificate")) << untrusted.err;
  // A name the certificate does not carry.
  CliResult other = Remote({"--tls-ca", cert_, "--tls-server-name", "other.example",
                            "--token-file", client_token_, "ls"});
  EXPECT_EQ(other.exit_code, 3) << other.err;
  EXPECT_EQ(CountLines(other.err), 1) << other.err;
  EXPECT_TRUE(Contains(other.err, "other.example")) << other.err;
}

// Without --tls-ca the client trusts gRPC's default CAs: the file
// GRPC_DEFAULT_SSL_ROOTS_FILE_PATH names, else the system's (Debian:
// ca-certificates), else the ones gRPC ships. With none it can load, it
// says so in one line and exits 3, as for any other TLS failure.
TEST_F(RemoteTest, NoCaCertificatesFailWithOneLine) {
  ListenTls();
  std::string none = WriteSecret("no-roots.pem", "", 0644);
  CliResult r = Remote({"--token-file", client_token_, "ls"},
                       {{"GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", none}});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(CountLines(r.err), 1) << r.err;
  EXPECT_TRUE(Contains(r.err, "no CA certificate")) << r.err;
  EXPECT_TRUE(Contains(r.err, none)) << r.err;
  EXPECT_TRUE(Contains(r.err, "--tls-ca")) << r.err;
  // A --tls-ca file that looks like PEM but holds no certificate.
  std::string bad = WriteSecret(
      "bad-ca.pem", "-----BEGIN CERTIFICATE-----\nZ2FyYmFnZQ==\n-----END CERTIFICATE-----\n",
      0644);
  CliResult b = Remote({"--tls-ca", bad, "--token-file", client_token_, "ls"});
  EXPECT_EQ(b.exit_code, 3) << b.err;
  EXPECT_EQ(CountLines(b.err), 1) << b.err;
  EXPECT_TRUE(Contains(b.err, "no CA certificate")) << b.err;
  EXPECT_TRUE(Contains(b.err, bad)) << b.err;
}

// A system without ca-certificates, as a minimal Debian is: the client sees
// an empty /etc/ssl/certs (a tmpfs in a mount namespace of its own). gRPC
// finds no system CAs, falls back to the ones it ships, and the daemon's
// self-signed certificate is not signed by any of them. Under the
// sanitizers this is also the path of gRPC's own leak that
// tests/sanitizers/lsan.supp accepts (CreateRootCertsBundle): the client
// must still exit 3, not with LeakSanitizer's 86.
TEST_F(RemoteTest, WithoutSystemCasAnUntrustedCertificateFailsWithOneLine) {
  if (::getuid() != 0) GTEST_SKIP() << "needs root for a mount namespace";
  std::string probe = dir_ + "/unshare";
  if (RunToEnd({"unshare", "--mount", "true"}, probe + ".out", probe + ".err") != 0) {
    GTEST_SKIP() << "no mount namespace here: " << ReadFile(probe + ".err");
  }
  ListenTls();
  // The client's environment may name a CA: not here.
  const char* script =
      "mount -t tmpfs none /etc/ssl/certs || exit 125; "
      "unset AETHERFLOW_TLS_CA GRPC_DEFAULT_SSL_ROOTS_FILE_PATH; exec \"$@\"";
  std::string out = dir_ + "/no-system-cas.out", err = dir_ + "/no-system-cas.err";
  int code = RunToEnd({"unshare", "--mount", "sh", "-c", script, "sh",
                       BinDir() + "/aetherflow", "--connect", address_, "--token-file",
                       client_token_, "ls"},
                      out, err);
  std::string text = ReadFile(err);
  ASSERT_NE(code, 125) << "could not hide /etc/ssl/certs: " << text;
  EXPECT_EQ(code, 3) << text;
  EXPECT_EQ(CountLines(text), 1) << text;
  EXPECT_TRUE(Contains(text, "not signed by a CA of this system")) << text;
  EXPECT_TRUE(Contains(text, "--tls-ca")) << text;
}

TEST_F(RemoteTest, NothingListeningIsUnreachable) {
  address_ = "127.0.0.1:" + std::to_string(FreePort());
  CliResult r = RemoteTls({"ls"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(CountLines(r.err), 1) << r.err;
  EXPECT_TRUE(Contains(r.err, "cannot reach")) << r.err;
  EXPECT_TRUE(Contains(r.err, address_)) << r.err;
}

TEST_F(RemoteTest, PlaintextOnLoopbackWhenAskedFor) {
  ListenPlaintext();
  CliResult run = Remote({"--insecure-plaintext", "--token-file", client_token_, "run",
                          WritePlan("remote.json", kPlan)});
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  CliResult ls = Remote({"--insecure-plaintext", "--token-file", client_token_, "ls"});
  EXPECT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_NE(ls.out.find("over TCP"), std::string::npos) << ls.out;

  CliResult no_token = Remote({"--insecure-plaintext", "ls"});
  EXPECT_EQ(no_token.exit_code, 2) << no_token.err;
  EXPECT_EQ(CountLines(no_token.err), 1) << no_token.err;
  EXPECT_TRUE(Contains(no_token.err, "token")) << no_token.err;

  // TLS to a plaintext port.
  CliResult tls = RemoteTls({"ls"});
  EXPECT_EQ(tls.exit_code, 3) << tls.err;
  EXPECT_EQ(CountLines(tls.err), 1) << tls.err;
  EXPECT_TRUE(Contains(tls.err, "TLS")) << tls.err;

  // The client never sends a token in clear text off this machine.
  CliResult far = RawCli({"--connect", "192.0.2.1:7000", "--insecure-plaintext",
                          "--token-file", client_token_, "ls"},
                         {});
  EXPECT_EQ(far.exit_code, 2) << far.err;
  EXPECT_TRUE(Contains(far.err, "loopback")) << far.err;
}

TEST_F(RemoteTest, DaemonRefusesUnsafeListenSettings) {
  int port = FreePort();
  std::string loopback = "127.0.0.1:" + std::to_string(port);
  std::string open_token = WriteSecret("open.token", kToken, 0644);
  std::string empty_token = WriteSecret("empty.token", " \n", 0600);
  struct Case {
    const char* why;
    std::vector<std::string> args;
    std::vector<std::string> any_of;  // the error names one of these
  };
  std::vector<Case> cases = {
      {"a token file others may read",
       {"--listen", loopback, "--tls-cert", cert_, "--tls-key", key_, "--token-file",
        open_token},
       {"token", open_token}},
      {"an empty token",
       {"--listen", loopback, "--tls-cert", cert_, "--tls-key", key_, "--token-file",
        empty_token},
       {"token", "empty"}},
      {"no token",
       {"--listen", loopback, "--tls-cert", cert_, "--tls-key", key_},
       {"token"}},
      {"plaintext off loopback",
       {"--listen", "0.0.0.0:" + std::to_string(port), "--insecure-plaintext",
        "--token-file", daemon_token_},
       {"loopback", "0.0.0.0"}},
      {"no TLS and no --insecure-plaintext",
       {"--listen", loopback, "--token-file", daemon_token_},
       {"tls", "plaintext", "cert"}},
  };
  for (const Case& c : cases) {
    std::string err;
    int code = DaemonExitCode(c.args, &err);
    EXPECT_EQ(code, 1) << c.why << ": " << err;
    EXPECT_GE(CountLines(err), 1) << c.why;
    bool named = std::any_of(c.any_of.begin(), c.any_of.end(),
                             [&](const std::string& word) { return Contains(err, word); });
    EXPECT_TRUE(named) << c.why << ": " << err;
    EXPECT_FALSE(TcpAnswers(port)) << c.why << ": nothing listens";
  }
}

}  // namespace
}  // namespace aetherflow::testing
