#include "client/connection.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <future>
#include <map>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/paths.h"
#include "common/text.h"
#include "common/version.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/support/client_interceptor.h"

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

// Puts `authorization: Bearer <token>` on every call. An interceptor, not
// call credentials: gRPC refuses call credentials on a plaintext channel,
// and --insecure-plaintext (loopback) needs the token too.
class BearerInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit BearerInterceptor(std::string value) : value_(std::move(value)) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->emplace("authorization", value_);
    }
    methods->Proceed();
  }

 private:
  const std::string value_;
};

class BearerInterceptorFactory
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerInterceptorFactory(const std::string& token)
      : value_("Bearer " + token) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo*) override {
    return new BearerInterceptor(value_);
  }

 private:
  const std::string value_;
};

// Reads the daemon's version from the first answer that carries it
// (kVersionHeader) and, when its minor version is not this client's, says so
// on stderr: once per command, however many calls it makes.
std::atomic<bool> version_checked{false};

class VersionCheckInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit VersionCheckInterceptor(const std::string* where) : where_(where) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::POST_RECV_INITIAL_METADATA) &&
        !version_checked.load(std::memory_order_relaxed)) {
      Check(methods->GetRecvInitialMetadata());
    }
    methods->Proceed();
  }

 private:
  void Check(std::multimap<grpc::string_ref, grpc::string_ref>* metadata) {
    if (metadata == nullptr) return;
    auto found = metadata->find(kVersionHeader);
    if (found == metadata->end() || version_checked.exchange(true)) return;
    const std::string daemon(found->second.data(), found->second.size());
    const std::string skew = VersionSkew(Version(), FitWidth(daemon, 40), *where_);
    if (!skew.empty()) std::fprintf(stderr, "aetherflow: warning: %s\n", skew.c_str());
  }

  const std::string* where_;
};

class VersionCheckFactory : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit VersionCheckFactory(std::string where) : where_(std::move(where)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo*) override {
    return new VersionCheckInterceptor(&where_);
  }

 private:
  const std::string where_;
};

// Connects to every address of host:port in turn, each for at most
// `timeout`: OK as soon as one accepts. Tells "nothing listens there" apart
// from TLS and token problems, which gRPC reports in one long line.
absl::Status ProbeTcp(const RemoteOptions& remote, std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  int rc = ::getaddrinfo(remote.host.c_str(), remote.port.c_str(), &hints, &list);
  if (rc != 0) {
    return absl::UnavailableError(absl::StrCat("cannot reach aetherflowd at ",
                                               remote.address, ": ", gai_strerror(rc)));
  }
  int error = ECONNREFUSED;
  bool answered = false;
  for (addrinfo* a = list; a != nullptr && !answered; a = a->ai_next) {
    int fd = ::socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      error = errno;
      continue;
    }
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      answered = true;
    } else if (errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int ready;
      do {
        ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
      } while (ready < 0 && errno == EINTR);
      int so_error = 0;
      socklen_t len = sizeof so_error;
      if (ready == 0) {
        error = ETIMEDOUT;
      } else if (ready > 0 &&
                 ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) == 0) {
        if (so_error == 0) answered = true;
        else error = so_error;
      } else {
        error = errno;
      }
    } else {
      error = errno;
    }
    ::close(fd);
  }
  ::freeaddrinfo(list);
  if (answered) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat(
      "cannot reach aetherflowd at ", remote.address, ": ", std::strerror(error),
      " (is it started with --listen ", remote.address, "?)"));
}

// One call that every gRPC server with health checking answers; its status
// says whether TLS and HTTP/2 work. The request is an empty
// HealthCheckRequest (the whole server).
grpc::Status CallHealthCheck(const std::shared_ptr<grpc::Channel>& channel,
                             std::chrono::seconds timeout) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  grpc::Slice empty("");
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(),
                 &request, &response,
                 [&done](grpc::Status status) { done.set_value(std::move(status)); });
  return done.get_future().get();
}

// The last error of a gRPC transport message, without the address list:
// "failed to connect to all addresses; last error: UNKNOWN:
// ipv4:127.0.0.1:7000: Ssl handshake failed: …" -> "Ssl handshake failed: …".
std::string TransportReason(std::string message) {
  std::size_t last = message.find("last error: ");
  if (last != std::string::npos) message.erase(0, last + 12);
  std::size_t colon = message.find(": ");
  if (colon != std::string::npos && colon > 0 &&
      message.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ_") == colon) {
    message.erase(0, colon + 2);  // the status code
  }
  for (const char* scheme : {"ipv4:", "ipv6:", "unix:"}) {
    if (absl::StartsWith(message, scheme)) {
      colon = message.find(": ");
      if (colon != std::string::npos) message.erase(0, colon + 2);
    }
  }
  return message;
}

// A one-line reason for a transport failure after TCP connected.
std::string DescribeHandshakeFailure(const RemoteOptions& remote,
                                     const grpc::Status& status) {
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return absl::StrCat("aetherflowd at ", remote.address,
                        " accepted the connection but did not answer within 10 s");
  }
  std::string reason = TransportReason(status.error_message());
  std::string lower = absl::AsciiStrToLower(reason);
  if (remote.plaintext) {
    return absl::StrCat("cannot talk to aetherflowd at ", remote.address,
                        " without TLS: ", reason,
                        " (if it listens with TLS, drop --insecure-plaintext)");
  }
  if (absl::StrContains(lower, "certificate verify failed") ||
      absl::StrContains(lower, "certificate_verify_failed")) {
    reason = remote.tls_ca_path.empty()
                 ? "its certificate is not signed by a CA of this system; "
                   "give its CA (or the certificate itself) with --tls-ca"
                 : absl::StrCat("its certificate is not signed by --tls-ca ",
                                remote.tls_ca_path);
  } else if (absl::StrContains(lower, "wrong version number") ||
             absl::StrContains(lower, "wrong_version_number") ||
             absl::StrContains(lower, "packet length too long") ||
             absl::StrContains(lower, "http request") ||
             absl::StrContains(lower, "record layer failure")) {
    reason = "it does not speak TLS there (a plaintext listener on loopback? "
             "then --insecure-plaintext)";
  } else if (absl::StrContains(lower, "empty address list")) {
    // TCP answered, yet gRPC had no connection to try: it could not set up
    // TLS, for want of a CA certificate it could load to check the daemon's
    // with (GRPC_VERBOSITY=ERROR shows its own words).
    const char* roots_file = std::getenv("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH");
    if (!remote.tls_ca_path.empty()) {
      reason = absl::StrCat("no CA certificate could be loaded from --tls-ca ",
                            remote.tls_ca_path);
    } else if (roots_file != nullptr && *roots_file != '\0') {
      reason = absl::StrCat("no CA certificate could be loaded from "
                            "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH=", roots_file,
                            "; give its CA with --tls-ca");
    } else {
      reason = "no CA certificate of this system could be loaded; install "
               "ca-certificates, or give its CA with --tls-ca";
    }
  } else if (absl::StrContains(lower, "peer name")) {
    reason = remote.tls_server_name.empty()
                 ? absl::StrCat("its certificate is not for ", remote.host,
                                " (--tls-server-name NAME checks a name it is for)")
                 : absl::StrCat("its certificate is not for --tls-server-name ",
                                remote.tls_server_name);
  }
  return absl::StrCat("TLS with aetherflowd at ", remote.address, " failed: ", reason);
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

void SuppressVersionWarning() { version_checked = true; }

Connection::Connection(std::string where, std::shared_ptr<grpc::Channel> channel)
    : where_(std::move(where)),
      channel_(std::move(channel)),
      stub_(::aetherflow::v1::AetherFlow::NewStub(channel_)) {}

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(
    const std::string& requested_path, bool autostart,
    const std::string& fallback_path) {
  std::string socket_path = requested_path;
  bool answers = SocketAnswers(socket_path);
  if (!answers && !fallback_path.empty() && fallback_path != socket_path) {
    // On a server with the system service, a user's login session has a
    // runtime directory but no user daemon: the service is what they want,
    // not a private daemon of their own started behind their back.
    const int error = errno;  // why the user socket failed, for the message
    if (SocketAnswers(fallback_path)) {
      socket_path = fallback_path;
      answers = true;
    }
    errno = error;
  }
  if (!answers) {
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
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(std::make_unique<VersionCheckFactory>(socket_path));
  auto channel = grpc::experimental::CreateCustomChannelWithInterceptors(
      "unix:" + socket_path, grpc::InsecureChannelCredentials(), args,
      std::move(interceptors));
  return std::unique_ptr<Connection>(new Connection(socket_path, std::move(channel)));
}

absl::StatusOr<std::unique_ptr<Connection>> Connection::OpenRemote(
    const RemoteOptions& remote) {
  absl::Status reachable = ProbeTcp(remote, std::chrono::seconds(10));
  if (!reachable.ok()) return reachable;

  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (remote.plaintext) {
    credentials = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = remote.tls_ca_pem;  // empty: the system roots
    credentials = grpc::SslCredentials(ssl);
    if (!remote.tls_server_name.empty()) {
      args.SetSslTargetNameOverride(remote.tls_server_name);
    }
  }
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
      interceptors;
  if (!remote.token.empty()) {
    interceptors.push_back(std::make_unique<BearerInterceptorFactory>(remote.token));
  }
  interceptors.push_back(std::make_unique<VersionCheckFactory>(remote.address));
  // "dns:///" so that "localhost:PORT" and "[::1]:PORT" resolve as written.
  auto channel = grpc::experimental::CreateCustomChannelWithInterceptors(
      "dns:///" + remote.address, credentials, args, std::move(interceptors));

  // Any answer from the daemon — even "unauthenticated" or "unimplemented"
  // — means TLS and HTTP/2 work; a token problem is reported by the command's
  // own call, with its exit code.
  grpc::Status health = CallHealthCheck(channel, std::chrono::seconds(10));
  if (health.error_code() == grpc::StatusCode::UNAVAILABLE ||
      health.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return absl::UnavailableError(DescribeHandshakeFailure(remote, health));
  }
  return std::unique_ptr<Connection>(new Connection(remote.address, std::move(channel)));
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
    case grpc::StatusCode::UNAUTHENTICATED:
      return kExitUsage;
    default:
      return kExitFailed;
  }
}

std::string DescribeError(const grpc::Status& status, const std::string& where) {
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    return absl::StrCat("aetherflow: lost the daemon at ", where, ": ",
                        status.error_message());
  }
  if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
    return absl::StrCat("aetherflow: aetherflowd at ", where, " refused the call: ",
                        status.error_message(),
                        " (give the token with --token-file FILE or AETHERFLOW_TOKEN)");
  }
  return absl::StrCat("aetherflow: ", status.error_message());
}

}  // namespace aetherflow
