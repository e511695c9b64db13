#include "mapping/catalog.h"

namespace eg::mapping {

const ScmProfile* ScmCatalog::FindProfile(CertType type, int64_t id) const {
  for (const auto& [t, p] : profiles) {
    if (t == type && p.id == id) return &p;
  }
  return nullptr;
}

std::vector<const ScmCustomField*> ScmCatalog::CustomFields(CertType type) const {
  std::vector<const ScmCustomField*> out;
  for (const auto& [t, f] : custom_fields) {
    if (t == type) out.push_back(&f);
  }
  return out;
}

std::string KeyTypeLabel(const std::string& algorithm, const std::string& parameter) {
  return algorithm + "-" + parameter;
}

bool ScmProfileAllows(const ScmProfile& profile, const std::string& algorithm,
                      const std::string& parameter) {
  for (const auto& [alg, params] : profile.key_types) {
    if (alg != algorithm) continue;
    for (const auto& p : params) {
      if (p == parameter) return true;
    }
  }
  return false;
}

}  // namespace eg::mapping
