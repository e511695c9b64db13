#include "protocols/http/router.h"

#include <gtest/gtest.h>

#include <optional>

namespace eg::http {
namespace {

// Dispatches synchronously and returns what the handler (or the router) answered.
Response Call(const Router& router, std::string method, std::string path) {
  Request request;
  request.method = std::move(method);
  request.path = std::move(path);
  std::optional<Response> got;
  router.Dispatch(request, Responder([&](Response r, bool) { got = std::move(r); }));
  EXPECT_TRUE(got.has_value());
  return got.value_or(Response::Empty(0));
}

Router MakeRouter() {
  Router router;
  router.AddSync("GET", "/health", [](const Request&) { return Response::Text(200, "ok"); });
  router.AddSync("POST", "/acme/order/{id}", [](const Request& r) {
    return Response::Text(200, "order " + std::string(r.PathParam("id")));
  });
  router.AddSync("GET", "/acme/order/{id}", [](const Request& r) {
    return Response::Text(200, "get " + std::string(r.PathParam("id")));
  });
  router.AddSync("POST", "/acme/{resource}", [](const Request& r) {
    return Response::Text(200, "resource " + std::string(r.PathParam("resource")));
  });
  router.AddSync("POST", "/acme/new-order",
                 [](const Request&) { return Response::Text(201, "new order"); });
  router.AddSync("GET", "/est/{label}/cacerts", [](const Request& r) {
    return Response::Text(200, "cacerts " + std::string(r.PathParam("label")));
  });
  return router;
}

TEST(RouterTest, ExactPath) {
  Router router = MakeRouter();
  Response r = Call(router, "GET", "/health");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok");
}

TEST(RouterTest, ParametersAreExtracted) {
  Router router = MakeRouter();
  EXPECT_EQ(Call(router, "POST", "/acme/order/42").body, "order 42");
  EXPECT_EQ(Call(router, "GET", "/acme/order/42").body, "get 42");
  EXPECT_EQ(Call(router, "GET", "/est/arbitrary/cacerts").body, "cacerts arbitrary");
}

TEST(RouterTest, LiteralSegmentWinsOverParameter) {
  Router router = MakeRouter();
  EXPECT_EQ(Call(router, "POST", "/acme/new-order").status, 201);
  EXPECT_EQ(Call(router, "POST", "/acme/new-account").body, "resource new-account");
}

TEST(RouterTest, UnknownPathIs404) {
  Router router = MakeRouter();
  EXPECT_EQ(Call(router, "GET", "/nope").status, 404);
  EXPECT_EQ(Call(router, "GET", "/health/").status, 404);
  EXPECT_EQ(Call(router, "GET", "/acme/order/").status, 404);  // empty parameter
  EXPECT_EQ(Call(router, "GET", "").status, 404);
}

TEST(RouterTest, WrongMethodIs405WithAllow) {
  Router router = MakeRouter();
  Response r = Call(router, "DELETE", "/health");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers.Get("Allow"), "GET, HEAD");
  Response o = Call(router, "PUT", "/acme/order/1");
  EXPECT_EQ(o.status, 405);
  EXPECT_EQ(o.headers.Get("allow"), "POST, GET, HEAD");
}

TEST(RouterTest, HeadUsesGetHandler) {
  Router router = MakeRouter();
  Response r = Call(router, "HEAD", "/health");
  EXPECT_EQ(r.status, 200);
  // HEAD on a POST-only route is not allowed.
  EXPECT_EQ(Call(router, "HEAD", "/acme/new-order").status, 405);
}

TEST(RouterTest, LaterAddReplacesHandler) {
  Router router;
  router.AddSync("GET", "/x", [](const Request&) { return Response::Text(200, "one"); });
  router.AddSync("GET", "/x", [](const Request&) { return Response::Text(200, "two"); });
  EXPECT_EQ(Call(router, "GET", "/x").body, "two");
}

}  // namespace
}  // namespace eg::http
