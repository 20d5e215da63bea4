#include "daemon/listener.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "daemon/log.h"
#include "grpcpp/server.h"
#include "grpcpp/server_posix.h"

namespace aetherflow {

absl::StatusOr<std::unique_ptr<Listener>> Listener::Bind(const std::string& path,
                                                         mode_t mode, gid_t gid) {
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("socket path too long (", path.size(), " bytes): ", path));
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::ErrnoToStatus(errno, "socket");
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  ::unlink(path.c_str());
  // Bind under a umask that leaves no window in which others could connect.
  mode_t old_umask = ::umask(0177);
  int bound = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  int bind_errno = errno;
  ::umask(old_umask);
  if (bound != 0) {
    ::close(fd);
    return absl::ErrnoToStatus(bind_errno, absl::StrCat("cannot listen on ", path));
  }
  if ((gid != static_cast<gid_t>(-1) && ::chown(path.c_str(), -1, gid) != 0) ||
      ::chmod(path.c_str(), mode) != 0 || ::listen(fd, SOMAXCONN) != 0) {
    int error = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return absl::ErrnoToStatus(error, absl::StrCat("cannot listen on ", path));
  }
  return std::unique_ptr<Listener>(new Listener(fd, path, /*owned=*/true));
}

absl::StatusOr<std::unique_ptr<Listener>> Listener::Adopt(int fd) {
  int type = 0;
  socklen_t length = sizeof type;
  sockaddr_un addr{};
  socklen_t addr_length = sizeof addr;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) != 0 ||
      type != SOCK_STREAM ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &addr_length) != 0 ||
      addr.sun_family != AF_UNIX) {
    return absl::InvalidArgumentError(
        "the socket passed by systemd is not a Unix stream socket");
  }
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  std::string path = addr_length > offsetof(sockaddr_un, sun_path)
                         ? std::string(addr.sun_path)
                         : std::string("(unnamed)");
  return std::unique_ptr<Listener>(new Listener(fd, path, /*owned=*/false));
}

Listener::Listener(int fd, std::string path, bool owned)
    : fd_(fd), stop_fd_(::eventfd(0, EFD_CLOEXEC)), path_(std::move(path)),
      owned_(owned) {
  // Non-blocking: a connection that is gone by the time accept() runs must
  // not block the loop, and with it Stop().
  int flags = ::fcntl(fd_, F_GETFL);
  if (flags >= 0) ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
}

Listener::~Listener() {
  Stop();
  ::close(fd_);
  if (stop_fd_ >= 0) ::close(stop_fd_);
}

void Listener::Serve(grpc::Server* server) {
  thread_ = std::thread([this, server] { AcceptLoop(server); });
}

void Listener::Stop() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    (void)!::write(stop_fd_, &one, sizeof one);
    thread_.join();
  }
  if (owned_) {
    ::unlink(path_.c_str());
    owned_ = false;
  }
}

void Listener::AcceptLoop(grpc::Server* server) {
  while (true) {
    pollfd fds[2] = {{fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      LogError(absl::StrCat("poll on ", path_, ": ", std::strerror(errno)));
      return;
    }
    if (fds[1].revents != 0) return;
    // gRPC's endpoint wants a non-blocking descriptor.
    int conn = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (conn < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED) continue;
      if (errno == EBADF || errno == EINVAL || errno == ENOTSOCK) {
        LogError(absl::StrCat("accept on ", path_, ": ", std::strerror(errno)));
        return;
      }
      // Out of descriptors or memory: let some calls finish rather than
      // spin, and keep serving.
      LogError(absl::StrCat("accept on ", path_, ": ", std::strerror(errno)));
      ::poll(nullptr, 0, 100);
      continue;
    }
    // gRPC owns `conn` from here and closes it with the connection.
    grpc::AddInsecureChannelFromFd(server, conn);
  }
}

}  // namespace aetherflow
