// enrollgate certs list | enrollments list.
#include <nlohmann/json.hpp>
#include <ostream>

#include "tools/commands.h"
#include "tools/format.h"

namespace eg::tools {

namespace {

// The store, or nullptr when it does not exist yet (nothing to list); prints other errors.
Result<Store*> StoreForListing(Session& session) {
  Result<Store*> store = session.OpenStore(/*create=*/false);
  if (!store.ok() && store.error().code() == ErrorCode::kNotFound) return nullptr;
  return store;
}

}  // namespace

int RunCertsList(Session& session, const ParsedArgs& args) {
  std::ostream& out = session.out();
  std::ostream& err = session.err();
  if (!args.positional().empty()) {
    err << "enrollgate certs list: unexpected argument \"" << args.positional().front() << "\"\n";
    return kExitUsage;
  }
  const TimePoint now = session.Now();
  CertificateFilter filter;
  filter.account = args.Get("account");
  if (args.Has("expiring")) {
    Result<std::chrono::seconds> within = ParseDuration(args.Get("expiring"));
    if (!within.ok()) {
      err << "enrollgate certs list: --expiring: " << within.error().message() << "\n";
      return kExitUsage;
    }
    filter.expiring_before = now + *within;
    filter.include_revoked = false;
  }
  Result<Store*> store = StoreForListing(session);
  if (!store.ok()) {
    err << "enrollgate certs list: " << store.error().message() << "\n";
    return kExitFailed;
  }
  std::vector<CertificateRecord> certs;
  if (*store != nullptr) {
    auto listed = (*store)->ListCertificates(filter);
    if (!listed.ok()) {
      err << "enrollgate certs list: " << listed.error().message() << "\n";
      return kExitFailed;
    }
    certs = std::move(listed).value();
  }
  if (args.Has("json")) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& c : certs) {
      list.push_back({{"serial", c.serial_hex},
                      {"common_name", c.common_name},
                      {"account", c.account},
                      {"cert_type", CertTypeName(c.cert_type)},
                      {"enrollment_id", c.enrollment_id},
                      {"scm_id", c.scm_id},
                      {"not_before", FormatRfc3339(c.not_before)},
                      {"not_after", FormatRfc3339(c.not_after)},
                      {"days_left", DaysLeft(now, c.not_after)},
                      {"revoked", c.revoked_at.has_value()},
                      {"revoked_at", c.revoked_at ? nlohmann::json(FormatRfc3339(*c.revoked_at))
                                                  : nlohmann::json(nullptr)}});
    }
    out << list.dump(2) << "\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : certs) {
    rows.push_back({c.serial_hex, c.common_name, c.account, FormatRfc3339(c.not_after),
                    c.not_after <= now ? "expired" : std::to_string(DaysLeft(now, c.not_after)),
                    c.revoked_at ? "yes (" + FormatRfc3339(*c.revoked_at) + ")" : "no"});
  }
  PrintTable(out, {"SERIAL", "COMMON NAME", "ACCOUNT", "NOT AFTER", "DAYS LEFT", "REVOKED"}, rows);
  return kExitOk;
}

int RunEnrollmentsList(Session& session, const ParsedArgs& args) {
  std::ostream& out = session.out();
  std::ostream& err = session.err();
  if (!args.positional().empty()) {
    err << "enrollgate enrollments list: unexpected argument \"" << args.positional().front()
        << "\"\n";
    return kExitUsage;
  }
  EnrollmentFilter filter;
  filter.account = args.Get("account");
  filter.unfinished_only = args.Has("pending");
  Result<Store*> store = StoreForListing(session);
  if (!store.ok()) {
    err << "enrollgate enrollments list: " << store.error().message() << "\n";
    return kExitFailed;
  }
  std::vector<Enrollment> enrollments;
  if (*store != nullptr) {
    auto listed = (*store)->ListEnrollments(filter);
    if (!listed.ok()) {
      err << "enrollgate enrollments list: " << listed.error().message() << "\n";
      return kExitFailed;
    }
    enrollments = std::move(listed).value();
  }
  if (args.Has("json")) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& e : enrollments) {
      list.push_back({{"id", e.id},
                      {"account", e.account},
                      {"profile", e.profile},
                      {"cert_type", CertTypeName(e.cert_type)},
                      {"state", EnrollmentStateName(e.state)},
                      {"scm_id", e.scm_id},
                      {"certificate_serial", e.certificate_serial},
                      {"created_at", FormatRfc3339(e.created_at)},
                      {"updated_at", FormatRfc3339(e.updated_at)},
                      {"protocol", e.protocol},
                      {"requester", e.requester},
                      {"renewal_of", e.renewal_of},
                      {"failure", e.failure}});
    }
    out << list.dump(2) << "\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& e : enrollments) {
    rows.push_back({e.id, e.account, e.profile, std::string(EnrollmentStateName(e.state)), e.scm_id,
                    FormatRfc3339(e.created_at), e.protocol, e.failure});
  }
  PrintTable(out, {"ID", "ACCOUNT", "PROFILE", "STATE", "SCM ID", "CREATED", "PROTOCOL", "FAILURE"},
             rows);
  return kExitOk;
}

}  // namespace eg::tools
