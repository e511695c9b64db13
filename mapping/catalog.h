// ScmCatalog: what SCM says it offers (profiles with terms and key types, custom fields), per
// certificate type, as listed through ScmApi at start and on reload. The mapping checks the
// administrator's configuration and every request against it. Immutable after construction;
// safe to share between threads.
#pragma once

#include <utility>
#include <vector>

#include "core/cert_type.h"
#include "core/ports/scm_api.h"

namespace eg::mapping {

struct ScmCatalog {
  std::vector<std::pair<CertType, ScmProfile>> profiles;
  std::vector<std::pair<CertType, ScmCustomField>> custom_fields;

  const ScmProfile* FindProfile(CertType type, int64_t id) const;
  std::vector<const ScmCustomField*> CustomFields(CertType type) const;
};

// "RSA-2048" for (RSA, 2048): the spelling of ProfileConfig::key_types.
std::string KeyTypeLabel(const std::string& algorithm, const std::string& parameter);
// True if the SCM profile lists this algorithm and size/curve.
bool ScmProfileAllows(const ScmProfile& profile, const std::string& algorithm,
                      const std::string& parameter);

}  // namespace eg::mapping
