// Request and Response: transport-neutral HTTP messages, and who the client is (ClientIdentity).
//
// The transport (daemon/http_server over libmicrohttpd, or a test) fills a Request and hands it to
// a Router; handlers answer with a Response through a Responder (responder.h). Both are plain
// value types with no transport types inside. Not synchronised: a Request is read by the one
// handler that serves it; a Response is built by one thread and then moved to the transport.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "protocols/http/headers.h"

namespace eg::http {

// Who is asking, as far as the transport knows.
struct ClientIdentity {
  std::string remote_address;  // "192.0.2.7" / "2001:db8::7"; "" if unknown
  // The TLS client certificate chain the peer presented, leaf first, each DER; empty if none.
  // The transport does not judge it: protocol layers verify it against their own anchors.
  std::vector<std::vector<uint8_t>> peer_chain_der;
  // HTTP Basic user after authentication (EST); empty until a protocol layer sets it.
  std::string basic_user;
  // The TLS version of the connection ("TLS1.2", "TLS1.3"); "" if unknown.
  std::string tls_version;
  // The connection's TLS channel binding, for EST proof of possession linked to TLS
  // (RFC 7030 §3.5): tls-unique (RFC 5929) on TLS 1.2, tls-exporter (RFC 9266, 32 bytes) on
  // TLS 1.3. The transport fills it only for EST paths; empty when it cannot (a proxy ended TLS).
  std::vector<uint8_t> channel_binding;
  // True when peer_chain_der came from a trusted TLS-terminating proxy's header (the transport
  // accepts that header only from configured proxy addresses), not from this TLS connection.
  bool via_proxy = false;
};

struct Request {
  std::string method;  // "GET", "POST", ... as sent (upper case by convention)
  std::string path;    // percent-decoded path, without the query: "/acme/order/42"
  // Decoded query parameters, in order ("?a=1&b" gives {"a","1"},{"b",""}).
  std::vector<std::pair<std::string, std::string>> query;
  Headers headers;
  std::string body;  // raw bytes
  ClientIdentity client;
  // Filled by the Router from `{name}` segments of the matched pattern.
  std::map<std::string, std::string, std::less<>> path_params;

  // The first query value of `name`, if present.
  std::optional<std::string_view> Query(std::string_view name) const;
  // A path parameter of the matched route ("" if the route has no such parameter).
  std::string_view PathParam(std::string_view name) const;
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;

  static Response Json(int status, std::string json);  // application/json
  static Response Text(int status, std::string text);  // text/plain; charset=utf-8
  static Response Empty(int status);                   // no body
  // A short JSON body {"status":"<word>"} for generic answers (404, 405, 413, 500, 503). It
  // never carries internal detail, so it is safe for 5xx.
  static Response Status(int status);
};

// The reason phrase of a status code ("Not Found"); "Unknown" for codes it does not know.
std::string_view ReasonPhrase(int status);

// Decodes %XX escapes (and '+' as space when `plus_as_space`, for query strings). Malformed
// escapes are an InvalidArgument.
Result<std::string> PercentDecode(std::string_view text, bool plus_as_space);

// Splits a request target ("/a/b?x=1&y=%20") into a decoded path and decoded query parameters.
// For transports that receive the raw target; libmicrohttpd decodes for us.
Result<void> ParseTarget(std::string_view target, Request& request);

}  // namespace eg::http
