// The key-encryption key of EST serverkeygen: AES-256 (32 bytes) sealing the private keys the
// gateway generates until the device collects them (protocols/est, core/ports/est_store.h).
// Kept in a file of its own (est.server_key_kek_file, default STATE/est-server-key.kek) as 64
// hex characters on one line; `openssl rand -hex 32` makes one. Every daemon sharing a store
// needs the same key. Stateless functions; safe from any thread (two daemons creating the file at
// once end up with the same key: the file is created without replacing an existing one).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/log.h"
#include "core/result.h"

namespace eg::daemon {

inline constexpr size_t kKekBytes = 32;

// Reads the key at `path`; when the file does not exist, generates 32 random bytes and writes
// them there (mode 0600, parent directories created) first. InvalidArgument naming `key_path`
// for a file that does not hold 64 hex characters; Unavailable for I/O failures.
Result<std::vector<uint8_t>> LoadOrCreateKek(const std::string& path, std::string_view key_path,
                                             Logger& logger);

}  // namespace eg::daemon
