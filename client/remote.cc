#include "client/remote.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace aetherflow {
namespace {

// Token files and CA bundles are small; anything larger is a wrong path.
constexpr off_t kMaxFileBytes = 1 << 20;

absl::StatusOr<std::string> ReadSmallFile(int fd, const std::string& path,
                                          const char* what) {
  std::string text;
  char buffer[4096];
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot read ", what, " ", path, ": ", std::strerror(errno)));
    }
    if (n == 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
    if (static_cast<off_t>(text.size()) > kMaxFileBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " ", path, " is larger than 1 MiB"));
    }
  }
  return text;
}

absl::StatusOr<std::string> ReadCaFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read --tls-ca ", path, ": ", std::strerror(errno)));
  }
  absl::StatusOr<std::string> pem = ReadSmallFile(fd, path, "--tls-ca");
  ::close(fd);
  if (!pem.ok()) return pem;
  if (pem->find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls-ca ", path, " holds no PEM certificate"));
  }
  return pem;
}

absl::Status CheckToken(const std::string& token, const std::string& source) {
  if (token.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, " is empty"));
  }
  for (char c : token) {
    unsigned char u = static_cast<unsigned char>(c);
    // gRPC metadata values must be printable ASCII.
    if (u < 0x20 || u >= 0x7f) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, " holds a control or non-ASCII character; a token "
                               "is one line of printable ASCII"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status SplitHostPort(const std::string& address, std::string* host,
                           std::string* port) {
  auto bad = [&](const char* why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--connect ", address, ": ", why, " (expected HOST:PORT or [IPV6]:PORT)"));
  };
  std::size_t colon;
  if (!address.empty() && address[0] == '[') {
    std::size_t close = address.find(']');
    if (close == std::string::npos) return bad("no closing ]");
    *host = address.substr(1, close - 1);
    if (close + 1 >= address.size() || address[close + 1] != ':') return bad("no port");
    colon = close + 1;
  } else {
    colon = address.rfind(':');
    if (colon == std::string::npos) return bad("no port");
    *host = address.substr(0, colon);
    if (host->find(':') != std::string::npos) return bad("an IPv6 address needs brackets");
  }
  *port = address.substr(colon + 1);
  if (host->empty()) return bad("no host");
  int number = 0;
  if (!absl::SimpleAtoi(*port, &number) || number < 1 || number > 65535 ||
      port->find_first_not_of("0123456789") != std::string::npos) {
    return bad("the port is not a number from 1 to 65535");
  }
  return absl::OkStatus();
}

bool IsLoopbackHost(const std::string& host) {
  if (absl::AsciiStrToLower(host) == "localhost") return true;
  in_addr v4{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  if (::inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    return IN6_IS_ADDR_LOOPBACK(&v6);
  }
  return false;
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read token file ", path, ": ", std::strerror(errno)));
  }
  // Checked on the open file, so the file read is the file checked.
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat("token file ", path, " is not a regular file"));
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    return absl::InvalidArgumentError(absl::StrFormat(
        "token file %s may be read by group or others (mode %04o); chmod 600 %s",
        path, st.st_mode & 07777, path));
  }
  absl::StatusOr<std::string> text = ReadSmallFile(fd, path, "token file");
  ::close(fd);
  if (!text.ok()) return text.status();
  std::string token(absl::StripAsciiWhitespace(*text));
  absl::Status valid = CheckToken(token, absl::StrCat("token file ", path));
  if (!valid.ok()) return valid;
  return token;
}

absl::StatusOr<RemoteOptions> ResolveRemote(
    const RemoteFlags& flags,
    const std::function<const char*(const char*)>& getenv) {
  auto env = [&](const char* name) -> std::string {
    const char* value = getenv(name);
    return value ? value : "";
  };
  RemoteOptions remote;
  if (flags.socket_given && !flags.connect.empty()) {
    return absl::InvalidArgumentError("give --socket or --connect, not both");
  }
  remote.address = flags.connect;
  // An explicit --socket means the Unix socket, whatever the environment says.
  if (remote.address.empty() && !flags.socket_given) {
    remote.address = env("AETHERFLOW_CONNECT");
  }
  if (!remote.enabled()) {
    if (!flags.tls_ca.empty() || !flags.tls_server_name.empty() ||
        !flags.token_file.empty() || flags.insecure_plaintext) {
      return absl::InvalidArgumentError(
          "--tls-ca, --tls-server-name, --token-file and --insecure-plaintext "
          "go with --connect HOST:PORT");
    }
    return remote;
  }
  absl::Status split = SplitHostPort(remote.address, &remote.host, &remote.port);
  if (!split.ok()) return split;

  remote.plaintext = flags.insecure_plaintext;
  std::string ca = flags.tls_ca;
  if (remote.plaintext) {
    if (!ca.empty() || !flags.tls_server_name.empty()) {
      return absl::InvalidArgumentError(
          "--insecure-plaintext turns TLS off: drop --tls-ca and --tls-server-name");
    }
    // The token would cross the network in clear text.
    if (!IsLoopbackHost(remote.host)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--insecure-plaintext only to a loopback address (127.0.0.1, ::1, "
          "localhost), not ", remote.host, "; use TLS (--tls-ca)"));
    }
  } else {
    if (ca.empty()) ca = env("AETHERFLOW_TLS_CA");
    if (!ca.empty()) {
      absl::StatusOr<std::string> pem = ReadCaFile(ca);
      if (!pem.ok()) return pem.status();
      remote.tls_ca_pem = std::move(*pem);
      remote.tls_ca_path = ca;
    }
    remote.tls_server_name = flags.tls_server_name;
  }

  std::string token_file = flags.token_file;
  if (token_file.empty()) token_file = env("AETHERFLOW_TOKEN_FILE");
  if (!token_file.empty()) {
    absl::StatusOr<std::string> token = ReadTokenFile(token_file);
    if (!token.ok()) return token.status();
    remote.token = std::move(*token);
  } else if (!env("AETHERFLOW_TOKEN").empty()) {  // set but empty: unset
    remote.token = std::string(absl::StripAsciiWhitespace(env("AETHERFLOW_TOKEN")));
    absl::Status valid = CheckToken(remote.token, "AETHERFLOW_TOKEN");
    if (!valid.ok()) return valid;
  }
  return remote;
}

}  // namespace aetherflow
