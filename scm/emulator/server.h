// Server: the HTTPS front of the emulator — libmicrohttpd with GnuTLS (one thread per
// connection), authentication (password headers, TLS client certificate under /private/api,
// OAuth2 client credentials with its token endpoint), the test switches (latency, 5xx share,
// dropped connections, outage), routing to the API families, and the /_emulator/ endpoints.
//
// Owns the MHD daemon and the OAuth2 tokens; borrows fixtures, service and CA from the Emulator,
// which outlives it. Thread-safety: SetSwitches/switches/port from any thread; Start/Stop from one.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <string>

#include "core/clock.h"
#include "core/log.h"
#include "core/result.h"
#include "scm/emulator/ca.h"
#include "scm/emulator/emulator.h"
#include "scm/emulator/fixtures.h"
#include "scm/emulator/http.h"
#include "scm/emulator/service.h"

struct MHD_Daemon;
struct MHD_Connection;

namespace eg::scm_emulator {

class Server {
 public:
  Server(const Fixtures& fixtures, Service& service, const Ca& ca, const Clock& clock,
         Logger& logger, const Switches& switches)
      : fixtures_(fixtures),
        service_(service),
        ca_(ca),
        clock_(clock),
        logger_(logger),
        switches_(switches) {}
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  Result<void> Start(const std::string& host, uint16_t port, const TlsCredentials& tls);
  void Stop();
  uint16_t port() const { return port_; }
  std::string base_url() const;

  void SetSwitches(const Switches& s);
  Switches switches() const;

  // One request, already read (called by the MHD callback). Returns false to drop the connection.
  bool Handle(MHD_Connection* connection, HttpRequest& request, HttpReply* reply);

 private:
  enum class Fault { kNone, kFail, kDropBefore, kDropAfter };
  Fault DrawFault(const Switches& s);
  HttpReply Route(MHD_Connection* connection, HttpRequest& request);
  Result<HttpReply> RouteApi(MHD_Connection* connection, HttpRequest& request);
  Result<void> Authenticate(MHD_Connection* connection, HttpRequest& request, bool code_signing);
  Result<void> PasswordLogin(HttpRequest& request);
  Result<HttpReply> Token(const HttpRequest& request);
  Result<HttpReply> EmulatorEndpoint(HttpRequest& request, const std::vector<std::string>& seg);
  Error Unauthorized(int code, const std::string& description) const;

  const Fixtures& fixtures_;
  Service& service_;
  const Ca& ca_;
  const Clock& clock_;
  Logger& logger_;
  std::string host_;
  uint16_t port_ = 0;
  MHD_Daemon* daemon_ = nullptr;
  std::string cert_pem_, key_pem_, trust_pem_;  // must outlive the daemon

  mutable std::mutex mu_;  // guards switches_, random_, tokens_
  Switches switches_;
  std::mt19937_64 random_{std::random_device{}()};
  struct IssuedToken {
    std::string client_id;
    int64_t expires = 0;
  };
  std::map<std::string, IssuedToken> tokens_;
  std::atomic<int64_t> requests_{0};
};

}  // namespace eg::scm_emulator
