// PEM (RFC 7468) encode/decode. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "crypto/base64.h"

namespace eg::crypto {

// "-----BEGIN <label>-----\n" + base64 in 64-column lines + "-----END <label>-----\n".
std::string PemEncode(std::string_view label, const Bytes& der);

struct PemBlock {
  std::string label;
  Bytes der;
};

// Every PEM block in `text`, in order; text between blocks is ignored. A block whose END label
// differs from its BEGIN label, or whose body is not base64, is an InvalidArgument.
Result<std::vector<PemBlock>> PemDecodeAll(std::string_view text);
// Exactly the first block, which must carry `label` (else InvalidArgument naming both labels).
Result<Bytes> PemDecode(std::string_view text, std::string_view label);

}  // namespace eg::crypto
