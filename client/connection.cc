#include "client/connection.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/paths.h"

namespace aetherflow {
namespace {

constexpr int kMaxMessageBytes = 64 * 1024 * 1024;

std::string DaemonBinary() {
  char self[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    self[n] = '\0';
    std::string dir(self);
    dir.resize(dir.rfind('/'));
    std::string candidate = dir + "/aetherflowd";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "aetherflowd";
}

absl::Status StartDaemon(const std::string& socket_path) {
  std::string state_dir = DefaultStateDir();
  if (!MakeDirs(state_dir, 0700)) {
    return absl::UnavailableError(
        absl::StrCat("cannot create state directory ", state_dir));
  }
  std::string log_path = state_dir + "/aetherflowd.log";
  std::string binary = DaemonBinary();
  pid_t pid = ::fork();
  if (pid < 0) return absl::ErrnoToStatus(errno, "fork");
  if (pid == 0) {
    // The daemon outlives this client: own session, no terminal, and its
    // messages in a log file next to its state.
    ::setsid();
    int null_fd = ::open("/dev/null", O_RDWR);
    int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    ::dup2(null_fd, 0);
    ::dup2(null_fd, 1);
    ::dup2(log_fd >= 0 ? log_fd : null_fd, 2);
    ::closefrom(3);
    // A second fork so that the daemon is not our child (no zombie if it
    // ends before we do).
    if (::fork() != 0) ::_exit(0);
    const char* argv[] = {"aetherflowd", "--socket", socket_path.c_str(), nullptr};
    ::execvp(binary.c_str(), const_cast<char* const*>(argv));
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (SocketAnswers(socket_path)) {
      std::fprintf(stderr, "aetherflow: started aetherflowd (socket %s, log %s)\n",
                   socket_path.c_str(), log_path.c_str());
      return absl::OkStatus();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return absl::UnavailableError(absl::StrCat(
      "started ", binary, " but it did not answer on ", socket_path,
      " (see ", log_path, ")"));
}

}  // namespace

bool SocketAnswers(const std::string& path) {
  if (path.size() >= sizeof(sockaddr_un::sun_path)) return false;
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  bool answers = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return answers;
}

Connection::Connection(std::string socket_path,
                       std::shared_ptr<grpc::Channel> channel)
    : socket_path_(std::move(socket_path)),
      channel_(std::move(channel)),
      stub_(::aetherflow::v1::AetherFlow::NewStub(channel_)) {}

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(
    const std::string& socket_path, bool autostart) {
  if (!SocketAnswers(socket_path)) {
    if (!autostart) {
      return absl::UnavailableError(absl::StrCat(
          "cannot reach aetherflowd at ", socket_path,
          ": ", std::strerror(errno), " (is the daemon running?)"));
    }
    absl::Status started = StartDaemon(socket_path);
    if (!started.ok()) return started;
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  auto channel = grpc::CreateCustomChannel(
      "unix:" + socket_path, grpc::InsecureChannelCredentials(), args);
  return std::unique_ptr<Connection>(new Connection(socket_path, std::move(channel)));
}

int ExitCodeFor(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::OK:
      return kExitOk;
    case grpc::StatusCode::UNAVAILABLE:
      return kExitUnreachable;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::UNIMPLEMENTED:
    case grpc::StatusCode::OUT_OF_RANGE:
      return kExitUsage;
    default:
      return kExitFailed;
  }
}

std::string DescribeError(const grpc::Status& status,
                          const std::string& socket_path) {
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    return absl::StrCat("aetherflow: lost the daemon at ", socket_path, ": ",
                        status.error_message());
  }
  return absl::StrCat("aetherflow: ", status.error_message());
}

}  // namespace aetherflow
