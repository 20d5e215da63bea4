// libFuzzer target for `aetherflow mcp`'s input (common/mcp_server.h): the
// bytes an agent's client sends on stdin. Any bytes must leave the server
// answering, never crashing, hanging, throwing or holding unbounded memory;
// and what it writes must keep JSON-RPC's contract:
//  - every message is one JSON object with "jsonrpc": "2.0";
//  - a response has exactly one of result and error, an error a code of
//    JSON-RPC's and a message; a notification is progress only;
//  - a response's id is one a request can have (a string, an integer or
//    null);
//  - after a shutdown no call is left running.
// The tools stand in for the real ones: one echoes (a schema with every
// kind of check), one waits until cancelled, as check_in does.
// Any broken contract aborts, which libFuzzer reports as a crash.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <chrono>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/mcp_server.h"
#include "nlohmann/json.hpp"

namespace {

using aetherflow::mcp::CallContext;
using aetherflow::mcp::Server;
using aetherflow::mcp::Tool;
using aetherflow::mcp::ToolResult;
using nlohmann::json;

[[noreturn]] void Fail(const char* what, const std::string& detail = {}) {
  std::fprintf(stderr, "mcp_protocol_fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

std::vector<Tool> Tools() {
  Tool echo;
  echo.name = "echo";
  echo.description = "echo";
  echo.input_schema = {
      {"type", "object"},
      {"properties",
       {{"text", {{"type", "string"}, {"minLength", 1}}},
        {"n", {{"type", "integer"}, {"minimum", 0}, {"maximum", 300}}},
        {"argv", {{"type", "array"}, {"items", {{"type", "string"}}}, {"minItems", 1}}},
        {"env", {{"type", "object"}, {"additionalProperties", {{"type", "string"}}}}},
        {"kind", {{"enum", {"a", "b"}}}},
        {"plan", {{"type", "object"}}}}},
      {"additionalProperties", false}};
  echo.output_schema = {{"type", "object"}};
  echo.handler = [](const json& arguments, CallContext& call) {
    call.Progress(1, std::nullopt, "echo");
    ToolResult result;
    result.structured = {{"arguments", arguments}};
    result.text = arguments.dump(-1, ' ', false, json::error_handler_t::replace);
    return result;
  };
  Tool wait;
  wait.name = "wait";
  wait.description = "waits until cancelled";
  wait.input_schema = {{"type", "object"}};
  wait.handler = [](const json&, CallContext& call) {
    call.Progress(0, 1, "waiting");
    call.WaitUntil(std::chrono::steady_clock::now() + std::chrono::hours(1));
    return ToolResult::Error("cancelled");
  };
  return {echo, wait};
}

void CheckMessage(const std::string& text) {
  json message = json::parse(text, nullptr, false);
  if (!message.is_object()) Fail("wrote something that is not a JSON object", text);
  if (message.value("jsonrpc", "") != "2.0") Fail("a message without jsonrpc 2.0", text);
  if (message.contains("method")) {
    if (message["method"] != "notifications/progress" || message.contains("id")) {
      Fail("a request or an unexpected notification from the server", text);
    }
    return;
  }
  if (!message.contains("id")) Fail("a response without an id", text);
  if (message.contains("result") == message.contains("error")) {
    Fail("a response needs exactly one of result and error", text);
  }
  if (message.contains("error")) {
    const json& error = message["error"];
    static const std::set<int> codes = {-32700, -32600, -32601, -32602, -32603};
    if (!error.contains("code") || !error["code"].is_number_integer() ||
        !codes.count(error["code"].get<int>()) || !error.contains("message") ||
        !error["message"].is_string()) {
      Fail("an error without a JSON-RPC code and a message", text);
    }
  } else if (message["result"].contains("content") && !message["result"].contains("isError")) {
    Fail("a tool result without isError", text);
  }
  if (!message["id"].is_null() && !message["id"].is_string() &&
      !message["id"].is_number_integer() && !message["id"].is_number_unsigned()) {
    Fail("a response to an id no request can have", text);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::mutex mu;
  {
    Server server({"fuzz", "0", "loop"}, Tools(), [&](const std::string& message) {
      std::lock_guard<std::mutex> lock(mu);
      if (message.find('\n') != std::string::npos) Fail("a message over two lines", message);
      CheckMessage(message);
    }, /*max_pending=*/4);
    // A small line limit, so that the fuzzer meets it.
    aetherflow::mcp::LineSplitter splitter(4096);
    auto on_line = [&](std::string_view line) { server.HandleLine(line); };
    auto on_big = [&] { server.HandleOversizedLine(); };
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    // In two pieces, as reads cut input anywhere.
    splitter.Feed(bytes.substr(0, size / 2), on_line, on_big);
    splitter.Feed(bytes.substr(size / 2), on_line, on_big);
    splitter.Finish(on_line, on_big);
    server.Shutdown();  // must end the waiting calls
    if (server.pending() != 0) Fail("calls still pending after shutdown");
  }
  return 0;
}
