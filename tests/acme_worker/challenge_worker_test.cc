// ChallengeWorker against a real SQLite store and a real Validator aimed at the local http-01 /
// DNS servers of tests/acme_validation: success (challenge, authorization, order -> ready), reused
// authorizations, retries then invalid, dns-01 for a wildcard, two workers on one store, Stop with
// a validation in flight (abandoned, and waited for), and the scheduler paths.
//
// The store's clock is a FakeClock; network timeouts are real. Waiting is always "until this
// condition holds, or fail after a deadline".
#include "protocols/acme/challenge_worker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "crypto/base64.h"
#include "crypto/random.h"
#include "storage/sqlite_store.h"
#include "tests/acme_validation/test_servers.h"

namespace eg::acme {
namespace {

using namespace std::chrono_literals;
using validation::testing::DnsResponder;
using validation::testing::HttpHandler;
using validation::testing::HttpLog;
using validation::testing::SilentHandler;
using validation::testing::TcpServer;

constexpr auto kDeadline = 20s;
constexpr char kThumbprint[] = "9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI";

TimePoint T0() { return FromUnixSeconds(1'800'000'000); }

// Runs tasks only when the test says so.
class ManualScheduler : public Scheduler {
 public:
  void After(std::chrono::milliseconds delay, std::function<void()> task) override {
    std::lock_guard<std::mutex> lock(mu_);
    tasks_.push_back({delay, std::move(task)});
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return tasks_.size();
  }
  std::chrono::milliseconds delay(size_t i) {
    std::lock_guard<std::mutex> lock(mu_);
    return tasks_[i].first;
  }
  // Runs the tasks queued now (not those they queue).
  void RunQueued() {
    std::vector<std::pair<std::chrono::milliseconds, std::function<void()>>> tasks;
    {
      std::lock_guard<std::mutex> lock(mu_);
      tasks.swap(tasks_);
    }
    for (auto& t : tasks) t.second();
  }

 private:
  std::mutex mu_;
  std::vector<std::pair<std::chrono::milliseconds, std::function<void()>>> tasks_;
};

// Polls `pred` until it holds or the deadline passes.
bool WaitFor(const std::function<bool()>& pred) {
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

std::string Ok200(const std::string& body) {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

std::string TokenOf(const std::string& challenge_id) { return "tok_" + challenge_id; }
std::string KeyAuthOf(const std::string& challenge_id) {
  return TokenOf(challenge_id) + "." + kThumbprint;
}

// Answers every http-01 request with the right key authorization for its token.
std::string RightAnswer(const std::string& path) {
  const std::string prefix = "/.well-known/acme-challenge/";
  if (path.rfind(prefix, 0) != 0) return "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
  return Ok200(path.substr(prefix.size()) + "." + kThumbprint);
}

class ChallengeWorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "eg-acme-worker-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto store = storage::SqliteStore::Open({dir_ + "/db.sqlite", 4});
    ASSERT_TRUE(store.ok()) << store.error().ToString();
    store_ = std::move(store).value();
    AcmeAccount account;
    account.id = "acc1";
    account.jwk_thumbprint = kThumbprint;
    account.jwk_json = "{}";
    account.enrollment_account = "web-challenge";
    account.created_at = account.updated_at = T0();
    ASSERT_TRUE(store_->CreateAccount(account, T0(), nullptr).ok());
  }
  void TearDown() override {
    workers_.clear();
    validators_.clear();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  validation::Validator& MakeValidator(uint16_t http_port, std::string dns_server = "",
                                       std::chrono::milliseconds timeout = 5000ms) {
    validation::ValidatorOptions o;
    o.http01_port = http_port;
    o.https_redirect_port = http_port;
    o.hosts = {{"*", "127.0.0.1"}};
    o.dns_server = std::move(dns_server);
    o.connect_timeout = timeout;
    o.total_timeout = timeout;
    validators_.push_back(std::make_unique<validation::Validator>(io_, o));
    return *validators_.back();
  }

  ChallengeWorker& MakeWorker(validation::Validator& validator, ChallengeWorker::Options o = {}) {
    workers_.push_back(
        std::make_unique<ChallengeWorker>(*store_, validator, scheduler_, clock_, logger_, o));
    return *workers_.back();
  }

  // An order with one new authorization per (authz id, name); each offers http-01 and dns-01.
  void CreateOrder(const std::string& order_id,
                   const std::vector<std::pair<std::string, std::string>> new_authzs,
                   const std::vector<std::string>& reused = {}, bool wildcard = false) {
    AcmeOrder order;
    order.id = order_id;
    order.account_id = "acc1";
    order.expires = T0() + 24h;
    order.created_at = order.updated_at = T0();
    std::vector<AcmeAuthorization> authzs;
    for (const auto& [id, name] : new_authzs) {
      AcmeAuthorization a;
      a.id = id;
      a.account_id = "acc1";
      a.identifier = {"dns", name};
      a.wildcard = wildcard;
      a.expires = T0() + 24h;
      a.created_at = T0();
      for (auto [suffix, type] : {std::pair{"-http", AcmeChallengeType::kHttp01},
                                  std::pair{"-dns", AcmeChallengeType::kDns01}}) {
        AcmeChallenge c;
        c.id = id + suffix;
        c.type = type;
        c.token = TokenOf(c.id);
        c.next_attempt_at = T0();
        a.challenges.push_back(c);
      }
      authzs.push_back(a);
      order.identifiers.push_back(a.identifier);
      order.authorization_ids.push_back(id);
    }
    for (const auto& id : reused) order.authorization_ids.push_back(id);
    auto created = store_->CreateOrder(order, authzs);
    ASSERT_TRUE(created.ok()) << created.error().ToString();
  }

  // What the server's challenge POST does: processing, due now.
  void Process(const std::string& challenge_id) {
    auto c = store_->GetChallenge("acc1", challenge_id);
    ASSERT_TRUE(c.ok()) << c.error().ToString();
    c->status = AcmeChallengeStatus::kProcessing;
    c->next_attempt_at = clock_.Now();
    ASSERT_TRUE(store_->UpdateChallenge(*c).ok());
  }

  AcmeChallenge Challenge(const std::string& id) { return *store_->GetChallenge("acc1", id); }
  AcmeAuthorization Authz(const std::string& id) { return *store_->GetAuthorization("acc1", id); }
  AcmeOrder Order(const std::string& id) { return *store_->GetOrder("acc1", id); }

  // Runs the io_context on this thread until `pred` holds (false after the deadline).
  bool RunUntil(const std::function<bool()>& pred) {
    const auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while (!pred()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      if (io_.stopped()) io_.restart();
      io_.run_one_for(10ms);
    }
    return true;
  }

  std::string dir_;
  std::unique_ptr<storage::SqliteStore> store_;
  FakeClock clock_{T0()};
  ManualScheduler scheduler_;
  Logger logger_{LogLevel::kWarn};
  boost::asio::io_context io_;
  std::vector<std::unique_ptr<validation::Validator>> validators_;
  std::vector<std::unique_ptr<ChallengeWorker>> workers_;  // destroyed before the validators
};

TEST_F(ChallengeWorkerTest, SuccessMakesChallengeAuthorizationAndOrderValid) {
  HttpLog log;
  TcpServer http(HttpHandler(RightAnswer, &log));
  ChallengeWorker& worker = MakeWorker(MakeValidator(http.port()));
  CreateOrder("o1", {{"a1", "a1.example.test"}});
  EXPECT_EQ(worker.PollOnce(), 0);  // nothing processing yet
  Process("a1-http");
  clock_.Advance(5s);

  EXPECT_EQ(worker.PollOnce(), 1);
  ASSERT_TRUE(RunUntil([&] { return Challenge("a1-http").status == AcmeChallengeStatus::kValid; }));
  AcmeChallenge c = Challenge("a1-http");
  EXPECT_EQ(c.validated_at, T0() + 5s);
  EXPECT_EQ(c.attempts, 1);
  EXPECT_EQ(c.error, "");
  EXPECT_EQ(Challenge("a1-dns").status, AcmeChallengeStatus::kPending);
  EXPECT_EQ(Authz("a1").status, AcmeAuthzStatus::kValid);
  EXPECT_EQ(Order("o1").status, AcmeOrderStatus::kReady);
  EXPECT_EQ(Order("o1").updated_at, T0() + 5s);
  std::lock_guard<std::mutex> lock(log.mu);
  ASSERT_EQ(log.paths.size(), 1u);
  EXPECT_EQ(log.paths[0], "/.well-known/acme-challenge/" + TokenOf("a1-http"));
  EXPECT_EQ(log.hosts[0], "a1.example.test:" + std::to_string(http.port()));
}

TEST_F(ChallengeWorkerTest, OrderWaitsForEveryAuthorizationAndReusedOnesReadyEveryOrder) {
  TcpServer http(HttpHandler(RightAnswer, nullptr));
  ChallengeWorker& worker = MakeWorker(MakeValidator(http.port()));
  CreateOrder("o1", {{"a1", "a1.example.test"}, {"a2", "a2.example.test"}});
  CreateOrder("o2", {}, {"a1"});  // reuses a1: a1.order_id still names o1
  ASSERT_EQ(Authz("a1").order_id, "o1");

  Process("a1-http");
  EXPECT_EQ(worker.PollOnce(), 1);
  ASSERT_TRUE(RunUntil([&] { return Authz("a1").status == AcmeAuthzStatus::kValid; }));
  EXPECT_EQ(Order("o2").status, AcmeOrderStatus::kReady);
  EXPECT_EQ(Order("o1").status, AcmeOrderStatus::kPending);

  Process("a2-http");
  EXPECT_EQ(worker.PollOnce(), 1);
  ASSERT_TRUE(RunUntil([&] { return Order("o1").status == AcmeOrderStatus::kReady; }));
  EXPECT_EQ(Authz("a2").status, AcmeAuthzStatus::kValid);
}

TEST_F(ChallengeWorkerTest, WrongAnswerIsRetriedThenInvalidatesAuthorizationAndOrders) {
  HttpLog log;
  TcpServer http(HttpHandler([](const std::string&) { return Ok200("not-the-key-auth"); }, &log));
  ChallengeWorker::Options options;
  options.max_attempts = 3;
  options.retry_backoff = 2000ms;
  ChallengeWorker& worker = MakeWorker(MakeValidator(http.port()), options);
  CreateOrder("o1", {{"a1", "a1.example.test"}});
  CreateOrder("o2", {}, {"a1"});
  Process("a1-http");

  for (int attempt = 1; attempt <= 2; ++attempt) {
    EXPECT_EQ(worker.PollOnce(), 1) << attempt;
    ASSERT_TRUE(RunUntil([&] { return Challenge("a1-http").attempts == attempt; })) << attempt;
    AcmeChallenge c = Challenge("a1-http");
    EXPECT_EQ(c.status, AcmeChallengeStatus::kProcessing);
    EXPECT_EQ(c.next_attempt_at, clock_.Now() + 2000ms);
    auto problem = nlohmann::json::parse(c.error);
    EXPECT_EQ(problem["type"], "urn:ietf:params:acme:error:incorrectResponse");
    EXPECT_EQ(problem["status"], 400);
    EXPECT_EQ(Authz("a1").status, AcmeAuthzStatus::kPending);
    EXPECT_EQ(worker.PollOnce(), 0);  // backing off
    clock_.Advance(1999ms);
    EXPECT_EQ(worker.PollOnce(), 0);
    clock_.Advance(1ms);
  }
  EXPECT_EQ(worker.PollOnce(), 1);
  ASSERT_TRUE(
      RunUntil([&] { return Challenge("a1-http").status == AcmeChallengeStatus::kInvalid; }));
  AcmeChallenge c = Challenge("a1-http");
  EXPECT_EQ(c.attempts, 3);
  EXPECT_FALSE(c.validated_at.has_value());
  EXPECT_EQ(nlohmann::json::parse(c.error)["type"], "urn:ietf:params:acme:error:incorrectResponse");
  EXPECT_NE(nlohmann::json::parse(c.error)["detail"].get<std::string>().find("http-01"),
            std::string::npos);
  EXPECT_EQ(Authz("a1").status, AcmeAuthzStatus::kInvalid);
  for (const std::string id : {"o1", "o2"}) {
    AcmeOrder o = Order(id);
    EXPECT_EQ(o.status, AcmeOrderStatus::kInvalid) << id;
    auto problem = nlohmann::json::parse(o.error);
    EXPECT_EQ(problem["type"], "urn:ietf:params:acme:error:incorrectResponse");
    EXPECT_EQ(problem["subproblems"][0]["identifier"]["value"], "a1.example.test");
  }
  std::lock_guard<std::mutex> lock(log.mu);
  EXPECT_EQ(log.paths.size(), 3u);
}

TEST_F(ChallengeWorkerTest, UnreachableServerIsAConnectionProblem) {
  TcpServer http(SilentHandler());
  ChallengeWorker::Options options;
  options.max_attempts = 1;
  ChallengeWorker& worker = MakeWorker(MakeValidator(http.port(), "", 300ms), options);
  CreateOrder("o1", {{"a1", "a1.example.test"}});
  Process("a1-http");
  EXPECT_EQ(worker.PollOnce(), 1);
  ASSERT_TRUE(RunUntil([&] { return Order("o1").status == AcmeOrderStatus::kInvalid; }));
  EXPECT_EQ(nlohmann::json::parse(Challenge("a1-http").error)["type"],
            "urn:ietf:params:acme:error:connection");
}

TEST_F(ChallengeWorkerTest, Dns01ForAWildcardPublishesTheKeyAuthorizationDigest) {
  DnsResponder dns;
  dns.Set("_acme-challenge.example.test",
          {.txt = {crypto::Base64UrlEncode(crypto::Sha256(KeyAuthOf("w1-dns")))}});
  ChallengeWorker& worker = MakeWorker(MakeValidator(1, dns.server()));
  CreateOrder("o1", {{"w1", "example.test"}}, {}, /*wildcard=*/true);
  Process("w1-dns");
  EXPECT_EQ(worker.PollOnce(), 1);
  ASSERT_TRUE(RunUntil([&] { return Order("o1").status == AcmeOrderStatus::kReady; }))
      << Challenge("w1-dns").error;
  EXPECT_EQ(Challenge("w1-dns").status, AcmeChallengeStatus::kValid);
}

TEST_F(ChallengeWorkerTest, WildcardWithHttp01IsMalformedWithoutRetry) {
  HttpLog log;
  TcpServer http(HttpHandler(RightAnswer, &log));
  ChallengeWorker& worker = MakeWorker(MakeValidator(http.port()));
  CreateOrder("o1", {{"w1", "example.test"}}, {}, /*wildcard=*/true);
  Process("w1-http");
  EXPECT_EQ(worker.PollOnce(), 1);
  ASSERT_TRUE(RunUntil([&] { return Order("o1").status == AcmeOrderStatus::kInvalid; }));
  EXPECT_EQ(Challenge("w1-http").attempts, 1);
  EXPECT_EQ(nlohmann::json::parse(Challenge("w1-http").error)["type"],
            "urn:ietf:params:acme:error:malformed");
  EXPECT_EQ(nlohmann::json::parse(Order("o1").error)["subproblems"][0]["identifier"]["value"],
            "example.test");
  std::lock_guard<std::mutex> lock(log.mu);
  EXPECT_TRUE(log.paths.empty());
}

TEST_F(ChallengeWorkerTest, ExpiredAuthorizationFailsWithoutContactingTheServer) {
  HttpLog log;
  TcpServer http(HttpHandler(RightAnswer, &log));
  ChallengeWorker& worker = MakeWorker(MakeValidator(http.port()));
  CreateOrder("o1", {{"a1", "a1.example.test"}});
  Process("a1-http");
  clock_.Advance(25h);  // past the authorization's expiry
  EXPECT_EQ(worker.PollOnce(), 1);
  EXPECT_EQ(Challenge("a1-http").status, AcmeChallengeStatus::kInvalid);
  EXPECT_EQ(Authz("a1").status, AcmeAuthzStatus::kExpired);
  EXPECT_EQ(Order("o1").status, AcmeOrderStatus::kInvalid);
  std::lock_guard<std::mutex> lock(log.mu);
  EXPECT_TRUE(log.paths.empty());
}

TEST_F(ChallengeWorkerTest, TwoWorkersOnOneStoreValidateEachChallengeOnce) {
  HttpLog log;
  TcpServer http(HttpHandler(RightAnswer, &log));
  validation::Validator& validator = MakeValidator(http.port());
  ChallengeWorker& first = MakeWorker(validator);
  ChallengeWorker& second = MakeWorker(validator);
  constexpr int kChallenges = 12;
  for (int i = 0; i < kChallenges; ++i) {
    const std::string n = std::to_string(i);
    CreateOrder("o" + n, {{"a" + n, "a" + n + ".example.test"}});
    Process("a" + n + "-http");
  }
  auto guard = boost::asio::make_work_guard(io_);
  std::vector<std::thread> io_threads;
  for (int i = 0; i < 2; ++i) io_threads.emplace_back([&] { io_.run(); });

  std::atomic<int> claimed{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> pollers;
  for (ChallengeWorker* w : {&first, &second, &first, &second}) {
    pollers.emplace_back([&, w] {
      while (!go) std::this_thread::yield();
      claimed += w->PollOnce();
    });
  }
  go = true;
  for (auto& t : pollers) t.join();
  EXPECT_EQ(claimed, kChallenges);
  const bool all_ready = WaitFor([&] {
    for (int i = 0; i < kChallenges; ++i) {
      if (Order("o" + std::to_string(i)).status != AcmeOrderStatus::kReady) return false;
    }
    return true;
  });
  EXPECT_EQ(first.PollOnce() + second.PollOnce(), 0);
  guard.reset();
  io_.stop();
  for (auto& t : io_threads) t.join();
  ASSERT_TRUE(all_ready);
  for (int i = 0; i < kChallenges; ++i) {
    EXPECT_EQ(Challenge("a" + std::to_string(i) + "-http").attempts, 1) << i;
  }
  std::lock_guard<std::mutex> lock(log.mu);
  EXPECT_EQ(log.paths.size(), static_cast<size_t>(kChallenges));
}

TEST_F(ChallengeWorkerTest, StopAbandonsAValidationInFlightAndTheLeaseBringsItBack) {
  TcpServer silent(SilentHandler());
  ChallengeWorker::Options options;
  options.stop_grace = 0ms;
  options.lease = 30s;
  auto worker = std::make_unique<ChallengeWorker>(*store_, MakeValidator(silent.port(), "", 300ms),
                                                  scheduler_, clock_, logger_, options);
  CreateOrder("o1", {{"a1", "a1.example.test"}});
  Process("a1-http");
  EXPECT_EQ(worker->PollOnce(), 1);
  const int64_t claimed_version = Challenge("a1-http").version;
  // Let the validation connect, then stop and destroy the worker while it waits for an answer.
  ASSERT_TRUE(RunUntil([&] { return silent.connections() > 0; }));
  worker->Stop();
  EXPECT_EQ(worker->PollOnce(), 0);
  worker.reset();
  // The validation times out after the worker is gone: its callback must not touch it.
  io_.restart();
  io_.run_for(kDeadline);  // returns once the validation is finished
  AcmeChallenge c = Challenge("a1-http");
  EXPECT_EQ(c.status, AcmeChallengeStatus::kProcessing);
  EXPECT_EQ(c.attempts, 0);
  EXPECT_EQ(c.version, claimed_version);
  EXPECT_EQ(c.next_attempt_at, T0() + 30s);

  // Once the lease ends, another worker validates it.
  TcpServer http(HttpHandler(RightAnswer, nullptr));
  ChallengeWorker& next = MakeWorker(MakeValidator(http.port()));
  EXPECT_EQ(next.PollOnce(), 0);
  clock_.Advance(30s);
  EXPECT_EQ(next.PollOnce(), 1);
  ASSERT_TRUE(RunUntil([&] { return Order("o1").status == AcmeOrderStatus::kReady; }));
}

TEST_F(ChallengeWorkerTest, StopWaitsForAValidationInFlightToBeWritten) {
  TcpServer http(HttpHandler(RightAnswer, nullptr));
  ChallengeWorker& worker = MakeWorker(MakeValidator(http.port()));  // stop_grace 10s
  CreateOrder("o1", {{"a1", "a1.example.test"}});
  Process("a1-http");
  EXPECT_EQ(worker.PollOnce(), 1);  // started; the io_context has not run yet
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    worker.Stop();
    stopped = true;
  });
  ASSERT_TRUE(RunUntil([&] { return stopped.load(); }));
  stopper.join();
  EXPECT_EQ(Challenge("a1-http").status, AcmeChallengeStatus::kValid);
  EXPECT_EQ(Order("o1").status, AcmeOrderStatus::kReady);
}

TEST_F(ChallengeWorkerTest, KickAndTickPollThroughTheSchedulerUntilStopped) {
  TcpServer http(HttpHandler(RightAnswer, nullptr));
  ChallengeWorker::Options options;
  options.tick = 1500ms;
  ChallengeWorker& worker = MakeWorker(MakeValidator(http.port()), options);
  worker.Start();
  worker.Start();  // idempotent
  ASSERT_EQ(scheduler_.size(), 1u);
  EXPECT_EQ(scheduler_.delay(0), 1500ms);

  CreateOrder("o1", {{"a1", "a1.example.test"}, {"a2", "a2.example.test"}});
  Process("a1-http");
  worker.Kick();
  ASSERT_EQ(scheduler_.size(), 2u);
  EXPECT_EQ(scheduler_.delay(1), 0ms);
  scheduler_.RunQueued();  // the tick claims a1 and re-arms; the kick finds nothing left
  ASSERT_EQ(scheduler_.size(), 1u);
  ASSERT_TRUE(RunUntil([&] { return Authz("a1").status == AcmeAuthzStatus::kValid; }));

  Process("a2-http");
  scheduler_.RunQueued();  // the tick
  ASSERT_TRUE(RunUntil([&] { return Order("o1").status == AcmeOrderStatus::kReady; }));

  worker.Stop();
  worker.Stop();  // idempotent
  worker.Kick();
  ASSERT_EQ(scheduler_.size(), 2u);
  scheduler_.RunQueued();  // both are no-ops now: nothing re-armed
  EXPECT_EQ(scheduler_.size(), 0u);
}

TEST(ValidationProblemJson, NamesTheAcmeErrorType) {
  auto json = nlohmann::json::parse(
      ValidationProblemJson(Error(ErrorCode::kFailedPrecondition, "dns-01: no TXT record",
                                  static_cast<int64_t>(validation::ValidationProblem::kDns))));
  EXPECT_EQ(json["type"], "urn:ietf:params:acme:error:dns");
  EXPECT_EQ(json["detail"], "dns-01: no TXT record");
  EXPECT_EQ(json["status"], 400);
  // Anything the Validator did not classify is a connection problem.
  EXPECT_EQ(nlohmann::json::parse(ValidationProblemJson(Internal("x")))["type"],
            "urn:ietf:params:acme:error:connection");
}

}  // namespace
}  // namespace eg::acme
