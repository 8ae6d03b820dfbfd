// JSON files and typed access with clear errors (nlohmann::json underneath).
#pragma once
#include <cstdint>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <vector>

#include "nfp/error.hpp"

namespace nfp {

using json = nlohmann::json;

// Parses a JSON file; errors name the file and the parser's position.
json read_json_file(const std::filesystem::path& path);
// Writes pretty-printed JSON atomically.
void write_json_file(const std::filesystem::path& path, const json& value);

// Every key of object `j` must be one of `known` (a typo in a config must not silently fall back to a default);
// otherwise nfp::Error "<where>: unknown key 'k'; known keys: a, b, ...". A non-object `j` is an error too.
void require_known_keys(const json& j, const std::vector<std::string>& known, const std::string& where);
// The keys of an object, in its order (e.g. of a config's to_json, as the known keys).
std::vector<std::string> json_keys(const json& object);

// Reads `key` from object `j` as T if present, else returns `fallback`. A value of the wrong type throws
// nfp::Error naming `where` and the key.
// An integer T must be given as an integer in T's range: nlohmann converts a float to an integer with a plain cast
// (undefined behaviour out of range: "seed": 3e110) and narrows a wide integer silently.
template <typename T>
T json_get(const json& j, const std::string& key, const T& fallback, const std::string& where) {
  if (!j.is_object() || !j.contains(key) || j.at(key).is_null()) return fallback;
  const json& v = j.at(key);
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    constexpr uint64_t hi = uint64_t(std::numeric_limits<T>::max());
    constexpr int64_t lo = int64_t(std::numeric_limits<T>::min());
    const bool ok = v.is_number_unsigned() ? v.get<uint64_t>() <= hi
                    : v.is_number_integer() ? v.get<int64_t>() >= lo && (v.get<int64_t>() < 0 || uint64_t(v.get<int64_t>()) <= hi)
                                            : false;
    if (!ok)
      throw Error(where + ": key '" + key + "' must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                  "], got " + truncate_for_message(v.dump()));
    return v.get<T>();
  } else {
    try {
      return v.get<T>();
    } catch (const json::exception&) {
      throw Error(where + ": key '" + key + "' has the wrong type (" + truncate_for_message(v.dump()) + ")");
    }
  }
}

}  // namespace nfp
