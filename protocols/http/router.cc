#include "protocols/http/router.h"

#include <cassert>

namespace eg::http {

std::vector<Router::Segment> Router::ParsePattern(std::string_view pattern) {
  std::vector<Segment> segments;
  for (std::string_view part : SplitPath(pattern)) {
    Segment s;
    if (part.size() >= 2 && part.front() == '{' && part.back() == '}') {
      s.is_param = true;
      s.text = std::string(part.substr(1, part.size() - 2));
    } else {
      s.text = std::string(part);
    }
    segments.push_back(std::move(s));
  }
  return segments;
}

std::vector<std::string_view> Router::SplitPath(std::string_view path) {
  std::vector<std::string_view> parts;
  if (path.empty() || path.front() != '/') return parts;
  path.remove_prefix(1);
  while (true) {
    size_t slash = path.find('/');
    parts.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return parts;
}

void Router::Add(std::string_view method, std::string_view pattern, Handler handler) {
  assert(!pattern.empty() && pattern.front() == '/');
  Route* route = nullptr;
  for (Route& r : routes_) {
    if (r.pattern == pattern) route = &r;
  }
  if (route == nullptr) {
    routes_.push_back(Route{std::string(pattern), ParsePattern(pattern), {}});
    route = &routes_.back();
  }
  for (auto& [m, h] : route->methods) {
    if (m == method) {
      h = std::move(handler);
      return;
    }
  }
  route->methods.emplace_back(std::string(method), std::move(handler));
}

void Router::AddSync(std::string_view method, std::string_view pattern, SyncHandler handler) {
  Add(method, pattern, [handler = std::move(handler)](const Request& request, Responder responder) {
    responder.Respond(handler(request));
  });
}

const Router::Route* Router::Match(const std::vector<std::string_view>& parts) const {
  const Route* best = nullptr;
  for (const Route& r : routes_) {
    if (r.segments.size() != parts.size()) continue;
    bool ok = true;
    for (size_t i = 0; i < parts.size() && ok; ++i) {
      const Segment& s = r.segments[i];
      ok = s.is_param ? !parts[i].empty() : s.text == parts[i];
    }
    if (!ok) continue;
    if (best == nullptr) {
      best = &r;
      continue;
    }
    // Prefer the route whose first differing segment is literal.
    for (size_t i = 0; i < parts.size(); ++i) {
      bool lit_new = !r.segments[i].is_param;
      bool lit_best = !best->segments[i].is_param;
      if (lit_new != lit_best) {
        if (lit_new) best = &r;
        break;
      }
    }
  }
  return best;
}

void Router::Dispatch(Request& request, Responder responder) const {
  std::vector<std::string_view> parts = SplitPath(request.path);
  const Route* route = parts.empty() ? nullptr : Match(parts);
  if (route == nullptr) {
    responder.Respond(Response::Status(404));
    return;
  }
  const Handler* handler = nullptr;
  const Handler* get_handler = nullptr;
  for (const auto& [m, h] : route->methods) {
    if (m == request.method) handler = &h;
    if (m == "GET") get_handler = &h;
  }
  if (handler == nullptr && request.method == "HEAD") handler = get_handler;
  if (handler == nullptr) {
    std::string allow;
    bool has_head = false;
    for (const auto& [m, h] : route->methods) {
      if (m == "HEAD") has_head = true;
    }
    for (const auto& [m, h] : route->methods) {
      if (!allow.empty()) allow += ", ";
      allow += m;
      if (m == "GET" && !has_head) allow += ", HEAD";
    }
    Response response = Response::Status(405);
    response.headers.Set("Allow", allow);
    responder.Respond(std::move(response));
    return;
  }
  request.path_params.clear();
  for (size_t i = 0; i < parts.size(); ++i) {
    const Segment& s = route->segments[i];
    if (s.is_param) request.path_params.emplace(s.text, std::string(parts[i]));
  }
  (*handler)(request, std::move(responder));
}

}  // namespace eg::http
