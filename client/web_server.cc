#include "client/web_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "client/cli_util.h"
#include "client/connection.h"
#include "client/remote.h"
#include "client/render.h"
#include "client/run_actions.h"
#include "client/step_log_view.h"
#include "client/web_assets.h"
#include "client/web_hub.h"
#include "client/web_metrics.h"
#include "client/web_view.h"
#include "httplib.h"
#include "nlohmann/json.hpp"

extern char** environ;

namespace aetherflow {

namespace pb = ::aetherflow::v1;

namespace {

// Limits of what a browser may send and hold open.
constexpr std::size_t kMaxPayloadBytes = 16 * 1024;
constexpr int kMaxEventStreams = 200;  // pages following runs or logs at once
constexpr int kThreads = kMaxEventStreams + 16;
constexpr auto kKeepAlive = std::chrono::seconds(3);

// No byte from elsewhere: scripts, styles and connections to this origin
// only, no frames, no plugins, no inline script.
constexpr char kCsp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
// The report is opened from disk: its script and styles are inline, and it
// may reach nothing at all.
constexpr char kReportCsp[] =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data:; base-uri 'none'; form-action 'none'";

std::string HtmlEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

// JSON that may sit inside <script>: no "<" at all (so no "</script>" nor
// "<!--"), written as the JSON escape \u003c.
std::string ScriptSafe(const nlohmann::json& j) {
  return absl::StrReplaceAll(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                             {{"<", "\\u003c"}, {"\u2028", "\\u2028"}, {"\u2029", "\\u2029"}});
}

// The page: web/page.html with its placeholders filled.
struct PageParts {
  std::string title;
  std::string page;  // "runs", "run", "login", "error"
  std::string run_id;
  std::string csrf;
  std::string message;  // the error page's text
  bool inline_assets = false;
  std::string data_json;  // the report's view
};

std::string RenderPage(const PageParts& parts) {
  std::string head, tail;
  if (parts.inline_assets) {
    head = absl::StrCat("<meta http-equiv=\"Content-Security-Policy\" content=\"", kReportCsp,
                        "\">\n<style>", std::string(WebAsset("style.css")), "</style>");
    tail = absl::StrCat("<script type=\"application/json\" id=\"af-data\">", parts.data_json,
                        "</script>\n<script>", std::string(WebAsset("app.js")), "</script>");
  } else {
    head = "<link rel=\"stylesheet\" href=\"/static/style.css\">";
    tail = "<script src=\"/static/app.js\"></script>";
  }
  return absl::StrReplaceAll(
      std::string(WebAsset("page.html")),
      {{"{{TITLE}}", HtmlEscape(parts.title)},
       {"{{HEAD}}", head},
       {"{{PAGE}}", HtmlEscape(parts.page)},
       {"{{RUN}}", HtmlEscape(parts.run_id)},
       {"{{CSRF}}", HtmlEscape(parts.csrf)},
       {"{{MESSAGE}}", HtmlEscape(parts.message)},
       {"{{SCRIPTS}}", tail}});
}

std::string RandomHex(int bytes) {
  std::string raw(bytes, '\0');
  int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t n = ::read(fd, raw.data(), raw.size());
    (void)n;
    ::close(fd);
  }
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= a[i] ^ b[i];
  return diff == 0;
}

// "HOST:PORT", "[::1]:PORT" or ":PORT" (loopback).
bool SplitListen(const std::string& listen, std::string* host, int* port) {
  std::size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return false;
  *host = listen.substr(0, colon);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  if (host->empty()) *host = "127.0.0.1";
  return absl::SimpleAtoi(listen.substr(colon + 1), port) && *port >= 0 && *port <= 65535;
}

// The token of --token-file: its first line, which must not be empty; the
// file must be the user's and not readable by others.
absl::StatusOr<std::string> ReadToken(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--token-file ", path, ": ", std::strerror(errno)));
  }
  if (st.st_mode & 0077) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--token-file ", path, " may be read by others (chmod 600 it)"));
  }
  std::ifstream in(path);
  std::string token;
  std::getline(in, token);
  token = std::string(absl::StripAsciiWhitespace(token));
  if (token.size() < 16) {
    return absl::InvalidArgumentError(
        absl::StrCat("--token-file ", path, ": the token must have 16 characters or more"));
  }
  return token;
}

int HttpStatusFor(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::PERMISSION_DENIED:  // another user's run: as if none
    case grpc::StatusCode::INVALID_ARGUMENT:
      return 404;
    case grpc::StatusCode::FAILED_PRECONDITION:
      return 409;
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return 503;
    default:
      return 500;
  }
}

// The list of runs, asked of the daemon at most once a second whatever the
// number of pages showing it.
class RunLister {
 public:
  explicit RunLister(Connection* connection) : connection_(connection) {}
  // The list as JSON text and its version (bumped when it changed).
  std::pair<std::string, int64_t> Get(grpc::Status* status) {
    std::lock_guard<std::mutex> lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    if (version_ == 0 || now - fetched_ >= std::chrono::seconds(1)) {
      fetched_ = now;
      pb::ListRunsRequest request;
      pb::ListRunsResponse response;
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      last_status_ = connection_->stub()->ListRuns(&context, request, &response);
      if (last_status_.ok()) {
        std::vector<pb::Run> runs(response.runs().begin(), response.runs().end());
        std::string text = RunListJson(runs, WallNowMs()).dump(
            -1, ' ', false, nlohmann::json::error_handler_t::replace);
        if (text != text_ || version_ == 0) {
          text_ = std::move(text);
          ++version_;
        }
      }
    }
    *status = last_status_;
    return {text_, version_};
  }

 private:
  Connection* connection_;
  std::mutex mu_;
  std::chrono::steady_clock::time_point fetched_;
  grpc::Status last_status_;
  std::string text_;
  int64_t version_ = 0;
};

struct Session {
  std::string csrf;
};

class WebServer {
 public:
  WebServer(const GlobalOptions& global, Connection* connection, std::string token,
            std::string host, int port)
      : global_(global), connection_(connection), token_(std::move(token)),
        host_(std::move(host)), port_(port), hub_(connection), lister_(connection),
        csrf_(RandomHex(16)) {}

  int Run(bool open_browser);
  void Stop() {
    stopping_ = true;
    hub_.StopAll();
    server_.stop();
  }

 private:
  void Routes();
  bool Authorised(const httplib::Request& req, std::string* csrf);
  void SendPage(httplib::Response& res, int status, PageParts parts);
  void SendError(httplib::Response& res, int status, const std::string& message,
                 const std::string& csrf);
  void RunPage(const httplib::Request& req, httplib::Response& res, const std::string& csrf);
  void RunEvents(const httplib::Request& req, httplib::Response& res);
  void ListEvents(const httplib::Request& req, httplib::Response& res);
  void LogEvents(const httplib::Request& req, httplib::Response& res);
  void Action(const httplib::Request& req, httplib::Response& res, RunAction action);
  void Metrics(httplib::Response& res);
  bool TakeStreamSlot();

  const GlobalOptions& global_;
  Connection* connection_;
  const std::string token_;  // empty: loopback without login
  const std::string host_;
  int port_;
  WebHub hub_;
  RunLister lister_;
  const std::string csrf_;  // without a token: the one CSRF token
  std::mutex sessions_mu_;
  std::map<std::string, Session> sessions_;  // by cookie value
  std::atomic<int> event_streams_{0};
  std::mutex metrics_mu_;
  std::map<std::string, pb::RunSnapshot> snapshots_;  // /metrics' cache, metrics_mu_
  std::atomic<bool> stopping_{false};
  httplib::Server server_;
};

std::string CookieValue(const httplib::Request& req, const std::string& name) {
  const std::string cookies = req.get_header_value("Cookie");
  for (absl::string_view part : absl::StrSplit(cookies, ';')) {
    part = absl::StripAsciiWhitespace(part);
    if (absl::ConsumePrefix(&part, name + "=")) return std::string(part);
  }
  return "";
}

bool WebServer::Authorised(const httplib::Request& req, std::string* csrf) {
  if (token_.empty()) {
    *csrf = csrf_;
    return true;
  }
  const std::string bearer = req.get_header_value("Authorization");
  if (absl::StartsWith(bearer, "Bearer ") &&
      ConstantTimeEqual(bearer.substr(7), token_)) {
    *csrf = csrf_;  // a script with the token (Prometheus, curl)
    return true;
  }
  std::string cookie = CookieValue(req, "af_session");
  std::lock_guard<std::mutex> lock(sessions_mu_);
  auto it = sessions_.find(cookie);
  if (cookie.empty() || it == sessions_.end()) return false;
  *csrf = it->second.csrf;
  return true;
}

void WebServer::SendPage(httplib::Response& res, int status, PageParts parts) {
  res.status = status;
  res.set_content(RenderPage(parts), "text/html; charset=utf-8");
}

void WebServer::SendError(httplib::Response& res, int status, const std::string& message,
                          const std::string& csrf) {
  PageParts parts;
  parts.title = absl::StrCat(status == 404 ? "Not found" : "Error", " — AetherFlow");
  parts.page = "error";
  parts.message = message;
  parts.csrf = csrf;
  SendPage(res, status, parts);
}

bool WebServer::TakeStreamSlot() {
  if (++event_streams_ > kMaxEventStreams) {
    --event_streams_;
    return false;
  }
  return true;
}

void WebServer::RunPage(const httplib::Request& req, httplib::Response& res,
                        const std::string& csrf) {
  const std::string id = req.matches[1];
  pb::GetRunRequest request;
  request.set_run_id(id);
  pb::RunSnapshot snapshot;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Status status = connection_->stub()->GetRun(&context, request, &snapshot);
  if (!status.ok()) {
    int code = HttpStatusFor(status);
    SendError(res, code,
              code == 404 ? absl::StrCat("No run ", id, ".") : status.error_message(), csrf);
    return;
  }
  if (snapshot.run().id() != id) {  // a prefix, or "last"
    res.set_redirect(absl::StrCat("/runs/", snapshot.run().id()), 303);
    return;
  }
  PageParts parts;
  parts.title = absl::StrCat("Run ", id, " — AetherFlow");
  parts.page = "run";
  parts.run_id = id;
  parts.csrf = csrf;
  SendPage(res, 200, parts);
}

void SseHeaders(httplib::Response& res) {
  res.set_header("Cache-Control", "no-store");
  res.set_header("X-Accel-Buffering", "no");
}

void WebServer::RunEvents(const httplib::Request& req, httplib::Response& res) {
  const std::string id = req.matches[1];
  // Where the page is: the sequence number it last saw (EventSource sends
  // Last-Event-ID when it reconnects; ?after= for a first connection).
  int64_t after = -1;
  std::string last = req.get_header_value("Last-Event-ID");
  if (last.empty() && req.has_param("after")) last = req.get_param_value("after");
  if (!last.empty() && (!absl::SimpleAtoi(last, &after) || after < 0)) {
    res.status = 400;
    res.set_content("bad Last-Event-ID\n", "text/plain");
    return;
  }
  int code = 0;
  std::string error;
  std::shared_ptr<RunChannel> channel = hub_.Subscribe(id, &code, &error);
  if (!channel) {
    grpc::Status status(static_cast<grpc::StatusCode>(code), error);
    res.status = HttpStatusFor(status);
    res.set_content(res.status == 404 ? "no such run\n" : error + "\n", "text/plain");
    return;
  }
  if (!TakeStreamSlot()) {
    hub_.Unsubscribe(id, channel.get());
    res.status = 503;
    res.set_content("too many open pages\n", "text/plain");
    return;
  }
  SseHeaders(res);
  struct State {
    std::shared_ptr<RunChannel> channel;
    int64_t after;
  };
  auto state = std::make_shared<State>(State{channel, after});
  res.set_chunked_content_provider(
      "text/event-stream",
      [this, state](size_t, httplib::DataSink& sink) {
        if (stopping_) return false;
        // The first message carries what the page missed since `after`
        // (everything when it has seen nothing), later ones what is new.
        RunChannel::Message m = state->channel->WaitPast(
            state->after, std::chrono::steady_clock::now() + kKeepAlive, stopping_);
        std::string out;
        if (m.text.empty()) {
          out = ": keep-alive\n\n";
        } else {
          out = absl::StrCat("id: ", m.seq, "\nevent: view\ndata: ", m.text, "\n\n");
          state->after = std::max(state->after, m.seq);
        }
        if (!sink.is_writable() || !sink.write(out.data(), out.size())) return false;
        if (m.ended) {  // everything is said: the page closes its EventSource
          sink.done();
          return true;
        }
        return !stopping_;
      },
      [this, id, channel = channel.get()](bool) {
        --event_streams_;
        hub_.Unsubscribe(id, channel);
      });
}

void WebServer::ListEvents(const httplib::Request& req, httplib::Response& res) {
  if (!TakeStreamSlot()) {
    res.status = 503;
    res.set_content("too many open pages\n", "text/plain");
    return;
  }
  SseHeaders(res);
  auto version = std::make_shared<int64_t>(0);
  res.set_chunked_content_provider(
      "text/event-stream",
      [this, version](size_t, httplib::DataSink& sink) {
        if (stopping_) return false;
        grpc::Status status;
        auto [text, v] = lister_.Get(&status);
        std::string out;
        if (v != *version && !text.empty()) {
          *version = v;
          out = absl::StrCat("id: ", v, "\nevent: runs\ndata: ", text, "\n\n");
        } else {
          out = absl::StrCat(": keep-alive\n\n");
        }
        if (!status.ok()) {
          out += absl::StrCat("event: daemon\ndata: ",
                              nlohmann::json{{"connected", false}}.dump(), "\n\n");
        }
        if (!sink.is_writable() || !sink.write(out.data(), out.size())) return false;
        // The daemon has no stream of new runs: look again in a second.
        for (int i = 0; i < 10 && !stopping_; ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        return !stopping_;
      },
      [this](bool) { --event_streams_; });
}

// A step's log: its last lines, then what is written while it runs, as
// JSON strings (attempt markers made headings, as `aetherflow logs`).
void WebServer::LogEvents(const httplib::Request& req, httplib::Response& res) {
  const std::string id = req.matches[1];
  const std::string step = req.get_param_value("step");
  pb::GetRunRequest get;
  get.set_run_id(id);
  pb::RunSnapshot snapshot;
  grpc::ClientContext get_context;
  get_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Status status = connection_->stub()->GetRun(&get_context, get, &snapshot);
  bool known = false;
  for (const pb::Step& s : snapshot.steps()) known = known || s.id() == step;
  if (!status.ok() || snapshot.run().id() != id || !known) {
    res.status = status.ok() ? 404 : HttpStatusFor(status);
    res.set_content("no such run or step\n", "text/plain");
    return;
  }
  if (!TakeStreamSlot()) {
    res.status = 503;
    res.set_content("too many open pages\n", "text/plain");
    return;
  }
  SseHeaders(res);
  // A reader thread per open log: the gRPC read blocks, the HTTP side must
  // notice a page that left.
  struct Tail {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::string> chunks;
    bool done = false;
    grpc::ClientContext context;
    std::thread reader;
  };
  auto tail = std::make_shared<Tail>();
  pb::ReadLogRequest request;
  request.set_run_id(id);
  request.set_step_id(step);
  request.set_tail_lines(200);
  request.set_follow(true);
  tail->reader = std::thread([this, tail, request] {
    auto reader = connection_->stub()->ReadLog(&tail->context, request);
    StepLogViewOptions options;
    StepLogView view(options);
    pb::LogChunk chunk;
    while (reader->Read(&chunk)) {
      std::string text = view.Feed(chunk.data());
      if (text.empty()) continue;
      std::lock_guard<std::mutex> lock(tail->mu);
      tail->chunks.push_back(std::move(text));
      tail->cv.notify_all();
    }
    std::string rest = view.Finish();
    reader->Finish();
    std::lock_guard<std::mutex> lock(tail->mu);
    if (!rest.empty()) tail->chunks.push_back(std::move(rest));
    tail->done = true;
    tail->cv.notify_all();
  });
  res.set_chunked_content_provider(
      "text/event-stream",
      [this, tail](size_t, httplib::DataSink& sink) {
        std::vector<std::string> chunks;
        bool done;
        {
          std::unique_lock<std::mutex> lock(tail->mu);
          tail->cv.wait_for(lock, kKeepAlive, [&] {
            return tail->done || !tail->chunks.empty() || stopping_;
          });
          chunks.swap(tail->chunks);
          done = tail->done;
        }
        std::string out;
        for (const std::string& c : chunks) {
          absl::StrAppend(&out, "event: log\ndata: ",
                          nlohmann::json(c).dump(-1, ' ', false,
                                                 nlohmann::json::error_handler_t::replace),
                          "\n\n");
        }
        if (done) absl::StrAppend(&out, "event: end\ndata: {}\n\n");
        if (out.empty()) out = ": keep-alive\n\n";
        if (!sink.is_writable() || !sink.write(out.data(), out.size())) return false;
        if (done) {
          sink.done();
          return true;
        }
        return !stopping_;
      },
      [this, tail](bool) {
        tail->context.TryCancel();
        if (tail->reader.joinable()) tail->reader.join();
        --event_streams_;
      });
}

void WebServer::Action(const httplib::Request& req, httplib::Response& res,
                       RunAction action) {
  const std::string id = req.matches[1];
  pb::RunSnapshot snapshot;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Status status;
  if (action == RunAction::kCancel) {
    pb::CancelRunRequest request;
    request.set_run_id(id);
    status = connection_->stub()->CancelRun(&context, request, &snapshot);
  } else if (action == RunAction::kPause) {
    pb::PauseRunRequest request;
    request.set_run_id(id);
    status = connection_->stub()->PauseRun(&context, request, &snapshot);
  } else {
    pb::ResumeRunRequest request;
    request.set_run_id(id);
    const std::map<std::string, std::string> env = ShellEnvironment();
    request.mutable_env()->insert(env.begin(), env.end());
    status = connection_->stub()->ResumeRun(&context, request, &snapshot);
  }
  RunActionOutcome outcome;
  outcome.action = action;
  outcome.status = status;
  outcome.snapshot = snapshot;
  nlohmann::json body = {{"ok", status.ok()}, {"message", RunActionMessage(outcome)}};
  res.status = status.ok() ? 200 : HttpStatusFor(status);
  if (res.status == 404) body["message"] = absl::StrCat("no run ", id);
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                  "application/json");
}

void WebServer::Metrics(httplib::Response& res) {
  MetricsInput input;
  pb::ListRunsRequest list;
  pb::ListRunsResponse runs;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Status status = connection_->stub()->ListRuns(&context, list, &runs);
  if (!status.ok()) {
    res.status = 503;
    res.set_content(absl::StrCat("# the daemon: ", status.error_message(), "\n"),
                    "text/plain; version=0.0.4; charset=utf-8");
    return;
  }
  std::lock_guard<std::mutex> lock(metrics_mu_);
  std::map<std::string, pb::RunSnapshot> kept;
  for (const pb::Run& run : runs.runs()) {
    input.runs.push_back(run);
    // An ended run's steps do not change until a resume (a new state or
    // sequence number): its snapshot is reused, so a scrape asks only for
    // what moves.
    const bool ended = run.state() != pb::RUN_QUEUED && run.state() != pb::RUN_RUNNING &&
                       run.state() != pb::RUN_PAUSED;
    auto cached = snapshots_.find(run.id());
    if (ended && cached != snapshots_.end() &&
        cached->second.run().last_seq() == run.last_seq() &&
        cached->second.run().state() == run.state()) {
      input.snapshots.push_back(cached->second);
      kept[run.id()] = std::move(cached->second);
    } else {
      pb::GetRunRequest get;
      get.set_run_id(run.id());
      pb::RunSnapshot snapshot;
      grpc::ClientContext get_context;
      get_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      if (connection_->stub()->GetRun(&get_context, get, &snapshot).ok()) {
        input.snapshots.push_back(snapshot);
        kept[run.id()] = std::move(snapshot);
      }
    }
    const pb::RunState s = run.state();
    if (s == pb::RUN_SUCCEEDED) {
      ++input.checkin_verdicts["succeeded"];
    } else if (s == pb::RUN_FAILED || s == pb::RUN_CANCELLED || s == pb::RUN_INTERRUPTED) {
      ++input.checkin_verdicts["failed"];
    } else {
      // A running run's verdict: one check-in from its start, at once.
      pb::CheckInRequest check;
      check.set_run_id(run.id());
      check.set_wait_ms(0);
      pb::CheckInResponse verdict;
      grpc::ClientContext check_context;
      check_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      if (connection_->stub()->CheckIn(&check_context, check, &verdict).ok()) {
        ++input.checkin_verdicts[verdict.verdict()];
      }
    }
  }
  snapshots_ = std::move(kept);  // forgets removed runs
  input.web_streams = hub_.streams();
  input.web_clients = hub_.clients();
  res.set_content(MetricsText(input), "text/plain; version=0.0.4; charset=utf-8");
}

void WebServer::Routes() {
  server_.set_payload_max_length(kMaxPayloadBytes);
  server_.set_keep_alive_max_count(100);
  server_.set_read_timeout(10, 0);
  const std::string self = absl::StrCat(host_.find(':') != std::string::npos
                                            ? absl::StrCat("[", host_, "]")
                                            : host_,
                                        ":", port_);
  server_.set_pre_routing_handler([this, self](const httplib::Request& req,
                                               httplib::Response& res) {
    // On loopback without a token, only names of this machine reach the
    // page: a foreign site resolving its name to 127.0.0.1 (DNS
    // rebinding) is refused.
    if (token_.empty()) {
      const std::string host = req.get_header_value("Host");
      const std::string port = absl::StrCat(":", port_);
      if (host != self && host != "localhost" + port && host != "127.0.0.1" + port &&
          host != "[::1]" + port) {
        res.status = 421;
        res.set_content("this page answers to its own address only\n", "text/plain");
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    // httplib reads a body after this handler: refuse a large one unread.
    std::size_t length = 0;
    if (req.has_header("Content-Length") &&
        (!absl::SimpleAtoi(req.get_header_value("Content-Length"), &length) ||
         length > kMaxPayloadBytes)) {
      res.status = 413;
      res.set_content("request too large\n", "text/plain");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.path == "/login" || req.path == "/static/style.css" ||
        req.path == "/static/app.js") {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    std::string csrf;
    if (!Authorised(req, &csrf)) {
      if (req.method == "GET" && !absl::StartsWith(req.path, "/api/") &&
          req.path != "/metrics") {
        res.set_redirect("/login", 303);
      } else {
        res.status = 401;
        res.set_content("log in first\n", "text/plain");
      }
      return httplib::Server::HandlerResponse::Handled;
    }
    // Every action carries the page's CSRF token, and comes from this
    // origin when the browser says where it comes from.
    if (req.method == "POST") {
      const std::string origin = req.get_header_value("Origin");
      if (!ConstantTimeEqual(req.get_header_value("X-CSRF-Token"), csrf) ||
          (!origin.empty() && origin != "http://" + req.get_header_value("Host"))) {
        res.status = 403;
        res.set_content(R"({"ok":false,"message":"missing or wrong CSRF token"})",
                        "application/json");
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  server_.set_post_routing_handler([](const httplib::Request&, httplib::Response& res) {
    res.set_header("Content-Security-Policy", kCsp);
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Referrer-Policy", "no-referrer");
    res.set_header("X-Frame-Options", "DENY");
    if (!res.has_header("Cache-Control")) res.set_header("Cache-Control", "no-store");
  });
  auto csrf_of = [this](const httplib::Request& req) {
    std::string csrf;
    Authorised(req, &csrf);
    return csrf;
  };
  server_.Get("/", [this, csrf_of](const httplib::Request& req, httplib::Response& res) {
    PageParts parts;
    parts.title = "Runs — AetherFlow";
    parts.page = "runs";
    parts.csrf = csrf_of(req);
    SendPage(res, 200, parts);
  });
  server_.Get("/static/style.css", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(WebAsset("style.css")), "text/css; charset=utf-8");
  });
  server_.Get("/static/app.js", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(WebAsset("app.js")), "text/javascript; charset=utf-8");
  });
  server_.Get("/login", [this](const httplib::Request&, httplib::Response& res) {
    if (token_.empty()) {
      res.set_redirect("/", 303);
      return;
    }
    PageParts parts;
    parts.title = "Log in — AetherFlow";
    parts.page = "login";
    SendPage(res, 200, parts);
  });
  server_.Post("/login", [this](const httplib::Request& req, httplib::Response& res) {
    if (token_.empty() || !ConstantTimeEqual(req.get_param_value("token"), token_)) {
      PageParts parts;
      parts.title = "Log in — AetherFlow";
      parts.page = "login";
      parts.message = "That is not the token.";
      SendPage(res, 403, parts);
      return;
    }
    std::string id = RandomHex(32);
    {
      std::lock_guard<std::mutex> lock(sessions_mu_);
      sessions_[id] = Session{RandomHex(16)};
    }
    res.set_header("Set-Cookie", absl::StrCat("af_session=", id,
                                              "; HttpOnly; SameSite=Strict; Path=/"));
    res.set_redirect("/", 303);
  });
  server_.Get(R"(/runs/([^/]+))",
              [this, csrf_of](const httplib::Request& req, httplib::Response& res) {
                RunPage(req, res, csrf_of(req));
              });
  server_.Get("/api/runs", [this](const httplib::Request&, httplib::Response& res) {
    grpc::Status status;
    auto [text, version] = lister_.Get(&status);
    if (!status.ok()) {
      res.status = 503;
      res.set_content(status.error_message() + "\n", "text/plain");
      return;
    }
    res.set_content(text, "application/json");
  });
  server_.Get("/api/runs/events", [this](const httplib::Request& req, httplib::Response& res) {
    ListEvents(req, res);
  });
  server_.Get(R"(/api/runs/([^/]+)/events)",
              [this](const httplib::Request& req, httplib::Response& res) {
                RunEvents(req, res);
              });
  server_.Get(R"(/api/runs/([^/]+)/log)",
              [this](const httplib::Request& req, httplib::Response& res) {
                LogEvents(req, res);
              });
  server_.Post(R"(/api/runs/([^/]+)/cancel)",
               [this](const httplib::Request& req, httplib::Response& res) {
                 Action(req, res, RunAction::kCancel);
               });
  server_.Post(R"(/api/runs/([^/]+)/pause)",
               [this](const httplib::Request& req, httplib::Response& res) {
                 Action(req, res, RunAction::kPause);
               });
  server_.Post(R"(/api/runs/([^/]+)/resume)",
               [this](const httplib::Request& req, httplib::Response& res) {
                 Action(req, res, RunAction::kResume);
               });
  server_.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    Metrics(res);
  });
  server_.set_error_handler([this, csrf_of](const httplib::Request& req,
                                            httplib::Response& res) {
    if (!res.body.empty()) return;  // a handler's own answer
    if (res.status == 404) {
      SendError(res, 404, "There is no such page.", csrf_of(req));
    } else if (res.status == 413) {
      res.set_content("request too large\n", "text/plain");
    } else {
      res.set_content(absl::StrCat("HTTP ", res.status, "\n"), "text/plain");
    }
  });
}

int WebServer::Run(bool open_browser) {
  server_.new_task_queue = [] { return new httplib::ThreadPool(kThreads); };
  if (port_ == 0) {
    port_ = server_.bind_to_any_port(host_);
    if (port_ < 0) port_ = 0;
  } else if (!server_.bind_to_port(host_, port_)) {
    port_ = 0;
  }
  if (port_ == 0) {
    std::fprintf(stderr, "aetherflow: cannot listen on %s: %s\n", host_.c_str(),
                 std::strerror(errno));
    return kExitFailed;
  }
  Routes();  // the Host check needs the bound port
  const std::string url = absl::StrCat(
      "http://", host_.find(':') != std::string::npos ? absl::StrCat("[", host_, "]") : host_,
      ":", port_, "/");
  std::printf("aetherflow: serving %s (Ctrl-C stops)\n", url.c_str());
  std::fflush(stdout);
  if (open_browser) {
    const char* argv[] = {"xdg-open", url.c_str(), nullptr};
    pid_t pid = 0;
    if (::posix_spawnp(&pid, "xdg-open", nullptr, nullptr, const_cast<char**>(argv),
                       environ) != 0) {
      std::fprintf(stderr, "aetherflow: cannot start a browser (xdg-open); open %s\n",
                   url.c_str());
    }
  }
  return server_.listen_after_bind() || stopping_ ? kExitOk : kExitFailed;
}

}  // namespace

int CmdWeb(const GlobalOptions& global, const WebOptions& options) {
  std::string host;
  int port = 0;
  if (!SplitListen(options.listen, &host, &port)) {
    std::fprintf(stderr, "aetherflow: --listen: expected HOST:PORT, not \"%s\"\n",
                 options.listen.c_str());
    return kExitUsage;
  }
  std::string token;
  if (!options.token_file.empty()) {
    absl::StatusOr<std::string> read = ReadToken(options.token_file);
    if (!read.ok()) {
      std::fprintf(stderr, "aetherflow: %s\n", std::string(read.status().message()).c_str());
      return kExitUsage;
    }
    token = *read;
  } else if (!IsLoopbackHost(host)) {
    std::fprintf(stderr,
                 "aetherflow: --listen %s is not a loopback address: give --token-file "
                 "(the browser then asks for the token once)\n",
                 options.listen.c_str());
    return kExitUsage;
  }
  // SIGINT/SIGTERM stop the server from a thread of ours, not a handler;
  // blocked before gRPC starts its threads, so that none of them takes it.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  std::unique_ptr<Connection> connection = ConnectOrExplain(global);
  if (!connection) return kExitUnreachable;
  auto server = std::make_unique<WebServer>(global, connection.get(), token, host, port);
  std::atomic<bool> done{false};
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    if (!done) server->Stop();
  });
  int code = server->Run(options.open);
  done = true;
  if (code != kExitOk) {
    ::kill(::getpid(), SIGTERM);  // ends the waiter
  }
  waiter.join();
  server.reset();
  return code;
}

int CmdReport(const GlobalOptions& global, const std::string& run,
              const std::string& output) {
  std::unique_ptr<Connection> connection = ConnectOrExplain(global);
  if (!connection) return kExitUnreachable;
  pb::GetRunRequest get;
  get.set_run_id(run);
  pb::RunSnapshot snapshot;
  grpc::ClientContext context;
  grpc::Status status = connection->stub()->GetRun(&context, get, &snapshot);
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", DescribeError(status, global.where()).c_str());
    return ExitCodeFor(status);
  }
  std::vector<pb::Event> events;
  pb::StreamEventsRequest request;
  request.set_run_id(snapshot.run().id());
  grpc::ClientContext stream_context;
  auto reader = connection->stub()->StreamEvents(&stream_context, request);
  pb::EventBatch batch;
  while (reader->Read(&batch)) {
    for (const pb::Event& event : batch.events()) {
      if (event.seq() <= snapshot.run().last_seq()) events.push_back(event);
    }
  }
  status = reader->Finish();
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", DescribeError(status, global.where()).c_str());
    return ExitCodeFor(status);
  }
  nlohmann::json data = {{"seq", snapshot.run().last_seq()},
                         {"connected", true},
                         {"ended", true},
                         {"report", true},
                         {"view", RunViewJson(snapshot, events, WallNowMs())}};
  PageParts parts;
  parts.title = absl::StrCat("Run ", snapshot.run().id(), " — AetherFlow report");
  parts.page = "run";
  parts.run_id = snapshot.run().id();
  parts.inline_assets = true;
  parts.data_json = ScriptSafe(data);
  const std::string text = RenderPage(parts);
  if (output.empty() || output == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return kExitOk;
  }
  const std::string tmp = output + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.good()) {
      std::fprintf(stderr, "aetherflow: cannot write %s: %s\n", output.c_str(),
                   std::strerror(errno));
      return kExitFailed;
    }
  }
  if (std::rename(tmp.c_str(), output.c_str()) != 0) {
    std::fprintf(stderr, "aetherflow: cannot write %s: %s\n", output.c_str(),
                 std::strerror(errno));
    return kExitFailed;
  }
  return kExitOk;
}

}  // namespace aetherflow
