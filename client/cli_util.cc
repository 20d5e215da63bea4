#include "client/cli_util.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "client/client_api.h"

extern char** environ;

namespace aetherflow {

std::map<std::string, std::string> ShellEnvironment() {
  std::map<std::string, std::string> env;
  for (char** entry = environ; *entry; ++entry) {
    std::string_view text(*entry);
    std::size_t eq = text.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(text.substr(0, eq), text.substr(eq + 1));
  }
  return env;
}

int64_t WallNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

RenderOptions RenderOptionsFor(const GlobalOptions& global) {
  RenderOptions options;
  options.width = global.width;
  options.utf8 = global.utf8;
  options.color = global.color;
  options.now_ms = WallNowMs();
  return options;
}

std::unique_ptr<Connection> ConnectOrExplain(const GlobalOptions& global) {
  absl::StatusOr<std::unique_ptr<Connection>> connection = ConnectAsCli(global);
  if (!connection.ok()) {
    std::fprintf(stderr, "%s\n", std::string(connection.status().message()).c_str());
    return nullptr;
  }
  return std::move(*connection);
}

}  // namespace aetherflow
