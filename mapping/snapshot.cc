#include "mapping/snapshot.h"

namespace eg::mapping {

const config::AccountConfig* MappingSnapshot::FindAccount(std::string_view name) const {
  for (const config::AccountConfig& a : accounts) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

}  // namespace eg::mapping
