// EstStore: the port for what EST (RFC 7030) keeps beyond enrollments — private keys the gateway
// generated for serverkeygen (§4.4), sealed, until the device has had time to collect them.
// A device whose serverkeygen request is answered 202 repeats the same request; the key it then
// receives must be the one the pending certificate was requested for, so the key lives in the
// store (several daemons may answer the retry), never only in memory.
//
// Guarantees every implementation gives (checked by tests/storage):
// - Each method is one transaction.
// - request_key is unique: PutServerKey refuses a second key for it with kAlreadyExists (two
//   daemons racing on one retry keep the first key; the loser reads it back).
// - The sealed bytes are stored and returned as given (the store never sees a clear key).
// Implementations are safe to call from several threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/result.h"

namespace eg {

struct SealedServerKey {
  std::string request_key;      // the serverkeygen request's idempotency key
  std::vector<uint8_t> sealed;  // AES-256-GCM sealed PKCS#8 (crypto/seal.h)
  TimePoint created_at{};
};

class EstStore {
 public:
  virtual ~EstStore() = default;
  virtual Result<void> PutServerKey(const SealedServerKey& key) = 0;  // kAlreadyExists
  virtual Result<std::optional<SealedServerKey>> GetServerKey(const std::string& request_key) = 0;
  // Deletes keys created before `created_before`; returns how many.
  virtual Result<int64_t> PurgeServerKeys(TimePoint created_before) = 0;
};

}  // namespace eg
