// Conversions between OpenSSL objects and crypto/'s plain values; see openssl_util.h.
#include "crypto/openssl_util.h"

#include <arpa/inet.h>
#include <openssl/objects.h>

#include <cctype>
#include <cstring>
#include <ctime>
#include <limits>

namespace eg::crypto::internal {

Error OpenSslError(ErrorCode code, std::string_view what) {
  // The oldest error is the root cause; later ones are context added on the way up.
  unsigned long err = ERR_get_error();
  std::string msg(what);
  if (err != 0) {
    const char* lib = ERR_lib_error_string(err);
    const char* reason = ERR_reason_error_string(err);
    msg += " (";
    msg += lib != nullptr ? lib : "OpenSSL";
    msg += ": ";
    msg += reason != nullptr ? reason : "unknown error";
    msg += ")";
  }
  ERR_clear_error();
  return Error(code, std::move(msg));
}

Result<const EVP_MD*> DigestByName(std::string_view name) {
  std::string n;
  for (char c : name) {
    if (c != '-') n.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  if (n.empty()) return static_cast<const EVP_MD*>(nullptr);
  if (n == "SHA256") return EVP_sha256();
  if (n == "SHA384") return EVP_sha384();
  if (n == "SHA512") return EVP_sha512();
  return InvalidArgument("unsupported digest \"" + std::string(name) + "\"");
}

std::string Asn1StringToUtf8(const ASN1_STRING* s) {
  if (s == nullptr) return {};
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, s);
  if (n < 0) {
    ERR_clear_error();
    return {};
  }
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
  OPENSSL_free(utf8);
  return out;
}

Bytes Asn1StringBytes(const ASN1_STRING* s) {
  if (s == nullptr) return {};
  const unsigned char* d = ASN1_STRING_get0_data(s);
  return Bytes(d, d + ASN1_STRING_length(s));
}

namespace {

std::string* FieldFor(SubjectFields& f, int nid) {
  switch (nid) {
    case NID_commonName:
      return &f.common_name;
    case NID_givenName:
      return &f.given_name;
    case NID_surname:
      return &f.surname;
    case NID_pkcs9_emailAddress:
      return &f.email;
    case NID_organizationName:
      return &f.organization;
    case NID_organizationalUnitName:
      return &f.organizational_unit;
    case NID_countryName:
      return &f.country;
    case NID_stateOrProvinceName:
      return &f.state;
    case NID_localityName:
      return &f.locality;
    case NID_serialNumber:
      return &f.serial_number;
    default:
      return nullptr;
  }
}

std::string OneLine(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) return {};
  if (X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0) {
    ERR_clear_error();
    return {};
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

std::string IpToText(const ASN1_OCTET_STRING* ip) {
  char buf[INET6_ADDRSTRLEN] = {};
  int len = ASN1_STRING_length(ip);
  const unsigned char* d = ASN1_STRING_get0_data(ip);
  if (len == 4) {
    inet_ntop(AF_INET, d, buf, sizeof(buf));
  } else if (len == 16) {
    inet_ntop(AF_INET6, d, buf, sizeof(buf));
  } else {
    return {};
  }
  return buf;
}

}  // namespace

SubjectFields SubjectFromName(const X509_NAME* name) {
  SubjectFields f;
  if (name == nullptr) return f;
  int count = X509_NAME_entry_count(name);
  for (int i = 0; i < count; ++i) {
    const X509_NAME_ENTRY* e = X509_NAME_get_entry(name, i);
    int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
    std::string* slot = FieldFor(f, nid);
    if (slot != nullptr && slot->empty()) {
      *slot = Asn1StringToUtf8(X509_NAME_ENTRY_get_data(e));
    }
  }
  f.one_line = OneLine(name);
  return f;
}

SubjectAltNames SansFromGeneralNames(const GENERAL_NAMES* names) {
  SubjectAltNames out;
  if (names == nullptr) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
    switch (gn->type) {
      case GEN_DNS:
        out.dns.push_back(Asn1StringToUtf8(gn->d.dNSName));
        break;
      case GEN_EMAIL:
        out.email.push_back(Asn1StringToUtf8(gn->d.rfc822Name));
        break;
      case GEN_URI:
        out.uri.push_back(Asn1StringToUtf8(gn->d.uniformResourceIdentifier));
        break;
      case GEN_IPADD: {
        std::string ip = IpToText(gn->d.iPAddress);
        if (ip.empty()) {
          out.other.push_back("iPAddress of " +
                              std::to_string(ASN1_STRING_length(gn->d.iPAddress)) + " bytes");
        } else {
          out.ip.push_back(std::move(ip));
        }
        break;
      }
      case GEN_OTHERNAME:
        out.other.push_back("otherName");
        break;
      case GEN_DIRNAME:
        out.other.push_back("directoryName");
        break;
      case GEN_RID:
        out.other.push_back("registeredID");
        break;
      default:
        out.other.push_back("x400Address or ediPartyName");
        break;
    }
  }
  return out;
}

Result<X509NamePtr> BuildName(const SubjectFields& s) {
  X509NamePtr name(X509_NAME_new());
  if (!name) return OpenSslInternal("X509_NAME_new");
  const std::pair<int, const std::string*> fields[] = {
      {NID_countryName, &s.country},
      {NID_stateOrProvinceName, &s.state},
      {NID_localityName, &s.locality},
      {NID_organizationName, &s.organization},
      {NID_organizationalUnitName, &s.organizational_unit},
      {NID_givenName, &s.given_name},
      {NID_surname, &s.surname},
      {NID_serialNumber, &s.serial_number},
      {NID_commonName, &s.common_name},
      {NID_pkcs9_emailAddress, &s.email},
  };
  for (const auto& [nid, value] : fields) {
    if (value->empty()) continue;
    if (value->size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
      return InvalidArgument("subject field too long");
    }
    int type = (nid == NID_countryName || nid == NID_pkcs9_emailAddress || nid == NID_serialNumber)
                   ? MBSTRING_ASC
                   : MBSTRING_UTF8;
    if (X509_NAME_add_entry_by_NID(name.get(), nid, type,
                                   reinterpret_cast<const unsigned char*>(value->data()),
                                   static_cast<int>(value->size()), -1, 0) != 1) {
      return OpenSslInvalid(std::string("subject field ") + OBJ_nid2sn(nid) + " is not valid");
    }
  }
  return name;
}

namespace {

Result<void> PushString(GENERAL_NAMES* names, int type, const std::string& value) {
  GeneralNamePtr gn(GENERAL_NAME_new());
  ASN1_IA5STRING* s = ASN1_IA5STRING_new();
  if (!gn || s == nullptr ||
      ASN1_STRING_set(s, value.data(), static_cast<int>(value.size())) != 1) {
    ASN1_IA5STRING_free(s);
    return OpenSslInternal("building a subjectAltName");
  }
  GENERAL_NAME_set0_value(gn.get(), type, s);
  if (sk_GENERAL_NAME_push(names, gn.get()) == 0) return OpenSslInternal("sk_GENERAL_NAME_push");
  gn.release();
  return Ok();
}

}  // namespace

Result<GeneralNamesPtr> BuildGeneralNames(const SubjectAltNames& sans) {
  GeneralNamesPtr names(GENERAL_NAMES_new());
  if (!names) return OpenSslInternal("GENERAL_NAMES_new");
  for (const auto& d : sans.dns) EG_TRY(PushString(names.get(), GEN_DNS, d));
  for (const auto& e : sans.email) EG_TRY(PushString(names.get(), GEN_EMAIL, e));
  for (const auto& u : sans.uri) EG_TRY(PushString(names.get(), GEN_URI, u));
  for (const auto& ip : sans.ip) {
    unsigned char buf[16];
    int len = 0;
    if (inet_pton(AF_INET, ip.c_str(), buf) == 1) {
      len = 4;
    } else if (inet_pton(AF_INET6, ip.c_str(), buf) == 1) {
      len = 16;
    } else {
      return InvalidArgument("\"" + ip + "\" is not an IP address");
    }
    GeneralNamePtr gn(GENERAL_NAME_new());
    ASN1_OCTET_STRING* os = ASN1_OCTET_STRING_new();
    if (!gn || os == nullptr || ASN1_OCTET_STRING_set(os, buf, len) != 1) {
      ASN1_OCTET_STRING_free(os);
      return OpenSslInternal("building an IP subjectAltName");
    }
    GENERAL_NAME_set0_value(gn.get(), GEN_IPADD, os);
    if (sk_GENERAL_NAME_push(names.get(), gn.get()) == 0) {
      return OpenSslInternal("sk_GENERAL_NAME_push");
    }
    gn.release();
  }
  return names;
}

Result<Asn1ObjectPtr> ParseOid(std::string_view oid) {
  if (oid.empty() || oid.size() > 200) return InvalidArgument("bad OID");
  for (char c : oid) {
    if (!(c == '.' || (c >= '0' && c <= '9'))) {
      return InvalidArgument("\"" + std::string(oid) + "\" is not a dotted OID");
    }
  }
  Asn1ObjectPtr obj(OBJ_txt2obj(std::string(oid).c_str(), 1));
  if (!obj) return OpenSslInvalid("\"" + std::string(oid) + "\" is not a valid OID");
  return obj;
}

Result<int64_t> Asn1TimeToUnix(const ASN1_TIME* t) {
  if (t == nullptr) return InvalidArgument("missing time");
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return OpenSslInvalid("invalid time");
  return static_cast<int64_t>(timegm(&tm));
}

}  // namespace eg::crypto::internal
