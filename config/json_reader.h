// Internal to config/: reading one JSON object of the config with key paths in every error.
//
// ObjectReader wraps a JSON object (not owned; it must outlive the reader) and the key path that
// names it ("accounts[1].profiles[0]"). Opening it checks the value is an object and that every
// key is one of the known ones (an unknown key is an error that suggests the nearest known key).
// The getters leave the output untouched when a key is absent (so struct defaults stay), check
// the JSON type and range, and return InvalidArgument errors whose message begins with the key
// path. Nothing here throws. Not thread-safe (a reader is used by one loading call).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/result.h"

namespace eg::config::internal {

using Json = nlohmann::json;

// "server" + "port" -> "server.port"; "" + "server" -> "server".
std::string KeyPath(std::string_view parent, std::string_view key);
// "accounts" + 1 -> "accounts[1]".
std::string IndexPath(std::string_view parent, size_t index);
// InvalidArgument("<path>: <message>"); the top level is named "(top level)".
Error PathError(std::string_view path, std::string_view message);
// "a string", "an integer", "an object", ... for "expected X, got Y" messages.
std::string DescribeJsonType(const Json& value);
// The known key closest to `key` by edit distance, or "" if none is close enough.
std::string SuggestKey(std::string_view key, const std::vector<std::string_view>& known);

class ObjectReader {
 public:
  // Fails unless `value` is an object whose keys are all in `known`.
  static Result<ObjectReader> Open(const Json& value, std::string path,
                                   std::initializer_list<std::string_view> known);

  const std::string& path() const { return path_; }
  std::string PathOf(std::string_view key) const { return KeyPath(path_, key); }
  Error ErrorAt(std::string_view key, std::string_view message) const {
    return PathError(PathOf(key), message);
  }
  bool Has(std::string_view key) const;
  // The value at `key`, or nullptr when absent.
  const Json* Find(std::string_view key) const;
  // Error "<path>.<key>: missing required key" when absent.
  Result<void> Require(std::string_view key) const;

  // `non_empty`: an empty string is an error ("must not be empty").
  Result<void> String(std::string_view key, std::string* out, bool non_empty = false) const;
  Result<void> Bool(std::string_view key, bool* out) const;
  // Integers only (1.0 and "1" are rejected); the range is inclusive. `range_text` replaces the
  // default "must be between MIN and MAX" wording.
  Result<void> Int64(std::string_view key, int64_t* out, int64_t min, int64_t max,
                     std::string_view range_text = {}) const;
  template <typename T>
  Result<void> Int(std::string_view key, T* out, int64_t min, int64_t max,
                   std::string_view range_text = {}) const {
    int64_t v = static_cast<int64_t>(*out);
    EG_TRY(Int64(key, &v, min, max, range_text));
    *out = static_cast<T>(v);
    return Ok();
  }
  // An array of strings; `non_empty_items`: an empty string item is an error.
  Result<void> StringList(std::string_view key, std::vector<std::string>* out,
                          bool non_empty_items = true) const;
  // The array at `key` (checked to be one), or nullptr when absent.
  Result<const Json*> Array(std::string_view key) const;

 private:
  ObjectReader(const Json* value, std::string path) : value_(value), path_(std::move(path)) {}
  const Json* value_;
  std::string path_;
};

}  // namespace eg::config::internal
