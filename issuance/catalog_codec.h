// Serializes SCM's catalog (mapping::ScmCatalog: profiles with terms and key types, custom
// fields, per certificate type) to JSON and back. enrollgated publishes the catalog it listed at
// start in the store (MetaStore entry "scm_catalog"), so `enrollgate mapping explain` and
// `enrollgate config check` decide against the same listing without calling SCM. Pure;
// thread-safe.
//
// The document:
//   {"version": 1,
//    "profiles": [{"type": "ssl", "id": 1001, "name": "...", "description": "...",
//                  "terms": [90, 365], "key_types": {"RSA": ["2048"], "EC": ["P-256"]}}],
//    "custom_fields": [{"type": "ssl", "id": 7, "name": "...", "mandatory": true,
//                       "profile_ids": [1004]}]}      (profile_ids only when SCM scoped it)
// Key types are an object whose member order is kept as SCM listed it.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"
#include "mapping/catalog.h"

namespace eg::issuance {

// The name of the MetaStore entry under which the daemon publishes the catalog.
inline constexpr std::string_view kCatalogMetaKey = "scm_catalog";

std::string EncodeCatalog(const mapping::ScmCatalog& catalog);
// InvalidArgument naming the first malformed member (e.g. "profiles[2].terms").
Result<mapping::ScmCatalog> DecodeCatalog(std::string_view json);

}  // namespace eg::issuance
