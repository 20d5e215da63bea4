// fake_openai: a small OpenAI-compatible HTTP server for AetherFlow's tests
// and benchmarks, on 127.0.0.1 only. POSIX sockets, a thread per connection,
// HTTP/1.1 keep-alive. Serves POST <prefix>/chat/completions (a canned or
// scripted answer), GET /health ("ok"); anything else is a 404.
// Usage: see Usage() below; the --script rules are described at Rule.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using json = nlohmann::json;

constexpr std::size_t kMaxHead = 64 << 10;  // request line + headers
constexpr std::size_t kMaxBody = 64 << 20;  // request body
constexpr int kIdleTimeoutSec = 120;        // idle keep-alive connections
constexpr int kSafetyExitSec = 30 * 60;     // exit by itself after this

// One --script rule. It applies when all its conditions ("request",
// "match") hold; the first rule that applies wins.
struct Rule {
  std::optional<int64_t> request;    // the Nth completion request; fires once
  std::optional<std::string> match;  // substring of the last user message
  int status = 200;                  // != 200: answer an error instead
  std::string retry_after;           // Retry-After value; empty = none
  std::optional<std::string> content;
  int64_t cached_tokens = 0;
  std::optional<int64_t> latency_ms;
  // Before answering: create HOLD.waiting, then wait (up to 60 s) until
  // the file HOLD exists, so that a test can act while a request is out.
  std::string hold_until;
  bool fired = false;
};

struct Options {
  std::string port_file, script, log;
  int port = 0;
  int64_t latency_ms = 0;
  std::optional<std::string> expect_key;
  bool model_check = false;
};

Options g_opt;
std::mutex g_rules_mu;
std::vector<Rule> g_rules;  // guarded by g_rules_mu
std::mutex g_log_mu;
FILE* g_log = nullptr;               // guarded by g_log_mu
std::atomic<int64_t> g_requests{0};  // completion requests so far
const auto g_start = std::chrono::steady_clock::now();

// Invalid UTF-8 is replaced rather than thrown on.
std::string Dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower((unsigned char)c));
  return s;
}

std::string Trim(const std::string& s) {
  std::size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

int64_t CountWords(const std::string& s) {
  std::istringstream in(s);
  std::string w;
  int64_t n = 0;
  while (in >> w) ++n;
  return n;
}

json ErrorBody(const std::string& message, const std::string& type) {
  return {{"error", {{"message", message}, {"type", type}}}};
}

// ------------------------------------------------------------------ HTTP

// A client connection: the socket plus bytes read but not yet consumed.
struct Conn {
  int fd;
  std::string buf;

  // Reads more bytes; false on EOF, error or idle timeout (SO_RCVTIMEO).
  bool ReadMore() {
    char tmp[65536];
    for (;;) {
      ssize_t n = recv(fd, tmp, sizeof tmp, 0);
      if (n > 0) return buf.append(tmp, static_cast<std::size_t>(n)), true;
      if (n < 0 && errno == EINTR) continue;
      return false;
    }
  }
  bool Need(std::size_t n) {  // at least n bytes buffered
    while (buf.size() < n && ReadMore()) {
    }
    return buf.size() >= n;
  }
  bool ReadLine(std::string* line) {  // one CRLF-terminated line, no CRLF
    std::size_t pos;
    while ((pos = buf.find("\r\n")) == std::string::npos) {
      if (buf.size() > kMaxHead || !ReadMore()) return false;
    }
    *line = buf.substr(0, pos);
    buf.erase(0, pos + 2);
    return true;
  }
  bool SendAll(const std::string& data) {  // never raises SIGPIPE
    for (std::size_t off = 0; off < data.size();) {
      ssize_t n = send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      off += static_cast<std::size_t>(n);
    }
    return true;
  }
};

struct Request {
  std::string method, path, version, body;
  std::map<std::string, std::string> headers;  // names lowercased

  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

struct Response {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::string retry_after = "";
};

bool SendResponse(Conn& c, const Response& r, bool keep_alive) {
  // Clients read the code only; the reason phrase may be anything.
  std::string out = "HTTP/1.1 " + std::to_string(r.status) +
                    (r.status < 400 ? " OK" : " Error") +
                    "\r\nContent-Type: " + r.content_type +
                    "\r\nContent-Length: " + std::to_string(r.body.size()) +
                    "\r\nConnection: " + (keep_alive ? "keep-alive" : "close");
  if (!r.retry_after.empty()) out += "\r\nRetry-After: " + r.retry_after;
  return c.SendAll(out + "\r\n\r\n" + r.body);
}

enum class ReadResult { kOk, kClosed, kBad, kTooLarge };

// A chunked body; chunk extensions and trailers are ignored.
ReadResult ReadChunked(Conn& c, std::string* body) {
  std::string line;
  for (;;) {
    if (!c.ReadLine(&line)) return ReadResult::kBad;
    char* end = nullptr;
    unsigned long long size = std::strtoull(line.c_str(), &end, 16);
    if (end == line.c_str()) return ReadResult::kBad;
    if (size == 0) break;
    if (size > kMaxBody - body->size()) return ReadResult::kTooLarge;
    if (!c.Need(size + 2)) return ReadResult::kBad;
    body->append(c.buf, 0, size);
    c.buf.erase(0, size + 2);
  }
  do {  // trailers, up to the empty line
    if (!c.ReadLine(&line)) return ReadResult::kBad;
  } while (!line.empty());
  return ReadResult::kOk;
}

ReadResult ReadRequest(Conn& c, Request* req) {
  std::size_t end;
  while ((end = c.buf.find("\r\n\r\n")) == std::string::npos) {
    if (c.buf.size() > kMaxHead) return ReadResult::kBad;
    if (!c.ReadMore()) {
      return c.buf.empty() ? ReadResult::kClosed : ReadResult::kBad;
    }
  }
  std::istringstream head(c.buf.substr(0, end));
  c.buf.erase(0, end + 4);
  std::string line;
  std::getline(head, line);
  std::istringstream request_line(line);
  if (!(request_line >> req->method >> req->path >> req->version) ||
      req->version.rfind("HTTP/1.", 0) != 0) {
    return ReadResult::kBad;
  }
  req->path = req->path.substr(0, req->path.find('?'));
  while (std::getline(head, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) return ReadResult::kBad;
    req->headers[Lower(Trim(line.substr(0, colon)))] =
        Trim(line.substr(colon + 1));
  }
  const bool chunked =
      Lower(req->Header("transfer-encoding")).find("chunked") !=
      std::string::npos;
  const std::string cl = req->Header("content-length");
  if (!chunked && cl.find_first_not_of("0123456789") != std::string::npos) {
    return ReadResult::kBad;
  }
  if (!chunked && cl.size() > 9) return ReadResult::kTooLarge;
  const std::size_t length = chunked || cl.empty() ? 0 : std::stoul(cl);
  if (length > kMaxBody) return ReadResult::kTooLarge;
  // libcurl waits (up to 1 s) for "100 Continue" before sending big bodies.
  if ((chunked || c.buf.size() < length) && req->version == "HTTP/1.1" &&
      Lower(req->Header("expect")) == "100-continue" &&
      !c.SendAll("HTTP/1.1 100 Continue\r\n\r\n")) {
    return ReadResult::kClosed;
  }
  if (chunked) return ReadChunked(c, &req->body);
  if (!c.Need(length)) return ReadResult::kBad;
  req->body = c.buf.substr(0, length);
  c.buf.erase(0, length);
  return ReadResult::kOk;
}

// ----------------------------------------------------------- completions

// The default answer: echoes the first line of the last user message, then
// one "```text <path>\ncontent of <path>\n```" block per prompt line
// "FILE: <path>" (or "- path: <path>"), and per "- <path>" line of the
// "# Files to write" section of AetherFlow's own prompts.
std::string DefaultContent(const std::vector<std::string>& texts,
                           const std::string& last_user) {
  std::string out = "## Answer\n\nYou asked: " +
                    Trim(last_user.substr(0, last_user.find('\n'))) + "\n";
  std::vector<std::string> paths;  // in order of first mention
  for (const auto& text : texts) {
    std::istringstream in(text);
    bool in_files = false;
    for (std::string line; std::getline(in, line);) {
      std::string t = Trim(line), path;
      if (t.rfind("# ", 0) == 0) in_files = t == "# Files to write";
      if (t.rfind("FILE: ", 0) == 0) path = Trim(t.substr(6));
      if (t.rfind("- path: ", 0) == 0) {
        path = Trim(t.substr(8));
      } else if (in_files && t.rfind("- ", 0) == 0) {
        path = Trim(t.substr(2));
      }
      if (!path.empty() &&
          std::find(paths.begin(), paths.end(), path) == paths.end()) {
        paths.push_back(path);
      }
    }
  }
  for (const auto& p : paths) {
    out += "\n```text " + p + "\ncontent of " + p + "\n```\n";
  }
  return out;
}

// The first rule that applies to request n with that last user message.
std::optional<Rule> FindRule(int64_t n, const std::string& last_user) {
  std::lock_guard lock(g_rules_mu);
  for (Rule& r : g_rules) {
    if (r.request && (r.fired || *r.request != n)) continue;
    if (r.match && last_user.find(*r.match) == std::string::npos) continue;
    r.fired = r.request.has_value();
    return r;
  }
  return std::nullopt;
}

// Appends one JSON line to --log; lines from several threads never mix.
void LogRequest(int64_t n, const Request& req, const json& body, int status,
                int64_t t_ms) {
  if (!g_log) return;
  auto field = [&](const char* key) {
    return body.is_object() && body.contains(key) ? body[key] : json();
  };
  std::string line = Dump({{"n", n},
                           {"path", req.path},
                           {"model", field("model")},
                           {"auth", req.Header("authorization")},
                           {"messages", field("messages")},
                           {"status", status},
                           {"t_ms", t_ms}}) +
                     "\n";
  std::lock_guard lock(g_log_mu);
  std::fputs(line.c_str(), g_log);
  std::fflush(g_log);
}

Response Completion(const Request& req) {
  using namespace std::chrono;
  const int64_t n = ++g_requests;  // every completion request counts
  const int64_t t_ms =
      duration_cast<milliseconds>(steady_clock::now() - g_start).count();
  const json body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  Response r;
  auto answer = [&](int status, const json& j) {
    r.status = status;
    r.body = Dump(j);
    LogRequest(n, req, body, status, t_ms);
    return r;
  };
  auto invalid = [&](const std::string& why) {
    return answer(400, ErrorBody(why, "invalid_request_error"));
  };
  if (g_opt.expect_key &&
      req.Header("authorization") != "Bearer " + *g_opt.expect_key) {
    return answer(401, ErrorBody("invalid api key", "auth"));
  }
  if (body.is_discarded()) return invalid("body is not valid JSON");
  if (!body.is_object() || !body.contains("model") ||
      !body["model"].is_string()) {
    return invalid("body needs a string \"model\"");
  }
  const std::string model = body["model"];
  if (!body.contains("messages") || !body["messages"].is_array() ||
      body["messages"].empty()) {
    return invalid("\"messages\" must be a non-empty array");
  }
  std::vector<std::string> texts;
  std::string last_user;
  for (const auto& m : body["messages"]) {
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string() ||
        !m.contains("content")) {
      return invalid("each message needs a \"role\" and a \"content\"");
    }
    // Non-string contents (arrays of parts, null) count as empty text.
    const json& c = m["content"];
    texts.push_back(c.is_string() ? c.get<std::string>() : "");
    if (m["role"] == "user") last_user = texts.back();
  }
  // --model-check: models named "" or "unknown..." do not exist.
  if (g_opt.model_check && (model.empty() || model.rfind("unknown", 0) == 0)) {
    json err = ErrorBody("The model `" + model + "` does not exist",
                         "invalid_request_error");
    err["error"]["code"] = "model_not_found";
    return answer(404, err);
  }

  const std::optional<Rule> rule = FindRule(n, last_user);
  const int64_t latency =
      rule && rule->latency_ms ? *rule->latency_ms : g_opt.latency_ms;
  if (latency > 0) std::this_thread::sleep_for(milliseconds(latency));
  if (rule && !rule->hold_until.empty()) {
    std::ofstream(rule->hold_until + ".waiting") << n << "\n";
    for (int i = 0; i < 6000 && !std::ifstream(rule->hold_until).good(); ++i) {
      std::this_thread::sleep_for(milliseconds(10));
    }
  }
  if (rule) r.retry_after = rule->retry_after;
  if (rule && rule->status != 200) {
    return answer(rule->status,
                  ErrorBody("scripted error " + std::to_string(rule->status),
                            rule->status == 429   ? "rate_limit_error"
                            : rule->status >= 500 ? "server_error"
                                                  : "invalid_request_error"));
  }
  const std::string content =
      rule && rule->content ? *rule->content : DefaultContent(texts, last_user);
  int64_t prompt = 0;
  for (const auto& t : texts) prompt += CountWords(t);
  prompt = std::max<int64_t>(prompt, 1);
  const int64_t completion = CountWords(content);
  const int64_t hit =
      std::clamp<int64_t>(rule ? rule->cached_tokens : 0, 0, prompt);
  json choice = {{"index", 0},
                 {"message", {{"role", "assistant"}, {"content", content}}},
                 {"finish_reason", "stop"}};
  return answer(200, {{"id", "chatcmpl-" + std::to_string(n)},
                      {"object", "chat.completion"},
                      {"created", static_cast<int64_t>(std::time(nullptr))},
                      {"model", model},
                      {"choices", json::array({choice})},
                      {"usage",
                       {{"prompt_tokens", prompt},
                        {"completion_tokens", completion},
                        {"total_tokens", prompt + completion},
                        {"prompt_cache_hit_tokens", hit},
                        {"prompt_cache_miss_tokens", prompt - hit}}}});
}

Response Route(const Request& req) {
  const std::string suffix = "/chat/completions";
  const std::string& p = req.path;
  if (req.method == "POST" && p.size() >= suffix.size() &&
      p.compare(p.size() - suffix.size(), suffix.size(), suffix) == 0) {
    return Completion(req);
  }
  if (req.method == "GET" && p == "/health") return {200, "ok", "text/plain"};
  return {404, Dump(ErrorBody("no route for " + req.method + " " + p,
                              "invalid_request_error"))};
}

// Serves one connection until the client closes it or asks to.
void ServeConnection(int fd) {
  Conn c{fd, {}};
  for (;;) {
    Request req;
    ReadResult rr = ReadRequest(c, &req);
    if (rr == ReadResult::kClosed) break;
    if (rr != ReadResult::kOk) {  // answer, then drop the broken stream
      SendResponse(c,
                   {rr == ReadResult::kTooLarge ? 413 : 400,
                    Dump(ErrorBody("malformed request", "invalid_request"))},
                   false);
      break;
    }
    const std::string conn = Lower(req.Header("connection"));
    const bool keep_alive =
        req.version == "HTTP/1.1" ? conn != "close" : conn == "keep-alive";
    Response resp;
    try {
      resp = Route(req);
    } catch (const std::exception& e) {  // a request never kills the server
      resp = {500, Dump(ErrorBody(e.what(), "server_error"))};
    }
    if (!SendResponse(c, resp, keep_alive) || !keep_alive) break;
  }
  close(fd);
}

// --------------------------------------------------------------- startup

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr,
               "fake_openai: %s\nusage: fake_openai --port-file FILE "
               "[--port N] [--latency-ms N] [--script FILE] [--log FILE] "
               "[--expect-key KEY] [--model-check]\n",
               why.c_str());
  std::exit(2);
}

void ParseArgs(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--model-check") {
      g_opt.model_check = true;
      continue;
    }
    if (i + 1 >= argc) Usage("missing value for " + a);
    const std::string v = argv[++i];
    try {
      // clang-format off
      if (a == "--port-file") g_opt.port_file = v;
      else if (a == "--port") g_opt.port = std::stoi(v);
      else if (a == "--latency-ms") g_opt.latency_ms = std::stoll(v);
      else if (a == "--script") g_opt.script = v;
      else if (a == "--log") g_opt.log = v;
      else if (a == "--expect-key") g_opt.expect_key = v;
      else Usage("unknown flag " + a);
      // clang-format on
    } catch (const std::exception&) {
      Usage("bad number for " + a);
    }
  }
  if (g_opt.port_file.empty()) Usage("--port-file is required");
}

void LoadScript(const std::string& path) {
  std::ifstream in(path);
  if (!in) Usage("cannot read script " + path);
  try {
    const json rules = json::parse(in);
    if (!rules.is_array()) throw std::runtime_error("not a JSON array");
    for (const auto& j : rules) {
      Rule r;
      if (j.contains("request")) r.request = j["request"].get<int64_t>();
      if (j.contains("match")) r.match = j["match"];
      if (j.contains("content")) r.content = j["content"];
      if (j.contains("latency_ms")) r.latency_ms = j["latency_ms"];
      if (j.contains("hold_until")) r.hold_until = j["hold_until"];
      r.status = j.value("status", 200);
      r.cached_tokens = j.value("cached_tokens", int64_t{0});
      if (j.contains("retry_after")) {  // "1" or 1
        const json& ra = j["retry_after"];
        r.retry_after = ra.is_string() ? ra.get<std::string>() : ra.dump();
      }
      g_rules.push_back(std::move(r));
    }
  } catch (const std::exception& e) {
    Usage("bad script " + path + ": " + e.what());
  }
}

}  // namespace

int main(int argc, char** argv) {
  ParseArgs(argc, argv);
  if (!g_opt.script.empty()) LoadScript(g_opt.script);
  if (!g_opt.log.empty() && !(g_log = std::fopen(g_opt.log.c_str(), "a"))) {
    Usage("cannot open log " + g_opt.log);
  }
  // SIGTERM/SIGINT stay blocked in every thread and are taken by
  // sigtimedwait() below. SIGPIPE is ignored (sends use MSG_NOSIGNAL too).
  signal(SIGPIPE, SIG_IGN);
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  const int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(g_opt.port));
  socklen_t len = sizeof addr;
  if (lfd < 0 || bind(lfd, (sockaddr*)&addr, sizeof addr) != 0 ||
      listen(lfd, 1024) != 0 || getsockname(lfd, (sockaddr*)&addr, &len)) {
    std::fprintf(stderr, "fake_openai: cannot listen on 127.0.0.1:%d: %s\n",
                 g_opt.port, std::strerror(errno));
    return 1;
  }
  // Publish the port atomically: readers see no file or the whole line.
  const std::string tmp = g_opt.port_file + ".tmp." + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!(out << ntohs(addr.sin_port) << "\n" << std::flush)) {
      Usage("cannot write " + tmp);
    }
  }
  if (std::rename(tmp.c_str(), g_opt.port_file.c_str()) != 0) {
    Usage("cannot rename " + tmp + " to " + g_opt.port_file);
  }

  std::thread([lfd] {
    for (;;) {
      const int fd = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {  // e.g. EMFILE: back off instead of spinning
        if (errno != EINTR) usleep(10000);
        continue;
      }
      int on = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
      timeval idle{kIdleTimeoutSec, 0};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof idle);
      try {
        std::thread(ServeConnection, fd).detach();
      } catch (const std::exception&) {  // out of threads: drop this client
        close(fd);
      }
    }
  }).detach();

  // Serve until SIGTERM/SIGINT, or until the safety timeout.
  const timespec limit{kSafetyExitSec, 0};
  int sig;
  while ((sig = sigtimedwait(&stop, nullptr, &limit)) < 0 && errno == EINTR) {
  }
  if (sig < 0) std::fprintf(stderr, "fake_openai: safety timeout, exiting\n");
  // Connection threads are still running: skip static destructors.
  if (g_log) std::fflush(g_log);
  std::_Exit(0);
}
