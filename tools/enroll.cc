// enrollgate enroll: an administrator's enrollment on behalf of a device without ACME or EST.
// Decides, records the intent; a running enrollgated sends it to SCM and collects it.
#include <fstream>
#include <ostream>
#include <thread>

#include "crypto/random.h"
#include "issuance/service.h"
#include "tools/commands.h"
#include "tools/decide.h"
#include "tools/format.h"

namespace eg::tools {

namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(500);

// One CSR for one account and profile is one enrollment (until it fails): a repeated command
// finds the first instead of enrolling twice.
std::string RequestKey(const mapping::Decision& d, const crypto::Csr& csr) {
  return "admin:" + d.account->name + ":" + d.profile->name + ":" +
         crypto::HexEncode(crypto::Sha256(crypto::AsStringView(csr.Der())));
}

Result<void> WriteFile(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return Unavailable("--out " + path + ": cannot be written");
  f << text;
  f.close();
  if (!f) return Unavailable("--out " + path + ": write failed");
  return Ok();
}

}  // namespace

int RunEnroll(Session& session, const ParsedArgs& args) {
  std::ostream& err = session.err();
  if (!args.positional().empty()) {
    err << "enrollgate enroll: unexpected argument \"" << args.positional().front() << "\"\n";
    return kExitUsage;
  }
  if (!args.Has("account") || !args.Has("csr")) {
    err << "enrollgate enroll: --account NAME and --csr FILE are required\n";
    return kExitUsage;
  }
  std::optional<std::chrono::seconds> wait;
  if (args.Has("wait")) {
    Result<std::chrono::seconds> parsed = ParseDuration(args.Get("wait"));
    if (!parsed.ok()) {
      err << "enrollgate enroll: --wait: " << parsed.error().message() << "\n";
      return kExitUsage;
    }
    wait = *parsed;
  }
  if (args.Has("out") && !wait) {
    err << "enrollgate enroll: --out needs --wait (without it nothing is collected now)\n";
    return kExitUsage;
  }
  const config::AccountConfig* account = session.FindAccount(args.Get("account"));
  if (account == nullptr) {
    err << "enrollgate enroll: no enrollment account \"" << args.Get("account") << "\" in "
        << session.config_path() << "\n";
    return kExitFailed;
  }
  config::Protocol protocol =
      account->protocols.empty() ? config::Protocol::kAcme : account->protocols.front();
  if (args.Has("protocol")) {
    auto parsed = ParseProtocol(args.Get("protocol"));
    if (!parsed) {
      err << "enrollgate enroll: --protocol must be acme or est\n";
      return kExitUsage;
    }
    protocol = *parsed;
  }
  Result<crypto::Csr> csr = ReadCsrFile(args.Get("csr"));
  if (!csr.ok()) {
    err << "enrollgate enroll: " << csr.error().message() << "\n";
    return kExitFailed;
  }
  const std::string user = AdminUser(session.env().getenv);
  AdminRequest request;
  request.account = account;
  request.protocol = protocol;
  request.profile = args.Get("profile");
  request.csr = &*csr;
  request.requester = user;
  Result<AdminDecision> decided = DecideAsAdmin(session, request);
  if (!decided.ok()) {
    err << "enrollgate enroll: " << decided.error().message() << "\n";
    return kExitFailed;
  }
  if (const auto* denial = std::get_if<mapping::Denial>(&decided->verdict)) {
    err << "enrollgate enroll: DENIED, nothing recorded:\n";
    PrintDenial(err, *denial);
    return kExitFailed;
  }
  mapping::Decision decision = std::get<mapping::Decision>(decided->verdict);
  if (decision.profile->comments.empty()) {
    decision.request.comments = "Requested via enrollgate by administrator " + user;
  }

  // Messages go to stderr when the certificate itself will go to stdout.
  const bool pem_to_stdout = wait && !args.Has("out");
  std::ostream& msg = pem_to_stdout ? err : session.out();

  Result<Store*> store = session.OpenStore(/*create=*/true);
  if (!store.ok()) {
    err << "enrollgate enroll: " << store.error().message() << "\n";
    return kExitFailed;
  }
  issuance::Submission submission;
  submission.decision = decision;
  submission.protocol = "admin";
  submission.requester = user;
  submission.request_key = RequestKey(decision, *csr);
  const TimePoint now = session.Now();
  Result<Enrollment> recorded = issuance::RecordIntent(**store, submission, now, now);
  Enrollment enrollment;
  if (recorded.ok()) {
    enrollment = *recorded;
    msg << "enrollment " << enrollment.id << " recorded for account '" << enrollment.account
        << "', profile '" << enrollment.profile << "' (SCM profile " << decision.request.profile_id
        << ", " << decision.request.term_days << " days); a running enrollgated sends it to SCM.\n";
  } else if (recorded.error().code() == ErrorCode::kAlreadyExists) {
    auto existing = (*store)->FindByRequestKey(submission.request_key);
    if (!existing.ok() || !existing->has_value()) {
      err << "enrollgate enroll: " << recorded.error().message() << "\n";
      return kExitFailed;
    }
    enrollment = **existing;
    msg << "enrollment " << enrollment.id << " already exists for this CSR (state "
        << EnrollmentStateName(enrollment.state) << "); nothing new recorded.\n";
  } else {
    err << "enrollgate enroll: " << recorded.error().message() << "\n";
    return kExitFailed;
  }
  msg << "id: " << enrollment.id << "\n";
  msg.flush();
  if (!wait) return kExitOk;

  // Wait for a running daemon to move it on.
  const auto deadline = std::chrono::steady_clock::now() + *wait;
  while (true) {
    Result<Enrollment> current = (*store)->GetEnrollment(enrollment.id);
    if (!current.ok()) {
      err << "enrollgate enroll: " << current.error().message() << "\n";
      return kExitFailed;
    }
    enrollment = *current;
    if (enrollment.state == EnrollmentState::kFailed ||
        enrollment.state == EnrollmentState::kRevoked) {
      err << "enrollgate enroll: enrollment " << enrollment.id << " "
          << EnrollmentStateName(enrollment.state)
          << (enrollment.failure.empty() ? "" : ": " + enrollment.failure) << "\n";
      return kExitFailed;
    }
    if (enrollment.state == EnrollmentState::kIssued) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      msg << "still " << EnrollmentStateName(enrollment.state) << " after " << FormatDuration(*wait)
          << (enrollment.state == EnrollmentState::kIntent
                  ? " (not yet sent to SCM: is enrollgated running with this store?)"
                  : " (SCM is processing it or waiting for approval)")
          << "; it goes on: enrollgate enrollments list --pending\n";
      return kExitPending;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  Result<CertificateRecord> cert = (*store)->GetCertificate(enrollment.certificate_serial);
  if (!cert.ok()) {
    err << "enrollgate enroll: issued, but its certificate " << enrollment.certificate_serial
        << " is not in the store: " << cert.error().message() << "\n";
    return kExitFailed;
  }
  if (args.Has("out")) {
    if (Result<void> written = WriteFile(args.Get("out"), cert->chain_pem); !written.ok()) {
      err << "enrollgate enroll: " << written.error().message() << "\n";
      return kExitFailed;
    }
    msg << "issued: serial " << cert->serial_hex << ", not after " << FormatRfc3339(cert->not_after)
        << "; chain written to " << args.Get("out") << "\n";
  } else {
    msg << "issued: serial " << cert->serial_hex << ", not after " << FormatRfc3339(cert->not_after)
        << "\n";
    session.out() << cert->chain_pem;
    session.out().flush();
  }
  return kExitOk;
}

}  // namespace eg::tools
