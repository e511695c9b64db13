// Checks the administrator's enrollment accounts against SCM's own listing, at start and on
// reload: a configuration SCM would reject is refused before any client is served, with a
// message naming the config key path and the SCM rule. Pure; thread-safe.
#pragma once

#include <vector>

#include "config/accounts.h"
#include "core/result.h"
#include "mapping/catalog.h"

namespace eg::mapping {

// Custom fields SCM requires when a code-signing token ships (mailing address). Provisional: the
// names are not public (docs/divergences.md).
const std::vector<std::string>& ShippingCustomFields();

// Ok, or InvalidArgument whose message lists every problem, one per line, each starting with
// its key path ("accounts.web.profiles.default.term_days: 400 is not a term SCM profile 1001
// 'TLS Server' allows (47, 90, 200, 365, 397)").
Result<void> ValidateAccounts(const std::vector<config::AccountConfig>& accounts,
                              const ScmCatalog& catalog);

}  // namespace eg::mapping
