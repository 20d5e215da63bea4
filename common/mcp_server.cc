#include "common/mcp_server.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <atomic>
#include <exception>

#include "absl/strings/str_cat.h"

namespace aetherflow::mcp {
namespace {

using nlohmann::json;

// Deeper JSON is refused before it is parsed: copying, comparing or
// printing a json value recurses, so depth is stack.
constexpr int kMaxDepth = 128;

// The deepest nesting of [ and { outside strings; stops counting past
// kMaxDepth.
int NestingDepth(std::string_view text) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest > kMaxDepth) return deepest;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

std::string_view Trim(std::string_view text) {
  const char* space = " \t\r\n";
  std::size_t begin = text.find_first_not_of(space);
  if (begin == std::string_view::npos) return {};
  std::size_t end = text.find_last_not_of(space);
  return text.substr(begin, end - begin + 1);
}

std::string TypeOf(const json& value) {
  switch (value.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "integer";
    case json::value_t::number_float: return "number";
    case json::value_t::string: return "string";
    case json::value_t::array: return "array";
    case json::value_t::object: return "object";
    default: return "other";
  }
}

bool HasType(const json& value, const std::string& type) {
  const std::string actual = TypeOf(value);
  if (type == actual) return true;
  if (type == "number") return actual == "integer";
  // 3.0 is an integer to JSON Schema.
  if (type == "integer" && actual == "number") {
    const double d = value.get<double>();
    return std::isfinite(d) && std::floor(d) == d;
  }
  return false;
}

std::string Where(const std::string& where) { return where.empty() ? "arguments" : where; }

}  // namespace

const std::vector<std::string>& SupportedProtocolVersions() {
  static const std::vector<std::string> versions = {"2025-06-18", "2025-03-26", "2024-11-05",
                                                    "2024-10-07"};
  return versions;
}

// --- LineSplitter ---------------------------------------------------------

void LineSplitter::Feed(std::string_view data,
                        const std::function<void(std::string_view)>& on_line,
                        const std::function<void()>& on_oversized) {
  while (!data.empty()) {
    std::size_t newline = data.find('\n');
    std::string_view piece = data.substr(0, newline);
    if (!oversized_) {
      if (pending_.size() + piece.size() > max_line_) {
        oversized_ = true;
        pending_.clear();
        pending_.shrink_to_fit();
      } else {
        pending_.append(piece);
      }
    }
    if (newline == std::string_view::npos) return;
    data.remove_prefix(newline + 1);
    if (oversized_) {
      oversized_ = false;
      on_oversized();
      continue;
    }
    std::string line = std::move(pending_);
    pending_.clear();
    if (!line.empty() && line.back() == '\r') line.pop_back();
    on_line(line);
  }
}

void LineSplitter::Finish(const std::function<void(std::string_view)>& on_line,
                          const std::function<void()>& on_oversized) {
  if (oversized_) {
    oversized_ = false;
    on_oversized();
  } else if (!pending_.empty()) {
    std::string line = std::move(pending_);
    pending_.clear();
    if (line.back() == '\r') line.pop_back();
    on_line(line);
  }
}

// --- CallContext ----------------------------------------------------------

bool CallContext::cancelled() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cancelled_;
}

bool CallContext::WaitUntil(std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_until(lock, deadline, [&] { return cancelled_; });
  return cancelled_;
}

void CallContext::SetOnCancel(std::function<void()> on_cancel) {
  std::unique_lock<std::mutex> lock(mu_);
  if (cancelled_) {
    lock.unlock();
    on_cancel();
    return;
  }
  on_cancel_ = std::move(on_cancel);
}

void CallContext::ClearOnCancel() {
  std::lock_guard<std::mutex> lock(mu_);
  on_cancel_ = nullptr;
}

void CallContext::Cancel() {
  // Under the lock, so that ClearOnCancel cannot return while the callback
  // still runs.
  std::lock_guard<std::mutex> lock(mu_);
  if (cancelled_) return;
  cancelled_ = true;
  cv_.notify_all();
  if (on_cancel_) on_cancel_();
}

void CallContext::Progress(double progress, std::optional<double> total,
                           const std::string& message) {
  if (progress_token_.is_null() || cancelled()) return;
  json params = {{"progressToken", progress_token_}, {"progress", progress}};
  if (total) params["total"] = *total;
  if (!message.empty()) params["message"] = message;
  notify_({{"jsonrpc", "2.0"}, {"method", "notifications/progress"}, {"params", params}});
}

// --- CheckSchema ----------------------------------------------------------

std::optional<std::string> CheckSchema(const json& schema, const json& value,
                                       const std::string& where) {
  if (!schema.is_object()) return std::nullopt;
  if (schema.contains("type")) {
    const json& type = schema["type"];
    bool ok = false;
    std::string wanted;
    if (type.is_string()) {
      ok = HasType(value, type.get<std::string>());
      wanted = type.get<std::string>();
    } else if (type.is_array()) {
      for (const json& t : type) {
        if (!t.is_string()) continue;
        ok = ok || HasType(value, t.get<std::string>());
        absl::StrAppend(&wanted, wanted.empty() ? "" : " or ", t.get<std::string>());
      }
    }
    if (!ok) {
      return absl::StrCat(Where(where), ": expected ",
                          wanted == "integer" || wanted == "object" || wanted == "array"
                              ? "an "
                              : "a ",
                          wanted, ", not ", TypeOf(value) == "integer" ? "an " : "a ",
                          TypeOf(value));
    }
  }
  if (schema.contains("enum") && schema["enum"].is_array()) {
    const json& choices = schema["enum"];
    if (std::find(choices.begin(), choices.end(), value) == choices.end()) {
      std::string list;
      for (const json& choice : choices) absl::StrAppend(&list, list.empty() ? "" : ", ", choice.dump());
      return absl::StrCat(Where(where), ": expected one of ", list);
    }
  }
  if (value.is_number()) {
    const double number = value.get<double>();
    if (schema.contains("minimum") && schema["minimum"].is_number() &&
        number < schema["minimum"].get<double>()) {
      return absl::StrCat(Where(where), ": must be at least ", schema["minimum"].dump());
    }
    if (schema.contains("maximum") && schema["maximum"].is_number() &&
        number > schema["maximum"].get<double>()) {
      return absl::StrCat(Where(where), ": must be at most ", schema["maximum"].dump());
    }
  }
  if (value.is_string() && schema.contains("minLength") && schema["minLength"].is_number() &&
      value.get_ref<const std::string&>().size() < schema["minLength"].get<std::size_t>()) {
    return absl::StrCat(Where(where), ": must not be empty");
  }
  if (value.is_array()) {
    if (schema.contains("minItems") && schema["minItems"].is_number() &&
        value.size() < schema["minItems"].get<std::size_t>()) {
      return absl::StrCat(Where(where), ": needs at least ", schema["minItems"].dump(),
                          schema["minItems"] == 1 ? " item" : " items");
    }
    if (schema.contains("items")) {
      for (std::size_t i = 0; i < value.size(); ++i) {
        if (auto problem = CheckSchema(schema["items"], value[i],
                                       absl::StrCat(Where(where), "[", i, "]"))) {
          return problem;
        }
      }
    }
  }
  if (value.is_object()) {
    const json empty = json::object();
    const json& properties =
        schema.contains("properties") && schema["properties"].is_object() ? schema["properties"]
                                                                           : empty;
    if (schema.contains("required") && schema["required"].is_array()) {
      for (const json& name : schema["required"]) {
        if (name.is_string() && !value.contains(name.get<std::string>())) {
          return absl::StrCat(where.empty() ? "" : where + ".", name.get<std::string>(),
                              ": required");
        }
      }
    }
    const json* additional = schema.contains("additionalProperties")
                                 ? &schema["additionalProperties"]
                                 : nullptr;
    for (const auto& [key, item] : value.items()) {
      const std::string path = where.empty() ? key : absl::StrCat(where, ".", key);
      if (properties.contains(key)) {
        if (auto problem = CheckSchema(properties[key], item, path)) return problem;
      } else if (additional != nullptr && additional->is_boolean() && !additional->get<bool>()) {
        std::string known;
        for (const auto& [name, unused] : properties.items()) {
          absl::StrAppend(&known, known.empty() ? "" : ", ", name);
        }
        return absl::StrCat(path, ": unknown argument (known: ", known, ")");
      } else if (additional != nullptr && additional->is_object()) {
        if (auto problem = CheckSchema(*additional, item, path)) return problem;
      }
    }
  }
  return std::nullopt;
}

// --- Server ---------------------------------------------------------------

struct Server::Call {
  json id;
  // notifications/cancelled: the client has forgotten the call, so it gets
  // no answer. A shutdown also cancels, but answers what ends.
  std::atomic<bool> forgotten{false};
  std::shared_ptr<CallContext> context;
  std::thread thread;
};

Server::Server(ServerInfo info, std::vector<Tool> tools, Writer write, std::size_t max_pending)
    : info_(std::move(info)),
      tools_(std::move(tools)),
      write_(std::move(write)),
      max_pending_(max_pending) {}

Server::~Server() { Shutdown(); }

void Server::Send(const json& message) {
  // Invalid UTF-8 from a log becomes U+FFFD rather than an exception.
  std::string text = message.dump(-1, ' ', false, json::error_handler_t::replace);
  std::lock_guard<std::mutex> lock(write_mu_);
  write_(text);
}

void Server::SendError(const json& id, int code, const std::string& message) {
  Send({{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}});
}

std::string Server::protocol_version() {
  std::lock_guard<std::mutex> lock(mu_);
  return protocol_version_;
}

std::size_t Server::pending() {
  std::lock_guard<std::mutex> lock(mu_);
  return active_;
}

void Server::Reap() {
  std::vector<std::thread> done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    done.swap(finished_);
  }
  for (std::thread& thread : done) thread.join();
}

void Server::WaitIdle() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    idle_cv_.wait(lock, [&] { return active_ == 0; });
  }
  Reap();
}

void Server::Shutdown() {
  std::vector<std::shared_ptr<CallContext>> running;
  {
    std::lock_guard<std::mutex> lock(mu_);
    shut_down_ = true;
    for (auto& [key, call] : calls_) running.push_back(call->context);
  }
  for (auto& context : running) context->Cancel();
  WaitIdle();
}

void Server::HandleOversizedLine() {
  Reap();
  SendError(nullptr, kParseError,
            absl::StrCat("message longer than ", kMaxLineBytes / (1024 * 1024), " MiB"));
}

void Server::HandleLine(std::string_view raw) {
  Reap();
  std::string_view line = Trim(raw);
  if (line.empty()) return;
  if (NestingDepth(line) > kMaxDepth) {
    return SendError(nullptr, kParseError,
                     absl::StrCat("JSON nested deeper than ", kMaxDepth, " levels"));
  }
  json message = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (message.is_discarded()) return SendError(nullptr, kParseError, "parse error: not JSON");
  HandleMessage(message);
}

void Server::HandleMessage(const json& message) {
  if (message.is_array()) {
    return SendError(nullptr, kInvalidRequest, "batches are not supported; send one message a line");
  }
  if (!message.is_object()) {
    return SendError(nullptr, kInvalidRequest, "a message must be a JSON object");
  }
  const bool has_id = message.contains("id");
  json id = has_id ? message["id"] : json();
  const bool good_id = has_id && (id.is_string() || id.is_number_integer() ||
                                  id.is_number_unsigned());
  if (!message.contains("jsonrpc") || message["jsonrpc"] != "2.0") {
    return SendError(good_id ? id : json(), kInvalidRequest, "\"jsonrpc\" must be \"2.0\"");
  }
  if (!message.contains("method")) {
    // A response to a request of ours: this server sends none.
    if (has_id && (message.contains("result") || message.contains("error"))) return;
    return SendError(good_id ? id : json(), kInvalidRequest, "a request needs a \"method\"");
  }
  if (!message["method"].is_string()) {
    return SendError(good_id ? id : json(), kInvalidRequest, "\"method\" must be a string");
  }
  const std::string method = message["method"].get<std::string>();
  json params = message.contains("params") ? message["params"] : json::object();
  if (!params.is_object() && !params.is_array()) {
    if (!has_id) return;
    return SendError(good_id ? id : json(), kInvalidRequest, "\"params\" must be an object");
  }
  if (!has_id) return HandleNotification(method, params);
  if (!good_id) {
    return SendError(nullptr, kInvalidRequest, "\"id\" must be a string or an integer");
  }
  HandleRequest(id, method, params);
}

void Server::HandleNotification(const std::string& method, const json& params) {
  if (method == "notifications/cancelled") {
    if (!params.is_object() || !params.contains("requestId")) return;
    const std::string key = params["requestId"].dump();
    std::shared_ptr<CallContext> context;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = calls_.find(key);
      if (it != calls_.end()) {
        it->second->forgotten = true;
        context = it->second->context;
      }
    }
    if (context) context->Cancel();
  }
  // notifications/initialized and anything else: nothing to do.
}

void Server::HandleRequest(const json& id, const std::string& method, const json& params) {
  auto reply = [&](json result) {
    Send({{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}});
  };
  if (method == "initialize") {
    if (!params.is_object() || !params.contains("protocolVersion") ||
        !params["protocolVersion"].is_string()) {
      return SendError(id, kInvalidParams, "initialize needs params.protocolVersion");
    }
    const std::string asked = params["protocolVersion"].get<std::string>();
    const auto& versions = SupportedProtocolVersions();
    std::string agreed = std::find(versions.begin(), versions.end(), asked) != versions.end()
                             ? asked
                             : versions.front();
    {
      std::lock_guard<std::mutex> lock(mu_);
      protocol_version_ = agreed;
    }
    json result = {{"protocolVersion", agreed},
                   {"capabilities", {{"tools", {{"listChanged", false}}}}},
                   {"serverInfo", {{"name", info_.name}, {"version", info_.version}}}};
    if (!info_.instructions.empty()) result["instructions"] = info_.instructions;
    return reply(std::move(result));
  }
  if (method == "ping") return reply(json::object());
  if (method == "tools/list") {
    json tools = json::array();
    for (const Tool& tool : tools_) {
      json entry = {{"name", tool.name},
                    {"description", tool.description},
                    {"inputSchema", tool.input_schema}};
      if (!tool.title.empty()) entry["title"] = tool.title;
      if (!tool.output_schema.is_null()) entry["outputSchema"] = tool.output_schema;
      if (!tool.annotations.is_null()) entry["annotations"] = tool.annotations;
      tools.push_back(std::move(entry));
    }
    return reply({{"tools", std::move(tools)}});
  }
  if (method == "tools/call") return StartCall(id, params);
  SendError(id, kMethodNotFound, absl::StrCat("method not found: ", method.substr(0, 100)));
}

void Server::StartCall(const json& id, const json& params) {
  if (!params.is_object() || !params.contains("name") || !params["name"].is_string()) {
    return SendError(id, kInvalidParams, "tools/call needs params.name");
  }
  const std::string name = params["name"].get<std::string>();
  auto tool = std::find_if(tools_.begin(), tools_.end(),
                           [&](const Tool& t) { return t.name == name; });
  if (tool == tools_.end()) {
    return SendError(id, kInvalidParams, absl::StrCat("unknown tool: ", name.substr(0, 100)));
  }
  json arguments = params.contains("arguments") ? params["arguments"] : json::object();
  if (arguments.is_null()) arguments = json::object();
  if (!arguments.is_object()) {
    return SendError(id, kInvalidParams, "tools/call: params.arguments must be an object");
  }
  json progress_token;
  if (params.contains("_meta") && params["_meta"].is_object() &&
      params["_meta"].contains("progressToken")) {
    const json& token = params["_meta"]["progressToken"];
    if (token.is_string() || token.is_number_integer() || token.is_number_unsigned()) {
      progress_token = token;
    }
  }
  const std::string key = id.dump();
  auto call = std::make_shared<Call>();
  call->id = id;
  call->context = std::make_shared<CallContext>(
      progress_token, [this](const json& message) { Send(message); });
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shut_down_) return SendError(id, kInternalError, "the server is shutting down");
    if (calls_.count(key)) {
      return SendError(id, kInvalidRequest, "a call with this id is still running");
    }
    if (active_ >= max_pending_) {
      return SendError(id, kInternalError,
                       absl::StrCat("too many tool calls at once (", max_pending_,
                                    "); wait for one to end"));
    }
    calls_[key] = call;
    ++active_;
    const Tool* chosen = &*tool;
    // The lock is held until the thread is stored in `call`, and the worker
    // takes it before it touches `call->thread`.
    call->thread = std::thread([this, call, chosen, key, arguments = std::move(arguments)] {
      ToolResult result;
      if (std::optional<std::string> problem = CheckSchema(chosen->input_schema, arguments)) {
        result = ToolResult::Error(absl::StrCat("aetherflow: ", chosen->name, ": ", *problem));
      } else {
        try {
          result = chosen->handler(arguments, *call->context);
        } catch (const std::exception& e) {
          result = ToolResult::Error(absl::StrCat("aetherflow: ", chosen->name,
                                                  ": internal error: ", e.what()));
        }
      }
      // Its id is free again before the client reads the answer.
      {
        std::lock_guard<std::mutex> lock(mu_);
        calls_.erase(key);
      }
      // A call the client cancelled gets no answer (MCP: it has forgotten it).
      if (!call->forgotten) {
        json content = json::array({{{"type", "text"}, {"text", result.text}}});
        json body = {{"content", std::move(content)}, {"isError", result.is_error}};
        if (result.structured.is_object()) body["structuredContent"] = result.structured;
        Send({{"jsonrpc", "2.0"}, {"id", call->id}, {"result", std::move(body)}});
      }
      std::lock_guard<std::mutex> lock(mu_);
      finished_.push_back(std::move(call->thread));
      --active_;
      idle_cv_.notify_all();
    });
  }
}

// --- stdio ----------------------------------------------------------------

void ServeFd(Server& server, int in_fd) {
  LineSplitter splitter;
  auto on_line = [&](std::string_view line) { server.HandleLine(line); };
  auto on_oversized = [&] { server.HandleOversizedLine(); };
  std::string buffer(64 * 1024, '\0');
  while (true) {
    ssize_t n = ::read(in_fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    splitter.Feed(std::string_view(buffer.data(), static_cast<std::size_t>(n)), on_line,
                  on_oversized);
  }
  splitter.Finish(on_line, on_oversized);
  server.Shutdown();
}

Server::Writer FdWriter(int out_fd) {
  return [out_fd](const std::string& message) {
    std::string line = message + "\n";
    std::string_view rest = line;
    while (!rest.empty()) {
      ssize_t n = ::write(out_fd, rest.data(), rest.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // the client has gone; stdin's end follows
      rest.remove_prefix(static_cast<std::size_t>(n));
    }
  };
}

}  // namespace aetherflow::mcp
