// The enrolling operations: simpleenroll (RFC 7030 §4.2.1), simplereenroll (§4.2.2) and
// serverkeygen (§4.4). Each authenticates, reads the CSR, checks proof of possession linked to
// TLS and (code signing) the key attestation, decides through mapping::Decide, and submits to
// the IssuanceService under a request key derived from the request, so a device repeating a
// request after 202 gets the same enrollment. Nothing is written for a refused request except
// the denial's audit record.
#include <algorithm>

#include "core/ports/est_store.h"
#include "crypto/base64.h"
#include "crypto/csr.h"
#include "protocols/est/server_impl.h"

namespace eg::est {

using internal::Caller;
using internal::Checked;
using internal::Refuse;

namespace {

std::string AsText(const crypto::Bytes& b) { return std::string(crypto::AsStringView(b)); }

crypto::SubjectAltNames Sorted(crypto::SubjectAltNames s) {
  for (auto* v : {&s.dns, &s.ip, &s.email, &s.uri}) std::sort(v->begin(), v->end());
  return s;
}

std::string SansText(const crypto::SubjectAltNames& s) {
  std::string out;
  auto add = [&out](const char* kind, const std::vector<std::string>& values) {
    for (const std::string& v : values) out += (out.empty() ? "" : ", ") + std::string(kind) + v;
  };
  add("DNS:", s.dns);
  add("IP:", s.ip);
  add("email:", s.email);
  add("URI:", s.uri);
  return out.empty() ? "none" : out;
}

}  // namespace

Checked<std::string> EstServer::Impl::Attest(const Target& t, const Caller& caller,
                                             const crypto::Csr& csr) {
  if (t.account->cert_type != CertType::kCodeSigning) return std::string();
  Result<std::string> evidence =
      internal::VerifyAttestation(csr, t.files->attestation_anchors, clock.Now());
  if (evidence.ok()) return std::move(evidence).value();
  // kInvalidArgument: the attestation is refused; kFailedPrecondition: the account has no HSM
  // roots to check it against. Both are reasons for the device's operator; anything else is ours.
  if (evidence.error().code() != ErrorCode::kInvalidArgument &&
      evidence.error().code() != ErrorCode::kFailedPrecondition) {
    return Fail(evidence.error(), "verifying a key attestation");
  }
  mapping::Denial denial{mapping::DenialReason::kAttestationRequired,
                         "accounts[" + t.account->name + "].code_signing.attestation_anchor_files",
                         "", "the key attestation was refused: " + evidence.error().message()};
  Result<void> recorded = issuance.RecordDenial(t.account->name, "est", caller.requester, denial);
  if (!recorded.ok()) Fail(recorded.error(), "recording a denial");
  return Refuse(400, denial.message);
}

Checked<mapping::Decision> EstServer::Impl::Decide(const Target& t, const Caller& caller,
                                                   const crypto::Csr& csr,
                                                   const std::string& attestation) {
  mapping::DecisionRequest request;
  request.account = t.account;
  request.requester = {config::Protocol::kEst, caller.requester, {}};
  request.csr = &csr;
  request.key_attestation = attestation;
  mapping::Verdict verdict = mapping::Decide(request, t.snapshot->catalog);
  if (const mapping::Denial* denial = std::get_if<mapping::Denial>(&verdict)) {
    Result<void> recorded =
        issuance.RecordDenial(t.account->name, "est", caller.requester, *denial);
    if (!recorded.ok()) Fail(recorded.error(), "recording a denial");
    return Refuse(400, denial->message);
  }
  return std::get<mapping::Decision>(std::move(verdict));
}

http::Response EstServer::Impl::SubmitAndAnswer(
    const Target& t, const Caller& caller, mapping::Decision decision,
    const std::string& request_key, const std::string& renew_serial,
    const std::function<http::Response(const crypto::Bytes&)>& render) {
  issuance::Submission submission;
  submission.decision = std::move(decision);
  submission.protocol = "est";
  submission.requester = caller.requester;
  submission.request_key = request_key;
  submission.renew_serial = renew_serial;
  Result<issuance::IssuanceStatus> status = issuance.Submit(submission);
  if (!status.ok()) {
    switch (status.error().code()) {
      case ErrorCode::kInvalidArgument:
      case ErrorCode::kFailedPrecondition:
        return Refuse(400, status.error().message());
      default:
        return Fail(status.error(), "submitting an EST enrollment");
    }
  }
  logger.Info("est enrollment",
              {{"account", t.account->name},
               {"requester", caller.requester},
               {"enrollment", status->enrollment.id},
               {"state", std::string(issuance::IssuanceStateName(status->state))}});
  switch (status->state) {
    case issuance::IssuanceStatus::State::kIssued: {
      if (!status->certificate.has_value()) {
        return Fail(Internal("issued enrollment without a certificate"), "answering an issuance");
      }
      Result<crypto::Bytes> p7 = internal::CertsOnlyFromPem(status->certificate->chain_pem);
      if (!p7.ok()) return Fail(p7.error(), "encoding an issued certificate");
      return render(*p7);
    }
    case issuance::IssuanceStatus::State::kPending: {
      const int64_t after = std::max<int64_t>(1, status->retry_after.count());
      http::Response r = Refuse(202,
                                "the request is accepted and waits for issuance (approval "
                                "or SCM); send the same request again after " +
                                    std::to_string(after) + " seconds");
      r.headers.Set("Retry-After", std::to_string(after));
      return r;
    }
    case issuance::IssuanceStatus::State::kFailed:
      return Refuse(400, "SCM refused the enrollment: " + (status->failure.has_value()
                                                               ? status->failure->message()
                                                               : std::string("no reason given")));
    case issuance::IssuanceStatus::State::kRevoked:
      return Refuse(403,
                    "the certificate issued for this request has been revoked; send a new "
                    "request with a new key");
  }
  return internal::ServerError();
}

http::Response EstServer::Impl::HandleSimpleEnroll(const http::Request& r) {
  Checked<Target> t = Resolve(r, /*need_files=*/true);
  if (!t.ok()) return t.answer();
  Checked<Caller> caller = internal::Authenticate(Auth(), r, *t->account, *t->files);
  if (!caller.ok()) return caller.answer();
  Checked<crypto::Csr> csr = internal::ReadCsr(r);
  if (!csr.ok()) return csr.answer();
  if (auto refused = internal::CheckPopLinkedToTls(*t->account, *csr, r.client)) return *refused;
  Checked<std::string> attestation = Attest(*t, *caller, *csr);
  if (!attestation.ok()) return attestation.answer();
  Checked<mapping::Decision> decision = Decide(*t, *caller, *csr, *attestation);
  if (!decision.ok()) return decision.answer();
  const std::string key = internal::HashKey({"est-enroll", t->account->name, AsText(csr->Der())});
  return SubmitAndAnswer(*t, *caller, std::move(*decision), key, "", [](const crypto::Bytes& p7) {
    return internal::CertsOnlyResponse(p7, true);
  });
}

http::Response EstServer::Impl::HandleSimpleReenroll(const http::Request& r) {
  Checked<Target> t = Resolve(r, /*need_files=*/true);
  if (!t.ok()) return t.answer();
  Checked<Caller> caller = internal::Authenticate(Auth(), r, *t->account, *t->files);
  if (!caller.ok()) return caller.answer();
  // RFC 7030 §4.2.2: the certificate being renewed is the TLS client certificate, one this
  // gateway issued under this label's account.
  if (r.client.peer_chain_der.empty()) {
    return Refuse(403,
                  "simplereenroll needs the certificate being renewed as the TLS client "
                  "certificate");
  }
  if (!caller->issued.has_value()) {
    // Authenticated otherwise (Basic, a manufacturer certificate): the certificate must still
    // be one this gateway issued here; the answer says why it is not.
    Result<crypto::Certificate> leaf =
        crypto::Certificate::ParseDer(r.client.peer_chain_der.front());
    if (!leaf.ok()) return Refuse(403, "the TLS client certificate does not parse");
    Checked<CertificateRecord> issued =
        internal::IssuedClientCertificate(Auth(), *leaf, *t->account);
    if (!issued.ok()) return issued.answer();
    caller->certificate = std::move(leaf).value();
    caller->issued = std::move(issued.value());
  }
  const crypto::Certificate& leaf = *caller->certificate;
  const CertificateRecord& issued = *caller->issued;

  Checked<crypto::Csr> csr = internal::ReadCsr(r);
  if (!csr.ok()) return csr.answer();
  const crypto::SubjectFields subject = csr->Subject();
  if (subject != leaf.Subject()) {
    return Refuse(400, "the CSR's subject \"" + subject.one_line +
                           "\" differs from the certificate being renewed (\"" +
                           leaf.Subject().one_line + "\"; RFC 7030 §4.2.2)");
  }
  if (Sorted(csr->Sans()) != Sorted(leaf.Sans())) {
    return Refuse(400, "the CSR's subject alternative names (" + SansText(csr->Sans()) +
                           ") differ from the certificate being renewed (" + SansText(leaf.Sans()) +
                           "; RFC 7030 §4.2.2)");
  }
  if (auto refused = internal::CheckPopLinkedToTls(*t->account, *csr, r.client)) return *refused;
  Checked<std::string> attestation = Attest(*t, *caller, *csr);
  if (!attestation.ok()) return attestation.answer();
  Checked<mapping::Decision> decision = Decide(*t, *caller, *csr, *attestation);
  if (!decision.ok()) return decision.answer();
  const std::string key =
      internal::HashKey({"est-reenroll", issued.serial_hex, AsText(csr->Der())});
  return SubmitAndAnswer(
      *t, *caller, std::move(*decision), key, issued.serial_hex,
      [](const crypto::Bytes& p7) { return internal::CertsOnlyResponse(p7, true); });
}

http::Response EstServer::Impl::HandleServerKeygen(const http::Request& r) {
  Checked<Target> t = Resolve(r, /*need_files=*/true);
  if (!t.ok()) return t.answer();
  if (options.server_key_kek.empty()) {
    return Refuse(501, "serverkeygen is not enabled on this server (no key-encryption key)");
  }
  Checked<Caller> caller = internal::Authenticate(Auth(), r, *t->account, *t->files);
  if (!caller.ok()) return caller.answer();
  Checked<crypto::Csr> request_csr = internal::ReadCsr(r);
  if (!request_csr.ok()) return request_csr.answer();
  if (auto refused = internal::CheckPopLinkedToTls(*t->account, *request_csr, r.client)) {
    return *refused;
  }
  if (t->account->cert_type == CertType::kCodeSigning) {
    return Refuse(400,
                  "code-signing keys must be generated in the HSM and attested; serverkeygen is "
                  "not offered for this label");
  }
  const std::string key_id =
      internal::HashKey({"est-serverkeygen", t->account->name, AsText(request_csr->Der())});

  // The key this request was (or is now) answered with: a retry after 202 gets the same one. The
  // key is stored only once the decision allows the request; two daemons racing keep the first.
  for (int attempt = 0; attempt < 2; ++attempt) {
    Result<std::optional<SealedServerKey>> stored = est_store.GetServerKey(key_id);
    if (!stored.ok()) return Fail(stored.error(), "reading a server-generated key");
    std::optional<crypto::PrivateKey> key;
    if (stored->has_value()) {
      Result<crypto::Bytes> pkcs8 =
          internal::OpenKey(options.server_key_kek, (*stored)->sealed, key_id);
      if (!pkcs8.ok()) return Fail(pkcs8.error(), "opening a sealed server-generated key");
      Result<crypto::PrivateKey> opened = crypto::PrivateKey::FromPkcs8Der(*pkcs8);
      if (!opened.ok()) return Fail(opened.error(), "reading a server-generated key");
      key.emplace(std::move(opened).value());
    } else {
      Result<crypto::PrivateKey> made =
          crypto::PrivateKey::Generate(internal::PreferredKeySpec(*t->account, *t->snapshot));
      if (!made.ok()) return Fail(made.error(), "generating a key");
      key.emplace(std::move(made).value());
    }
    crypto::CsrRequest build;
    build.subject = request_csr->Subject();
    build.sans = request_csr->Sans();
    Result<crypto::Csr> csr = crypto::BuildCsr(build, *key);
    if (!csr.ok()) return Fail(csr.error(), "building the CSR for a server-generated key");
    Checked<mapping::Decision> decision = Decide(*t, *caller, *csr, "");
    if (!decision.ok()) return decision.answer();

    const crypto::Bytes pkcs8 = key->Pkcs8Der();
    if (!stored->has_value()) {
      Result<crypto::Bytes> sealed = internal::SealKey(options.server_key_kek, pkcs8, key_id);
      if (!sealed.ok()) return Fail(sealed.error(), "sealing a server-generated key");
      Result<void> put = est_store.PutServerKey({key_id, *sealed, clock.Now()});
      if (!put.ok() && put.error().code() == ErrorCode::kAlreadyExists) continue;  // theirs wins
      if (!put.ok()) return Fail(put.error(), "storing a server-generated key");
    }
    return SubmitAndAnswer(
        *t, *caller, std::move(*decision), key_id, "",
        [&pkcs8](const crypto::Bytes& p7) { return internal::ServerKeygenResponse(pkcs8, p7); });
  }
  return Fail(Internal("the server-generated key changed twice under one request"), "serverkeygen");
}

}  // namespace eg::est
