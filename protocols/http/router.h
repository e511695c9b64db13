// Router: maps (method, path) to a handler. Patterns are absolute paths whose segments are
// literal ("/health") or parameters ("/acme/order/{id}", one non-empty segment, exposed as
// Request::path_params). When several patterns match, the one with a literal earliest wins
// ("/acme/new-order" before "/acme/{x}").
//
//   unknown path                 -> 404
//   known path, other method     -> 405 with `Allow` listing the path's methods
//   HEAD on a path with only GET -> the GET handler (the transport sends no body for HEAD)
//
// Thread-safety: Add() while setting up, from one thread; Dispatch() afterwards from any number
// of threads at once (the route table is then read-only).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/http/message.h"
#include "protocols/http/responder.h"

namespace eg::http {

// A handler answers through the Responder, now or later (responder.h).
using Handler = std::function<void(const Request& request, Responder responder)>;
// A handler that always answers before returning.
using SyncHandler = std::function<Response(const Request& request)>;

class Router {
 public:
  Router() = default;
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;
  Router(Router&&) = default;
  Router& operator=(Router&&) = default;

  // Adds a route; a second handler for the same method and pattern replaces the first.
  void Add(std::string_view method, std::string_view pattern, Handler handler);
  void AddSync(std::string_view method, std::string_view pattern, SyncHandler handler);

  // Routes `request` (filling request.path_params) and calls the handler, or answers 404/405.
  void Dispatch(Request& request, Responder responder) const;

 private:
  struct Segment {
    std::string text;
    bool is_param = false;
  };
  struct Route {
    std::string pattern;
    std::vector<Segment> segments;
    std::vector<std::pair<std::string, Handler>> methods;
  };

  static std::vector<Segment> ParsePattern(std::string_view pattern);
  static std::vector<std::string_view> SplitPath(std::string_view path);
  const Route* Match(const std::vector<std::string_view>& parts) const;

  std::vector<Route> routes_;
};

}  // namespace eg::http
