// `aetherflow web` and `aetherflow report` (SPEC §13): the live page of
// the user's runs, served from this process over HTTP (cpp-httplib), and
// the same view of one run as a self-contained HTML file.
#ifndef AETHERFLOW_CLIENT_WEB_SERVER_H_
#define AETHERFLOW_CLIENT_WEB_SERVER_H_

#include <string>

#include "client/commands.h"

namespace aetherflow {

struct WebOptions {
  std::string listen = "127.0.0.1:8080";  // HOST:PORT; port 0: any free one
  bool open = false;                      // start a browser on the page
  std::string token_file;  // the page's token: required off loopback
};

// Serves until SIGINT or SIGTERM. Prints "aetherflow: serving URL" on
// stdout once it listens. Exit 2 for bad options (an address off
// loopback without --token-file, an unreadable token file), 3 when the
// daemon cannot be reached, 1 when the address cannot be bound.
int CmdWeb(const GlobalOptions& global, const WebOptions& options);

// Writes the run's page with its styles, script and data inline (no
// network at all) to `output` ("" or "-": stdout).
int CmdReport(const GlobalOptions& global, const std::string& run,
              const std::string& output);

}  // namespace aetherflow

#endif  // AETHERFLOW_CLIENT_WEB_SERVER_H_
