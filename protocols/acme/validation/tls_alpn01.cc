// tls-alpn-01 (RFC 8737): a TLS handshake to <identifier>:tls_alpn01_port offering only the ALPN
// protocol "acme-tls/1", with SNI = the identifier (for an IP address its reverse-DNS name, RFC
// 8738 §6) and no chain verification. The server must select acme-tls/1 and present a
// certificate whose only SAN is the identifier and which carries the critical acmeIdentifier
// extension (1.3.6.1.5.5.7.1.31) holding OCTET STRING(SHA-256(key authorization)).
#include <arpa/inet.h>
#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <cstring>

#include "crypto/random.h"
#include "protocols/acme/validation/tcp_op.h"

namespace eg::acme::validation::internal {
namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
using boost::system::error_code;

constexpr char kAlpn[] = "acme-tls/1";
constexpr char kAcmeIdentifierOid[] = "1.3.6.1.5.5.7.1.31";

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Checks the peer certificate; the message says what is wrong with it.
Result<void> CheckCertificate(X509* cert, const std::string& identifier,
                              const std::string& key_authorization) {
  auto fail = [](std::string why) {
    return MakeError(ValidationProblem::kIncorrectResponse, "tls-alpn-01: certificate " + why);
  };
  // Exactly one SAN, equal to the identifier.
  GENERAL_NAMES* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans == nullptr) return fail("has no subjectAltName extension");
  const int count = sk_GENERAL_NAME_num(sans);
  std::string found;
  bool match = false;
  if (count == 1) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans, 0);
    if (gn->type == GEN_DNS) {
      const ASN1_STRING* s = gn->d.dNSName;
      found = Lower(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                static_cast<size_t>(ASN1_STRING_length(s))));
      match = !IsIpLiteral(identifier) && found == Lower(identifier);
      found = "DNS:" + found;
    } else if (gn->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* s = gn->d.iPAddress;
      unsigned char want[16];
      size_t want_len = 0;
      if (inet_pton(AF_INET, identifier.c_str(), want) == 1) {
        want_len = 4;
      } else if (inet_pton(AF_INET6, identifier.c_str(), want) == 1) {
        want_len = 16;
      }
      const auto len = static_cast<size_t>(ASN1_STRING_length(s));
      match =
          want_len != 0 && len == want_len && std::memcmp(ASN1_STRING_get0_data(s), want, len) == 0;
      char text[INET6_ADDRSTRLEN] = "?";
      if (len == 4 || len == 16) {
        inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(s), text, sizeof text);
      }
      found = std::string("IP:") + text;
    } else {
      found = "a SAN that is neither a DNS name nor an IP address";
    }
  }
  GENERAL_NAMES_free(sans);
  if (count != 1) {
    return fail("has " + std::to_string(count) + " subjectAltNames; it must have exactly one, " +
                identifier);
  }
  if (!match) return fail("names " + found + ", not " + identifier);

  ASN1_OBJECT* oid = OBJ_txt2obj(kAcmeIdentifierOid, 1);
  if (oid == nullptr) return Internal("tls-alpn-01: cannot build the acmeIdentifier OID");
  const int index = X509_get_ext_by_OBJ(cert, oid, -1);
  const int again = index < 0 ? -1 : X509_get_ext_by_OBJ(cert, oid, index);
  ASN1_OBJECT_free(oid);
  if (index < 0) return fail("has no acmeIdentifier extension");
  if (again >= 0) return fail("has more than one acmeIdentifier extension");
  X509_EXTENSION* ext = X509_get_ext(cert, index);
  if (X509_EXTENSION_get_critical(ext) != 1)
    return fail("has a non-critical acmeIdentifier extension");
  const ASN1_OCTET_STRING* value = X509_EXTENSION_get_data(ext);
  const unsigned char* p = ASN1_STRING_get0_data(value);
  const long value_len = ASN1_STRING_length(value);
  ASN1_OCTET_STRING* inner = d2i_ASN1_OCTET_STRING(nullptr, &p, value_len);
  if (inner == nullptr || p != ASN1_STRING_get0_data(value) + value_len) {
    if (inner != nullptr) ASN1_OCTET_STRING_free(inner);
    return fail("has an acmeIdentifier extension that is not a DER OCTET STRING");
  }
  const crypto::Bytes expected = crypto::Sha256(key_authorization);
  const crypto::Bytes got(ASN1_STRING_get0_data(inner),
                          ASN1_STRING_get0_data(inner) + ASN1_STRING_length(inner));
  ASN1_OCTET_STRING_free(inner);
  if (got.size() != expected.size()) {
    return fail("has an acmeIdentifier of " + std::to_string(got.size()) +
                " bytes; it must be the 32-byte SHA-256 of the key authorization");
  }
  if (got != expected) {
    return fail("has acmeIdentifier " + crypto::HexEncode(got) +
                ", not the SHA-256 of the key authorization " + crypto::HexEncode(expected));
  }
  return Ok();
}

class TlsAlpn01 final : public TcpOp {
 public:
  TlsAlpn01(net::io_context& io, const ValidatorOptions& options, const ValidationRequest& request,
            Validator::Done done)
      : TcpOp(io, options, std::move(done)), request_(request), ssl_ctx_(ssl::context::tls_client) {
    ssl_ctx_.set_verify_mode(ssl::verify_none);
    ssl_ctx_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                         ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                         ssl::context::no_tlsv1_1);
  }

 private:
  std::string Doing() const override {
    return "tls-alpn-01: TLS handshake with " + (peer().empty() ? request_.identifier : peer());
  }

  // Only closes: a pending operation still refers to the stream until its handler ran.
  void CloseStreams() override {
    if (tls_) beast::get_lowest_layer(*tls_).close();
  }

  void Begin() override {
    Connect(request_.identifier, options_.tls_alpn01_port,
            [self = Self<TlsAlpn01>()] { self->OnConnected(); });
  }

  void OnConnected() {
    tls_.emplace(std::move(*stream_), ssl_ctx_);
    stream_.reset();
    SSL* ssl = tls_->native_handle();
    const std::string sni = IsIpLiteral(request_.identifier) ? ReverseDnsName(request_.identifier)
                                                             : request_.identifier;
    static const unsigned char kProtos[] = {10, 'a', 'c', 'm', 'e', '-', 't', 'l', 's', '/', '1'};
    if (SSL_set_tlsext_host_name(ssl, sni.c_str()) != 1 ||
        SSL_set_alpn_protos(ssl, kProtos, sizeof kProtos) != 0) {
      return Finish(Internal("tls-alpn-01: cannot set SNI/ALPN for " + sni));
    }
    tls_->async_handshake(ssl::stream_base::client,
                          [self = Self<TlsAlpn01>()](error_code ec) { self->OnHandshake(ec); });
  }

  void OnHandshake(error_code ec) {
    if (finished()) return;
    if (ec == beast::error::timeout) return Finish(TimeoutError(Doing(), options_.total_timeout));
    if (ec) {
      return Finish(
          MakeError(ValidationProblem::kTls, Doing() + " failed: " + LowerFirst(ec.message())));
    }
    SSL* ssl = tls_->native_handle();
    const unsigned char* proto = nullptr;
    unsigned int proto_len = 0;
    SSL_get0_alpn_selected(ssl, &proto, &proto_len);
    if (proto_len == 0) {
      return Finish(MakeError(ValidationProblem::kTls,
                              Doing() + ": the server did not negotiate ALPN " + kAlpn));
    }
    const std::string selected(reinterpret_cast<const char*>(proto), proto_len);
    if (selected != kAlpn) {
      return Finish(MakeError(ValidationProblem::kTls, Doing() + ": the server negotiated ALPN \"" +
                                                           selected + "\", not " + kAlpn));
    }
    X509* cert = SSL_get0_peer_certificate(ssl);
    if (cert == nullptr) {
      return Finish(MakeError(ValidationProblem::kTls, Doing() + ": no certificate presented"));
    }
    Finish(CheckCertificate(cert, request_.identifier, request_.key_authorization));
  }

  ValidationRequest request_;
  ssl::context ssl_ctx_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
};

}  // namespace

void StartTlsAlpn01(net::io_context& io, const ValidatorOptions& options,
                    const ValidationRequest& request, Validator::Done done) {
  std::make_shared<TlsAlpn01>(io, options, request, std::move(done))->Launch();
}

}  // namespace eg::acme::validation::internal
