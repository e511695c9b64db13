// MappingSnapshot: what requests are decided against — the administrator's enrollment accounts
// and SCM's listing (profiles, terms, key types, custom fields) they were checked against.
//
// An immutable value: the daemon builds one at start and on reload and swaps it whole, and each
// request holds the snapshot it started with (a std::shared_ptr<const MappingSnapshot>).
// Thread-safe to read from any number of threads.
#pragma once

#include <string_view>
#include <vector>

#include "config/accounts.h"
#include "core/clock.h"
#include "mapping/catalog.h"

namespace eg::mapping {

struct MappingSnapshot {
  std::vector<config::AccountConfig> accounts;
  ScmCatalog catalog;
  TimePoint catalog_fetched_at{};
  bool catalog_from_store = false;  // SCM was unreachable: the last published listing

  // The account named `name`, or nullptr.
  const config::AccountConfig* FindAccount(std::string_view name) const;
};

}  // namespace eg::mapping
