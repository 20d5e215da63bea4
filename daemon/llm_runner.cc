#include "daemon/llm_runner.h"

#include <curl/curl.h>

#include <cerrno>
#include <cstring>

#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace aetherflow {
namespace {

struct Transfer {
  LlmRequest request;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  std::string body;
  std::string retry_after;
  char error[CURL_ERROR_SIZE] = {};
};

size_t WriteBody(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  // Answers are text; 64 MiB is far beyond any completion.
  if (transfer->body.size() + size * count > (64u << 20)) return 0;
  transfer->body.append(data, size * count);
  return size * count;
}

size_t ReadHeader(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  absl::string_view line(data, size * count);
  if (absl::StartsWithIgnoreCase(line, "retry-after:")) {
    transfer->retry_after =
        std::string(absl::StripAsciiWhitespace(line.substr(strlen("retry-after:"))));
  }
  return size * count;
}

// LlmResponse::reason: what a person needs to know, without curl's words.
std::string ShortReason(CURLcode code, long os_errno) {
  if (os_errno == ECONNREFUSED) return "connection refused";
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return "timed out";
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return "host not found";
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
      return "connection lost";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
      return "TLS error";
    default:
      break;
  }
  std::string text = os_errno != 0 ? std::strerror(static_cast<int>(os_errno))
                                   : curl_easy_strerror(code);
  if (!text.empty()) text[0] = absl::ascii_tolower(static_cast<unsigned char>(text[0]));
  return text;
}

}  // namespace

class LlmRunner::Impl {
 public:
  explicit Impl(std::function<void()> wakeup) : wakeup_(std::move(wakeup)) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    multi_ = curl_multi_init();
    // Keep connections to each provider warm and shared by all requests.
    curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, 256L);
    thread_ = std::thread([this] { Loop(); });
  }
  ~Impl() {
    stop_ = true;
    curl_multi_wakeup(multi_);
    thread_.join();
    for (auto& [key, transfer] : active_) Release(transfer.get());
    curl_multi_cleanup(multi_);
  }

  void Start(LlmRequest request) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      incoming_.push_back(std::move(request));
    }
    curl_multi_wakeup(multi_);
  }

  void Cancel(int64_t key) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      cancels_.insert(key);
    }
    curl_multi_wakeup(multi_);
  }

  std::vector<LlmResponse> TakeResponses() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<LlmResponse> out;
    out.swap(responses_);
    return out;
  }

 private:
  void Release(Transfer* transfer) {
    curl_multi_remove_handle(multi_, transfer->easy);
    curl_easy_cleanup(transfer->easy);
    curl_slist_free_all(transfer->headers);
  }

  void Add(LlmRequest request) {
    auto transfer = std::make_unique<Transfer>();
    transfer->request = std::move(request);
    Transfer* t = transfer.get();
    t->easy = curl_easy_init();
    t->headers = curl_slist_append(t->headers, "Content-Type: application/json");
    if (!t->request.api_key.empty()) {
      std::string auth = "Authorization: Bearer " + t->request.api_key;
      t->headers = curl_slist_append(t->headers, auth.c_str());
    }
    t->headers = curl_slist_append(t->headers, "Expect:");  // no 100-continue wait
    curl_easy_setopt(t->easy, CURLOPT_URL, t->request.url.c_str());
    curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->request.body.c_str());
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(t->request.body.size()));
    curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, WriteBody);
    curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(t->easy, CURLOPT_HEADERFUNCTION, ReadHeader);
    curl_easy_setopt(t->easy, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->error);
    curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, static_cast<long>(t->request.timeout_ms));
    curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS, 30'000L);
    curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM
    curl_easy_setopt(t->easy, CURLOPT_USERAGENT, "aetherflowd/0.1");
    curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
    curl_easy_setopt(t->easy, CURLOPT_ACCEPT_ENCODING, "");
    curl_multi_add_handle(multi_, t->easy);
    active_[t->request.key] = std::move(transfer);
  }

  void Loop() {
    while (!stop_) {
      std::deque<LlmRequest> incoming;
      std::set<int64_t> cancels;
      {
        std::lock_guard<std::mutex> lock(mu_);
        incoming.swap(incoming_);
        cancels.swap(cancels_);
      }
      for (LlmRequest& request : incoming) Add(std::move(request));
      std::vector<LlmResponse> done;
      for (int64_t key : cancels) {
        auto it = active_.find(key);
        if (it == active_.end()) continue;
        Release(it->second.get());
        LlmResponse response;
        response.key = key;
        response.cancelled = true;
        done.push_back(std::move(response));
        active_.erase(it);
      }
      int running = 0;
      curl_multi_perform(multi_, &running);
      int left = 0;
      while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
        if (msg->msg != CURLMSG_DONE) continue;
        Transfer* t = nullptr;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);
        LlmResponse response;
        response.key = t->request.key;
        if (msg->data.result == CURLE_OK) {
          long status = 0;
          curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
          response.http_status = static_cast<int>(status);
          response.body = std::move(t->body);
          response.retry_after = t->retry_after;
        } else {
          // curl's message names the host, never the headers.
          response.error = t->error[0] ? t->error : curl_easy_strerror(msg->data.result);
          long os_errno = 0;
          curl_easy_getinfo(t->easy, CURLINFO_OS_ERRNO, &os_errno);
          response.reason = ShortReason(msg->data.result, os_errno);
        }
        done.push_back(std::move(response));
        int64_t key = t->request.key;
        Release(t);
        active_.erase(key);
      }
      if (!done.empty()) {
        {
          std::lock_guard<std::mutex> lock(mu_);
          for (LlmResponse& response : done) responses_.push_back(std::move(response));
        }
        wakeup_();
      }
      // Start, Cancel and the destructor wake the poll up, and curl's own
      // timers shorten it: with nothing in flight there is nothing to wake
      // up for (an idle daemon stays asleep).
      curl_multi_poll(multi_, nullptr, 0, active_.empty() ? 3'600'000 : 1000, nullptr);
    }
  }

  std::function<void()> wakeup_;
  CURLM* multi_ = nullptr;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::deque<LlmRequest> incoming_;       // guarded by mu_
  std::set<int64_t> cancels_;             // guarded by mu_
  std::vector<LlmResponse> responses_;    // guarded by mu_
  std::map<int64_t, std::unique_ptr<Transfer>> active_;  // runner thread only
};

LlmRunner::LlmRunner(std::function<void()> wakeup)
    : impl_(std::make_unique<Impl>(std::move(wakeup))) {}
LlmRunner::~LlmRunner() = default;
void LlmRunner::Start(LlmRequest request) { impl_->Start(std::move(request)); }
void LlmRunner::Cancel(int64_t key) { impl_->Cancel(key); }
std::vector<LlmResponse> LlmRunner::TakeResponses() { return impl_->TakeResponses(); }

}  // namespace aetherflow
