// `aetherflow web` and `aetherflow report` (SPEC §13) with a real daemon
// and the real client binary on an ephemeral port, spoken to over HTTP.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "tests/integration/harness.h"

namespace aetherflow::testing {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// One Server-Sent Event.
struct Sse {
  std::string id, event, data;
};

// Splits a stream's text into events (comments dropped); keeps an
// unfinished tail in *buffer.
std::vector<Sse> ParseSse(std::string* buffer) {
  std::vector<Sse> out;
  std::size_t end;
  while ((end = buffer->find("\n\n")) != std::string::npos) {
    Sse e;
    bool any = false;
    for (absl::string_view line : absl::StrSplit(buffer->substr(0, end), '\n')) {
      if (line.empty() || line[0] == ':') continue;
      std::size_t colon = line.find(':');
      std::string field(line.substr(0, colon));
      std::string value(colon == absl::string_view::npos ? "" : line.substr(colon + 1));
      if (!value.empty() && value[0] == ' ') value.erase(0, 1);
      any = true;
      if (field == "id") e.id = value;
      else if (field == "event") e.event = value;
      else if (field == "data") e.data += value;
    }
    buffer->erase(0, end + 2);
    if (any) out.push_back(std::move(e));
  }
  return out;
}

class WebTest : public DaemonTest {
 protected:
  void TearDown() override {
    StopWeb();
    DaemonTest::TearDown();
  }

  // Starts `aetherflow web` on a free loopback port and waits until it
  // says where it serves.
  void StartWeb(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"web", "--listen", "127.0.0.1:0"};
    args.insert(args.end(), extra.begin(), extra.end());
    web_pid_ = StartCli(args, "web");
    ASSERT_GT(web_pid_, 0);
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    std::regex serving("serving http://127\\.0\\.0\\.1:([0-9]+)/");
    while (Clock::now() < deadline) {
      std::smatch m;
      std::string out = ReadFile(dir_ + "/web.out");
      if (std::regex_search(out, m, serving)) {
        port_ = std::stoi(m[1]);
        return;
      }
      int status;
      ASSERT_EQ(::waitpid(web_pid_, &status, WNOHANG), 0)
          << "aetherflow web ended: " << ReadFile(dir_ + "/web.err");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    FAIL() << "aetherflow web never served";
  }

  void StopWeb() {
    if (web_pid_ <= 0) return;
    ::kill(web_pid_, SIGTERM);
    CliResult r = FinishCli(web_pid_, "web");
    web_pid_ = 0;
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }

  std::unique_ptr<httplib::Client> Http() {
    auto client = std::make_unique<httplib::Client>("127.0.0.1", port_);
    client->set_read_timeout(20, 0);
    return client;
  }

  // Reads the run's event stream (from `last_id`, as a reconnecting page)
  // until `done` says so for a message, or 60 s; returns the messages.
  std::vector<json> Follow(const std::string& run, const std::string& last_id,
                           const std::function<bool(const json&)>& done,
                           int* http_status = nullptr) {
    std::vector<json> messages;
    std::string buffer;
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    httplib::Headers headers;
    if (!last_id.empty()) headers.emplace("Last-Event-ID", last_id);
    auto client = Http();
    auto res = client->Get(
        absl::StrCat("/api/runs/", run, "/events").c_str(), headers,
        [&](const char* data, size_t n) {
          buffer.append(data, n);
          for (const Sse& e : ParseSse(&buffer)) {
            if (e.event != "view") continue;
            json m = json::parse(e.data);
            EXPECT_EQ(e.id, std::to_string(m["seq"].get<int64_t>()));
            messages.push_back(m);
            if (done(m)) return false;
          }
          return Clock::now() < deadline;
        });
    if (http_status) *http_status = res ? res->status : -1;
    return messages;
  }

  // The value of a /metrics sample, or -1.
  double Metric(const std::string& sample) {
    auto res = Http()->Get("/metrics");
    if (!res) return -1;
    for (absl::string_view line : absl::StrSplit(res->body, '\n')) {
      if (absl::StartsWith(line, sample + " ")) {
        double v = -1;
        EXPECT_TRUE(absl::SimpleAtod(line.substr(sample.size() + 1), &v)) << line;
        return v;
      }
    }
    return -1;
  }

  pid_t web_pid_ = 0;
  int port_ = 0;
};

// Every event 1..N once, in order, over all of `messages`.
void ExpectEveryEventOnce(const std::vector<json>& messages, int64_t from, int64_t to) {
  std::vector<int64_t> seqs;
  for (const json& m : messages) {
    for (const json& e : m["events"]) seqs.push_back(e["seq"]);
  }
  std::vector<int64_t> want;
  for (int64_t s = from; s <= to; ++s) want.push_back(s);
  EXPECT_EQ(seqs, want);
}

TEST_F(WebTest, RunPageFollowsARunLiveFromItsEvents) {
  // "gate" runs until the test lets it end, so the page sees it running
  // and then completed.
  std::string gate = dir_ + "/gate";
  std::string plan = WritePlan("p.json", absl::StrCat(R"({"description": "web demo", "steps": [
    {"id": "wait", "run": "while [ ! -e )", gate, R"( ]; do sleep 0.05; done; echo done"},
    {"id": "side", "run": "echo side"},
    {"id": "after", "run": "echo after", "dependencies": ["wait"]}]})"));
  std::string run = Submit(plan);
  WaitFor(run, [](const json& s) { return StepOf(s, "wait")["state"] == "running"; });
  ASSERT_NO_FATAL_FAILURE(StartWeb());

  // The runs list and the run's page.
  auto list = Http()->Get("/api/runs");
  ASSERT_TRUE(list);
  EXPECT_EQ(json::parse(list->body)[0]["id"], run);
  auto page = Http()->Get(absl::StrCat("/runs/", run).c_str());
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find(absl::StrCat("data-run=\"", run, "\"")), std::string::npos);
  EXPECT_NE(page->get_header_value("Content-Security-Policy").find("default-src 'none'"),
            std::string::npos);
  auto prefix = Http()->Get(absl::StrCat("/runs/", run.substr(0, 4)).c_str());
  ASSERT_TRUE(prefix);
  EXPECT_EQ(prefix->status, 303);

  bool released = false;
  std::vector<json> messages = Follow(run, "", [&](const json& m) {
    const json& steps = m["view"]["steps"];
    if (!released && steps[0]["state"] == "running") {
      EXPECT_EQ(steps[0]["cells"][3], "⟳ Running");
      std::ofstream(gate) << "go";  // now let it end
      released = true;
    }
    return m["ended"].get<bool>();
  });
  ASSERT_FALSE(messages.empty());
  EXPECT_TRUE(released);
  const json& last = messages.back();
  EXPECT_EQ(last["view"]["run"]["state"], "succeeded");
  EXPECT_EQ(last["view"]["steps"][0]["cells"][3], "✓ Completed");
  // wait and side ran side by side: two lanes; after ran on a free one.
  EXPECT_EQ(last["view"]["timeline"]["lanes"], 2);
  EXPECT_EQ(last["view"]["timeline"]["attempts"].size(), 3u);
  ExpectEveryEventOnce(messages, 1, last["seq"]);
  EXPECT_EQ(last["seq"], Status(run)["run"]["last_seq"]);
}

TEST_F(WebTest, AReconnectingPageGetsWhatItMissedAndNothingTwice) {
  std::string plan = WritePlan("p.json", R"({"steps": [
    {"id": "a", "run": "echo a"}, {"id": "b", "run": "echo b", "dependencies": ["a"]},
    {"id": "c", "run": "echo c", "dependencies": ["b"]}]})");
  std::string run = Submit(plan);
  const int64_t last = WaitForEnd(run)["run"]["last_seq"];
  ASSERT_GT(last, 4);
  ASSERT_NO_FATAL_FAILURE(StartWeb());
  // A page that saw events up to 3 and lost its connection (EventSource
  // then sends Last-Event-ID): its first message has 4..last.
  std::vector<json> again = Follow(run, "3", [](const json& m) { return true; });
  ASSERT_EQ(again.size(), 1u);
  ExpectEveryEventOnce(again, 4, last);
  EXPECT_EQ(again[0]["view"]["run"]["state"], "succeeded");
  // A page that saw everything gets the view and no event again.
  std::vector<json> none = Follow(run, std::to_string(last), [](const json&) { return true; });
  ASSERT_EQ(none.size(), 1u);
  EXPECT_TRUE(none[0]["events"].empty());
  // A broken Last-Event-ID is refused, not taken for 0.
  auto bad = Http()->Get(absl::StrCat("/api/runs/", run, "/events").c_str(),
                         {{"Last-Event-ID", "12abc"}});
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
}

TEST_F(WebTest, APageWhoseConnectionBrokeMidRunLosesNothing) {
  std::string gate = dir_ + "/gate";
  std::string plan = WritePlan("p.json", absl::StrCat(R"({"steps": [
    {"id": "one", "run": "while [ ! -e )", gate, R"( ]; do sleep 0.05; done"},
    {"id": "two", "run": "echo two", "dependencies": ["one"]},
    {"id": "three", "run": "echo three", "dependencies": ["two"]}]})"));
  std::string run = Submit(plan);
  ASSERT_NO_FATAL_FAILURE(StartWeb());
  // The connection breaks while "one" runs; the run goes on meanwhile.
  std::vector<json> before = Follow(run, "", [](const json& m) {
    return m["view"]["steps"][0]["state"] == "running" && m["seq"].get<int64_t>() > 0;
  });
  ASSERT_FALSE(before.empty());
  const int64_t seen = before.back()["seq"];
  std::ofstream(gate) << "go";
  WaitForEnd(run);
  // EventSource comes back with Last-Event-ID: the rest, from there.
  std::vector<json> after = Follow(run, std::to_string(seen),
                                   [](const json& m) { return m["ended"].get<bool>(); });
  ASSERT_FALSE(after.empty());
  std::vector<json> all = before;
  all.insert(all.end(), after.begin(), after.end());
  ExpectEveryEventOnce(all, 1, Status(run)["run"]["last_seq"]);
  EXPECT_EQ(after.back()["view"]["run"]["state"], "succeeded");
}

TEST_F(WebTest, TheStreamSurvivesADaemonRestart) {
  std::string gate = dir_ + "/gate";
  std::string plan = WritePlan("p.json", absl::StrCat(R"({"steps": [
    {"id": "first", "run": "echo first"},
    {"id": "wait", "run": "while [ ! -e )", gate, R"( ]; do sleep 0.05; done", "dependencies": ["first"]}]})"));
  std::string run = Submit(plan);
  WaitFor(run, [](const json& s) { return StepOf(s, "wait")["state"] == "running"; });
  ASSERT_NO_FATAL_FAILURE(StartWeb());
  bool restarted = false, saw_lost = false;
  std::vector<json> messages = Follow(run, "", [&](const json& m) {
    if (!restarted) {
      restarted = true;
      StopDaemon(SIGKILL);  // a crash: the run is left running
      return false;
    }
    if (!m["connected"].get<bool>() && !saw_lost) {
      saw_lost = true;
      StartDaemon();
      return false;
    }
    if (saw_lost && m["connected"].get<bool>()) {
      std::ofstream(gate) << "go";  // whether the step outlived the daemon or not
      return m["view"]["run"]["finished"].get<bool>();
    }
    return false;
  });
  EXPECT_TRUE(saw_lost);
  ASSERT_FALSE(messages.empty());
  EXPECT_TRUE(messages.back()["connected"].get<bool>());
  ExpectEveryEventOnce(messages, 1, messages.back()["seq"]);
}

TEST_F(WebTest, BadRequestsGetTheirOwnAnswers) {
  ASSERT_NO_FATAL_FAILURE(StartWeb());
  auto unknown = Http()->Get("/runs/ffffffff");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_NE(unknown->body.find("No run ffffffff"), std::string::npos);
  EXPECT_NE(unknown->body.find("data-page=\"error\""), std::string::npos);
  auto nothing = Http()->Get("/no/such/page");
  ASSERT_TRUE(nothing);
  EXPECT_EQ(nothing->status, 404);
  auto events = Http()->Get("/api/runs/ffffffff/events");
  ASSERT_TRUE(events);
  EXPECT_EQ(events->status, 404);
  auto log = Http()->Get("/api/runs/ffffffff/log?step=x");
  ASSERT_TRUE(log);
  EXPECT_EQ(log->status, 404);
  // Too large: a body over the limit, a URI over httplib's.
  std::string big(100 * 1024, 'x');
  auto large = Http()->Post("/api/runs/ffffffff/cancel", big, "text/plain");
  ASSERT_TRUE(large);
  EXPECT_EQ(large->status, 413);
  auto long_uri = Http()->Get(("/runs/" + std::string(20000, 'a')).c_str());
  ASSERT_TRUE(long_uri);
  EXPECT_EQ(long_uri->status, 414);
  // Another name for this machine's address (DNS rebinding) is refused.
  auto rebound = Http()->Get("/", {{"Host", "evil.example:80"}});
  ASSERT_TRUE(rebound);
  EXPECT_EQ(rebound->status, 421);
}

TEST_F(WebTest, ActionsNeedThePagesCsrfToken) {
  std::string plan = WritePlan("p.json", R"({"steps": [{"id": "long", "run": "sleep 600"}]})");
  std::string run = Submit(plan);
  WaitFor(run, [](const json& s) { return StepOf(s, "long")["state"] == "running"; });
  ASSERT_NO_FATAL_FAILURE(StartWeb());
  auto page = Http()->Get(absl::StrCat("/runs/", run).c_str());
  ASSERT_TRUE(page);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(page->body, m, std::regex("data-csrf=\"([0-9a-f]+)\"")));
  const std::string csrf = m[1];
  const std::string path = absl::StrCat("/api/runs/", run, "/cancel");
  auto without = Http()->Post(path.c_str(), "", "text/plain");
  ASSERT_TRUE(without);
  EXPECT_EQ(without->status, 403);
  auto wrong = Http()->Post(path.c_str(), {{"X-CSRF-Token", "0000"}}, "", "text/plain");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 403);
  auto foreign = Http()->Post(path.c_str(), {{"X-CSRF-Token", csrf},
                                             {"Origin", "http://evil.example"}},
                              "", "text/plain");
  ASSERT_TRUE(foreign);
  EXPECT_EQ(foreign->status, 403);
  EXPECT_EQ(StepOf(Status(run), "long")["state"], "running");
  auto pause = Http()->Post(absl::StrCat("/api/runs/", run, "/pause").c_str(),
                            {{"X-CSRF-Token", csrf}}, "", "text/plain");
  ASSERT_TRUE(pause);
  EXPECT_EQ(pause->status, 200) << pause->body;
  WaitFor(run, [](const json& s) { return s["run"]["state"] == "paused"; });
  auto resume = Http()->Post(absl::StrCat("/api/runs/", run, "/resume").c_str(),
                             {{"X-CSRF-Token", csrf}}, "", "text/plain");
  ASSERT_TRUE(resume);
  EXPECT_EQ(resume->status, 200) << resume->body;
  WaitFor(run, [](const json& s) { return s["run"]["state"] == "running"; });
  auto cancel = Http()->Post(path.c_str(), {{"X-CSRF-Token", csrf}}, "", "text/plain");
  ASSERT_TRUE(cancel);
  EXPECT_EQ(cancel->status, 200) << cancel->body;
  EXPECT_TRUE(json::parse(cancel->body)["ok"].get<bool>());
  EXPECT_EQ(WaitForEnd(run)["run"]["state"], "cancelled");
  auto gone = Http()->Post("/api/runs/ffffffff/cancel", {{"X-CSRF-Token", csrf}}, "",
                           "text/plain");
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->status, 404);
}

TEST_F(WebTest, AResumedRunIsFollowedAgain) {
  // Fails the first time, succeeds when run again.
  std::string mark = dir_ + "/ran-once";
  std::string plan = WritePlan("p.json", absl::StrCat(R"({"steps": [
    {"id": "flaky", "run": "if [ -e )", mark, R"( ]; then echo ok; else touch )", mark,
                                        R"(; exit 1; fi"}]})"));
  std::string run = Submit(plan);
  ASSERT_NO_FATAL_FAILURE(StartWeb());
  std::vector<json> first = Follow(run, "", [](const json& m) { return m["ended"].get<bool>(); });
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(first.back()["view"]["run"]["state"], "failed");
  auto page = Http()->Get(absl::StrCat("/runs/", run).c_str());
  ASSERT_TRUE(page);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(page->body, m, std::regex("data-csrf=\"([0-9a-f]+)\"")));
  auto resume = Http()->Post(absl::StrCat("/api/runs/", run, "/resume").c_str(),
                             {{"X-CSRF-Token", m[1].str()}}, "", "text/plain");
  ASSERT_TRUE(resume);
  EXPECT_EQ(resume->status, 200) << resume->body;
  // The page opens its stream again from where it was (?after=).
  const std::string after = std::to_string(first.back()["seq"].get<int64_t>());
  std::string buffer;
  std::vector<json> again;
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  auto res = Http()->Get(absl::StrCat("/api/runs/", run, "/events?after=", after).c_str(),
                         [&](const char* data, size_t n) {
                           buffer.append(data, n);
                           for (const Sse& e : ParseSse(&buffer)) {
                             again.push_back(json::parse(e.data));
                             if (again.back()["ended"].get<bool>() &&
                                 again.back()["view"]["run"]["state"] == "succeeded") {
                               return false;
                             }
                           }
                           return Clock::now() < deadline;
                         });
  ASSERT_FALSE(again.empty());
  EXPECT_EQ(again.back()["view"]["run"]["state"], "succeeded");
  std::vector<json> all = first;
  all.insert(all.end(), again.begin(), again.end());
  ExpectEveryEventOnce(all, 1, Status(run)["run"]["last_seq"]);
}

TEST_F(WebTest, OffLoopbackNeedsATokenAndTheBrowserLogsInOnce) {
  CliResult open = Cli({"web", "--listen", "0.0.0.0:0"});
  EXPECT_EQ(open.exit_code, 2);
  EXPECT_NE(open.err.find("aetherflow: --listen 0.0.0.0:0 is not a loopback address"),
            std::string::npos)
      << open.err;
  std::string token_file = dir_ + "/token";
  std::ofstream(token_file) << "s3cret-token-0123456789\n";
  ::chmod(token_file.c_str(), 0644);
  CliResult readable = Cli({"web", "--listen", "127.0.0.1:0", "--token-file", token_file});
  EXPECT_EQ(readable.exit_code, 2);
  EXPECT_NE(readable.err.find("may be read by others"), std::string::npos) << readable.err;
  ::chmod(token_file.c_str(), 0600);
  ASSERT_NO_FATAL_FAILURE(StartWeb({"--token-file", token_file}));
  auto root = Http()->Get("/");
  ASSERT_TRUE(root);
  EXPECT_EQ(root->status, 303);
  EXPECT_EQ(root->get_header_value("Location"), "/login");
  auto api = Http()->Get("/api/runs");
  ASSERT_TRUE(api);
  EXPECT_EQ(api->status, 401);
  auto bad = Http()->Post("/login", "token=wrong", "application/x-www-form-urlencoded");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 403);
  EXPECT_TRUE(bad->get_header_value("Set-Cookie").empty());
  auto good = Http()->Post("/login", "token=s3cret-token-0123456789",
                           "application/x-www-form-urlencoded");
  ASSERT_TRUE(good);
  EXPECT_EQ(good->status, 303);
  const std::string cookie = good->get_header_value("Set-Cookie");
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos) << cookie;
  const std::string session = cookie.substr(0, cookie.find(';'));
  auto in = Http()->Get("/", {{"Cookie", session}});
  ASSERT_TRUE(in);
  EXPECT_EQ(in->status, 200);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(in->body, m, std::regex("data-csrf=\"([0-9a-f]+)\"")));
  // A scraper uses the token as a bearer token.
  auto metrics = Http()->Get("/metrics", {{"Authorization", "Bearer s3cret-token-0123456789"}});
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  // The session's actions still need its CSRF token.
  auto action = Http()->Post("/api/runs/ffffffff/cancel", {{"Cookie", session}}, "",
                             "text/plain");
  ASSERT_TRUE(action);
  EXPECT_EQ(action->status, 403);
}

TEST_F(WebTest, FiftyPagesOnOneRunAreOneStreamToTheDaemon) {
  std::string gate = dir_ + "/gate";
  std::string plan = WritePlan("p.json", absl::StrCat(R"({"steps": [
    {"id": "wait", "run": "while [ ! -e )", gate, R"( ]; do sleep 0.05; done"}]})"));
  std::string run = Submit(plan);
  WaitFor(run, [](const json& s) { return StepOf(s, "wait")["state"] == "running"; });
  ASSERT_NO_FATAL_FAILURE(StartWeb());
  constexpr int kPages = 50;
  std::atomic<int> connected{0}, ended{0};
  std::vector<std::thread> pages;
  for (int i = 0; i < kPages; ++i) {
    pages.emplace_back([&] {
      bool counted = false;
      Follow(run, "", [&](const json& m) {
        if (!counted) {
          counted = true;
          ++connected;
        }
        if (m["ended"].get<bool>()) {
          ++ended;
          return true;
        }
        return false;
      });
    });
  }
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (connected < kPages && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(connected.load(), kPages);
  EXPECT_EQ(Metric("aetherflow_web_clients"), kPages);
  EXPECT_EQ(Metric("aetherflow_web_daemon_streams"), 1);
  std::ofstream(gate) << "go";
  for (std::thread& t : pages) t.join();
  EXPECT_EQ(ended.load(), kPages);
}

TEST_F(WebTest, MetricsAreValidPrometheusText) {
  std::string plan = WritePlan("p.json", R"({"steps": [
    {"id": "ok", "run": "true"}, {"id": "bad", "run": "exit 3"}]})");
  std::string run = Submit(plan);
  WaitForEnd(run);
  ASSERT_NO_FATAL_FAILURE(StartWeb());
  auto res = Http()->Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_TRUE(absl::StartsWith(res->get_header_value("Content-Type"), "text/plain; version=0.0.4"));
  EXPECT_EQ(Metric("aetherflow_steps_total{state=\"completed\"}"), 1);
  EXPECT_EQ(Metric("aetherflow_steps_total{state=\"failed\"}"), 1);
  EXPECT_EQ(Metric("aetherflow_runs_total{state=\"failed\"}"), 1);
  EXPECT_EQ(Metric("aetherflow_step_duration_seconds_count"), 2);
  // Parsed by Prometheus' own Python parser (Debian's
  // python3-prometheus-client, which scripts/setup.sh installs).
  if (std::system("/usr/bin/python3 -c 'import prometheus_client' 2>/dev/null") != 0) {
    GTEST_SKIP() << "python3-prometheus-client is not installed";
  }
  std::string path = dir_ + "/metrics.txt";
  std::ofstream(path) << res->body;
  std::string script = absl::StrCat(
      "/usr/bin/python3 -c \"import sys\nfrom prometheus_client.parser import "
      "text_string_to_metric_families as p\nfams = {f.name: f for f in "
      "p(open('", path, "').read())}\nassert fams['aetherflow_step_duration_seconds'].type "
      "== 'histogram'\nassert fams['aetherflow_steps_total'].type == 'gauge', "
      "fams.keys()\nassert fams['aetherflow_tokens'].type == 'counter', fams.keys()\n"
      "print(len(fams))\" > ", dir_, "/parsed.txt 2>&1");
  EXPECT_EQ(std::system(script.c_str()), 0) << ReadFile(dir_ + "/parsed.txt");
}

TEST_F(WebTest, ReportIsOneSelfContainedFile) {
  std::string plan = WritePlan("p.json", R"({"description": "report </script> demo",
    "steps": [{"id": "a", "run": "echo a"}, {"id": "b", "run": "echo b"}]})");
  std::string run = Submit(plan);
  WaitForEnd(run);
  std::string out = dir_ + "/run.html";
  CliResult r = Cli({"report", run, "-o", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string html = ReadFile(out);
  EXPECT_NE(html.find("<style>"), std::string::npos);
  EXPECT_NE(html.find("id=\"af-data\""), std::string::npos);
  EXPECT_EQ(html.find(" src="), std::string::npos);   // no script from anywhere
  EXPECT_EQ(html.find(" href=\"http"), std::string::npos);
  EXPECT_EQ(html.find("report </script> demo"), std::string::npos);  // escaped
  std::smatch m;
  ASSERT_TRUE(std::regex_search(html, m, std::regex(
      "<script type=\"application/json\" id=\"af-data\">([^<]*)</script>")));
  json data = json::parse(m[1].str());
  EXPECT_EQ(data["view"]["run"]["id"], run);
  EXPECT_EQ(data["view"]["run"]["plan"], "report </script> demo");
  EXPECT_EQ(data["view"]["steps"].size(), 2u);
  CliResult unknown = Cli({"report", "ffffffff", "-o", out});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("aetherflow:"), std::string::npos);
}

// Another user's `aetherflow web` does not see this user's runs: a 404, as
// for a run that does not exist (not a 403 that would say it does).
class WebOwnershipTest : public WebTest {
 protected:
  static constexpr char kGroup[] = "aftest-users";
  static constexpr char kUser[] = "aftest-webuser";
  void SetUp() override {
    if (::getuid() != 0) GTEST_SKIP() << "needs root to create a user";
    ASSERT_EQ(std::system(absl::StrCat("getent group ", kGroup, " >/dev/null || groupadd ",
                                       kGroup).c_str()), 0);
    ASSERT_EQ(std::system(absl::StrCat("id ", kUser, " >/dev/null 2>&1 || useradd -M -U -s "
                                       "/bin/sh -G ", kGroup, " ", kUser).c_str()), 0);
    DaemonTest::SetUp();
    StopDaemon();
    ::chmod(dir_.c_str(), 0755);
    StartDaemon({"--socket-group", kGroup});
  }
  void TearDown() override {
    if (user_web_ > 0) {
      ::kill(user_web_, SIGTERM);
      for (int i = 0; i < 500 && ::kill(user_web_, 0) == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
    WebTest::TearDown();
  }
  // `aetherflow web` as kUser, in the background; sets port_.
  void StartWebAsUser() {
    const std::string out = dir_ + "/user-web.out";
    const std::string command = absl::StrCat(
        "cd / && setpriv --reuid=", kUser, " --regid=", kUser, " --init-groups env "
        "AETHERFLOW_NO_AUTOSTART=1 HOME=/tmp ", BinDir(), "/aetherflow --socket ", socket_,
        " web --listen 127.0.0.1:0 > ", out, " 2>", dir_, "/user-web.err & echo $! > ", dir_,
        "/user-web.pid");
    ASSERT_EQ(std::system(command.c_str()), 0);
    user_web_ = std::stoi(ReadFile(dir_ + "/user-web.pid"));
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    std::regex serving("serving http://127\\.0\\.0\\.1:([0-9]+)/");
    while (Clock::now() < deadline) {
      std::smatch m;
      std::string text = ReadFile(out);
      if (std::regex_search(text, m, serving)) {
        port_ = std::stoi(m[1]);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    FAIL() << "web as " << kUser << " never served: " << ReadFile(dir_ + "/user-web.err");
  }
  pid_t user_web_ = 0;
};

TEST_F(WebOwnershipTest, AnotherUsersRunIsNotFound) {
  std::string plan = WritePlan("p.json", R"({"steps": [{"id": "a", "run": "echo a"}]})");
  std::string run = Submit(plan);  // root's
  WaitForEnd(run);
  ASSERT_NO_FATAL_FAILURE(StartWebAsUser());
  auto page = Http()->Get(absl::StrCat("/runs/", run).c_str());
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 404);
  EXPECT_NE(page->body.find(absl::StrCat("No run ", run)), std::string::npos);
  auto events = Http()->Get(absl::StrCat("/api/runs/", run, "/events").c_str());
  ASSERT_TRUE(events);
  EXPECT_EQ(events->status, 404);
  auto log = Http()->Get(absl::StrCat("/api/runs/", run, "/log?step=a").c_str());
  ASSERT_TRUE(log);
  EXPECT_EQ(log->status, 404);
  auto list = Http()->Get("/api/runs");
  ASSERT_TRUE(list);
  EXPECT_EQ(list->body.find(run), std::string::npos) << list->body;
  EXPECT_EQ(Metric("aetherflow_steps_total{state=\"completed\"}"), 0);
}

}  // namespace
}  // namespace aetherflow::testing
