// Input limits every transport applies before a handler sees a request. Constants only.
#pragma once

#include <cstddef>

namespace eg::http {

// Largest request body accepted unless the configuration says otherwise
// (config `server.max_body_bytes`); a bigger body is answered 413 without reaching a handler.
inline constexpr size_t kDefaultMaxBodyBytes = 256 * 1024;

// Longest request path a router looks at; a longer one is answered 414 by the transport (whose
// own header-size limit also bounds the query string).
inline constexpr size_t kMaxTargetBytes = 8 * 1024;

}  // namespace eg::http
