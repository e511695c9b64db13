#include "issuance/catalog_codec.h"

#include <nlohmann/json.hpp>

namespace eg::issuance {

namespace {

using nlohmann::ordered_json;

constexpr int kVersion = 1;

ordered_json KeyTypes(const ScmProfile& profile) {
  ordered_json out = ordered_json::object();
  for (const auto& [algorithm, parameters] : profile.key_types) out[algorithm] = parameters;
  return out;
}

Result<CertType> ReadType(const ordered_json& entry, const std::string& path) {
  auto it = entry.find("type");
  if (it == entry.end() || !it->is_string()) {
    return InvalidArgument(path + ".type: missing or not a string");
  }
  auto type = ParseCertType(it->get<std::string>());
  if (!type)
    return InvalidArgument(path + ".type: unknown certificate type '" + it->get<std::string>() +
                           "'");
  return *type;
}

Result<std::pair<CertType, ScmProfile>> ReadProfile(const ordered_json& e,
                                                    const std::string& path) {
  if (!e.is_object()) return InvalidArgument(path + ": not an object");
  EG_ASSIGN_OR_RETURN(CertType type, ReadType(e, path));
  ScmProfile p;
  auto id = e.find("id");
  if (id == e.end() || !id->is_number_integer()) {
    return InvalidArgument(path + ".id: missing or not an integer");
  }
  p.id = id->get<int64_t>();
  auto name = e.find("name");
  if (name == e.end() || !name->is_string()) {
    return InvalidArgument(path + ".name: missing or not a string");
  }
  p.name = name->get<std::string>();
  if (auto d = e.find("description"); d != e.end()) {
    if (!d->is_string()) return InvalidArgument(path + ".description: not a string");
    p.description = d->get<std::string>();
  }
  auto terms = e.find("terms");
  if (terms == e.end() || !terms->is_array()) {
    return InvalidArgument(path + ".terms: missing or not an array");
  }
  for (size_t i = 0; i < terms->size(); ++i) {
    const auto& t = (*terms)[i];
    if (!t.is_number_integer()) {
      return InvalidArgument(path + ".terms[" + std::to_string(i) + "]: not an integer");
    }
    p.terms.push_back(t.get<int>());
  }
  auto keys = e.find("key_types");
  if (keys == e.end() || !keys->is_object()) {
    return InvalidArgument(path + ".key_types: missing or not an object");
  }
  for (const auto& [algorithm, parameters] : keys->items()) {
    const std::string key_path = path + ".key_types." + algorithm;
    if (!parameters.is_array()) return InvalidArgument(key_path + ": not an array");
    std::vector<std::string> list;
    for (const auto& v : parameters) {
      if (!v.is_string()) return InvalidArgument(key_path + ": not an array of strings");
      list.push_back(v.get<std::string>());
    }
    p.key_types.emplace_back(algorithm, std::move(list));
  }
  return std::make_pair(type, std::move(p));
}

Result<std::pair<CertType, ScmCustomField>> ReadField(const ordered_json& e,
                                                      const std::string& path) {
  if (!e.is_object()) return InvalidArgument(path + ": not an object");
  EG_ASSIGN_OR_RETURN(CertType type, ReadType(e, path));
  ScmCustomField f;
  auto id = e.find("id");
  if (id == e.end() || !id->is_number_integer()) {
    return InvalidArgument(path + ".id: missing or not an integer");
  }
  f.id = id->get<int64_t>();
  auto name = e.find("name");
  if (name == e.end() || !name->is_string()) {
    return InvalidArgument(path + ".name: missing or not a string");
  }
  f.name = name->get<std::string>();
  if (auto m = e.find("mandatory"); m != e.end()) {
    if (!m->is_boolean()) return InvalidArgument(path + ".mandatory: not a boolean");
    f.mandatory = m->get<bool>();
  }
  if (auto ids = e.find("profile_ids"); ids != e.end()) {
    if (!ids->is_array()) return InvalidArgument(path + ".profile_ids: not an array");
    for (const auto& id : *ids) {
      if (!id.is_number_integer()) {
        return InvalidArgument(path + ".profile_ids: not an array of integers");
      }
      f.profile_ids.push_back(id.get<int64_t>());
    }
  }
  return std::make_pair(type, std::move(f));
}

}  // namespace

std::string EncodeCatalog(const mapping::ScmCatalog& catalog) {
  ordered_json profiles = ordered_json::array();
  for (const auto& [type, p] : catalog.profiles) {
    profiles.push_back({{"type", CertTypeName(type)},
                        {"id", p.id},
                        {"name", p.name},
                        {"description", p.description},
                        {"terms", p.terms},
                        {"key_types", KeyTypes(p)}});
  }
  ordered_json fields = ordered_json::array();
  for (const auto& [type, f] : catalog.custom_fields) {
    ordered_json field = {
        {"type", CertTypeName(type)}, {"id", f.id}, {"name", f.name}, {"mandatory", f.mandatory}};
    if (!f.profile_ids.empty()) field["profile_ids"] = f.profile_ids;
    fields.push_back(std::move(field));
  }
  ordered_json doc = {{"version", kVersion}, {"profiles", profiles}, {"custom_fields", fields}};
  return doc.dump();
}

Result<mapping::ScmCatalog> DecodeCatalog(std::string_view text) {
  ordered_json doc = ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return InvalidArgument("SCM catalog: not valid JSON");
  if (!doc.is_object()) return InvalidArgument("SCM catalog: not a JSON object");
  auto version = doc.find("version");
  if (version == doc.end() || !version->is_number_integer() || version->get<int>() != kVersion) {
    return InvalidArgument("SCM catalog.version: missing or not " + std::to_string(kVersion));
  }
  mapping::ScmCatalog catalog;
  auto profiles = doc.find("profiles");
  if (profiles == doc.end() || !profiles->is_array()) {
    return InvalidArgument("SCM catalog.profiles: missing or not an array");
  }
  for (size_t i = 0; i < profiles->size(); ++i) {
    EG_ASSIGN_OR_RETURN(
        auto entry, ReadProfile((*profiles)[i], "SCM catalog.profiles[" + std::to_string(i) + "]"));
    catalog.profiles.push_back(std::move(entry));
  }
  auto fields = doc.find("custom_fields");
  if (fields == doc.end() || !fields->is_array()) {
    return InvalidArgument("SCM catalog.custom_fields: missing or not an array");
  }
  for (size_t i = 0; i < fields->size(); ++i) {
    EG_ASSIGN_OR_RETURN(auto entry, ReadField((*fields)[i], "SCM catalog.custom_fields[" +
                                                                std::to_string(i) + "]"));
    catalog.custom_fields.push_back(std::move(entry));
  }
  return catalog;
}

}  // namespace eg::issuance
