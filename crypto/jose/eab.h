// External account binding (RFC 8555 §7.3.4): the inner JWS in newAccount's
// "externalAccountBinding", MAC'd with a key the CA gave the subscriber out of band.
//
// Two steps, because the HMAC key is found by the inner "kid": ParseEab checks everything that
// needs no key (flattened form, alg HS256/HS384/HS512, "kid", "url" equal to the outer url, no
// "nonce", payload is the outer account key), then VerifyEabMac checks the MAC in constant time.
// Errors are classed as errors.h says; a wrong MAC is unauthorized. Pure functions; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/result.h"
#include "crypto/base64.h"
#include "crypto/key.h"

namespace eg::crypto::jose {

enum class EabAlg { kHs256, kHs384, kHs512 };
std::string_view EabAlgName(EabAlg alg);  // "HS256" ...

struct Eab {
  EabAlg alg = EabAlg::kHs256;
  std::string kid;            // the EAB key id, to look the HMAC key up
  std::string signing_input;  // ASCII(protected) '.' ASCII(payload)
  Bytes mac;
};

// `eab` is the "externalAccountBinding" value of the outer payload; `outer_url` and
// `account_key` are the outer JWS's "url" and "jwk".
Result<Eab> ParseEab(const nlohmann::json& eab, std::string_view outer_url,
                     const PublicKey& account_key);

// Checks the MAC with the raw HMAC key, or with the key as the CA hands it out (base64url).
Result<void> VerifyEabMac(const Eab& eab, const Bytes& hmac_key);
Result<void> VerifyEabMacB64(const Eab& eab, std::string_view hmac_key_b64url);

// The client side: the "externalAccountBinding" object for newAccount.
Result<nlohmann::json> BuildEab(std::string_view kid, const Bytes& hmac_key, EabAlg alg,
                                std::string_view url, const PublicKey& account_key);

}  // namespace eg::crypto::jose
