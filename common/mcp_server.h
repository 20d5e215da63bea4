// The Model Context Protocol over stdio (SPEC §15): JSON-RPC 2.0 messages,
// one per line, and the MCP methods a tool server answers (initialize,
// ping, tools/list, tools/call, notifications/cancelled, progress). Pure:
// no gRPC; the tools are functions given by the caller (client/mcp.cc).
//
// Threads: one reader feeds lines (HandleLine); every tools/call runs on a
// worker thread of its own, so that a call that waits (check_in) never
// blocks ping or the cancellation that ends it.
#ifndef AETHERFLOW_COMMON_MCP_SERVER_H_
#define AETHERFLOW_COMMON_MCP_SERVER_H_

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "nlohmann/json.hpp"

namespace aetherflow::mcp {

// JSON-RPC 2.0 error codes.
inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;

// The longest message line read; a longer one is answered with a parse
// error and dropped without being held in memory.
inline constexpr std::size_t kMaxLineBytes = 4 * 1024 * 1024;
// Tool calls running at once; more are refused (an agent runs a handful).
inline constexpr std::size_t kMaxPendingCalls = 32;

// The protocol revisions this server speaks, newest first. A client that
// asks for another gets the newest (MCP's negotiation: it may then leave).
const std::vector<std::string>& SupportedProtocolVersions();

// Splits a byte stream into lines ("\n", an optional "\r" before it
// dropped), holding at most `max_line` bytes of a line.
class LineSplitter {
 public:
  explicit LineSplitter(std::size_t max_line = kMaxLineBytes) : max_line_(max_line) {}
  // Calls `on_line` for each complete line, `on_oversized` once for each
  // line longer than the limit (its bytes are dropped).
  void Feed(std::string_view data, const std::function<void(std::string_view)>& on_line,
            const std::function<void()>& on_oversized);
  // End of input: a last line without "\n".
  void Finish(const std::function<void(std::string_view)>& on_line,
              const std::function<void()>& on_oversized);

 private:
  std::size_t max_line_;
  std::string pending_;
  bool oversized_ = false;
};

// What a tool returns: `structured` becomes structuredContent (an object,
// or null for none), `text` the text content for clients that read only
// text; `is_error` makes it a tool error (isError), which the agent reads.
struct ToolResult {
  nlohmann::json structured;
  std::string text;
  bool is_error = false;

  static ToolResult Error(std::string message) {
    ToolResult result;
    result.text = std::move(message);
    result.is_error = true;
    return result;
  }
};

// The state of one tools/call, for its handler: cancellation, progress.
class CallContext {
 public:
  using Notify = std::function<void(const nlohmann::json& message)>;
  CallContext(nlohmann::json progress_token, Notify notify)
      : progress_token_(std::move(progress_token)), notify_(std::move(notify)) {}

  bool cancelled() const;
  // Blocks until `deadline` or the call is cancelled; true when cancelled.
  bool WaitUntil(std::chrono::steady_clock::time_point deadline) const;
  // `on_cancel` runs (on the reader thread) when the call is cancelled, or
  // at once if it already is. Cleared with ClearOnCancel before what it
  // touches goes away.
  void SetOnCancel(std::function<void()> on_cancel);
  void ClearOnCancel();
  // notifications/progress, when the request carried _meta.progressToken
  // (else nothing). `progress` must grow from one call to the next.
  void Progress(double progress, std::optional<double> total, const std::string& message);
  bool wants_progress() const { return !progress_token_.is_null(); }

  // The server's side.
  void Cancel();

 private:
  const nlohmann::json progress_token_;
  const Notify notify_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool cancelled_ = false;
  std::function<void()> on_cancel_;
};

struct Tool {
  std::string name;
  std::string title;
  std::string description;
  nlohmann::json input_schema;   // a JSON Schema of type object
  nlohmann::json output_schema;  // null: none declared
  nlohmann::json annotations;    // null: none
  std::function<ToolResult(const nlohmann::json& arguments, CallContext& call)> handler;
};

struct ServerInfo {
  std::string name;
  std::string version;
  std::string instructions;  // sent with initialize; empty: none
};

// Checks `value` against the subset of JSON Schema the tools' schemas use
// (type, properties, required, additionalProperties false, items, enum,
// minimum, maximum, minLength, minItems, oneOf of required sets). Returns
// the first problem ("wait_s: expected an integer"), or nullopt.
std::optional<std::string> CheckSchema(const nlohmann::json& schema,
                                       const nlohmann::json& value,
                                       const std::string& where = "");

class Server {
 public:
  // `write` sends one message (no newline); called from several threads,
  // one at a time.
  using Writer = std::function<void(const std::string& message)>;
  Server(ServerInfo info, std::vector<Tool> tools, Writer write,
         std::size_t max_pending = kMaxPendingCalls);
  // Shuts down (cancels what runs, waits for it).
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // One line of input, from the reader thread.
  void HandleLine(std::string_view line);
  // A line over kMaxLineBytes: answered with a parse error (id null).
  void HandleOversizedLine();
  // End of input: cancels every pending call and waits for them (what they
  // answer is still sent).
  void Shutdown();
  // Calls whose handler has not returned yet.
  std::size_t pending();
  // Blocks until no call is pending (tests).
  void WaitIdle();

  // The protocol revision agreed by initialize ("" before it).
  std::string protocol_version();

 private:
  struct Call;
  void Send(const nlohmann::json& message);
  void SendError(const nlohmann::json& id, int code, const std::string& message);
  void HandleMessage(const nlohmann::json& message);
  void HandleRequest(const nlohmann::json& id, const std::string& method,
                     const nlohmann::json& params);
  void HandleNotification(const std::string& method, const nlohmann::json& params);
  void StartCall(const nlohmann::json& id, const nlohmann::json& params);
  void Reap();  // joins the threads of calls that ended

  const ServerInfo info_;
  const std::vector<Tool> tools_;
  const Writer write_;
  const std::size_t max_pending_;
  std::mutex write_mu_;
  std::mutex mu_;
  std::condition_variable idle_cv_;
  std::string protocol_version_;
  bool shut_down_ = false;
  // Running calls by their request id (its JSON text).
  std::map<std::string, std::shared_ptr<Call>> calls_;
  std::size_t active_ = 0;  // calls whose thread has not ended its work
  std::vector<std::thread> finished_;  // to join
};

// Reads `in_fd` until end of input, feeding `server`, then shuts it down.
void ServeFd(Server& server, int in_fd);

// A writer of one message per line to `out_fd` (stdout).
Server::Writer FdWriter(int out_fd);

}  // namespace aetherflow::mcp

#endif  // AETHERFLOW_COMMON_MCP_SERVER_H_
