#include "common/mcp_server.h"

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace aetherflow::mcp {
namespace {

using nlohmann::json;

// What the server wrote, one message each, and a way to wait for more.
class Outbox {
 public:
  Server::Writer writer() {
    return [this](const std::string& message) {
      std::lock_guard<std::mutex> lock(mu_);
      messages_.push_back(json::parse(message));
      cv_.notify_all();
    };
  }
  // Blocks until at least `n` messages were written; returns the n-th.
  json Wait(std::size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return messages_.size() >= n; });
    return messages_[n - 1];
  }
  std::vector<json> All() {
    std::lock_guard<std::mutex> lock(mu_);
    return messages_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<json> messages_;
};

Tool EchoTool() {
  Tool tool;
  tool.name = "echo";
  tool.description = "returns its text";
  tool.input_schema = {{"type", "object"},
                       {"properties", {{"text", {{"type", "string"}, {"minLength", 1}}},
                                       {"times", {{"type", "integer"}, {"minimum", 1}}}}},
                       {"required", {"text"}},
                       {"additionalProperties", false}};
  tool.output_schema = {{"type", "object"}, {"properties", {{"text", {{"type", "string"}}}}}};
  tool.handler = [](const json& arguments, CallContext&) {
    ToolResult result;
    result.structured = {{"text", arguments["text"]}};
    result.text = arguments["text"].get<std::string>();
    return result;
  };
  return tool;
}

// Waits until cancelled (or a minute), sending one progress notification
// first; says whether it was cancelled.
Tool WaitTool(bool* was_cancelled) {
  Tool tool;
  tool.name = "wait";
  tool.description = "waits until cancelled";
  tool.input_schema = {{"type", "object"}};
  tool.handler = [was_cancelled](const json&, CallContext& call) {
    call.Progress(0, 60, "waiting");
    *was_cancelled =
        call.WaitUntil(std::chrono::steady_clock::now() + std::chrono::minutes(1));
    call.Progress(1, 60, "this one is not sent: the call is cancelled");
    return ToolResult{json::object(), "waited", false};
  };
  return tool;
}

std::string Request(int id, const std::string& method, json params = json::object()) {
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}}.dump();
}

class McpServerTest : public ::testing::Test {
 protected:
  McpServerTest()
      : server_({"aetherflow", "0.1.0", "check in often"}, {EchoTool(), WaitTool(&cancelled_)},
                outbox_.writer()) {}
  json Ask(const std::string& line) {
    std::size_t before = outbox_.All().size();
    server_.HandleLine(line);
    return outbox_.Wait(before + 1);
  }
  json Call(int id, const std::string& tool, json arguments) {
    std::size_t before = outbox_.All().size();
    server_.HandleLine(Request(id, "tools/call", {{"name", tool}, {"arguments", arguments}}));
    return outbox_.Wait(before + 1);
  }

  bool cancelled_ = false;
  Outbox outbox_;
  Server server_;
};

TEST(LineSplitterTest, SplitsLinesAcrossReadsAndDropsCarriageReturns) {
  LineSplitter splitter(100);
  std::vector<std::string> lines;
  int oversized = 0;
  auto on_line = [&](std::string_view line) { lines.emplace_back(line); };
  auto on_big = [&] { ++oversized; };
  splitter.Feed("{\"a\":", on_line, on_big);
  splitter.Feed("1}\r\n{\"b\":2}\n{\"c\"", on_line, on_big);
  splitter.Finish(on_line, on_big);
  EXPECT_EQ(lines, (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}", "{\"c\""}));
  EXPECT_EQ(oversized, 0);
}

TEST(LineSplitterTest, ALineOverTheLimitIsDroppedAndTheNextOneRead) {
  LineSplitter splitter(10);
  std::vector<std::string> lines;
  int oversized = 0;
  auto on_line = [&](std::string_view line) { lines.emplace_back(line); };
  auto on_big = [&] { ++oversized; };
  splitter.Feed("0123456789", on_line, on_big);  // exactly the limit: kept
  splitter.Feed("\n", on_line, on_big);
  for (int i = 0; i < 1000; ++i) splitter.Feed("xxxxxxxx", on_line, on_big);
  splitter.Feed("\nok\n", on_line, on_big);
  EXPECT_EQ(lines, (std::vector<std::string>{"0123456789", "ok"}));
  EXPECT_EQ(oversized, 1);
}

TEST_F(McpServerTest, InitializeAgreesOnAVersionAndOffersTools) {
  json answer = Ask(Request(1, "initialize", {{"protocolVersion", "2025-03-26"},
                                              {"capabilities", json::object()},
                                              {"clientInfo", {{"name", "t"}, {"version", "1"}}}}));
  EXPECT_EQ(answer["id"], 1);
  EXPECT_EQ(answer["result"]["protocolVersion"], "2025-03-26");
  EXPECT_TRUE(answer["result"]["capabilities"]["tools"].is_object());
  EXPECT_EQ(answer["result"]["serverInfo"]["name"], "aetherflow");
  EXPECT_EQ(answer["result"]["instructions"], "check in often");
  EXPECT_EQ(server_.protocol_version(), "2025-03-26");
  // A revision this server does not know: it answers with its newest.
  answer = Ask(Request(2, "initialize", {{"protocolVersion", "2099-01-01"}}));
  EXPECT_EQ(answer["result"]["protocolVersion"], "2025-06-18");
}

TEST_F(McpServerTest, ParseErrorsAndInvalidRequests) {
  json answer = Ask("{not json");
  EXPECT_EQ(answer["error"]["code"], kParseError);
  EXPECT_TRUE(answer["id"].is_null());
  EXPECT_EQ(Ask("[1,2]")["error"]["code"], kInvalidRequest);
  EXPECT_EQ(Ask("42")["error"]["code"], kInvalidRequest);
  answer = Ask(R"({"id": 7, "method": "ping"})");  // no "jsonrpc"
  EXPECT_EQ(answer["error"]["code"], kInvalidRequest);
  EXPECT_EQ(answer["id"], 7);
  EXPECT_EQ(Ask(R"({"jsonrpc": "2.0", "id": {"x": 1}, "method": "ping"})")["error"]["code"],
            kInvalidRequest);
  EXPECT_EQ(Ask(R"({"jsonrpc": "2.0", "id": 3, "method": 5})")["error"]["code"],
            kInvalidRequest);
  EXPECT_EQ(Ask(Request(4, "resources/list"))["error"]["code"], kMethodNotFound);
  EXPECT_EQ(Ask(Request(5, "initialize", {{"capabilities", json::object()}}))["error"]["code"],
            kInvalidParams);
  EXPECT_EQ(Ask(Request(6, "tools/call", {{"name", "nope"}}))["error"]["code"], kInvalidParams);
  EXPECT_EQ(Ask(Request(8, "tools/call", {{"name", "echo"}, {"arguments", 3}}))["error"]["code"],
            kInvalidParams);
  // Deep nesting is refused before it is parsed.
  std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_EQ(Ask(deep)["error"]["code"], kParseError);
  server_.HandleOversizedLine();
  EXPECT_EQ(outbox_.All().back()["error"]["code"], kParseError);
  // Still serving.
  EXPECT_EQ(Ask(Request(9, "ping"))["result"], json::object());
}

TEST_F(McpServerTest, NotificationsAndResponsesGetNoAnswer) {
  server_.HandleLine(R"({"jsonrpc": "2.0", "method": "notifications/initialized"})");
  server_.HandleLine(R"({"jsonrpc": "2.0", "method": "no/such/notification"})");
  server_.HandleLine(R"({"jsonrpc": "2.0", "id": 3, "result": {}})");
  server_.HandleLine("   ");
  json answer = Ask(Request(10, "ping"));
  EXPECT_EQ(answer["id"], 10) << "only the ping was answered";
  EXPECT_EQ(outbox_.All().size(), 1u);
}

TEST_F(McpServerTest, ToolsListHasASchemaForEveryTool) {
  json answer = Ask(Request(1, "tools/list"));
  ASSERT_EQ(answer["result"]["tools"].size(), 2u);
  for (const json& tool : answer["result"]["tools"]) {
    EXPECT_EQ(tool["inputSchema"]["type"], "object") << tool.dump();
    EXPECT_FALSE(tool["description"].get<std::string>().empty());
  }
  EXPECT_EQ(answer["result"]["tools"][0]["outputSchema"]["type"], "object");
}

TEST_F(McpServerTest, ACallReturnsStructuredContentAndText) {
  json answer = Call(1, "echo", {{"text", "hello"}});
  EXPECT_EQ(answer["id"], 1);
  EXPECT_EQ(answer["result"]["isError"], false);
  EXPECT_EQ(answer["result"]["structuredContent"]["text"], "hello");
  EXPECT_EQ(answer["result"]["content"][0]["type"], "text");
  EXPECT_EQ(answer["result"]["content"][0]["text"], "hello");
}

TEST_F(McpServerTest, ArgumentsAreCheckedAgainstTheSchemaAsToolErrors) {
  auto problem = [&](json arguments) {
    json answer = Call(1, "echo", arguments);
    EXPECT_EQ(answer["result"]["isError"], true) << answer.dump();
    return answer["result"]["content"][0]["text"].get<std::string>();
  };
  EXPECT_EQ(problem(json::object()), "aetherflow: echo: text: required");
  EXPECT_EQ(problem({{"text", 3}}), "aetherflow: echo: text: expected a string, not an integer");
  EXPECT_EQ(problem({{"text", ""}}), "aetherflow: echo: text: must not be empty");
  EXPECT_EQ(problem({{"text", "a"}, {"times", 0}}), "aetherflow: echo: times: must be at least 1");
  EXPECT_EQ(problem({{"text", "a"}, {"colour", "red"}}),
            "aetherflow: echo: colour: unknown argument (known: text, times)");
  EXPECT_EQ(Call(2, "echo", {{"text", "a"}, {"times", 2.0}})["result"]["isError"], false)
      << "2.0 is an integer";
}

TEST(CheckSchemaTest, NestedItemsEnumsAndMaps) {
  json schema = {{"type", "object"},
                 {"properties",
                  {{"argv", {{"type", "array"}, {"items", {{"type", "string"}}}, {"minItems", 1}}},
                   {"env", {{"type", "object"}, {"additionalProperties", {{"type", "string"}}}}},
                   {"kind", {{"enum", {"a", "b"}}}}}}};
  EXPECT_EQ(CheckSchema(schema, {{"argv", json::array()}}), "argv: needs at least 1 item");
  EXPECT_EQ(CheckSchema(schema, {{"argv", {"a", 1}}}), "argv[1]: expected a string, not an integer");
  EXPECT_EQ(CheckSchema(schema, {{"env", {{"A", 1}}}}), "env.A: expected a string, not an integer");
  EXPECT_EQ(CheckSchema(schema, {{"kind", "c"}}), "kind: expected one of \"a\", \"b\"");
  EXPECT_EQ(CheckSchema(schema, {{"argv", {"sh"}}, {"env", {{"A", "1"}}}, {"kind", "a"}}),
            std::nullopt);
}

TEST_F(McpServerTest, CancellationEndsAWaitingCallAndPingIsAnsweredMeanwhile) {
  server_.HandleLine(json{{"jsonrpc", "2.0"},
                          {"id", "w1"},
                          {"method", "tools/call"},
                          {"params", {{"name", "wait"}, {"_meta", {{"progressToken", "tok"}}}}}}
                         .dump());
  // The first progress notification says the call is waiting.
  json progress = outbox_.Wait(1);
  EXPECT_EQ(progress["method"], "notifications/progress");
  EXPECT_EQ(progress["params"]["progressToken"], "tok");
  EXPECT_EQ(progress["params"]["total"], 60);
  EXPECT_EQ(server_.pending(), 1u);
  // The reader is free while the call waits.
  EXPECT_EQ(Ask(Request(2, "ping"))["id"], 2);
  server_.HandleLine(
      R"({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": "w1", "reason": "user"}})");
  server_.WaitIdle();
  EXPECT_TRUE(cancelled_);
  // Nothing more: no answer to the cancelled call, no later progress.
  EXPECT_EQ(outbox_.All().size(), 2u);
  EXPECT_EQ(Ask(Request(3, "ping"))["id"], 3);
}

TEST_F(McpServerTest, NoProgressWithoutAToken) {
  server_.HandleLine(Request(1, "tools/call", {{"name", "wait"}}));
  EXPECT_EQ(Ask(Request(2, "ping"))["id"], 2);
  server_.HandleLine(
      R"({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}})");
  server_.WaitIdle();
  EXPECT_EQ(outbox_.All().size(), 1u) << "only the ping's answer";
}

TEST_F(McpServerTest, AnIdStillRunningIsRefusedAndShutdownCancelsWhatRuns) {
  server_.HandleLine(Request(1, "tools/call", {{"name", "wait"}}));
  EXPECT_EQ(Ask(Request(1, "tools/call", {{"name", "wait"}}))["error"]["code"], kInvalidRequest);
  server_.Shutdown();
  EXPECT_TRUE(cancelled_);
  EXPECT_EQ(server_.pending(), 0u);
  EXPECT_EQ(outbox_.All().back()["id"], 1) << "a call a shutdown ends is still answered";
  EXPECT_EQ(Ask(Request(2, "tools/call", {{"name", "echo"}, {"arguments", {{"text", "x"}}}}))
                ["error"]["code"],
            kInternalError);
}

TEST(McpServerLimitTest, CallsBeyondTheLimitAreRefusedNotQueued) {
  bool cancelled = false;
  Outbox outbox;
  Server server({"aetherflow", "0.1.0", ""}, {EchoTool(), WaitTool(&cancelled)}, outbox.writer(),
                /*max_pending=*/1);
  server.HandleLine(Request(1, "tools/call", {{"name", "wait"}}));
  server.HandleLine(Request(2, "tools/call", {{"name", "echo"}, {"arguments", {{"text", "x"}}}}));
  json refused = outbox.Wait(1);
  EXPECT_EQ(refused["id"], 2);
  EXPECT_EQ(refused["error"]["code"], kInternalError);
  server.HandleLine(
      R"({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}})");
  server.WaitIdle();
  server.HandleLine(Request(3, "tools/call", {{"name", "echo"}, {"arguments", {{"text", "x"}}}}));
  EXPECT_EQ(outbox.Wait(2)["result"]["isError"], false) << "room again once it ended";
}

TEST(McpServeFdTest, ReadsLinesUntilTheEndOfInputThenShutsDown) {
  bool cancelled = false;
  Outbox outbox;
  Server server({"aetherflow", "0.1.0", ""}, {EchoTool(), WaitTool(&cancelled)}, outbox.writer());
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::thread reader([&] { ServeFd(server, fds[0]); });
  std::string input = Request(1, "tools/call", {{"name", "wait"}}) + "\n" + Request(2, "ping");
  ASSERT_EQ(::write(fds[1], input.data(), input.size()), static_cast<ssize_t>(input.size()));
  ::close(fds[1]);  // the last line has no newline
  reader.join();    // ends although "wait" would wait a minute
  ::close(fds[0]);
  EXPECT_TRUE(cancelled);
  std::vector<json> all = outbox.All();
  ASSERT_EQ(all.size(), 2u) << "the ping's answer, and the wait's, cut short";
  EXPECT_EQ(all[0]["id"], 2);
  EXPECT_EQ(all[1]["id"], 1);
  EXPECT_EQ(all[1]["result"]["content"][0]["text"], "waited");
}

}  // namespace
}  // namespace aetherflow::mcp
