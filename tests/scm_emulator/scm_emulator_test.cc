// Tests of the SCM emulator over real HTTPS on 127.0.0.1 (curl is the client, so the TLS,
// client-certificate and header handling are exercised end to end), and of its program.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "crypto/csr.h"
#include "crypto/key.h"
#include "crypto/pem.h"
#include "crypto/pkcs7.h"
#include "crypto/x509.h"
#include "scm/emulator/emulator.h"

extern char** environ;

namespace eg::scm_emulator {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Reply {
  int status = 0;
  std::string body;
  std::string headers;
  json Json() const { return json::parse(body, nullptr, false); }
  int Code() const {
    json j = Json();
    return j.is_object() && j.contains("code") ? j["code"].get<int>() : 999999;
  }
};

// Runs a program, returns its exit status and stdout.
int RunProgram(const std::vector<std::string>& args, std::string* out) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    return -1;
  }
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) out->append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class Curl {
 public:
  Curl(std::string base_url, std::string ca_path, std::string tmp)
      : base_(std::move(base_url)), ca_(std::move(ca_path)), tmp_(std::move(tmp)) {}

  std::vector<std::string> password = {"-H", "login: admin",     "-H", "password: admin",
                                       "-H", "customerUri: demo"};

  Reply Call(const std::string& method, const std::string& path, const std::string& body = "",
             std::vector<std::string> extra = {}, bool use_password = true) {
    const std::string body_file = tmp_ + "/curl-body";
    const std::string hdr_file = tmp_ + "/curl-headers";
    std::vector<std::string> args = {"curl",   "-sS", "--cacert",     ca_,  "-o",  body_file, "-D",
                                     hdr_file, "-w",  "%{http_code}", "-X", method};
    if (method == "HEAD") {
      args.pop_back();
      args.pop_back();
      args.push_back("-I");
    }
    if (use_password) args.insert(args.end(), password.begin(), password.end());
    args.insert(args.end(), extra.begin(), extra.end());
    if (!body.empty()) {
      std::ofstream(tmp_ + "/curl-req") << body;
      args.insert(args.end(), {"-H", "Content-Type: application/json", "--data-binary",
                               "@" + tmp_ + "/curl-req"});
    }
    args.push_back(base_ + path);
    std::string out;
    std::remove(body_file.c_str());
    RunProgram(args, &out);
    Reply r;
    r.status = std::atoi(out.c_str());
    r.body = ReadFile(body_file);
    r.headers = ReadFile(hdr_file);
    return r;
  }

 private:
  std::string base_, ca_, tmp_;
};

struct KeyCsr {
  crypto::PrivateKey key;
  std::string pem;
};

KeyCsr MakeCsr(crypto::KeySpec spec, const std::string& cn, std::vector<std::string> dns = {}) {
  auto key = crypto::PrivateKey::Generate(spec).value();
  crypto::CsrRequest req;
  req.subject.common_name = cn;
  req.sans.dns = std::move(dns);
  auto csr = crypto::BuildCsr(req, key).value();
  return {std::move(key), csr.Pem()};
}

double TermDays(const crypto::Certificate& c) {
  return std::chrono::duration_cast<std::chrono::hours>(c.NotAfter() - c.NotBefore()).count() /
         24.0;
}

bool HasEku(const crypto::Certificate& c, crypto::Eku e) {
  auto v = c.Ekus();
  return std::find(v.begin(), v.end(), e) != v.end();
}

class EmulatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/eg-scm-emulator-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    state_ = dir_ + "/state";
    StartEmulator();
  }
  void TearDown() override {
    if (emu_) emu_->Stop();
    emu_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  void StartEmulator() {
    Options o;
    o.state_dir = state_;
    auto e = Emulator::Start(o, logger_);
    ASSERT_TRUE(e.ok()) << e.error().ToString();
    emu_ = std::move(e).value();
    curl_ = std::make_unique<Curl>(emu_->base_url(), emu_->ca_pem_path(), dir_);
  }

  Reply EnrollSsl(const std::string& pem, int profile, int term, const std::string& sans,
                  json extra = json::object()) {
    json b = {{"orgId", 1697}, {"csr", pem},           {"certType", profile},
              {"term", term},  {"subjAltNames", sans}, {"comments", "emulator test"}};
    b.update(extra);
    return curl_->Call("POST", "/api/ssl/v1/enroll", b.dump());
  }

  // Collects until not pending (deadline 10 s).
  Reply CollectReady(const std::string& path) {
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    for (;;) {
      Reply r = curl_->Call("GET", path);
      if (r.status != 400 || Clock::now() > deadline) return r;
      const int code = r.Code();
      if (code != 0 && code != -183 && code != -1400 && code != -109) return r;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  std::string Token(const std::string& id, const std::string& secret) {
    Reply r = curl_->Call("POST", "/oauth2/token", "",
                          {"-d", "grant_type=client_credentials", "-d", "client_id=" + id, "-d",
                           "client_secret=" + secret},
                          false);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.Json().value("access_token", "");
  }

  Logger logger_{LogLevel::kError};
  std::string dir_, state_;
  std::unique_ptr<Emulator> emu_;
  std::unique_ptr<Curl> curl_;
};

TEST_F(EmulatorTest, SslEnrollCollectEveryFormatAndDetails) {
  auto kc = MakeCsr(crypto::KeySpec::kEcP256, "www.example.test");
  Reply e = EnrollSsl(kc.pem, 1001, 90, "www.example.test, api.example.test,127.0.0.1");
  ASSERT_EQ(e.status, 200) << e.body;
  const int64_t id = e.Json()["sslId"].get<int64_t>();
  EXPECT_FALSE(e.Json()["renewId"].get<std::string>().empty());
  const std::string sid = std::to_string(id);

  Reply c = CollectReady("/api/ssl/v1/collect/" + sid + "/x509CO");
  ASSERT_EQ(c.status, 200) << c.body;
  EXPECT_NE(c.headers.find("application/octet-stream"), std::string::npos);
  EXPECT_NE(c.headers.find("attachment; filename="), std::string::npos);
  auto leaf = crypto::Certificate::ParsePem(c.body).value();
  EXPECT_TRUE(leaf.Key().Equals(kc.key.Public()));
  EXPECT_NEAR(TermDays(leaf), 90, 0.01);
  EXPECT_EQ(leaf.Subject().common_name, "www.example.test");
  auto dns = leaf.Sans().dns;
  std::sort(dns.begin(), dns.end());
  EXPECT_EQ(dns, (std::vector<std::string>{"api.example.test", "www.example.test"}));
  EXPECT_EQ(leaf.Sans().ip, std::vector<std::string>{"127.0.0.1"});
  EXPECT_TRUE(HasEku(leaf, crypto::Eku::kServerAuth));
  EXPECT_TRUE(HasEku(leaf, crypto::Eku::kClientAuth));
  auto ca = crypto::Certificate::ParsePem(emu_->ca_pem()).value();
  EXPECT_TRUE(leaf.IsSignedBy(ca));

  // Every format, in both URL forms.
  const std::map<std::string, size_t> pem_counts = {{"x509", 2},    {"x509CO", 1}, {"x509IO", 1},
                                                    {"x509IOR", 1}, {"pem", 2},    {"pemco", 1},
                                                    {"pemia", 2},   {"x509R", 2}};
  for (const auto& [fmt, count] : pem_counts) {
    for (const std::string& path : {"/api/ssl/v1/collect/" + sid + "/" + fmt,
                                    "/api/ssl/v1/collect/" + sid + "?format=" + fmt}) {
      Reply r = curl_->Call("GET", path);
      ASSERT_EQ(r.status, 200) << path << r.body;
      auto chain = crypto::Certificate::ParsePemChain(r.body);
      ASSERT_TRUE(chain.ok()) << path;
      EXPECT_EQ(chain->size(), count) << path;
    }
  }
  Reply x509r = curl_->Call("GET", "/api/ssl/v1/collect/" + sid + "/x509R");
  EXPECT_EQ(crypto::Certificate::ParsePemChain(x509r.body).value()[0].Der(), leaf.Der());
  Reply p7 = curl_->Call("GET", "/api/ssl/v1/collect/" + sid);  // base64 is the default
  ASSERT_EQ(p7.status, 200);
  auto p7der = crypto::PemDecode(p7.body, "PKCS7");
  ASSERT_TRUE(p7der.ok()) << p7.body;
  EXPECT_EQ(crypto::DecodeCertsOnly(*p7der).value().size(), 2u);
  Reply bin = curl_->Call("GET", "/api/ssl/v1/collect/" + sid + "/bin");
  ASSERT_EQ(bin.status, 200);
  EXPECT_EQ(crypto::DecodeCertsOnly(crypto::ToBytes(bin.body)).value().size(), 2u);
  Reply bad = curl_->Call("GET", "/api/ssl/v1/collect/" + sid + "/nope");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.Code(), -126);

  Reply d = curl_->Call("GET", "/api/ssl/v1/" + sid);
  ASSERT_EQ(d.status, 200) << d.body;
  json dj = d.Json();
  EXPECT_EQ(dj["status"], "Issued");
  EXPECT_EQ(dj["keyType"], "EC - P-256");
  EXPECT_EQ(dj["serialNumber"], leaf.SerialColon());
  EXPECT_EQ(dj["certType"]["id"], 1001);
  EXPECT_EQ(dj["comments"], "emulator test");
  EXPECT_EQ(dj["requestedVia"], "REST API");

  // Lists: filter, paging header, HEAD.
  Reply l = curl_->Call("GET", "/api/ssl/v1?position=0&size=10&commonName=www.example.test");
  ASSERT_EQ(l.status, 200);
  ASSERT_EQ(l.Json().size(), 1u);
  EXPECT_EQ(l.Json()[0]["sslId"], id);
  EXPECT_NE(l.headers.find("X-Total-Count: 1"), std::string::npos) << l.headers;
  Reply h = curl_->Call("HEAD", "/api/ssl/v1");
  EXPECT_EQ(h.status, 200);
  EXPECT_NE(h.headers.find("X-Total-Count"), std::string::npos);
}

TEST_F(EmulatorTest, ClientDeviceAndCodeSigning) {
  {  // client
    auto kc = MakeCsr(crypto::KeySpec::kRsa2048, "ignored");
    json b = {{"orgId", 1698},
              {"csr", kc.pem},
              {"certType", 2001},
              {"term", 730},
              {"email", "bob@example.test"},
              {"firstName", "Bob"},
              {"middleName", ""},
              {"lastName", "Builder"}};
    Reply e = curl_->Call("POST", "/api/smime/v2/enroll", b.dump());
    ASSERT_EQ(e.status, 200) << e.body;
    const std::string id = e.Json()["backendCertId"].get<std::string>();
    EXPECT_EQ(e.Json()["orderNumber"].get<int64_t>(), std::stoll(id));
    Reply c = CollectReady("/api/smime/v1/collect/" + id + "?format=x509CO");
    ASSERT_EQ(c.status, 200) << c.body;
    auto leaf = crypto::Certificate::ParsePem(c.body).value();
    EXPECT_TRUE(leaf.Key().Equals(kc.key.Public()));
    EXPECT_NEAR(TermDays(leaf), 730, 0.01);
    EXPECT_EQ(leaf.Sans().email, std::vector<std::string>{"bob@example.test"});
    EXPECT_EQ(leaf.Subject().given_name, "Bob");
    EXPECT_EQ(leaf.Subject().surname, "Builder");
    EXPECT_EQ(leaf.Subject().common_name, "Bob Builder");
    EXPECT_TRUE(HasEku(leaf, crypto::Eku::kEmailProtection));
    EXPECT_TRUE(HasEku(leaf, crypto::Eku::kClientAuth));
    Reply d = curl_->Call("GET", "/api/smime/v1/" + id);
    EXPECT_EQ(d.Json()["status"], "issued");
    Reply l = curl_->Call("GET", "/api/smime/v1?email=bob@example.test");
    ASSERT_EQ(l.Json().size(), 1u);
    // Revoke (reason code as a string), then collect: -192.
    Reply rv = curl_->Call("POST", "/api/smime/v1/revoke/order/" + id,
                           R"({"reasonCode":"4","reason":""})");
    EXPECT_EQ(rv.status, 204) << rv.body;
    Reply after = curl_->Call("GET", "/api/smime/v1/collect/" + id);
    EXPECT_EQ(after.status, 400);
    EXPECT_EQ(after.Code(), -192);
  }
  {  // device
    auto kc = MakeCsr(crypto::KeySpec::kEcP384, "dev-1.example.test");
    json b = {{"orgId", 1697},
              {"csr", kc.pem},
              {"certType", 3001},
              {"term", 1095},
              {"optionalFields",
               {{{"name", "dnsName"}, {"value", "dev-1.example.test"}},
                {{"name", "serialNumber"}, {"value", "SN-1"}}}}};
    Reply e = curl_->Call("POST", "/api/device/v1/enroll", b.dump());
    ASSERT_EQ(e.status, 200) << e.body;
    EXPECT_EQ(e.Json()["status"], "APPROVED");
    const std::string id = std::to_string(e.Json()["deviceCertId"].get<int64_t>());
    Reply c = CollectReady("/api/device/v1/collect/" + id + "?format=x509CO");
    ASSERT_EQ(c.status, 200) << c.body;
    auto leaf = crypto::Certificate::ParsePem(c.body).value();
    EXPECT_TRUE(leaf.Key().Equals(kc.key.Public()));
    EXPECT_NEAR(TermDays(leaf), 1095, 0.01);
    EXPECT_EQ(leaf.Subject().common_name, "dev-1.example.test");
    EXPECT_EQ(leaf.Subject().serial_number, "SN-1");
    EXPECT_TRUE(HasEku(leaf, crypto::Eku::kClientAuth));
    EXPECT_FALSE(HasEku(leaf, crypto::Eku::kServerAuth));
    EXPECT_EQ(curl_->Call("GET", "/api/device/v1/" + id).Json()["status"], "Issued");
    json bad = b;
    bad["optionalFields"] = {{{"name", "favouriteColour"}, {"value", "red"}}};
    EXPECT_EQ(curl_->Call("POST", "/api/device/v1/enroll", bad.dump()).status, 400);
  }
  {  // code signing over the REST enrollment API with an OAuth2 bearer token
    Reply no_token = curl_->Call("GET", "/api/v1/products", "", {}, false);
    EXPECT_EQ(no_token.status, 401);
    EXPECT_NE(no_token.headers.find("token_url=\"" + emu_->base_url() + "/oauth2/token\""),
              std::string::npos)
        << no_token.headers;
    Reply bad_secret = curl_->Call("POST", "/oauth2/token", "",
                                   {"-d", "grant_type=client_credentials", "-d",
                                    "client_id=codesign", "-d", "client_secret=nope"},
                                   false);
    EXPECT_EQ(bad_secret.status, 401);
    const std::string token = Token("codesign", "codesign-secret");
    ASSERT_FALSE(token.empty());
    const std::vector<std::string> bearer = {"-H", "Authorization: Bearer " + token};
    EXPECT_EQ(curl_->Call("GET", "/api/v1/products", "", bearer, false).status, 200);
    auto key = crypto::PrivateKey::Generate(crypto::KeySpec::kRsa3072).value();
    crypto::CsrRequest cr;
    cr.subject.common_name = "Example Code Signer";
    auto csr = crypto::BuildCsr(cr, key).value();
    const std::string b64 = crypto::Base64Encode(csr.Der());
    json b = {{"csr", b64},
              {"email", "dev@example.test"},
              {"firstName", "Dev"},
              {"lastName", "Example"},
              {"hsmType", "Yubikey"}};
    Reply missing = curl_->Call("POST", "/api/v1/certificates", b.dump(), bearer, false);
    EXPECT_EQ(missing.status, 400);
    EXPECT_EQ(missing.Code(), -7);
    b["keyAttestation"] = "ZXZpZGVuY2U=";
    b["hsmType"] = "Floppy";
    EXPECT_EQ(curl_->Call("POST", "/api/v1/certificates", b.dump(), bearer, false).Code(), -1002);
    b["hsmType"] = "Yubikey";
    Reply e = curl_->Call("POST", "/api/v1/certificates", b.dump(), bearer, false);
    ASSERT_EQ(e.status, 201) << e.body;
    const std::string id = std::to_string(e.Json()["certId"].get<int64_t>());
    EXPECT_NE(e.headers.find("Location: /api/v1/certificates/" + id), std::string::npos);
    Reply c = curl_->Call("GET", "/api/v1/certificates/" + id + "/download?format=x509CO", "",
                          bearer, false);
    ASSERT_EQ(c.status, 200) << c.body;
    auto leaf = crypto::Certificate::ParsePem(c.body).value();
    EXPECT_TRUE(leaf.Key().Equals(key.Public()));
    EXPECT_NEAR(TermDays(leaf), 365, 0.01);  // the REST account's term
    EXPECT_TRUE(HasEku(leaf, crypto::Eku::kCodeSigning));
    Reply d = curl_->Call("GET", "/api/v1/certificates/" + id, "", bearer, false);
    EXPECT_EQ(d.Json()["hsmType"], "Yubikey");
    EXPECT_EQ(d.Json()["productId"], 4001);
    // An admin-API token is not a code-signing account, and a code-signing one not an admin.
    const std::string admin = Token("oauth-admin", "oauth-secret");
    EXPECT_EQ(
        curl_->Call("GET", "/api/ssl/v1/types", "", {"-H", "Authorization: Bearer " + admin}, false)
            .status,
        200);
    EXPECT_NE(curl_->Call("GET", "/api/ssl/v1/types", "", bearer, false).status, 200);
  }
  Reply stats = curl_->Call("GET", "/_emulator/stats");
  ASSERT_EQ(stats.status, 200);
  EXPECT_EQ(stats.Json()["enrollments"]["client"], 1);
  EXPECT_EQ(stats.Json()["enrollments"]["device"], 1);
  EXPECT_EQ(stats.Json()["enrollments"]["code_signing"], 1);
  EXPECT_EQ(stats.Json()["enrollments"]["total"], 3);
}

TEST_F(EmulatorTest, ApprovalAndDecline) {
  auto kc = MakeCsr(crypto::KeySpec::kEcP256, "ok.example.test");
  Reply e = EnrollSsl(kc.pem, 1002, 365, "ok.example.test");
  ASSERT_EQ(e.status, 200) << e.body;
  const std::string id = std::to_string(e.Json()["sslId"].get<int64_t>());
  Reply p = curl_->Call("GET", "/api/ssl/v1/collect/" + id + "/x509");
  EXPECT_EQ(p.status, 400);
  EXPECT_EQ(p.Code(), 0);
  EXPECT_EQ(p.Json()["description"], "Being processed by Sectigo");
  EXPECT_EQ(curl_->Call("GET", "/api/ssl/v1/" + id).Json()["status"], "Requested");
  // Switchable pending code.
  ASSERT_EQ(curl_->Call("PUT", "/_emulator/switches", R"({"pendingCode":-1400})").status, 204);
  EXPECT_EQ(curl_->Call("GET", "/api/ssl/v1/collect/" + id + "/x509").Code(), -1400);
  ASSERT_TRUE(ApproveInState(state_, id, "fine").ok());
  EXPECT_FALSE(ApproveInState(state_, id, "again").ok());  // not Requested any more
  Reply c = CollectReady("/api/ssl/v1/collect/" + id + "/x509CO");
  EXPECT_EQ(c.status, 200) << c.body;

  auto kc2 = MakeCsr(crypto::KeySpec::kEcP256, "no.example.test");
  Reply e2 = EnrollSsl(kc2.pem, 1002, 365, "");
  const std::string id2 = std::to_string(e2.Json()["sslId"].get<int64_t>());
  ASSERT_TRUE(DeclineInState(state_, id2, "no").ok());
  EXPECT_EQ(curl_->Call("GET", "/api/ssl/v1/" + id2).Json()["status"], "Declined");
  Reply dc = curl_->Call("GET", "/api/ssl/v1/collect/" + id2 + "/x509");
  EXPECT_EQ(dc.status, 400);
  EXPECT_EQ(dc.Code(), -169);
  // The API's own approve: wrong state -> -1112; a fresh one -> 204.
  EXPECT_EQ(curl_->Call("POST", "/api/ssl/v1/approve/" + id2, R"({"message":"x"})").Code(), -1112);
  Reply e3 = EnrollSsl(MakeCsr(crypto::KeySpec::kEcP256, "a3.example.test").pem, 1002, 365, "");
  const std::string id3 = std::to_string(e3.Json()["sslId"].get<int64_t>());
  EXPECT_EQ(curl_->Call("POST", "/api/ssl/v1/approve/" + id3, R"({"message":"ok"})").status, 204);
  EXPECT_EQ(CollectReady("/api/ssl/v1/collect/" + id3 + "/x509CO").status, 200);

  // Client approval profile: -183 while pending.
  auto kc4 = MakeCsr(crypto::KeySpec::kEcP256, "c");
  json b = {{"orgId", 1697},
            {"csr", kc4.pem},
            {"certType", 2002},
            {"term", 365},
            {"email", "c@example.test"},
            {"firstName", "C"},
            {"lastName", "D"}};
  Reply e4 = curl_->Call("POST", "/api/smime/v1/enroll", b.dump());
  ASSERT_EQ(e4.status, 200) << e4.body;
  Reply p4 =
      curl_->Call("GET", "/api/smime/v1/collect/" + e4.Json()["backendCertId"].get<std::string>());
  EXPECT_EQ(p4.Code(), -183);
}

TEST_F(EmulatorTest, ValidationErrorCodes) {
  auto ec = MakeCsr(crypto::KeySpec::kEcP256, "v.example.test");
  auto rsa = MakeCsr(crypto::KeySpec::kRsa2048, "v.example.test");
  auto p521 = MakeCsr(crypto::KeySpec::kEcP521, "v.example.test");
  struct Case {
    std::string what;
    Reply reply;
    int status;
    int code;
  };
  std::vector<Case> cases;
  cases.push_back({"bad term", EnrollSsl(ec.pem, 1001, 5, ""), 400, -36});
  cases.push_back({"EC on RSA-only", EnrollSsl(ec.pem, 1003, 365, ""), 400, -170});
  cases.push_back({"bad curve", EnrollSsl(p521.pem, 1001, 365, ""), 400, -13});
  cases.push_back({"missing custom field", EnrollSsl(ec.pem, 1004, 365, ""), 400, -62});
  cases.push_back(
      {"unknown custom field",
       EnrollSsl(ec.pem, 1001, 365, "", {{"customFields", {{{"name", "Nope"}, {"value", "1"}}}}}),
       400, -135});
  cases.push_back({"custom field given",
                   EnrollSsl(ec.pem, 1004, 365, "",
                             {{"customFields", {{{"name", "Cost center"}, {"value", "42"}}}}}),
                   200, 999999});
  cases.push_back({"unknown profile", EnrollSsl(ec.pem, 9999, 365, ""), 400, -39});
  cases.push_back({"unknown org", EnrollSsl(ec.pem, 1001, 365, "", {{"orgId", 5}}), 400, -639});
  cases.push_back({"not base64",
                   EnrollSsl("-----BEGIN CERTIFICATE REQUEST-----\nnot*base64\n-----END "
                             "CERTIFICATE REQUEST-----\n",
                             1001, 365, ""),
                   400, -9});
  cases.push_back({"not a CSR", EnrollSsl("aGVsbG8gd29ybGQ=", 1001, 365, ""), 400, -10});
  cases.push_back({"missing csr", EnrollSsl("", 1001, 365, ""), 400, -7});
  cases.push_back({"unknown domain", EnrollSsl(ec.pem, 1001, 365, "www.other.invalid"), 400, -727});
  cases.push_back({"IP outside ranges", EnrollSsl(ec.pem, 1001, 365, "10.1.2.3"), 400, -1010});
  cases.push_back({"SANs as an array",
                   EnrollSsl(ec.pem, 1001, 365, "", {{"subjAltNames", {"v.example.test"}}}), 400,
                   -1002});
  cases.push_back(
      {"orgId wrong type", EnrollSsl(ec.pem, 1001, 365, "", {{"orgId", true}}), 400, -1002});
  cases.push_back(
      {"malformed JSON", curl_->Call("POST", "/api/ssl/v1/enroll", "{\"orgId\":"), 400, -1002});
  cases.push_back({"array body", curl_->Call("POST", "/api/ssl/v1/enroll", "[1,2]"), 400, -1002});
  {
    json b = {{"orgId", 1697}, {"csr", rsa.pem}, {"certType", 4001}, {"term", 365}};
    const std::string token = Token("codesign", "codesign-secret");
    b["keyAttestation"] = "ZQ==";
    cases.push_back({"RSA too small for the profile",
                     curl_->Call("POST", "/api/v1/certificates", b.dump(),
                                 {"-H", "Authorization: Bearer " + token}, false),
                     400, -141});
  }
  {
    json b = {{"orgId", 1697},
              {"csr", ec.pem},
              {"certType", 1001},
              {"term", 365},
              {"email", "x@example.test"},
              {"firstName", "X"},
              {"lastName", "Y"}};
    cases.push_back({"client: unknown profile",
                     curl_->Call("POST", "/api/smime/v1/enroll", b.dump()), 400, -172});
    b["certType"] = 2001;
    b.erase("email");
    cases.push_back(
        {"client: email missing", curl_->Call("POST", "/api/smime/v1/enroll", b.dump()), 400, -7});
    json d = {{"orgId", 1697}, {"csr", ec.pem}, {"certType", 1001}, {"term", 365}};
    cases.push_back({"device: unknown profile",
                     curl_->Call("POST", "/api/device/v1/enroll", d.dump()), 400, -5109});
  }
  cases.push_back({"unknown id", curl_->Call("GET", "/api/ssl/v1/987654"), 404, -124});
  cases.push_back({"unknown device id", curl_->Call("GET", "/api/device/v1/987654"), 404, -5101});
  curl_->password[3] = "password: wrong";
  cases.push_back({"bad password", curl_->Call("GET", "/api/ssl/v1/types"), 401, -970});
  curl_->password[1] = "login: nobody";
  cases.push_back({"unknown user", curl_->Call("GET", "/api/ssl/v1/types"), 401, -16});
  for (const auto& c : cases) {
    EXPECT_EQ(c.reply.status, c.status) << c.what << ": " << c.reply.body;
    EXPECT_EQ(c.reply.Code(), c.code) << c.what << ": " << c.reply.body;
    if (c.status != 200) {
      json j = c.reply.Json();
      EXPECT_TRUE(j.is_object() && j["description"].is_string()) << c.what << c.reply.body;
    }
  }
}

TEST_F(EmulatorTest, RevokeRenewReplaceAndAutoRenew) {
  auto kc = MakeCsr(crypto::KeySpec::kRsa2048, "r.example.test");
  Reply e = EnrollSsl(kc.pem, 1001, 365, "r.example.test");
  ASSERT_EQ(e.status, 200) << e.body;
  const std::string id = std::to_string(e.Json()["sslId"].get<int64_t>());
  const std::string renew_id = e.Json()["renewId"].get<std::string>();

  Reply put =
      curl_->Call("PUT", "/api/ssl/v1",
                  json{{"sslId", std::stoll(id)},
                       {"autoRenewDetails", {{"state", "Scheduled"}, {"daysBeforeExpiration", 14}}}}
                      .dump());
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(put.Json()["autoRenewDetails"]["state"], "Scheduled");
  json d = curl_->Call("GET", "/api/ssl/v1/" + id).Json();
  EXPECT_EQ(d["autoRenewDetails"]["state"], "Scheduled");
  EXPECT_EQ(d["autoRenewDetails"]["daysBeforeExpiration"], 14);
  // Comments cannot change once issued.
  EXPECT_EQ(
      curl_->Call("PUT", "/api/ssl/v1", json{{"sslId", std::stoll(id)}, {"comments", "x"}}.dump())
          .status,
      400);

  // Renew by id (new CSR) and by renewId.
  auto kc2 = MakeCsr(crypto::KeySpec::kRsa3072, "r.example.test");
  Reply rn = curl_->Call("POST", "/api/ssl/v1/renewById/" + id, json{{"csr", kc2.pem}}.dump());
  ASSERT_EQ(rn.status, 200) << rn.body;
  const std::string nid = std::to_string(rn.Json()["sslId"].get<int64_t>());
  EXPECT_NE(nid, id);
  Reply nc = CollectReady("/api/ssl/v1/collect/" + nid + "/x509CO");
  ASSERT_EQ(nc.status, 200);
  EXPECT_TRUE(crypto::Certificate::ParsePem(nc.body).value().Key().Equals(kc2.key.Public()));
  EXPECT_EQ(curl_->Call("POST", "/api/ssl/v1/renew/" + renew_id).status, 204);
  // Profile without renewal.
  Reply e3 = EnrollSsl(kc.pem, 1003, 365, "");
  ASSERT_EQ(e3.status, 200) << e3.body;
  const std::string id3 = std::to_string(e3.Json()["sslId"].get<int64_t>());
  ASSERT_EQ(CollectReady("/api/ssl/v1/collect/" + id3 + "/x509CO").status, 200);
  EXPECT_EQ(curl_->Call("POST", "/api/ssl/v1/renewById/" + id3).Code(), -180);

  // Replace: same id, new key, old certificate kept as Replaced.
  auto kc4 = MakeCsr(crypto::KeySpec::kEcP384, "r.example.test");
  Reply rp = curl_->Call("POST", "/api/ssl/v1/replace/" + id,
                         json{{"csr", kc4.pem},
                              {"reason", "key change"},
                              {"commonName", "r.example.test"},
                              {"subjectAlternativeNames", {"r2.example.test"}}}
                             .dump());
  ASSERT_EQ(rp.status, 204) << rp.body;
  Reply rc = CollectReady("/api/ssl/v1/collect/" + id + "/x509CO");
  ASSERT_EQ(rc.status, 200);
  auto replaced_leaf = crypto::Certificate::ParsePem(rc.body).value();
  EXPECT_TRUE(replaced_leaf.Key().Equals(kc4.key.Public()));
  json rd = curl_->Call("GET", "/api/ssl/v1/" + id).Json();
  ASSERT_EQ(rd["replacedCertificates"].size(), 1u);
  const std::string old_id = std::to_string(rd["replacedCertificates"][0]["id"].get<int64_t>());
  EXPECT_EQ(curl_->Call("GET", "/api/ssl/v1/" + old_id).Json()["status"], "Replaced");

  // Revoke: reason required for SSL; number or string; then -110 and -159.
  EXPECT_EQ(curl_->Call("POST", "/api/ssl/v1/revoke/" + nid, R"({"reasonCode":4})").Code(), -7);
  EXPECT_EQ(
      curl_->Call("POST", "/api/ssl/v1/revoke/" + nid, R"({"reasonCode":2,"reason":"x"})").Code(),
      -1002);
  EXPECT_EQ(
      curl_->Call("POST", "/api/ssl/v1/revoke/" + nid, R"({"reasonCode":"4","reason":"x"})").status,
      204);
  Reply after = curl_->Call("GET", "/api/ssl/v1/collect/" + nid + "/x509");
  EXPECT_EQ(after.status, 400);
  EXPECT_EQ(after.Code(), -110);
  EXPECT_EQ(
      curl_->Call("POST", "/api/ssl/v1/revoke/" + nid, R"({"reasonCode":4,"reason":"x"})").Code(),
      -159);
  // By serial.
  const std::string serial = rd["serialNumber"].get<std::string>();
  EXPECT_EQ(curl_
                ->Call("POST", "/api/ssl/v1/revoke/serial/" + serial,
                       R"({"reasonCode":1,"reason":"key compromise"})")
                .status,
            204);
  EXPECT_EQ(curl_->Call("GET", "/api/ssl/v1/" + id).Json()["status"], "Revoked");
  // Not issued -> -102.
  Reply e5 = EnrollSsl(kc.pem, 1002, 365, "");
  const std::string id5 = std::to_string(e5.Json()["sslId"].get<int64_t>());
  EXPECT_EQ(curl_->Call("POST", "/api/ssl/v1/revoke/" + id5, R"({"reason":"x"})").Code(), -102);
}

TEST_F(EmulatorTest, CertificateLogin) {
  const std::vector<std::string> cert = {
      "--cert", state_ + "/certadmin.pem", "--key", state_ + "/certadmin.key",
      "-H",     "login: certadmin",        "-H",    "customerUri: demo"};
  EXPECT_EQ(curl_->Call("GET", "/private/api/ssl/v1/types", "", cert, false).status, 200);
  // Without the certificate, or with the wrong login, or without /private: refused.
  EXPECT_EQ(curl_
                ->Call("GET", "/private/api/ssl/v1/types", "",
                       {"-H", "login: certadmin", "-H", "customerUri: demo"}, false)
                .status,
            401);
  auto wrong = cert;
  wrong[5] = "login: admin";
  EXPECT_EQ(curl_->Call("GET", "/private/api/ssl/v1/types", "", wrong, false).status, 401);
  EXPECT_EQ(curl_->Call("GET", "/api/ssl/v1/types", "", cert, false).status, 401);
  EXPECT_EQ(fs::status(state_ + "/certadmin.key").permissions() & fs::perms::others_read,
            fs::perms::none);
  EXPECT_EQ(fs::status(state_ + "/ca.key").permissions() & fs::perms::group_read, fs::perms::none);
}

TEST_F(EmulatorTest, SwitchesAndStats) {
  Switches s;
  s.fail_rate = 1.0;
  emu_->SetSwitches(s);
  Reply r = curl_->Call("GET", "/api/ssl/v1/types");
  EXPECT_GE(r.status, 500);
  EXPECT_EQ(curl_->Call("GET", "/_emulator/stats").status, 200);  // never faulted
  emu_->SetSwitches({});
  EXPECT_EQ(curl_->Call("GET", "/api/ssl/v1/types").status, 200);

  ASSERT_EQ(curl_->Call("PUT", "/_emulator/switches", R"({"failRate":1.0})").status, 204);
  EXPECT_GE(curl_->Call("GET", "/api/ssl/v1/types").status, 500);
  ASSERT_EQ(curl_->Call("PUT", "/_emulator/switches", R"({"failRate":0,"outageUntil":4102444800})")
                .status,
            204);
  EXPECT_EQ(curl_->Call("GET", "/api/ssl/v1/types").status, 503);
  ASSERT_EQ(curl_->Call("PUT", "/_emulator/switches", R"({"outageUntil":0,"dropRate":1.0})").status,
            204);
  EXPECT_EQ(curl_->Call("GET", "/api/ssl/v1/types").status, 0);  // connection closed, no answer
  EXPECT_EQ(curl_->Call("PUT", "/_emulator/switches", R"({"pendingCode":5})").status, 400);
  EXPECT_EQ(curl_->Call("PUT", "/_emulator/switches", "nonsense").Code(), -1002);

  // Issuance delay and "issued, collect still pending".
  ASSERT_EQ(curl_
                ->Call("PUT", "/_emulator/switches",
                       R"({"dropRate":0,"issuanceDelaySeconds":2,"issuedCollectPendingPolls":2})")
                .status,
            204);
  auto kc = MakeCsr(crypto::KeySpec::kEcP256, "delay.example.test");
  const auto enrolled_at = Clock::now();
  Reply e = EnrollSsl(kc.pem, 1001, 365, "");
  ASSERT_EQ(e.status, 200) << e.body;
  const std::string id = std::to_string(e.Json()["sslId"].get<int64_t>());
  const json early = curl_->Call("GET", "/api/ssl/v1/" + id).Json()["status"];
  // Within the delay it is still Applied (a loaded sanitizer build may take longer than the
  // delay between the two calls; then it may already be Issued).
  if (Clock::now() - enrolled_at < std::chrono::seconds(2)) {
    EXPECT_EQ(early, "Applied");
  }
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (curl_->Call("GET", "/api/ssl/v1/" + id).Json()["status"] != "Issued" &&
         Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(curl_->Call("GET", "/api/ssl/v1/collect/" + id + "/x509").Code(), 0);
  EXPECT_EQ(curl_->Call("GET", "/api/ssl/v1/collect/" + id + "/x509").Code(), 0);
  EXPECT_EQ(curl_->Call("GET", "/api/ssl/v1/collect/" + id + "/x509").status, 200);

  Reply st = curl_->Call("GET", "/_emulator/stats");
  EXPECT_EQ(st.Json()["enrollments"]["ssl"], 1);
  EXPECT_GT(st.Json()["requests"].get<int64_t>(), 5);
}

TEST_F(EmulatorTest, RestartSeesState) {
  auto kc = MakeCsr(crypto::KeySpec::kEcP256, "keep.example.test");
  Reply e = EnrollSsl(kc.pem, 1002, 365, "");
  ASSERT_EQ(e.status, 200) << e.body;
  const std::string id = std::to_string(e.Json()["sslId"].get<int64_t>());
  const std::string ca = emu_->ca_pem();
  emu_->Stop();
  emu_.reset();
  ASSERT_TRUE(ApproveInState(state_, id, "while stopped").ok());
  StartEmulator();
  EXPECT_EQ(emu_->ca_pem(), ca);
  Reply c = CollectReady("/api/ssl/v1/collect/" + id + "/x509CO");
  ASSERT_EQ(c.status, 200) << c.body;
  EXPECT_TRUE(crypto::Certificate::ParsePem(c.body).value().Key().Equals(kc.key.Public()));
  EXPECT_EQ(curl_->Call("GET", "/_emulator/stats").Json()["enrollments"]["ssl"], 1);
}

// The program: start, read "listening on", one request, approve via the CLI, SIGTERM -> 0.
TEST(EmulatorBinary, ListenRequestApproveAndStop) {
  char tmpl[] = "/tmp/eg-scm-emulator-bin-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl, state = dir + "/state";
  const std::string bin = std::string(EG_BIN_DIR) + "/enrollgate-scm-emulator";
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  std::vector<std::string> args = {bin, "--listen", "127.0.0.1:0", "--state", state};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, bin.c_str(), &fa, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  // Stops the child whatever happens below.
  struct Reaper {
    pid_t pid;
    ~Reaper() {
      if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
      }
    }
  } reaper{pid};

  std::string out;
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (out.find('\n') == std::string::npos && Clock::now() < deadline) {
    pollfd p{fds[0], POLLIN, 0};
    if (poll(&p, 1, 100) > 0) {
      char buf[256];
      const ssize_t n = read(fds[0], buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
  }
  close(fds[0]);
  ASSERT_EQ(out.rfind("listening on https://127.0.0.1:", 0), 0u) << out;
  const std::string url = out.substr(std::string("listening on ").size(),
                                     out.find('\n') - std::string("listening on ").size());
  EXPECT_EQ(url.find(":0"), std::string::npos);

  Curl curl(url, state + "/ca.pem", dir);
  auto kc = MakeCsr(crypto::KeySpec::kEcP256, "bin.example.test");
  Reply e =
      curl.Call("POST", "/api/ssl/v1/enroll",
                json{{"orgId", 1697}, {"csr", kc.pem}, {"certType", 1002}, {"term", 365}}.dump());
  ASSERT_EQ(e.status, 200) << e.body;
  const std::string id = std::to_string(e.Json()["sslId"].get<int64_t>());
  EXPECT_EQ(curl.Call("GET", "/api/ssl/v1/" + id).Json()["status"], "Requested");
  std::string cli_out;
  EXPECT_EQ(RunProgram({bin, "approve", "--state", state, id, "--message", "ok"}, &cli_out), 0);
  EXPECT_EQ(curl.Call("GET", "/api/ssl/v1/collect/" + id + "/x509CO").status, 200);
  EXPECT_NE(RunProgram({bin, "decline", "--state", state, id}, &cli_out), 0);  // already issued

  ASSERT_EQ(kill(pid, SIGTERM), 0);
  int status = -1;
  const auto stop_deadline = Clock::now() + std::chrono::seconds(20);
  pid_t done = 0;
  while ((done = waitpid(pid, &status, WNOHANG)) == 0 && Clock::now() < stop_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(done, pid);
  reaper.pid = 0;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace eg::scm_emulator
