#include "client/remote.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "gtest/gtest.h"

namespace aetherflow {
namespace {

class RemoteOptionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/af-remote-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text, mode_t mode) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    ::chmod(path.c_str(), mode);
    return path;
  }

  absl::StatusOr<RemoteOptions> Resolve(const RemoteFlags& flags) {
    return ResolveRemote(flags, [this](const char* name) -> const char* {
      auto it = env_.find(name);
      return it == env_.end() ? nullptr : it->second.c_str();
    });
  }

  std::string dir_;
  std::map<std::string, std::string> env_;
};

constexpr char kPem[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

TEST_F(RemoteOptionsTest, SplitsHostAndPort) {
  std::string host, port;
  ASSERT_TRUE(SplitHostPort("127.0.0.1:7000", &host, &port).ok());
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, "7000");
  ASSERT_TRUE(SplitHostPort("[::1]:443", &host, &port).ok());
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, "443");
  ASSERT_TRUE(SplitHostPort("build.example.org:9000", &host, &port).ok());
  EXPECT_EQ(host, "build.example.org");
  for (const char* bad : {"", "host", ":80", "host:", "host:0", "host:65536",
                          "host:+80", "host:8x", "::1:80", "[::1]80", "[::1"}) {
    EXPECT_FALSE(SplitHostPort(bad, &host, &port).ok()) << bad;
  }
}

TEST_F(RemoteOptionsTest, LoopbackIsLocalhostOr127Or6Loopback) {
  for (const char* host : {"localhost", "LocalHost", "127.0.0.1", "127.1.2.3", "::1"}) {
    EXPECT_TRUE(IsLoopbackHost(host)) << host;
  }
  for (const char* host : {"0.0.0.0", "::", "10.0.0.1", "192.168.1.1", "example.org",
                           "localhost.example.org", "::ffff:10.0.0.1"}) {
    EXPECT_FALSE(IsLoopbackHost(host)) << host;
  }
}

TEST_F(RemoteOptionsTest, TokenFileIsTrimmedAndMustBeOwnerOnly) {
  absl::StatusOr<std::string> token = ReadTokenFile(Write("tok", "  s3cret\n\n", 0600));
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(*token, "s3cret");
  EXPECT_TRUE(ReadTokenFile(Write("ro", "s3cret", 0400)).ok());

  for (mode_t mode : {0640, 0604, 0644, 0660}) {
    absl::StatusOr<std::string> open = ReadTokenFile(Write("open", "s3cret", mode));
    ASSERT_FALSE(open.ok()) << std::oct << mode;
    EXPECT_EQ(open.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(open.status().message().find("chmod 600"), std::string::npos)
        << open.status();
  }
  EXPECT_FALSE(ReadTokenFile(Write("empty", " \n", 0600)).ok());
  EXPECT_FALSE(ReadTokenFile(Write("two", "a\nb\n", 0600)).ok()) << "one line only";
  EXPECT_FALSE(ReadTokenFile(dir_ + "/missing").ok());
  EXPECT_FALSE(ReadTokenFile(dir_).ok()) << "a directory is not a token file";
}

TEST_F(RemoteOptionsTest, NoConnectMeansTheSocketAndRemoteFlagsAreRefused) {
  absl::StatusOr<RemoteOptions> remote = Resolve({});
  ASSERT_TRUE(remote.ok());
  EXPECT_FALSE(remote->enabled());

  RemoteFlags flags;
  flags.tls_ca = Write("ca.pem", kPem, 0644);
  EXPECT_FALSE(Resolve(flags).ok()) << "--tls-ca without --connect";
  flags = {};
  flags.insecure_plaintext = true;
  EXPECT_FALSE(Resolve(flags).ok());
  flags = {};
  flags.connect = "127.0.0.1:7000";
  flags.socket_given = true;
  EXPECT_FALSE(Resolve(flags).ok()) << "--socket and --connect";
}

TEST_F(RemoteOptionsTest, FlagsWinOverTheEnvironment) {
  env_["AETHERFLOW_CONNECT"] = "10.0.0.1:7000";
  env_["AETHERFLOW_TLS_CA"] = Write("env-ca.pem", kPem, 0644);
  env_["AETHERFLOW_TOKEN"] = "from-env";
  absl::StatusOr<RemoteOptions> remote = Resolve({});
  ASSERT_TRUE(remote.ok()) << remote.status();
  EXPECT_EQ(remote->address, "10.0.0.1:7000");
  EXPECT_EQ(remote->host, "10.0.0.1");
  EXPECT_EQ(remote->tls_ca_pem, kPem);
  EXPECT_EQ(remote->token, "from-env");
  EXPECT_FALSE(remote->plaintext);

  RemoteFlags flags;
  flags.connect = "localhost:7001";
  flags.token_file = Write("tok", "from-file\n", 0600);
  remote = Resolve(flags);
  ASSERT_TRUE(remote.ok()) << remote.status();
  EXPECT_EQ(remote->address, "localhost:7001");
  EXPECT_EQ(remote->token, "from-file");

  env_["AETHERFLOW_TOKEN_FILE"] = Write("tok2", "from-env-file", 0600);
  remote = Resolve({});
  ASSERT_TRUE(remote.ok()) << remote.status();
  EXPECT_EQ(remote->token, "from-env-file") << "a token file wins over AETHERFLOW_TOKEN";

  // --socket means the Unix socket, whatever AETHERFLOW_CONNECT says.
  flags = {};
  flags.socket_given = true;
  remote = Resolve(flags);
  ASSERT_TRUE(remote.ok()) << remote.status();
  EXPECT_FALSE(remote->enabled());
}

TEST_F(RemoteOptionsTest, EmptyVariablesCountAsUnset) {
  env_["AETHERFLOW_CONNECT"] = "";
  env_["AETHERFLOW_TOKEN"] = "";
  absl::StatusOr<RemoteOptions> remote = Resolve({});
  ASSERT_TRUE(remote.ok()) << remote.status();
  EXPECT_FALSE(remote->enabled());
  RemoteFlags flags;
  flags.connect = "127.0.0.1:7000";
  remote = Resolve(flags);
  ASSERT_TRUE(remote.ok()) << remote.status();
  EXPECT_TRUE(remote->token.empty());
}

TEST_F(RemoteOptionsTest, PlaintextOnlyToLoopbackAndWithoutTlsOptions) {
  RemoteFlags flags;
  flags.insecure_plaintext = true;
  for (const char* address : {"127.0.0.1:7000", "[::1]:7000", "localhost:7000"}) {
    flags.connect = address;
    absl::StatusOr<RemoteOptions> remote = Resolve(flags);
    ASSERT_TRUE(remote.ok()) << address << ": " << remote.status();
    EXPECT_TRUE(remote->plaintext);
  }
  for (const char* address : {"0.0.0.0:7000", "[::]:7000", "10.0.0.1:7000",
                              "example.org:7000"}) {
    flags.connect = address;
    absl::StatusOr<RemoteOptions> remote = Resolve(flags);
    ASSERT_FALSE(remote.ok()) << address;
    EXPECT_NE(remote.status().message().find("loopback"), std::string::npos);
  }
  flags.connect = "127.0.0.1:7000";
  flags.tls_ca = Write("ca.pem", kPem, 0644);
  EXPECT_FALSE(Resolve(flags).ok()) << "--insecure-plaintext with --tls-ca";
}

TEST_F(RemoteOptionsTest, BadCaFileIsRefused) {
  RemoteFlags flags;
  flags.connect = "127.0.0.1:7000";
  flags.tls_ca = dir_ + "/missing.pem";
  EXPECT_FALSE(Resolve(flags).ok());
  flags.tls_ca = Write("not-pem", "hello", 0644);
  EXPECT_FALSE(Resolve(flags).ok());
}

}  // namespace
}  // namespace aetherflow
