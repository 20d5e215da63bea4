// `aetherflow mcp` (SPEC §15): the check-in loop as Model Context Protocol
// tools over stdio, for coding agents.
#ifndef AETHERFLOW_CLIENT_MCP_H_
#define AETHERFLOW_CLIENT_MCP_H_

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "client/commands.h"
#include "common/mcp_server.h"

namespace aetherflow {

// The longest a check_in waits (what an agent's tool call can wait).
inline constexpr int kMcpMaxWaitS = 300;
inline constexpr int kMcpDefaultWaitS = 240;

class ClientApi;

// What one `aetherflow mcp` process remembers: the directory it was started
// in (the agent's working directory) and, per run, where its last check_in
// ended (the cursor is per MCP session and run, SPEC §15).
struct McpSession {
  std::string workdir;
  std::mutex mu;
  std::map<std::string, std::string> cursors;
};

// The tools of SPEC §15 on `api`; `session` keeps the check-in cursors.
// Both must outlive the tools.
std::vector<mcp::Tool> McpTools(ClientApi* api, McpSession* session);

// Serves MCP on stdin/stdout until stdin closes; exit code 0.
int CmdMcp(const GlobalOptions& global);

}  // namespace aetherflow

#endif  // AETHERFLOW_CLIENT_MCP_H_
