#include "protocols/acme/linker.h"

namespace eg::acme {
namespace {

// A Host header we are willing to echo into URLs: host[:port] characters only.
bool IsSafeHost(std::string_view host) {
  if (host.empty() || host.size() > 255) return false;
  for (char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == ':' || c == '[' || c == ']';
    if (!ok) return false;
  }
  return true;
}

// Percent-encodes everything but RFC 3986 unreserved characters.
std::string Escape(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace

std::string Linker::Base(const http::Request& request) const {
  if (!public_url_.empty()) return public_url_;
  std::optional<std::string_view> host = request.headers.Get("Host");
  if (!host.has_value() || !IsSafeHost(*host)) return "https://localhost";
  return "https://" + std::string(*host);
}

std::string Linker::RequestUrl(const http::Request& request) const {
  std::string url = Base(request) + request.path;
  char sep = '?';
  for (const auto& [key, value] : request.query) {
    url += sep;
    sep = '&';
    url += Escape(key);
    if (!value.empty()) url += "=" + Escape(value);
  }
  return url;
}

std::optional<std::string> Linker::AccountIdFromKid(const http::Request& r,
                                                    std::string_view kid) const {
  const std::string prefix = Url(r, kAccountPrefix);
  if (kid.size() <= prefix.size() || kid.substr(0, prefix.size()) != prefix) return std::nullopt;
  std::string_view id = kid.substr(prefix.size());
  if (id.find('/') != std::string_view::npos) return std::nullopt;
  return std::string(id);
}

}  // namespace eg::acme
