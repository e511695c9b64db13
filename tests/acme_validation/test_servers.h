// Test-only servers for acme_validation_test: a TCP server running a handler per connection on
// one thread (HTTP, TLS, or one that never answers), and a UDP DNS responder with a minimal
// reply builder (TXT, CNAME, NXDOMAIN, SERVFAIL, silence). Each binds 127.0.0.1 port 0, and its
// destructor stops its thread through a wake-up pipe (no sleeps, no timeouts as synchronisation).
// Configure before the validator runs; the recorded observations are read after it finished.
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace eg::acme::validation::testing {

// A pipe whose read end becomes readable once Signal() was called.
class StopPipe {
 public:
  StopPipe();
  ~StopPipe();
  void Signal();
  int fd() const { return fds_[0]; }

 private:
  int fds_[2];
};

// Waits until `fd` is readable or the stop pipe fires; false on stop.
bool WaitReadable(int fd, int stop_fd);

class TcpServer {
 public:
  // handler(conn_fd, stop_fd) serves one connection; the server closes conn_fd afterwards.
  using Handler = std::function<void(int conn_fd, int stop_fd)>;
  // Listens on 127.0.0.1:`port` (0 = any free port).
  explicit TcpServer(Handler handler, uint16_t port = 0);
  ~TcpServer();
  // Stops and joins the thread (idempotent); read what a handler recorded after this.
  void Stop();
  uint16_t port() const { return port_; }
  int connections() const { return connections_; }

 private:
  void Loop();
  Handler handler_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<int> connections_{0};
  StopPipe stop_;
  std::thread thread_;
};

// A handler that reads one HTTP request and answers with `respond(path)` (a full raw response).
// Records each request's path and Host header.
struct HttpLog {
  std::mutex mu;
  std::vector<std::string> paths;
  std::vector<std::string> hosts;
};
TcpServer::Handler HttpHandler(std::function<std::string(const std::string& path)> respond,
                               HttpLog* log);
// Accepts and never answers until stopped.
TcpServer::Handler SilentHandler();

// A TLS server certificate for tls-alpn-01.
struct AcmeCert {
  std::vector<std::string> sans;                 // "DNS:example.test", "IP:127.0.0.1"
  std::optional<std::string> key_authorization;  // acmeIdentifier = SHA-256 of it; none if unset
  bool critical = true;
  bool wrap_in_octet_string = true;
};
enum class AlpnMode { kAcme, kNone };
struct TlsLog {
  std::mutex mu;
  std::vector<std::string> server_names;  // SNI per connection
};
// Builds a self-signed certificate and answers TLS handshakes with it.
TcpServer::Handler TlsHandler(const AcmeCert& cert, AlpnMode alpn, TlsLog* log);
// An HTTPS server (any certificate, no ALPN) answering one request with `respond(path)`.
TcpServer::Handler HttpsHandler(std::function<std::string(const std::string& path)> respond);

struct DnsZone {
  std::vector<std::string> txt;  // each record; records longer than 255 bytes are split
  std::optional<std::string> cname;
  bool servfail = false;
};
class DnsResponder {
 public:
  DnsResponder();
  ~DnsResponder();
  // Names are lower case, without the trailing dot. A name not listed is NXDOMAIN.
  void Set(const std::string& name, DnsZone zone);
  void SetSilent(bool silent) { silent_ = silent; }
  // UDP replies carry no answers and the TC bit, so the client must retry over TCP, which the
  // responder also serves on the same port number.
  void SetTruncateUdp(bool truncate) { truncate_udp_ = truncate; }
  int tcp_queries() const { return tcp_queries_; }
  uint16_t port() const { return port_; }
  std::string server() const { return "127.0.0.1:" + std::to_string(port_); }
  std::vector<std::string> queries();

 private:
  void Loop();
  std::unique_ptr<TcpServer> MakeTcp();
  std::string Answer(const std::string& query);
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> silent_{false};
  std::atomic<bool> truncate_udp_{false};
  std::atomic<int> tcp_queries_{0};
  std::mutex mu_;
  std::map<std::string, DnsZone> zones_;
  std::vector<std::string> queries_;
  StopPipe stop_;
  std::thread thread_;
  std::unique_ptr<TcpServer> tcp_;  // declared last: stopped first
};

}  // namespace eg::acme::validation::testing
