// WebhookReceiver: a real HTTP/1.1 listener on 127.0.0.1 (port 0) for tests that check what the
// daemon POSTs to an account's webhook. It answers every request 200 with "Connection: close"
// and records method, path, headers and body. WaitFor() blocks (bounded by a deadline, on a
// condition variable — no sleeping) until a predicate over the recorded requests holds.
// Thread-safe; the destructor stops the listener and joins its thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace eg::testing {

struct ReceivedRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

class WebhookReceiver {
 public:
  WebhookReceiver();
  ~WebhookReceiver();
  WebhookReceiver(const WebhookReceiver&) = delete;
  WebhookReceiver& operator=(const WebhookReceiver&) = delete;

  int port() const { return port_; }
  std::string url(const std::string& path) const;
  std::vector<ReceivedRequest> requests() const;
  // True once `done(requests)` holds; false if the deadline passes first.
  bool WaitFor(const std::function<bool(const std::vector<ReceivedRequest>&)>& done,
               std::chrono::steady_clock::duration timeout) const;

 private:
  void Serve();
  void HandleConnection(int fd);

  int listen_fd_ = -1;
  int wake_fds_[2] = {-1, -1};  // the destructor writes here to stop Serve()
  int port_ = 0;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<ReceivedRequest> requests_;
  std::thread thread_;
};

}  // namespace eg::testing
