#include "tests/acme_validation/test_servers.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace eg::acme::validation::testing {

StopPipe::StopPipe() {
  if (pipe(fds_) != 0) throw std::runtime_error("pipe");
}
StopPipe::~StopPipe() {
  close(fds_[0]);
  close(fds_[1]);
}
void StopPipe::Signal() {
  const char c = 'x';
  (void)!write(fds_[1], &c, 1);
}

bool WaitReadable(int fd, int stop_fd) {
  for (;;) {
    pollfd p[2] = {{fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (p[1].revents != 0) return false;
    if (p[0].revents != 0) return true;
  }
}

namespace {

int BindLoopback(int type, uint16_t* port) {
  const uint16_t wanted = *port;
  int fd = socket(AF_INET, type, 0);
  if (fd < 0) throw std::runtime_error("socket");
  const int one = 1;
  if (type == SOCK_STREAM) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(wanted);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    throw std::runtime_error("bind");
  }
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  *port = ntohs(addr.sin_port);
  return fd;
}

}  // namespace

TcpServer::TcpServer(Handler handler, uint16_t port) : handler_(std::move(handler)), port_(port) {
  // A client that gives up mid-exchange must not kill the test with SIGPIPE.
  signal(SIGPIPE, SIG_IGN);
  listen_fd_ = BindLoopback(SOCK_STREAM, &port_);
  listen(listen_fd_, 16);
  thread_ = std::thread([this] { Loop(); });
}

TcpServer::~TcpServer() {
  Stop();
  close(listen_fd_);
}

void TcpServer::Stop() {
  stop_.Signal();
  if (thread_.joinable()) thread_.join();
}

void TcpServer::Loop() {
  while (WaitReadable(listen_fd_, stop_.fd())) {
    int conn = accept(listen_fd_, nullptr, nullptr);
    if (conn < 0) continue;
    ++connections_;
    handler_(conn, stop_.fd());
    close(conn);
  }
}

TcpServer::Handler HttpHandler(std::function<std::string(const std::string& path)> respond,
                               HttpLog* log) {
  return [respond, log](int fd, int stop_fd) {
    std::string in;
    char buf[4096];
    while (in.find("\r\n\r\n") == std::string::npos) {
      if (!WaitReadable(fd, stop_fd)) return;
      const ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) return;
      in.append(buf, static_cast<size_t>(n));
    }
    const size_t sp1 = in.find(' ');
    const size_t sp2 = in.find(' ', sp1 + 1);
    const std::string path = in.substr(sp1 + 1, sp2 - sp1 - 1);
    std::string host;
    for (size_t pos = in.find("\r\n"); pos != std::string::npos && pos + 2 < in.size();) {
      const size_t end = in.find("\r\n", pos + 2);
      std::string line = in.substr(pos + 2, end - pos - 2);
      std::string lower = line;
      for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (lower.rfind("host:", 0) == 0) {
        host = line.substr(5);
        while (!host.empty() && host[0] == ' ') host.erase(0, 1);
      }
      pos = end;
    }
    if (log != nullptr) {
      std::lock_guard<std::mutex> lock(log->mu);
      log->paths.push_back(path);
      log->hosts.push_back(host);
    }
    const std::string out = respond(path);
    size_t off = 0;
    while (off < out.size()) {
      const ssize_t n = write(fd, out.data() + off, out.size() - off);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
    // A response with a "hang" marker keeps the connection open until the client or the test
    // gives up (a slow body).
    if (out.find("X-Hang: 1") != std::string::npos) {
      while (WaitReadable(fd, stop_fd)) {
        if (read(fd, buf, sizeof buf) <= 0) return;
      }
    }
  };
}

TcpServer::Handler SilentHandler() {
  return [](int fd, int stop_fd) {
    char buf[4096];
    while (WaitReadable(fd, stop_fd)) {
      if (read(fd, buf, sizeof buf) <= 0) return;
    }
  };
}

namespace {

struct TlsMaterial {
  SSL_CTX* ctx = nullptr;
  ~TlsMaterial() { SSL_CTX_free(ctx); }
};

int SelectAcmeAlpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                   unsigned int inlen, void*) {
  static const unsigned char kAcme[] = {'a', 'c', 'm', 'e', '-', 't', 'l', 's', '/', '1'};
  for (unsigned int i = 0; i < inlen;) {
    const unsigned char len = in[i];
    if (len == sizeof kAcme && i + 1 + len <= inlen && std::memcmp(in + i + 1, kAcme, len) == 0) {
      *out = in + i + 1;
      *outlen = len;
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1u + len;
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

std::shared_ptr<TlsMaterial> MakeTls(const AcmeCert& spec, AlpnMode alpn) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("acme-tls-test"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509_set_pubkey(cert, key);
  if (!spec.sans.empty()) {
    std::string value;
    for (const auto& s : spec.sans) value += (value.empty() ? "" : ",") + s;
    X509_EXTENSION* ext =
        X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, value.c_str());
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (spec.key_authorization) {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(spec.key_authorization->data()),
           spec.key_authorization->size(), digest);
    ASN1_OCTET_STRING* inner = ASN1_OCTET_STRING_new();
    ASN1_OCTET_STRING_set(inner, digest, sizeof digest);
    ASN1_OCTET_STRING* data = ASN1_OCTET_STRING_new();
    if (spec.wrap_in_octet_string) {
      unsigned char* der = nullptr;
      const int der_len = i2d_ASN1_OCTET_STRING(inner, &der);
      ASN1_OCTET_STRING_set(data, der, der_len);
      OPENSSL_free(der);
    } else {
      ASN1_OCTET_STRING_set(data, digest, sizeof digest);
    }
    ASN1_OBJECT* oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
    X509_EXTENSION* ext = X509_EXTENSION_create_by_OBJ(nullptr, oid, spec.critical ? 1 : 0, data);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    ASN1_OBJECT_free(oid);
    ASN1_OCTET_STRING_free(data);
    ASN1_OCTET_STRING_free(inner);
  }
  X509_sign(cert, key, EVP_sha256());
  auto tls = std::make_shared<TlsMaterial>();
  tls->ctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX_use_certificate(tls->ctx, cert);
  SSL_CTX_use_PrivateKey(tls->ctx, key);
  if (alpn == AlpnMode::kAcme) SSL_CTX_set_alpn_select_cb(tls->ctx, SelectAcmeAlpn, nullptr);
  X509_free(cert);
  EVP_PKEY_free(key);
  return tls;
}

}  // namespace

TcpServer::Handler TlsHandler(const AcmeCert& cert, AlpnMode alpn, TlsLog* log) {
  auto tls = MakeTls(cert, alpn);
  return [tls, log](int fd, int stop_fd) {
    SSL* ssl = SSL_new(tls->ctx);
    SSL_set_fd(ssl, fd);
    const int rc = SSL_accept(ssl);
    if (log != nullptr) {
      const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
      std::lock_guard<std::mutex> lock(log->mu);
      log->server_names.push_back(sni != nullptr ? sni : "");
    }
    if (rc == 1) {
      // Wait for the client to close.
      char buf[256];
      while (WaitReadable(fd, stop_fd)) {
        if (SSL_read(ssl, buf, sizeof buf) <= 0) break;
      }
    }
    SSL_free(ssl);
  };
}

TcpServer::Handler HttpsHandler(std::function<std::string(const std::string& path)> respond) {
  auto tls = MakeTls({.sans = {"DNS:redirect.test"}}, AlpnMode::kNone);
  return [tls, respond](int fd, int) {
    SSL* ssl = SSL_new(tls->ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) == 1) {
      std::string in;
      char buf[4096];
      int n = 0;
      while (in.find("\r\n\r\n") == std::string::npos && (n = SSL_read(ssl, buf, sizeof buf)) > 0) {
        in.append(buf, static_cast<size_t>(n));
      }
      const size_t sp1 = in.find(' ');
      const size_t sp2 = in.find(' ', sp1 + 1);
      if (sp1 != std::string::npos && sp2 != std::string::npos) {
        const std::string out = respond(in.substr(sp1 + 1, sp2 - sp1 - 1));
        SSL_write(ssl, out.data(), static_cast<int>(out.size()));
        SSL_shutdown(ssl);
      }
    }
    SSL_free(ssl);
  };
}

namespace {

// Reads exactly n bytes unless the peer closes or the test stops.
bool ReadExact(int fd, int stop_fd, char* out, size_t n) {
  size_t got = 0;
  while (got < n) {
    if (!WaitReadable(fd, stop_fd)) return false;
    const ssize_t r = read(fd, out + got, n - got);
    if (r <= 0) return false;
    got += static_cast<size_t>(r);
  }
  return true;
}

}  // namespace

DnsResponder::DnsResponder() {
  // DNS over TCP (RFC 7766) on the same port number as UDP: two-byte length, then the message;
  // several per connection. That TCP port may be taken (an outgoing connection's ephemeral
  // port), so pick UDP ports until both binds succeed; the UDP thread starts only then.
  for (int attempt = 0;; ++attempt) {
    port_ = 0;
    fd_ = BindLoopback(SOCK_DGRAM, &port_);
    try {
      tcp_ = MakeTcp();
      break;
    } catch (const std::runtime_error&) {
      close(fd_);
      if (attempt == 20) throw;
    }
  }
  thread_ = std::thread([this] { Loop(); });
}

std::unique_ptr<TcpServer> DnsResponder::MakeTcp() {
  return std::make_unique<TcpServer>(
      [this](int conn, int stop_fd) {
        for (;;) {
          char len[2];
          if (!ReadExact(conn, stop_fd, len, 2)) return;
          std::string query(
              (static_cast<unsigned char>(len[0]) << 8) | static_cast<unsigned char>(len[1]), '\0');
          if (!ReadExact(conn, stop_fd, query.data(), query.size())) return;
          ++tcp_queries_;
          std::string reply = Answer(query);
          if (reply.empty() || silent_) continue;
          std::string framed;
          framed += static_cast<char>((reply.size() >> 8) & 0xff);
          framed += static_cast<char>(reply.size() & 0xff);
          framed += reply;
          if (write(conn, framed.data(), framed.size()) != static_cast<ssize_t>(framed.size())) {
            return;
          }
        }
      },
      port_);
}

DnsResponder::~DnsResponder() {
  stop_.Signal();
  thread_.join();
  close(fd_);
}

void DnsResponder::Set(const std::string& name, DnsZone zone) {
  std::lock_guard<std::mutex> lock(mu_);
  zones_[name] = std::move(zone);
}

std::vector<std::string> DnsResponder::queries() {
  std::lock_guard<std::mutex> lock(mu_);
  return queries_;
}

namespace {

// The end of the (single) question section of a DNS message.
size_t QuestionEnd(const std::string& q) {
  size_t pos = 12;
  while (pos < q.size() && q[pos] != 0) pos += 1 + static_cast<unsigned char>(q[pos]);
  return std::min(pos + 5, q.size());
}

}  // namespace

void DnsResponder::Loop() {
  while (WaitReadable(fd_, stop_.fd())) {
    char buf[2048];
    sockaddr_in from{};
    socklen_t from_len = sizeof from;
    const ssize_t n =
        recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n <= 0) continue;
    const std::string query(buf, static_cast<size_t>(n));
    std::string reply = Answer(query);
    if (reply.empty() || silent_) continue;
    if (truncate_udp_) {
      // Header and question only, TC set, no records.
      reply = reply.substr(0, query.size() >= 12 ? QuestionEnd(query) : 12);
      reply[2] = static_cast<char>(reply[2] | 0x02);
      for (size_t i = 6; i < 12; ++i) reply[i] = 0;
    }
    sendto(fd_, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from), from_len);
  }
}

namespace {

void Put16(std::string& out, unsigned v) {
  out += static_cast<char>((v >> 8) & 0xff);
  out += static_cast<char>(v & 0xff);
}
void Put32(std::string& out, unsigned v) {
  Put16(out, v >> 16);
  Put16(out, v & 0xffff);
}
std::string EncodeName(const std::string& name) {
  std::string out;
  size_t start = 0;
  while (start < name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    out += static_cast<char>(dot - start);
    out += name.substr(start, dot - start);
    start = dot + 1;
  }
  out += '\0';
  return out;
}
void PutRecord(std::string& out, const std::string& owner, unsigned type,
               const std::string& rdata) {
  out += owner;
  Put16(out, type);
  Put16(out, 1);  // IN
  Put32(out, 60);
  Put16(out, static_cast<unsigned>(rdata.size()));
  out += rdata;
}
std::string TxtRdata(const std::string& value) {
  std::string out;
  size_t off = 0;
  do {
    const size_t len = std::min<size_t>(255, value.size() - off);
    out += static_cast<char>(len);
    out += value.substr(off, len);
    off += len;
  } while (off < value.size());
  return out;
}

}  // namespace

std::string DnsResponder::Answer(const std::string& q) {
  if (q.size() < 12) return {};
  // Question name.
  size_t pos = 12;
  std::string name;
  while (pos < q.size() && q[pos] != 0) {
    const auto len = static_cast<unsigned char>(q[pos]);
    if (pos + 1 + len > q.size()) return {};
    if (!name.empty()) name += '.';
    name += q.substr(pos + 1, len);
    pos += 1 + len;
  }
  pos += 1;
  if (pos + 4 > q.size()) return {};
  const std::string question = q.substr(12, pos + 4 - 12);
  const unsigned qtype =
      (static_cast<unsigned char>(q[pos]) << 8) | static_cast<unsigned char>(q[pos + 1]);
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));

  std::lock_guard<std::mutex> lock(mu_);
  queries_.push_back(name);
  unsigned rcode = 0;
  std::string answers;
  unsigned count = 0;
  auto it = zones_.find(name);
  if (it == zones_.end()) {
    rcode = 3;  // NXDOMAIN
  } else if (it->second.servfail) {
    rcode = 2;
  } else {
    // Follow CNAMEs as a recursive resolver would, answering with the chain.
    std::string owner = "\xc0\x0c";  // pointer to the question name
    const DnsZone* zone = &it->second;
    for (int hops = 0; zone != nullptr && zone->cname && hops < 8; ++hops) {
      PutRecord(answers, owner, 5, EncodeName(*zone->cname));
      ++count;
      owner = EncodeName(*zone->cname);
      auto next = zones_.find(*zone->cname);
      zone = next == zones_.end() ? nullptr : &next->second;
    }
    if (zone != nullptr && qtype == 16) {
      for (const auto& txt : zone->txt) {
        PutRecord(answers, owner, 16, TxtRdata(txt));
        ++count;
      }
    }
  }
  std::string out = q.substr(0, 2);  // id
  Put16(out, 0x8180 | rcode);        // QR, RD, RA
  Put16(out, 1);
  Put16(out, count);
  Put16(out, 0);
  Put16(out, 0);
  out += question;
  out += answers;
  return out;
}

}  // namespace eg::acme::validation::testing
