#include "config/json_reader.h"

#include <algorithm>

namespace eg::config::internal {

std::string KeyPath(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  std::string out(parent);
  out += '.';
  out += key;
  return out;
}

std::string IndexPath(std::string_view parent, size_t index) {
  std::string out(parent);
  out += '[';
  out += std::to_string(index);
  out += ']';
  return out;
}

Error PathError(std::string_view path, std::string_view message) {
  std::string m(path.empty() ? std::string_view("(top level)") : path);
  m += ": ";
  m += message;
  return InvalidArgument(std::move(m));
}

std::string DescribeJsonType(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::object:
      return "an object";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::string:
      return "a string";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "an integer";
    case Json::value_t::number_float:
      return "a fractional number";
    default:
      return "an unsupported value";
  }
}

namespace {

// Optimal string alignment distance: insertions, deletions, substitutions and transpositions of
// neighbours ("prot" -> "port" is 1).
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

Error TypeError(std::string_view path, std::string_view expected, const Json& got) {
  std::string m = "expected ";
  m += expected;
  m += ", got ";
  m += DescribeJsonType(got);
  return PathError(path, m);
}

}  // namespace

std::string SuggestKey(std::string_view key, const std::vector<std::string_view>& known) {
  size_t best = std::numeric_limits<size_t>::max();
  std::string_view best_key;
  for (std::string_view k : known) {
    size_t d = EditDistance(key, k);
    if (d < best) {
      best = d;
      best_key = k;
    }
  }
  size_t limit = std::max<size_t>(1, std::min(key.size(), best_key.size()) / 3);
  if (best_key.empty() || best > limit) return "";
  return std::string(best_key);
}

Result<ObjectReader> ObjectReader::Open(const Json& value, std::string path,
                                        std::initializer_list<std::string_view> known) {
  if (!value.is_object()) return TypeError(path, "an object", value);
  std::vector<std::string_view> known_keys(known);
  for (const auto& item : value.items()) {
    const std::string& key = item.key();
    if (std::find(known_keys.begin(), known_keys.end(), key) != known_keys.end()) continue;
    std::string m = "unknown key";
    std::string suggestion = SuggestKey(key, known_keys);
    if (!suggestion.empty()) m += " (did you mean \"" + suggestion + "\"?)";
    return PathError(KeyPath(path, key), m);
  }
  return ObjectReader(&value, std::move(path));
}

bool ObjectReader::Has(std::string_view key) const { return Find(key) != nullptr; }

const Json* ObjectReader::Find(std::string_view key) const {
  auto it = value_->find(key);
  return it == value_->end() ? nullptr : &*it;
}

Result<void> ObjectReader::Require(std::string_view key) const {
  if (!Has(key)) return ErrorAt(key, "missing required key");
  return Ok();
}

Result<void> ObjectReader::String(std::string_view key, std::string* out, bool non_empty) const {
  const Json* v = Find(key);
  if (v == nullptr) return Ok();
  if (!v->is_string()) return TypeError(PathOf(key), "a string", *v);
  const auto& s = v->get_ref<const std::string&>();
  if (non_empty && s.empty()) return ErrorAt(key, "must not be empty");
  if (s.find('\0') != std::string::npos) return ErrorAt(key, "must not contain NUL characters");
  *out = s;
  return Ok();
}

Result<void> ObjectReader::Bool(std::string_view key, bool* out) const {
  const Json* v = Find(key);
  if (v == nullptr) return Ok();
  if (!v->is_boolean()) return TypeError(PathOf(key), "a boolean (true or false)", *v);
  *out = v->get<bool>();
  return Ok();
}

Result<void> ObjectReader::Int64(std::string_view key, int64_t* out, int64_t min, int64_t max,
                                 std::string_view range_text) const {
  const Json* v = Find(key);
  if (v == nullptr) return Ok();
  if (!v->is_number_integer()) return TypeError(PathOf(key), "an integer", *v);
  bool in_range;
  int64_t value = 0;
  if (v->is_number_unsigned()) {
    uint64_t u = v->get<uint64_t>();
    in_range = u <= static_cast<uint64_t>(max) && (min <= 0 || u >= static_cast<uint64_t>(min));
    value = in_range ? static_cast<int64_t>(u) : 0;
  } else {
    value = v->get<int64_t>();
    in_range = value >= min && value <= max;
  }
  if (!in_range) {
    std::string m;
    if (!range_text.empty()) {
      m = std::string(range_text);
    } else if (max == std::numeric_limits<int64_t>::max()) {
      m = "must be at least " + std::to_string(min);
    } else {
      m = "must be between " + std::to_string(min) + " and " + std::to_string(max);
    }
    m += " (got " + v->dump() + ")";
    return ErrorAt(key, m);
  }
  *out = value;
  return Ok();
}

Result<void> ObjectReader::StringList(std::string_view key, std::vector<std::string>* out,
                                      bool non_empty_items) const {
  EG_ASSIGN_OR_RETURN(const Json* array, Array(key));
  if (array == nullptr) return Ok();
  std::vector<std::string> items;
  for (size_t i = 0; i < array->size(); ++i) {
    const Json& item = (*array)[i];
    std::string path = IndexPath(PathOf(key), i);
    if (!item.is_string()) return TypeError(path, "a string", item);
    const auto& s = item.get_ref<const std::string&>();
    if (non_empty_items && s.empty()) return PathError(path, "must not be empty");
    if (s.find('\0') != std::string::npos) return PathError(path, "must not contain NUL");
    items.push_back(s);
  }
  *out = std::move(items);
  return Ok();
}

Result<const Json*> ObjectReader::Array(std::string_view key) const {
  const Json* v = Find(key);
  if (v == nullptr) return static_cast<const Json*>(nullptr);
  if (!v->is_array()) return TypeError(PathOf(key), "an array", *v);
  return v;
}

}  // namespace eg::config::internal
