// Key attestation carried in a PKCS#10 CSR (code signing through EST): read the attestation
// attribute, check that the attested key is the CSR's key and that the attestation chain ends at
// one of the configured HSM attestation roots, and give SCM the evidence in the form it takes.
//
// Format followed: draft-ietf-lamps-csr-attestation-29 (2 September 2026, the latest revision;
// the ASN.1 has been stable since -27, the version sent to the IESG):
//
//   id-aa-attestation OBJECT IDENTIFIER ::= { id-aa 59 }   -- 1.2.840.113549.1.9.16.2.59
//   attr-attestations ATTRIBUTE ::= { TYPE AttestationBundle COUNTS MAX 1
//                                     IDENTIFIED BY id-aa-attestation }
//   AttestationBundle ::= SEQUENCE {
//     attestations SEQUENCE SIZE (1..MAX) OF AttestationStatement,
//     certs        SEQUENCE SIZE (1..MAX) OF LimitedCertChoices OPTIONAL }
//   AttestationStatement ::= SEQUENCE { type OBJECT IDENTIFIER, stmt ANY DEFINED BY type }
//
// Earlier revisions (up to about -21) called the same OID id-aa-evidence and wrapped the bundle
// in one more level, EvidenceBundles ::= SEQUENCE SIZE (1..MAX) OF EvidenceBundle, with an
// optional UTF8String `hint` after `stmt`. VerifyKeyAttestation reads both layouts; the encoder
// writes the -29 layout only.
//
// The draft registers no statement types. This module uses:
//   kX509CertificateStatementOid 1.2.840.113549.1.9.22.1 (PKCS#9 certTypes x509Certificate):
//     stmt is a DER X.509 certificate: the HSM's attestation certificate (YubiKey PIV style,
//     the key generated in slot 9a/9c/... certified by the device's slot f9 key); its
//     intermediates travel in `certs`.
//   kContentInfoStatementOid 1.2.840.113549.1.9.16.1.6 (id-ct-contentInfo): stmt is a CMS/PKCS#7
//     ContentInfo holding a certs-only SignedData with the attestation chain (Luna style).
//     id-signedData (1.2.840.113549.1.7.2) is read as the same thing.
// A statement of another type is read as either of these when its content parses as one, and
// ignored otherwise (it may be a platform attestation this gateway does not appraise). A stmt
// wrapped in an OCTET STRING is unwrapped. `certs` entries must be X.509 certificates or the
// `other` [3] alternative (ignored).
//
// Verification (the CA/RA duty of the draft's §6.1): among every certificate carried (in
// statements and in `certs`), the one whose subject public key equals the CSR's public key is
// the attested certificate; it must chain through the other carried certificates to one of the
// anchors (crypto::VerifyChain: signatures and validity at `now`, partial chains to an
// intermediate anchor allowed). For Luna this models the attestation as a certificate over the
// key inside the PKCS#7 chain; Luna's signed key-attribute blob is not appraised.
// The CSR's own signature (proof of possession) is the caller's check (Csr::VerifySignature).
//
// Known limit: the slot f9 intermediate of some YubiKey firmware (5.2.4 reported, Yubico's
// yubikey-manager issue 522) lacks basicConstraints; OpenSSL's chain verification, and so
// VerifyChain, refuses it as "invalid CA certificate".
//
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "crypto/base64.h"
#include "crypto/csr.h"
#include "crypto/x509.h"

namespace eg::crypto {

// The PKCS#10 attribute (id-aa-attestation, early-allocated as id-aa-evidence).
inline constexpr std::string_view kEvidenceAttributeOid = "1.2.840.113549.1.9.16.2.59";
inline constexpr std::string_view kX509CertificateStatementOid = "1.2.840.113549.1.9.22.1";
inline constexpr std::string_view kContentInfoStatementOid = "1.2.840.113549.1.9.16.1.6";
inline constexpr std::string_view kSignedDataOid = "1.2.840.113549.1.7.2";

// Upper bounds: the attribute value (a CSR is at most kMaxCsrDerBytes anyway), the certificates
// carried, and the elements of any one SEQUENCE. Larger input is refused as malformed.
inline constexpr size_t kMaxEvidenceDerBytes = kMaxCsrDerBytes;
inline constexpr size_t kMaxEvidenceCertificates = 16;
inline constexpr size_t kMaxEvidenceElements = 16;

struct VerifiedAttestation {
  Certificate attested;            // the certificate over the CSR's key
  std::vector<Certificate> chain;  // from the attested certificate's issuer up to, not including,
                                   // the anchor
  Certificate anchor;              // the configured root the chain ends at
  // SCM's code-signing keyAttestation (scm-rest-api.md §6, field names provisional): YubiKey
  // style, "a PEM chain: attestation certificate + intermediate", so the PEM of `attested`
  // followed by `chain`; Luna style (the attested certificate came in a PKCS#7 statement),
  // "a PKCS#7 DER chain", so the base64 (one line) of that PKCS#7 exactly as the CSR carried it.
  // scm_client sends PEM text base64-encoded and anything else as it is.
  std::string evidence_for_scm;
};

// Errors: kFailedPrecondition "no HSM attestation roots are configured" when `anchors` is
// empty; otherwise kInvalidArgument with a reason a person can act on: the CSR carries no
// attestation attribute, the attestation is malformed (what is wrong), carries no certificate,
// "the attested key is not the CSR's key", or "the attestation chain does not end at a trusted
// HSM root: <why>".
Result<VerifiedAttestation> VerifyKeyAttestation(const Csr& csr,
                                                 const std::vector<Certificate>& anchors,
                                                 TimePoint now);

enum class EvidenceStyle {
  // One kX509CertificateStatementOid statement with certs[0]; certs[1..] in `certs`.
  kCertificate,
  // One kContentInfoStatementOid statement: a certs-only PKCS#7 of all `certs`; no `certs` field.
  kPkcs7,
};

// The DER of the attribute value (an AttestationBundle) for CsrRequest::extra_attributes with
// kEvidenceAttributeOid: for tests, the bench and the conformance tools. `certs` starts with the
// attestation certificate, then its intermediates; empty is InvalidArgument.
Result<Bytes> EncodeEvidenceAttribute(const std::vector<Certificate>& certs,
                                      EvidenceStyle style = EvidenceStyle::kCertificate);

}  // namespace eg::crypto
