// A minimal JSON reader (objects, arrays, strings, numbers, booleans, null) so the runtime needs nothing but
// the standard library: it reads the safetensors header and the model config. Not a general JSON library:
// no \u escapes beyond ASCII, no writer. Errors throw nfp::rt::LoadError (only at load time).
#pragma once
#include <initializer_list>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace nfp::rt {

struct LoadError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct JsonValue {
  enum Kind { Null, Bool, Number, String, Array, Object } kind = Null;
  bool b = false;
  double num = 0;
  std::string str;
  std::vector<JsonValue> arr;
  std::map<std::string, JsonValue> obj;

  bool has(const std::string& key) const { return kind == Object && obj.count(key) > 0; }
  // Typed access; `where` names the value in the error message.
  const JsonValue& at(const std::string& key, const std::string& where) const;
  double number(const std::string& where) const;
  long long integer(const std::string& where) const;
  // An integer in [lo, hi], checked before it is narrowed (so 4294967296 cannot wrap to 0): the loader's one
  // way to read a size, a count or an index from a file.
  int int_in(long long lo, long long hi, const std::string& where) const;
  bool boolean(const std::string& where) const;
  const std::string& string(const std::string& where) const;
  std::vector<float> floats(const std::string& where) const;
  // With a default when the key is absent.
  long long get_int(const std::string& key, long long dflt, const std::string& where) const;
  int get_int_in(const std::string& key, long long dflt, long long lo, long long hi, const std::string& where) const;
  double get_number(const std::string& key, double dflt, const std::string& where) const;
  bool get_bool(const std::string& key, bool dflt, const std::string& where) const;
  std::string get_string(const std::string& key, const std::string& dflt, const std::string& where) const;
  // Throws naming the first key not in `known`: a misspelled key would otherwise be silently ignored (e.g. a
  // normalization key, making normalization the identity).
  void check_keys(std::initializer_list<const char*> known, const std::string& where) const;
};

JsonValue parse_json(const char* begin, const char* end);

// A name or value from a file, echoed in a message: at most 64 characters (a crafted file must not make a
// megabyte error line). The runtime's copy of nfp::truncate_for_message (it includes nothing of nfp).
std::string clip_for_message(const std::string& s);

}  // namespace nfp::rt
