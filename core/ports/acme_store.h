// AcmeStore: the port for ACME (RFC 8555) state — accounts, orders, authorizations, challenges.
// Every piece of ACME state lives here, never only in memory, so several daemons sharing one
// database serve the same accounts and any of them may validate a challenge or finish an order.
//
// Guarantees every implementation gives (checked by tests/storage/store_contract.cc):
// - Each method is one transaction: it happens whole or not at all.
// - Account scoping is in the store: GetOrder, GetAuthorization, GetChallenge, ListOrders and the
//   Update* methods take the ACME account id and treat another account's object exactly like a
//   missing one (kNotFound), so no caller can forget the check.
// - Optimistic concurrency: every record has a `version`, 1 when created; an update names the
//   version it read and fails with kConflict if another writer got there first, bumping it
//   otherwise. The returned record carries the new version.
// - Times keep millisecond precision.
// - Ids are chosen by the caller (random, URL-safe); the store only refuses duplicates.
//
// The records are plain value types. Implementations are safe to call from several threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/result.h"

namespace eg {

// ---- records ----

enum class AcmeAccountStatus { kValid, kDeactivated, kRevoked };
enum class AcmeOrderStatus { kPending, kReady, kProcessing, kValid, kInvalid };
enum class AcmeAuthzStatus { kPending, kValid, kInvalid, kDeactivated, kExpired, kRevoked };
enum class AcmeChallengeType { kHttp01, kDns01, kTlsAlpn01 };
enum class AcmeChallengeStatus { kPending, kProcessing, kValid, kInvalid };

// The RFC 8555 spelling ("valid", "http-01", ...), which is also how the store keeps them.
std::string_view AcmeAccountStatusName(AcmeAccountStatus status);
std::string_view AcmeOrderStatusName(AcmeOrderStatus status);
std::string_view AcmeAuthzStatusName(AcmeAuthzStatus status);
std::string_view AcmeChallengeTypeName(AcmeChallengeType type);
std::string_view AcmeChallengeStatusName(AcmeChallengeStatus status);
std::optional<AcmeAccountStatus> ParseAcmeAccountStatus(std::string_view name);
std::optional<AcmeOrderStatus> ParseAcmeOrderStatus(std::string_view name);
std::optional<AcmeAuthzStatus> ParseAcmeAuthzStatus(std::string_view name);
std::optional<AcmeChallengeType> ParseAcmeChallengeType(std::string_view name);
std::optional<AcmeChallengeStatus> ParseAcmeChallengeStatus(std::string_view name);

// RFC 8555 §7.1.4 identifier object.
struct AcmeIdentifier {
  std::string type;   // "dns" | "ip"
  std::string value;  // for a wildcard authorization, without the "*." (RFC 8555 §7.1.4)
  bool operator==(const AcmeIdentifier&) const = default;
};

struct AcmeAccount {
  std::string id;                     // random, URL-safe; the account URL ends in it
  std::string jwk_thumbprint;         // RFC 7638 thumbprint (base64url) of the account key; unique
  std::string jwk_json;               // the public JWK as received
  std::vector<std::string> contacts;  // "mailto:..." URLs, in the client's order
  AcmeAccountStatus status = AcmeAccountStatus::kValid;
  bool terms_of_service_agreed = false;  // RFC 8555 §7.3
  std::string enrollment_account;        // the mapping account the requests of this account use
  std::string eab_key_id;                // the EAB credential it was created with ("" = none)
  TimePoint created_at{};
  TimePoint updated_at{};
  int64_t version = 0;
};

struct AcmeChallenge {
  std::string id;
  std::string authz_id;
  std::string account_id;  // of the authorization; set by the store
  AcmeChallengeType type = AcmeChallengeType::kHttp01;
  std::string token;  // base64url, >= 128 bits of entropy (RFC 8555 §8.3)
  AcmeChallengeStatus status = AcmeChallengeStatus::kPending;
  std::optional<TimePoint> validated_at;
  std::string error;  // RFC 7807 problem document (JSON) of the last failed attempt; "" = none
  // While processing: when a validator should (re)try; a claim moves it to the lease end.
  TimePoint next_attempt_at{};
  int attempts = 0;
  int64_t version = 0;
};

struct AcmeAuthorization {
  std::string id;
  std::string account_id;
  std::string order_id;  // the order it was created for; "" for a pre-authorization (§7.4.1)
  AcmeIdentifier identifier;
  bool wildcard = false;
  AcmeAuthzStatus status = AcmeAuthzStatus::kPending;
  TimePoint expires{};
  TimePoint created_at{};
  std::vector<AcmeChallenge> challenges;  // in the order they were offered
  int64_t version = 0;
};

struct AcmeOrder {
  std::string id;
  std::string account_id;
  AcmeOrderStatus status = AcmeOrderStatus::kPending;
  std::vector<AcmeIdentifier> identifiers;  // as requested, in order
  std::string profile;                      // draft-ietf-acme-profiles; "" = default
  std::optional<TimePoint> not_before;
  std::optional<TimePoint> not_after;
  TimePoint expires{};
  std::vector<std::string> authorization_ids;  // in order; may name reused authorizations
  std::string enrollment_id;                   // the issuance enrollment, once finalized
  std::string certificate_serial;              // hex, once valid
  std::string replaces;  // RFC 9773 ARI certID of the certificate this order replaces; "" = none
  std::string error;     // RFC 7807 problem document (JSON) once invalid; "" = none
  TimePoint created_at{};
  TimePoint updated_at{};
  int64_t version = 0;
};

struct AcmeOrderPage {
  std::vector<AcmeOrder> orders;
  std::string next_cursor;  // pass to ListOrders for the next page; "" = this was the last
};

// ---- the port ----

class AcmeStore {
 public:
  virtual ~AcmeStore() = default;

  // -- accounts --

  // Inserts `account` (version 1). If an account with the same jwk_thumbprint exists, nothing is
  // written and kAlreadyExists is returned with that account copied to `*existing` (when not
  // null): RFC 8555 §7.3.1 answers 200 with it. A taken id is also kAlreadyExists, with
  // `*existing` untouched.
  // A non-empty eab_key_id binds that EAB credential to the new account in the same transaction:
  // unknown, revoked, expired (expires_at <= now) or already bound credentials, or one issued
  // for another enrollment account than account.enrollment_account, fail with
  // kFailedPrecondition and no account is created. Of two concurrent creations with one key id
  // at most one succeeds.
  virtual Result<AcmeAccount> CreateAccount(const AcmeAccount& account, TimePoint now,
                                            AcmeAccount* existing) = 0;
  // The account whose key has this thumbprint, whatever its status; nullopt if none.
  virtual Result<std::optional<AcmeAccount>> FindAccountByThumbprint(
      const std::string& jwk_thumbprint) = 0;
  virtual Result<AcmeAccount> GetAccount(const std::string& id) = 0;  // kNotFound
  // Writes contacts, status, terms_of_service_agreed and updated_at if `account.version` is the
  // stored one (kConflict otherwise, kNotFound if there is no such account). The key, the EAB
  // binding and the enrollment account never change here.
  virtual Result<AcmeAccount> UpdateAccount(const AcmeAccount& account) = 0;
  // RFC 8555 §7.3.5: replaces the account key atomically, if its current thumbprint is still
  // `old_thumbprint` (kConflict otherwise: a concurrent key change won). kAlreadyExists if
  // any account (this one included) already has `new_thumbprint`; kNotFound if there is no such
  // account.
  virtual Result<AcmeAccount> KeyChange(const std::string& account_id,
                                        const std::string& old_thumbprint,
                                        const std::string& new_thumbprint,
                                        const std::string& new_jwk_json, TimePoint now) = 0;

  // -- orders --

  // Inserts `order` (version 1) with `new_authorizations` and their challenges (all version 1),
  // in one transaction. order.authorization_ids lists every authorization of the order: those in
  // `new_authorizations` and reused ones, which must already exist for the same account
  // (kNotFound otherwise). Every new authorization must belong to order.account_id and be listed
  // in order.authorization_ids (kInvalidArgument); the store sets its order_id to order.id and
  // its challenges' authz_id and account_id. kNotFound if the account does not exist.
  // A non-empty `replaces` is refused with kAlreadyExists while another order with the same
  // `replaces` is not invalid (RFC 9773 alreadyReplaced); once that order is invalid it may be
  // replaced again. Any refusal writes nothing.
  virtual Result<AcmeOrder> CreateOrder(
      const AcmeOrder& order, const std::vector<AcmeAuthorization>& new_authorizations) = 0;
  // kNotFound if the order does not exist or belongs to another account.
  virtual Result<AcmeOrder> GetOrder(const std::string& account_id, const std::string& id) = 0;
  // The account's orders, oldest first, `limit` at a time. `cursor` is "" for the first page,
  // else a next_cursor this method returned; a cursor of another account yields an empty page.
  virtual Result<AcmeOrderPage> ListOrders(const std::string& account_id, const std::string& cursor,
                                           int limit) = 0;
  // Writes status, expires, enrollment_id, certificate_serial, error and updated_at if the
  // version is still the stored one (kConflict otherwise; kNotFound for another account's or a
  // missing order). Identifiers, authorizations, profile, validity and replaces never change.
  // Leaving `invalid` while another order replaces the same certificate is kAlreadyExists.
  virtual Result<AcmeOrder> UpdateOrder(const AcmeOrder& order) = 0;
  // The order that was finalized into this enrollment, if any (for the background issuance,
  // which knows enrollments, not accounts).
  virtual Result<std::optional<AcmeOrder>> FindOrderByEnrollment(
      const std::string& enrollment_id) = 0;
  // The order, of any account and not invalid, whose `replaces` is `cert_id`, if any: the one
  // that makes CreateOrder answer kAlreadyExists (newOrder refreshes it, since an abandoned order
  // past its `expires` must not hold the replacement forever).
  virtual Result<std::optional<AcmeOrder>> FindReplacingOrder(const std::string& cert_id) = 0;

  // -- authorizations and challenges --

  // With its challenges. kNotFound if missing or another account's.
  virtual Result<AcmeAuthorization> GetAuthorization(const std::string& account_id,
                                                     const std::string& id) = 0;
  // Writes status and expires (not the challenges) under the same rules as UpdateOrder.
  virtual Result<AcmeAuthorization> UpdateAuthorization(const AcmeAuthorization& authz) = 0;
  // kNotFound if missing or another account's.
  virtual Result<AcmeChallenge> GetChallenge(const std::string& account_id,
                                             const std::string& id) = 0;
  // Writes status, validated_at, error, next_attempt_at and attempts under the same rules as
  // UpdateOrder (scoped by challenge.account_id).
  virtual Result<AcmeChallenge> UpdateChallenge(const AcmeChallenge& challenge) = 0;

  // -- background validation, by any daemon --

  // Challenges in `processing` with next_attempt_at <= now, earliest first, of every account.
  virtual Result<std::vector<AcmeChallenge>> ListDueChallenges(TimePoint now, int limit) = 0;
  // Takes a lease on one due challenge: if it is still processing and next_attempt_at <= now,
  // moves next_attempt_at to `lease_until`, bumps the version and returns it; of several
  // concurrent claims exactly one succeeds, the others get kFailedPrecondition (as does a
  // challenge that is not due or not processing). kNotFound if it does not exist. The holder
  // then writes the outcome with UpdateChallenge; if it dies, the lease runs out and the
  // challenge is due again (and the dead holder's late write fails with kConflict).
  virtual Result<AcmeChallenge> ClaimChallenge(const std::string& id, TimePoint now,
                                               TimePoint lease_until) = 0;
};

}  // namespace eg
