// Sends LLM requests (OpenAI-compatible /chat/completions) with libcurl's
// multi interface on one thread: many requests in flight without a thread
// per step, cancel mid-request. Policy (retries, concurrency caps, prompts)
// lives in the engine; this is only the HTTP edge.
#ifndef AETHERFLOW_DAEMON_LLM_RUNNER_H_
#define AETHERFLOW_DAEMON_LLM_RUNNER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace aetherflow {

struct LlmRequest {
  int64_t key = 0;       // the caller's handle
  std::string url;       // .../chat/completions
  std::string api_key;   // sent as "Authorization: Bearer"; never logged
  std::string body;      // JSON
  int64_t timeout_ms = 120'000;
};

struct LlmResponse {
  int64_t key = 0;
  int http_status = 0;      // 0: no HTTP answer (see error)
  std::string body;
  std::string retry_after;  // the Retry-After header, if any
  std::string error;        // transport error (timeout, refused...), no secrets
  // The transport error in a few words, for a status cell: "connection
  // refused", "timed out", "host not found"... Empty with an HTTP answer.
  std::string reason;
  bool cancelled = false;
};

class LlmRunner {
 public:
  // `wakeup` is called from the runner's thread when responses are ready.
  explicit LlmRunner(std::function<void()> wakeup);
  ~LlmRunner();  // aborts what is in flight

  // Thread-safe.
  void Start(LlmRequest request);
  void Cancel(int64_t key);
  std::vector<LlmResponse> TakeResponses();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aetherflow

#endif  // AETHERFLOW_DAEMON_LLM_RUNNER_H_
