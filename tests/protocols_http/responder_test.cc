#include "protocols/http/responder.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "protocols/http/router.h"

namespace eg::http {
namespace {

// Collects the one answer a Responder delivers, from any thread.
class Collector {
 public:
  Responder MakeResponder() {
    return Responder([this](Response r, bool abandoned) {
      std::lock_guard<std::mutex> lock(mu_);
      ++calls_;
      response_ = std::move(r);
      abandoned_ = abandoned;
      cv_.notify_all();
    });
  }
  bool WaitForAnswer() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return calls_ > 0; });
  }
  int calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  Response response() {
    std::lock_guard<std::mutex> lock(mu_);
    return response_;
  }
  bool abandoned() {
    std::lock_guard<std::mutex> lock(mu_);
    return abandoned_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int calls_ = 0;
  Response response_;
  bool abandoned_ = false;
};

TEST(ResponderTest, FirstRespondWins) {
  Collector c;
  {
    Responder r = c.MakeResponder();
    Responder copy = r;
    EXPECT_TRUE(r.Respond(Response::Text(200, "one")));
    EXPECT_TRUE(copy.responded());
    EXPECT_FALSE(copy.Respond(Response::Text(500, "two")));
  }
  EXPECT_EQ(c.calls(), 1);
  EXPECT_EQ(c.response().body, "one");
  EXPECT_FALSE(c.abandoned());
}

TEST(ResponderTest, AbandonedResponderAnswers500) {
  Collector c;
  {
    Responder r = c.MakeResponder();
    Responder copy = r;
  }
  EXPECT_EQ(c.calls(), 1);
  EXPECT_EQ(c.response().status, 500);
  EXPECT_TRUE(c.abandoned());
}

TEST(ResponderTest, HandlerMayAnswerLaterFromAnotherThread) {
  Router router;
  std::thread worker;
  router.Add("POST", "/est/{label}/simpleenroll", [&](const Request& req, Responder responder) {
    std::string label(req.PathParam("label"));
    worker = std::thread([responder, label]() mutable {
      Response r = Response::Text(202, "pending " + label);
      r.headers.Set("Retry-After", "5");
      responder.Respond(std::move(r));
    });
  });
  Collector c;
  Request req;
  req.method = "POST";
  req.path = "/est/tls/simpleenroll";
  router.Dispatch(req, c.MakeResponder());
  ASSERT_TRUE(c.WaitForAnswer());
  worker.join();
  EXPECT_EQ(c.calls(), 1);
  EXPECT_EQ(c.response().status, 202);
  EXPECT_EQ(c.response().headers.Get("retry-after"), "5");
  EXPECT_EQ(c.response().body, "pending tls");
}

}  // namespace
}  // namespace eg::http
