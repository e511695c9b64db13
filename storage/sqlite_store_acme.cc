// SqliteStore's AcmeStore part (core/ports/acme_store.h): accounts, orders, authorizations and
// challenges. Account scoping is in every query's WHERE; writes run in one BEGIN IMMEDIATE
// transaction, reads of a record and its child rows in one read transaction.
#include <string>
#include <utility>
#include <vector>

#include "storage/sqlite_store.h"
#include "storage/sqlite_values.h"

namespace eg::storage {

namespace {

// ---- accounts ----

constexpr char kAccountColumns[] =
    "id, jwk_thumbprint, jwk_json, status, terms_of_service_agreed, enrollment_account, "
    "eab_key_id, created_at, updated_at, version";

Result<AcmeAccount> ReadAccountRow(const ScopedStatement& s) {
  AcmeAccount a;
  a.id = s.Text(0);
  a.jwk_thumbprint = s.Text(1);
  a.jwk_json = s.Text(2);
  auto status = ParseAcmeAccountStatus(s.Text(3));
  if (!status) return Internal("ACME account " + a.id + ": unknown status " + s.Text(3));
  a.status = *status;
  a.terms_of_service_agreed = s.Int(4) != 0;
  a.enrollment_account = s.Text(5);
  a.eab_key_id = s.Text(6);
  a.created_at = FromMs(s.Int(7));
  a.updated_at = FromMs(s.Int(8));
  a.version = s.Int(9);
  return a;
}

Result<void> LoadContacts(SqliteConnection& conn, AcmeAccount& a) {
  EG_ASSIGN_OR_RETURN(auto s, conn.Prepare("SELECT contact FROM acme_account_contacts WHERE "
                                           "account_id = ? ORDER BY position"));
  s.Bind(1, a.id);
  a.contacts.clear();
  for (;;) {
    EG_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return Ok();
    a.contacts.push_back(s.Text(0));
  }
}

Result<void> WriteContacts(SqliteConnection& conn, const std::string& account_id,
                           const std::vector<std::string>& contacts) {
  {
    EG_ASSIGN_OR_RETURN(auto d,
                        conn.Prepare("DELETE FROM acme_account_contacts WHERE account_id = ?"));
    d.Bind(1, account_id);
    EG_TRY(d.Run());
  }
  for (size_t i = 0; i < contacts.size(); ++i) {
    EG_ASSIGN_OR_RETURN(auto s, conn.Prepare("INSERT INTO acme_account_contacts (account_id, "
                                             "position, contact) VALUES (?, ?, ?)"));
    s.Bind(1, account_id).Bind(2, static_cast<int64_t>(i)).Bind(3, contacts[i]);
    EG_TRY(s.Run());
  }
  return Ok();
}

// The account matching `column` = `value` (column is one of ours, never input), with contacts.
Result<std::optional<AcmeAccount>> QueryAccount(SqliteConnection& conn, const char* column,
                                                const std::string& value) {
  std::optional<AcmeAccount> out;
  {
    EG_ASSIGN_OR_RETURN(auto s, conn.Prepare(std::string("SELECT ") + kAccountColumns +
                                             " FROM acme_accounts WHERE " + column + " = ?"));
    s.Bind(1, value);
    EG_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return out;
    EG_ASSIGN_OR_RETURN(out, ReadAccountRow(s));
  }
  EG_TRY(LoadContacts(conn, *out));
  return out;
}

Result<AcmeAccount> MustGetAccount(SqliteConnection& conn, const std::string& id) {
  EG_ASSIGN_OR_RETURN(auto a, QueryAccount(conn, "id", id));
  if (!a) return NotFound("ACME account " + id + " not found");
  return std::move(*a);
}

// Binds EAB credential `key_id` to `a` inside the caller's transaction.
Result<void> BindEabInTransaction(SqliteConnection& conn, const AcmeAccount& a, TimePoint now) {
  const std::string refused = "EAB key id " + a.eab_key_id;
  {
    EG_ASSIGN_OR_RETURN(auto s, conn.Prepare("SELECT account, revoked_at, expires_at, bound_to "
                                             "FROM eab_credentials WHERE key_id = ?"));
    s.Bind(1, a.eab_key_id);
    EG_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return FailedPrecondition(refused + " is unknown");
    if (!s.IsNull(1)) return FailedPrecondition(refused + " is revoked");
    if (auto expires = s.OptInt(2); expires && *expires <= Ms(now)) {
      return FailedPrecondition(refused + " has expired");
    }
    if (!s.Text(3).empty()) return FailedPrecondition(refused + " is already bound");
    if (s.Text(0) != a.enrollment_account) {
      return FailedPrecondition(refused + " belongs to another enrollment account");
    }
  }
  EG_ASSIGN_OR_RETURN(auto u, conn.Prepare("UPDATE eab_credentials SET bound_to = ? "
                                           "WHERE key_id = ? AND bound_to = ''"));
  u.Bind(1, a.id).Bind(2, a.eab_key_id);
  EG_TRY(u.Run());
  if (conn.Changes() != 1) return FailedPrecondition(refused + " is already bound");
  return Ok();
}

// After an UPDATE ... WHERE id = ? AND account_id = ? AND version = ? changed nothing: tells a
// missing (or another account's) row from a stale version.
Result<void> MissingOrConflict(SqliteConnection& conn, const char* table, const std::string& what,
                               const std::string& account_id, const std::string& id,
                               int64_t version) {
  EG_ASSIGN_OR_RETURN(auto s, conn.Prepare(std::string("SELECT 1 FROM ") + table +
                                           " WHERE id = ? AND account_id = ?"));
  s.Bind(1, id).Bind(2, account_id);
  EG_ASSIGN_OR_RETURN(bool exists, s.Step());
  if (!exists) return NotFound(what + " " + id + " not found");
  return Error(ErrorCode::kConflict,
               what + " " + id + " changed since version " + std::to_string(version) + " was read");
}

// ---- orders ----

constexpr char kOrderColumns[] =
    "id, account_id, status, profile, not_before, not_after, expires, enrollment_id, "
    "certificate_serial, replaces, error, created_at, updated_at, version";

Result<AcmeOrder> ReadOrderRow(const ScopedStatement& s) {
  AcmeOrder o;
  o.id = s.Text(0);
  o.account_id = s.Text(1);
  auto status = ParseAcmeOrderStatus(s.Text(2));
  if (!status) return Internal("ACME order " + o.id + ": unknown status " + s.Text(2));
  o.status = *status;
  o.profile = s.Text(3);
  o.not_before = OptTime(s.OptInt(4));
  o.not_after = OptTime(s.OptInt(5));
  o.expires = FromMs(s.Int(6));
  o.enrollment_id = s.Text(7);
  o.certificate_serial = s.Text(8);
  o.replaces = s.Text(9);
  o.error = s.Text(10);
  o.created_at = FromMs(s.Int(11));
  o.updated_at = FromMs(s.Int(12));
  o.version = s.Int(13);
  return o;
}

Result<void> LoadOrderChildren(SqliteConnection& conn, AcmeOrder& o) {
  {
    EG_ASSIGN_OR_RETURN(auto s, conn.Prepare("SELECT type, value FROM acme_order_identifiers "
                                             "WHERE order_id = ? ORDER BY position"));
    s.Bind(1, o.id);
    for (;;) {
      EG_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      o.identifiers.push_back(AcmeIdentifier{s.Text(0), s.Text(1)});
    }
  }
  EG_ASSIGN_OR_RETURN(auto s, conn.Prepare("SELECT authz_id FROM acme_order_authorizations "
                                           "WHERE order_id = ? ORDER BY position"));
  s.Bind(1, o.id);
  for (;;) {
    EG_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return Ok();
    o.authorization_ids.push_back(s.Text(0));
  }
}

// Reads the rows of an order SELECT, then their identifiers and authorizations.
Result<std::vector<AcmeOrder>> ReadOrders(SqliteConnection& conn, ScopedStatement& s) {
  std::vector<AcmeOrder> out;
  for (;;) {
    EG_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    EG_ASSIGN_OR_RETURN(AcmeOrder o, ReadOrderRow(s));
    out.push_back(std::move(o));
  }
  for (auto& o : out) EG_TRY(LoadOrderChildren(conn, o));
  return out;
}

Result<AcmeOrder> LoadOrder(SqliteConnection& conn, const std::string& account_id,
                            const std::string& id) {
  std::vector<AcmeOrder> found;
  {
    EG_ASSIGN_OR_RETURN(auto s, conn.Prepare(std::string("SELECT ") + kOrderColumns +
                                             " FROM acme_orders WHERE id = ? AND account_id = ?"));
    s.Bind(1, id).Bind(2, account_id);
    EG_ASSIGN_OR_RETURN(found, ReadOrders(conn, s));
  }
  if (found.empty()) return NotFound("ACME order " + id + " not found");
  return std::move(found.front());
}

// ---- authorizations and challenges ----

constexpr char kAuthzColumns[] =
    "id, account_id, order_id, identifier_type, identifier_value, wildcard, status, expires, "
    "created_at, version";

Result<AcmeAuthorization> ReadAuthzRow(const ScopedStatement& s) {
  AcmeAuthorization a;
  a.id = s.Text(0);
  a.account_id = s.Text(1);
  a.order_id = s.Text(2);
  a.identifier = AcmeIdentifier{s.Text(3), s.Text(4)};
  a.wildcard = s.Int(5) != 0;
  auto status = ParseAcmeAuthzStatus(s.Text(6));
  if (!status) return Internal("ACME authorization " + a.id + ": unknown status " + s.Text(6));
  a.status = *status;
  a.expires = FromMs(s.Int(7));
  a.created_at = FromMs(s.Int(8));
  a.version = s.Int(9);
  return a;
}

constexpr char kChallengeColumns[] =
    "id, authz_id, account_id, type, token, status, validated_at, error, next_attempt_at, "
    "attempts, version";

Result<AcmeChallenge> ReadChallengeRow(const ScopedStatement& s) {
  AcmeChallenge c;
  c.id = s.Text(0);
  c.authz_id = s.Text(1);
  c.account_id = s.Text(2);
  auto type = ParseAcmeChallengeType(s.Text(3));
  if (!type) return Internal("ACME challenge " + c.id + ": unknown type " + s.Text(3));
  c.type = *type;
  c.token = s.Text(4);
  auto status = ParseAcmeChallengeStatus(s.Text(5));
  if (!status) return Internal("ACME challenge " + c.id + ": unknown status " + s.Text(5));
  c.status = *status;
  c.validated_at = OptTime(s.OptInt(6));
  c.error = s.Text(7);
  c.next_attempt_at = FromMs(s.Int(8));
  c.attempts = static_cast<int>(s.Int(9));
  c.version = s.Int(10);
  return c;
}

Result<std::vector<AcmeChallenge>> ReadChallenges(ScopedStatement& s) {
  std::vector<AcmeChallenge> out;
  for (;;) {
    EG_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return out;
    EG_ASSIGN_OR_RETURN(AcmeChallenge c, ReadChallengeRow(s));
    out.push_back(std::move(c));
  }
}

Result<AcmeAuthorization> LoadAuthz(SqliteConnection& conn, const std::string& account_id,
                                    const std::string& id) {
  AcmeAuthorization a;
  {
    EG_ASSIGN_OR_RETURN(auto s, conn.Prepare(std::string("SELECT ") + kAuthzColumns +
                                             " FROM acme_authorizations WHERE id = ? AND "
                                             "account_id = ?"));
    s.Bind(1, id).Bind(2, account_id);
    EG_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return NotFound("ACME authorization " + id + " not found");
    EG_ASSIGN_OR_RETURN(a, ReadAuthzRow(s));
  }
  EG_ASSIGN_OR_RETURN(auto s, conn.Prepare(std::string("SELECT ") + kChallengeColumns +
                                           " FROM acme_challenges WHERE authz_id = ? "
                                           "ORDER BY position"));
  s.Bind(1, a.id);
  EG_ASSIGN_OR_RETURN(a.challenges, ReadChallenges(s));
  return a;
}

Result<AcmeChallenge> LoadChallenge(SqliteConnection& conn, const std::string& account_id,
                                    const std::string& id) {
  EG_ASSIGN_OR_RETURN(auto s, conn.Prepare(std::string("SELECT ") + kChallengeColumns +
                                           " FROM acme_challenges WHERE id = ? AND "
                                           "account_id = ?"));
  s.Bind(1, id).Bind(2, account_id);
  EG_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return NotFound("ACME challenge " + id + " not found");
  return ReadChallengeRow(s);
}

Result<void> InsertAuthz(SqliteConnection& conn, const AcmeAuthorization& a,
                         const std::string& order_id) {
  {
    EG_ASSIGN_OR_RETURN(auto s, conn.Prepare(std::string("INSERT INTO acme_authorizations (") +
                                             kAuthzColumns + ") VALUES (?,?,?,?,?,?,?,?,?,1)"));
    s.Bind(1, a.id).Bind(2, a.account_id);
    BindOptText(s, 3, order_id);
    s.Bind(4, a.identifier.type).Bind(5, a.identifier.value);
    s.Bind(6, static_cast<int64_t>(a.wildcard ? 1 : 0)).Bind(7, AcmeAuthzStatusName(a.status));
    s.Bind(8, Ms(a.expires)).Bind(9, Ms(a.created_at));
    auto r = s.Run();
    if (!r.ok() && r.error().code() == ErrorCode::kAlreadyExists) {
      return Error(ErrorCode::kAlreadyExists, "ACME authorization " + a.id + " already exists");
    }
    EG_TRY(r);
  }
  for (size_t i = 0; i < a.challenges.size(); ++i) {
    const AcmeChallenge& c = a.challenges[i];
    EG_ASSIGN_OR_RETURN(auto s, conn.Prepare("INSERT INTO acme_challenges (id, authz_id, "
                                             "account_id, position, type, token, status, "
                                             "validated_at, error, next_attempt_at, attempts, "
                                             "version) VALUES (?,?,?,?,?,?,?,?,?,?,?,1)"));
    s.Bind(1, c.id).Bind(2, a.id).Bind(3, a.account_id).Bind(4, static_cast<int64_t>(i));
    s.Bind(5, AcmeChallengeTypeName(c.type)).Bind(6, c.token);
    s.Bind(7, AcmeChallengeStatusName(c.status)).Bind(8, OptMs(c.validated_at));
    s.Bind(9, c.error).Bind(10, Ms(c.next_attempt_at));
    s.Bind(11, static_cast<int64_t>(c.attempts));
    auto r = s.Run();
    if (!r.ok() && r.error().code() == ErrorCode::kAlreadyExists) {
      return Error(ErrorCode::kAlreadyExists, "ACME challenge " + c.id + " already exists");
    }
    EG_TRY(r);
  }
  return Ok();
}

// The order, not invalid, that already replaces certificate `cert_id`, if any.
Result<std::optional<std::string>> ReplacingOrder(SqliteConnection& conn,
                                                  const std::string& cert_id) {
  EG_ASSIGN_OR_RETURN(auto s, conn.Prepare("SELECT id FROM acme_orders WHERE replaces = ? AND "
                                           "status <> 'invalid'"));
  s.Bind(1, cert_id);
  EG_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(s.Text(0));
}

Error AlreadyReplaced(const std::string& cert_id, const std::string& by) {
  return Error(ErrorCode::kAlreadyExists,
               "certificate " + cert_id + " is already being replaced by order " + by);
}

}  // namespace

// ---- accounts ----

Result<AcmeAccount> SqliteStore::CreateAccount(const AcmeAccount& account, TimePoint now,
                                               AcmeAccount* existing) {
  return Write<AcmeAccount>([&](SqliteConnection& conn) {
    return InTransaction<AcmeAccount>(conn, [&]() -> Result<AcmeAccount> {
      EG_ASSIGN_OR_RETURN(auto same_key,
                          QueryAccount(conn, "jwk_thumbprint", account.jwk_thumbprint));
      if (same_key) {
        if (existing) *existing = *same_key;
        return Error(ErrorCode::kAlreadyExists,
                     "an ACME account with this key exists: " + same_key->id);
      }
      AcmeAccount a = account;
      a.version = 1;
      if (!a.eab_key_id.empty()) EG_TRY(BindEabInTransaction(conn, a, now));
      EG_ASSIGN_OR_RETURN(auto s, conn.Prepare(std::string("INSERT INTO acme_accounts (") +
                                               kAccountColumns + ") VALUES (?,?,?,?,?,?,?,?,?,?)"));
      s.Bind(1, a.id).Bind(2, a.jwk_thumbprint).Bind(3, a.jwk_json);
      s.Bind(4, AcmeAccountStatusName(a.status));
      s.Bind(5, static_cast<int64_t>(a.terms_of_service_agreed ? 1 : 0));
      s.Bind(6, a.enrollment_account);
      BindOptText(s, 7, a.eab_key_id);
      s.Bind(8, Ms(a.created_at)).Bind(9, Ms(a.updated_at)).Bind(10, a.version);
      auto inserted = s.Run();
      if (!inserted.ok() && inserted.error().code() == ErrorCode::kAlreadyExists) {
        return Error(ErrorCode::kAlreadyExists, "ACME account id " + a.id + " is taken");
      }
      EG_TRY(inserted);
      EG_TRY(WriteContacts(conn, a.id, a.contacts));
      return MustGetAccount(conn, a.id);
    });
  });
}

Result<std::optional<AcmeAccount>> SqliteStore::FindAccountByThumbprint(
    const std::string& jwk_thumbprint) {
  using Out = std::optional<AcmeAccount>;
  return With<Out>([&](SqliteConnection& conn) {
    return InReadTransaction<Out>(
        conn, [&] { return QueryAccount(conn, "jwk_thumbprint", jwk_thumbprint); });
  });
}

Result<AcmeAccount> SqliteStore::GetAccount(const std::string& id) {
  return With<AcmeAccount>([&](SqliteConnection& conn) {
    return InReadTransaction<AcmeAccount>(conn, [&] { return MustGetAccount(conn, id); });
  });
}

Result<AcmeAccount> SqliteStore::UpdateAccount(const AcmeAccount& account) {
  return Write<AcmeAccount>([&](SqliteConnection& conn) {
    return InTransaction<AcmeAccount>(conn, [&]() -> Result<AcmeAccount> {
      {
        EG_ASSIGN_OR_RETURN(auto s, conn.Prepare("UPDATE acme_accounts SET status = ?, "
                                                 "terms_of_service_agreed = ?, updated_at = ?, "
                                                 "version = version + 1 "
                                                 "WHERE id = ? AND version = ?"));
        s.Bind(1, AcmeAccountStatusName(account.status));
        s.Bind(2, static_cast<int64_t>(account.terms_of_service_agreed ? 1 : 0));
        s.Bind(3, Ms(account.updated_at)).Bind(4, account.id).Bind(5, account.version);
        EG_TRY(s.Run());
      }
      if (conn.Changes() != 1) {
        EG_TRY(MustGetAccount(conn, account.id));  // kNotFound if it is not there
        return Error(ErrorCode::kConflict, "ACME account " + account.id +
                                               " changed since version " +
                                               std::to_string(account.version) + " was read");
      }
      EG_TRY(WriteContacts(conn, account.id, account.contacts));
      return MustGetAccount(conn, account.id);
    });
  });
}

Result<AcmeAccount> SqliteStore::KeyChange(const std::string& account_id,
                                           const std::string& old_thumbprint,
                                           const std::string& new_thumbprint,
                                           const std::string& new_jwk_json, TimePoint now) {
  return Write<AcmeAccount>([&](SqliteConnection& conn) {
    return InTransaction<AcmeAccount>(conn, [&]() -> Result<AcmeAccount> {
      EG_ASSIGN_OR_RETURN(AcmeAccount current, MustGetAccount(conn, account_id));
      if (current.jwk_thumbprint != old_thumbprint) {
        return Error(ErrorCode::kConflict,
                     "ACME account " + account_id + " no longer has the old key");
      }
      EG_ASSIGN_OR_RETURN(auto holder, QueryAccount(conn, "jwk_thumbprint", new_thumbprint));
      if (holder) {
        return Error(ErrorCode::kAlreadyExists,
                     "the new key already belongs to ACME account " + holder->id);
      }
      {
        EG_ASSIGN_OR_RETURN(auto s, conn.Prepare("UPDATE acme_accounts SET jwk_thumbprint = ?, "
                                                 "jwk_json = ?, updated_at = ?, "
                                                 "version = version + 1 "
                                                 "WHERE id = ? AND jwk_thumbprint = ?"));
        s.Bind(1, new_thumbprint).Bind(2, new_jwk_json).Bind(3, Ms(now));
        s.Bind(4, account_id).Bind(5, old_thumbprint);
        EG_TRY(s.Run());
      }
      if (conn.Changes() != 1) {
        return Internal("ACME account " + account_id + ": key change matched no row");
      }
      return MustGetAccount(conn, account_id);
    });
  });
}

// ---- orders ----

Result<AcmeOrder> SqliteStore::CreateOrder(
    const AcmeOrder& order, const std::vector<AcmeAuthorization>& new_authorizations) {
  return Write<AcmeOrder>([&](SqliteConnection& conn) {
    return InTransaction<AcmeOrder>(conn, [&]() -> Result<AcmeOrder> {
      std::vector<bool> is_new(order.authorization_ids.size(), false);
      for (const auto& a : new_authorizations) {
        if (a.account_id != order.account_id) {
          return InvalidArgument("ACME authorization " + a.id + " belongs to another account");
        }
        bool listed = false;
        for (size_t i = 0; i < order.authorization_ids.size(); ++i) {
          if (order.authorization_ids[i] == a.id) listed = is_new[i] = true;
        }
        if (!listed) {
          return InvalidArgument("ACME authorization " + a.id + " is not one of order " + order.id +
                                 "'s");
        }
      }
      EG_TRY(MustGetAccount(conn, order.account_id));
      if (!order.replaces.empty()) {
        EG_ASSIGN_OR_RETURN(auto by, ReplacingOrder(conn, order.replaces));
        if (by) return AlreadyReplaced(order.replaces, *by);
      }
      {
        EG_ASSIGN_OR_RETURN(auto s,
                            conn.Prepare(std::string("INSERT INTO acme_orders (") + kOrderColumns +
                                         ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,1)"));
        s.Bind(1, order.id).Bind(2, order.account_id).Bind(3, AcmeOrderStatusName(order.status));
        s.Bind(4, order.profile).Bind(5, OptMs(order.not_before)).Bind(6, OptMs(order.not_after));
        s.Bind(7, Ms(order.expires));
        BindOptText(s, 8, order.enrollment_id);
        BindOptText(s, 9, order.certificate_serial);
        BindOptText(s, 10, order.replaces);
        s.Bind(11, order.error).Bind(12, Ms(order.created_at)).Bind(13, Ms(order.updated_at));
        auto r = s.Run();
        if (!r.ok() && r.error().code() == ErrorCode::kAlreadyExists) {
          return Error(ErrorCode::kAlreadyExists, "ACME order " + order.id + " already exists");
        }
        EG_TRY(r);
      }
      for (size_t i = 0; i < order.identifiers.size(); ++i) {
        EG_ASSIGN_OR_RETURN(auto s, conn.Prepare("INSERT INTO acme_order_identifiers (order_id, "
                                                 "position, type, value) VALUES (?, ?, ?, ?)"));
        s.Bind(1, order.id).Bind(2, static_cast<int64_t>(i));
        s.Bind(3, order.identifiers[i].type).Bind(4, order.identifiers[i].value);
        EG_TRY(s.Run());
      }
      for (const auto& a : new_authorizations) EG_TRY(InsertAuthz(conn, a, order.id));
      for (size_t i = 0; i < order.authorization_ids.size(); ++i) {
        const std::string& authz_id = order.authorization_ids[i];
        if (!is_new[i]) {
          EG_ASSIGN_OR_RETURN(auto q, conn.Prepare("SELECT 1 FROM acme_authorizations WHERE "
                                                   "id = ? AND account_id = ?"));
          q.Bind(1, authz_id).Bind(2, order.account_id);
          EG_ASSIGN_OR_RETURN(bool exists, q.Step());
          if (!exists) return NotFound("ACME authorization " + authz_id + " not found");
        }
        EG_ASSIGN_OR_RETURN(auto s, conn.Prepare("INSERT INTO acme_order_authorizations "
                                                 "(order_id, position, authz_id) "
                                                 "VALUES (?, ?, ?)"));
        s.Bind(1, order.id).Bind(2, static_cast<int64_t>(i)).Bind(3, authz_id);
        EG_TRY(s.Run());
      }
      return LoadOrder(conn, order.account_id, order.id);
    });
  });
}

Result<AcmeOrder> SqliteStore::GetOrder(const std::string& account_id, const std::string& id) {
  return With<AcmeOrder>([&](SqliteConnection& conn) {
    return InReadTransaction<AcmeOrder>(conn, [&] { return LoadOrder(conn, account_id, id); });
  });
}

Result<AcmeOrderPage> SqliteStore::ListOrders(const std::string& account_id,
                                              const std::string& cursor, int limit) {
  if (limit < 1) return InvalidArgument("ListOrders: limit must be positive");
  return With<AcmeOrderPage>([&](SqliteConnection& conn) {
    return InReadTransaction<AcmeOrderPage>(conn, [&]() -> Result<AcmeOrderPage> {
      // Keyset paging on (created_at, id): the cursor is the last id of the previous page, looked
      // up within the same account (another account's id matches nothing).
      EG_ASSIGN_OR_RETURN(auto s, conn.Prepare(std::string("SELECT ") + kOrderColumns +
                                               " FROM acme_orders WHERE account_id = ?1 AND "
                                               "(?2 = '' OR (created_at, id) > (SELECT "
                                               "created_at, id FROM acme_orders WHERE id = ?2 "
                                               "AND account_id = ?1)) "
                                               "ORDER BY created_at, id LIMIT ?3"));
      s.Bind(1, account_id).Bind(2, cursor).Bind(3, static_cast<int64_t>(limit) + 1);
      AcmeOrderPage page;
      EG_ASSIGN_OR_RETURN(page.orders, ReadOrders(conn, s));
      if (page.orders.size() > static_cast<size_t>(limit)) {
        page.orders.resize(static_cast<size_t>(limit));
        page.next_cursor = page.orders.back().id;
      }
      return page;
    });
  });
}

Result<AcmeOrder> SqliteStore::UpdateOrder(const AcmeOrder& order) {
  return Write<AcmeOrder>([&](SqliteConnection& conn) {
    return InTransaction<AcmeOrder>(conn, [&]() -> Result<AcmeOrder> {
      {
        EG_ASSIGN_OR_RETURN(auto s,
                            conn.Prepare("UPDATE acme_orders SET status = ?, expires = ?, "
                                         "enrollment_id = ?, certificate_serial = ?, "
                                         "error = ?, updated_at = ?, version = version + 1 "
                                         "WHERE id = ? AND account_id = ? AND version = ?"));
        s.Bind(1, AcmeOrderStatusName(order.status)).Bind(2, Ms(order.expires));
        BindOptText(s, 3, order.enrollment_id);
        BindOptText(s, 4, order.certificate_serial);
        s.Bind(5, order.error).Bind(6, Ms(order.updated_at)).Bind(7, order.id);
        s.Bind(8, order.account_id).Bind(9, order.version);
        auto r = s.Run();
        if (!r.ok() && r.error().code() == ErrorCode::kAlreadyExists) {
          return Error(ErrorCode::kAlreadyExists,
                       "certificate " + order.replaces + " is already being replaced");
        }
        EG_TRY(r);
      }
      if (conn.Changes() != 1) {
        EG_TRY(MissingOrConflict(conn, "acme_orders", "ACME order", order.account_id, order.id,
                                 order.version));
      }
      return LoadOrder(conn, order.account_id, order.id);
    });
  });
}

Result<std::optional<AcmeOrder>> SqliteStore::FindOrderByEnrollment(
    const std::string& enrollment_id) {
  return FindOneOrder("enrollment_id = ?", enrollment_id);
}

Result<std::optional<AcmeOrder>> SqliteStore::FindReplacingOrder(const std::string& cert_id) {
  return FindOneOrder("replaces = ? AND status <> 'invalid'", cert_id);
}

Result<std::optional<AcmeOrder>> SqliteStore::FindOneOrder(const char* where,
                                                           const std::string& value) {
  using Out = std::optional<AcmeOrder>;
  return With<Out>([&](SqliteConnection& conn) {
    return InReadTransaction<Out>(conn, [&]() -> Result<Out> {
      EG_ASSIGN_OR_RETURN(
          auto s, conn.Prepare(std::string("SELECT ") + kOrderColumns + " FROM acme_orders WHERE " +
                               where + " ORDER BY created_at, id LIMIT 1"));
      s.Bind(1, value);
      EG_ASSIGN_OR_RETURN(auto found, ReadOrders(conn, s));
      if (found.empty()) return Out();
      return Out(std::move(found.front()));
    });
  });
}

// ---- authorizations and challenges ----

Result<AcmeAuthorization> SqliteStore::GetAuthorization(const std::string& account_id,
                                                        const std::string& id) {
  return With<AcmeAuthorization>([&](SqliteConnection& conn) {
    return InReadTransaction<AcmeAuthorization>(conn,
                                                [&] { return LoadAuthz(conn, account_id, id); });
  });
}

Result<AcmeAuthorization> SqliteStore::UpdateAuthorization(const AcmeAuthorization& authz) {
  return Write<AcmeAuthorization>([&](SqliteConnection& conn) {
    return InTransaction<AcmeAuthorization>(conn, [&]() -> Result<AcmeAuthorization> {
      {
        EG_ASSIGN_OR_RETURN(auto s,
                            conn.Prepare("UPDATE acme_authorizations SET status = ?, "
                                         "expires = ?, version = version + 1 "
                                         "WHERE id = ? AND account_id = ? AND version = ?"));
        s.Bind(1, AcmeAuthzStatusName(authz.status)).Bind(2, Ms(authz.expires));
        s.Bind(3, authz.id).Bind(4, authz.account_id).Bind(5, authz.version);
        EG_TRY(s.Run());
      }
      if (conn.Changes() != 1) {
        EG_TRY(MissingOrConflict(conn, "acme_authorizations", "ACME authorization",
                                 authz.account_id, authz.id, authz.version));
      }
      return LoadAuthz(conn, authz.account_id, authz.id);
    });
  });
}

Result<AcmeChallenge> SqliteStore::GetChallenge(const std::string& account_id,
                                                const std::string& id) {
  return With<AcmeChallenge>(
      [&](SqliteConnection& conn) { return LoadChallenge(conn, account_id, id); });
}

Result<AcmeChallenge> SqliteStore::UpdateChallenge(const AcmeChallenge& c) {
  return Write<AcmeChallenge>([&](SqliteConnection& conn) {
    return InTransaction<AcmeChallenge>(conn, [&]() -> Result<AcmeChallenge> {
      {
        EG_ASSIGN_OR_RETURN(auto s,
                            conn.Prepare("UPDATE acme_challenges SET status = ?, "
                                         "validated_at = ?, error = ?, "
                                         "next_attempt_at = ?, attempts = ?, "
                                         "version = version + 1 "
                                         "WHERE id = ? AND account_id = ? AND version = ?"));
        s.Bind(1, AcmeChallengeStatusName(c.status)).Bind(2, OptMs(c.validated_at));
        s.Bind(3, c.error).Bind(4, Ms(c.next_attempt_at)).Bind(5, static_cast<int64_t>(c.attempts));
        s.Bind(6, c.id).Bind(7, c.account_id).Bind(8, c.version);
        EG_TRY(s.Run());
      }
      if (conn.Changes() != 1) {
        EG_TRY(MissingOrConflict(conn, "acme_challenges", "ACME challenge", c.account_id, c.id,
                                 c.version));
      }
      return LoadChallenge(conn, c.account_id, c.id);
    });
  });
}

Result<std::vector<AcmeChallenge>> SqliteStore::ListDueChallenges(TimePoint now, int limit) {
  using Out = std::vector<AcmeChallenge>;
  return With<Out>([&](SqliteConnection& conn) -> Result<Out> {
    EG_ASSIGN_OR_RETURN(auto s, conn.Prepare(std::string("SELECT ") + kChallengeColumns +
                                             " FROM acme_challenges WHERE status = 'processing' "
                                             "AND next_attempt_at <= ? "
                                             "ORDER BY next_attempt_at, id LIMIT ?"));
    s.Bind(1, Ms(now)).Bind(2, static_cast<int64_t>(limit));
    return ReadChallenges(s);
  });
}

Result<AcmeChallenge> SqliteStore::ClaimChallenge(const std::string& id, TimePoint now,
                                                  TimePoint lease_until) {
  return Write<AcmeChallenge>([&](SqliteConnection& conn) {
    return InTransaction<AcmeChallenge>(conn, [&]() -> Result<AcmeChallenge> {
      {
        EG_ASSIGN_OR_RETURN(auto s, conn.Prepare("UPDATE acme_challenges SET next_attempt_at = ?, "
                                                 "version = version + 1 WHERE id = ? AND "
                                                 "status = 'processing' AND next_attempt_at <= ?"));
        s.Bind(1, Ms(lease_until)).Bind(2, id).Bind(3, Ms(now));
        EG_TRY(s.Run());
      }
      const bool claimed = conn.Changes() == 1;
      EG_ASSIGN_OR_RETURN(auto s, conn.Prepare(std::string("SELECT ") + kChallengeColumns +
                                               " FROM acme_challenges WHERE id = ?"));
      s.Bind(1, id);
      EG_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) return NotFound("ACME challenge " + id + " not found");
      if (!claimed) {
        return FailedPrecondition("ACME challenge " + id +
                                  " is not due (claimed elsewhere, or not processing)");
      }
      return ReadChallengeRow(s);
    });
  });
}

}  // namespace eg::storage
