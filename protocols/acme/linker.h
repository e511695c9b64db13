// Linker: builds every URL the ACME server emits, from one base — acme.public_url when configured,
// else "https://" + the request's Host header — and recognizes the account URLs clients send
// back as "kid". No handler concatenates URLs itself. Every ACME path is under /acme/.
// Immutable after construction; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "protocols/http/message.h"

namespace eg::acme {

// The route patterns (for the router) and the URL builders agree through these.
inline constexpr std::string_view kDirectoryPath = "/acme/directory";
inline constexpr std::string_view kNewNoncePath = "/acme/new-nonce";
inline constexpr std::string_view kNewAccountPath = "/acme/new-account";
inline constexpr std::string_view kNewOrderPath = "/acme/new-order";
inline constexpr std::string_view kRevokeCertPath = "/acme/revoke-cert";
inline constexpr std::string_view kKeyChangePath = "/acme/key-change";
inline constexpr std::string_view kAccountPrefix = "/acme/account/";
inline constexpr std::string_view kOrderPrefix = "/acme/order/";
inline constexpr std::string_view kAuthzPrefix = "/acme/authz/";
inline constexpr std::string_view kChallengePrefix = "/acme/chall/";
inline constexpr std::string_view kCertPrefix = "/acme/cert/";
inline constexpr std::string_view kRenewalInfoPrefix = "/acme/renewal-info/";

class Linker {
 public:
  // `public_url`: "" or "https://host[:port][/prefix]" without a trailing '/'.
  explicit Linker(std::string public_url) : public_url_(std::move(public_url)) {}

  // The base every URL of this request's answer starts with.
  std::string Base(const http::Request& request) const;
  // The absolute URL the client used for this request (what a JWS "url" must equal), with the
  // query re-encoded (unreserved characters as they are, the rest %XX).
  std::string RequestUrl(const http::Request& request) const;

  std::string Directory(const http::Request& r) const { return Url(r, kDirectoryPath); }
  std::string NewNonce(const http::Request& r) const { return Url(r, kNewNoncePath); }
  std::string NewAccount(const http::Request& r) const { return Url(r, kNewAccountPath); }
  std::string NewOrder(const http::Request& r) const { return Url(r, kNewOrderPath); }
  std::string RevokeCert(const http::Request& r) const { return Url(r, kRevokeCertPath); }
  std::string KeyChange(const http::Request& r) const { return Url(r, kKeyChangePath); }
  std::string RenewalInfoBase(const http::Request& r) const {
    std::string u = Url(r, kRenewalInfoPrefix);
    u.pop_back();  // RFC 9773 §4: the directory names the resource without the trailing '/'
    return u;
  }
  std::string Account(const http::Request& r, std::string_view id) const {
    return Url(r, kAccountPrefix) + std::string(id);
  }
  std::string Orders(const http::Request& r, std::string_view account_id) const {
    return Account(r, account_id) + "/orders";
  }
  std::string Order(const http::Request& r, std::string_view id) const {
    return Url(r, kOrderPrefix) + std::string(id);
  }
  std::string Finalize(const http::Request& r, std::string_view order_id) const {
    return Order(r, order_id) + "/finalize";
  }
  std::string Authz(const http::Request& r, std::string_view id) const {
    return Url(r, kAuthzPrefix) + std::string(id);
  }
  std::string Challenge(const http::Request& r, std::string_view id) const {
    return Url(r, kChallengePrefix) + std::string(id);
  }
  std::string Certificate(const http::Request& r, std::string_view serial_hex) const {
    return Url(r, kCertPrefix) + std::string(serial_hex);
  }

  // The account id in a "kid" that is one of our account URLs for this request's base; nullopt
  // for anything else.
  std::optional<std::string> AccountIdFromKid(const http::Request& r, std::string_view kid) const;

 private:
  std::string Url(const http::Request& r, std::string_view path) const {
    return Base(r) + std::string(path);
  }
  std::string public_url_;
};

}  // namespace eg::acme
