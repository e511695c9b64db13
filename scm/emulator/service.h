// Service: the SCM engine behind every API family — enrollment validation (reference §8.4 order),
// the state machine with lazy issuance after the configured delay, collect formats, approve,
// decline, revoke, renew, replace. API files translate wire JSON to and from these calls.
//
// Holds references to the fixtures, state, CA and clock it is given (owned by the Emulator).
// Thread-safe: every state change runs in State::Tx.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "crypto/csr.h"
#include "scm/emulator/ca.h"
#include "scm/emulator/emulator.h"
#include "scm/emulator/fixtures.h"
#include "scm/emulator/http.h"
#include "scm/emulator/state.h"

namespace eg::scm_emulator {

using NameValues = std::vector<std::pair<std::string, std::string>>;

struct EnrollInput {
  CertType type = CertType::kSsl;
  std::optional<int64_t> org_id;
  std::optional<int64_t> profile_id;
  std::optional<int64_t> term;
  std::string csr;                 // PEM, or bare base64 DER
  std::vector<std::string> names;  // SSL subjAltNames
  std::string comments;
  std::string external_requester;
  NameValues custom_fields;
  std::string dcv_mode;
  // client
  std::string email, first_name, middle_name, last_name, common_name, phone, eppn, upn;
  std::vector<std::string> secondary_emails;
  // device
  NameValues optional_fields;
  // code signing (provisional names, see provisional.h)
  std::string key_attestation, hsm_type, shipping_type;
  std::string requester;
  std::string requested_via = "REST API";
};

// Per-type SCM codes and names.
int UnknownIdCode(CertType type);
std::string RenderStatus(CertType type, const std::string& status, bool upper_for_device = false);
std::string FormatDate(int64_t unix_seconds, bool iso);

// Approve/decline of one record (shared with ApproveInState). Errors carry SCM's -1112.
Result<void> ApplyDecision(Record& record, bool approve, const std::string& message, int64_t now);

class Service {
 public:
  Service(const Fixtures& fixtures, State& state, const Ca& ca, const Clock& clock,
          std::function<Switches()> switches)
      : fixtures_(fixtures),
        state_(state),
        ca_(ca),
        clock_(clock),
        switches_(std::move(switches)) {}

  const Fixtures& fixtures() const { return fixtures_; }
  int64_t Now() const { return ToUnixSeconds(clock_.Now()); }

  Result<Record> Enroll(const EnrollInput& in);
  // The record, advanced (issued) if its delay has passed. Unknown or other type: 404.
  Result<Record> Get(CertType type, int64_t id);
  Result<std::vector<Record>> List(CertType type);  // newest first
  Result<HttpReply> Collect(CertType type, int64_t id, const std::string& format);
  Result<void> Decide(CertType type, int64_t id, bool approve, const std::string& message);
  Result<void> Revoke(CertType type, int64_t id, std::optional<int> reason_code,
                      const std::string& reason);
  Result<int64_t> FindBySerial(CertType type, const std::string& serial);
  // A new record from `id` (new CSR if non-empty).
  Result<Record> Renew(CertType type, int64_t id, const std::string& csr);
  Result<Record> RenewByRenewId(const std::string& renew_id, const std::string& csr);
  // Reissues `id` for a new CSR (and names); the old certificate is kept as a Replaced record.
  Result<void> Replace(CertType type, int64_t id, const std::string& csr,
                       const std::string& common_name, const std::vector<std::string>& names,
                       bool revoke_old);
  // Read-modify-write of one record under the transaction.
  Result<Record> Modify(CertType type, int64_t id, const std::function<Result<void>(Record&)>& fn);
  Result<std::map<std::string, int64_t>> CountEnrollments();

  // Validation pieces, usable by API files.
  Result<void> CheckCustomFields(CertType type, const Profile& profile, const NameValues& fields,
                                 bool shipping) const;
  Result<void> CheckTerm(const Profile& profile, int64_t term) const;

 private:
  Result<crypto::Csr> DecodeCsr(const std::string& text) const;
  Result<void> CheckKey(const Profile& profile, const crypto::Csr& csr) const;
  Result<void> CheckSslNames(const Organization& org, int64_t org_id,
                             const std::vector<std::string>& names, bool dcv_mode) const;
  const Profile* FindProfile(CertType type, int64_t id) const;
  Error UnknownProfile(CertType type, int64_t id) const;
  Result<Record> LoadLocked(CertType type, int64_t id);
  Result<void> AdvanceLocked(Record& r);
  Result<void> IssueLocked(Record& r);
  void StartProcessing(Record& r, const Profile& profile, int64_t now) const;

  const Fixtures& fixtures_;
  State& state_;
  const Ca& ca_;
  const Clock& clock_;
  std::function<Switches()> switches_;
};

}  // namespace eg::scm_emulator
