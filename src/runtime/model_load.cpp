// Reading a .nfpr file: a safetensors file whose "__metadata__" holds the runtime config (JSON) under
// "nfp_runtime". Weights are the flow module's own dotted names under "flow."; PLU layers also carry their
// precomputed W and W^-1 ("flow.pluI.weight", "flow.pluI.inverse_weight"). Order: the header is parsed and
// every tensor's offsets checked, the config's format read, the checksum verified, then the model built (every
// size bounded, every weight finite) and every tensor of the file required to be used.
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "runtime/checksum.hpp"
#include "runtime/json_lite.hpp"
#include "runtime/model_build.hpp"

namespace nfp::rt {
namespace {

struct RawTensor {
  std::string dtype;
  std::vector<int64_t> shape;
  const char* data = nullptr;
  size_t bytes = 0;
};

struct Reader {
  std::string source, bytes;
  size_t data_begin = 0;  // the tensor data buffer: bytes[data_begin, size)
  JsonValue header;
  std::map<std::string, RawTensor> tensors;
  std::map<std::string, bool> used;

  [[noreturn]] void fail(const std::string& what) const {
    throw LoadError("'" + source + "': " + what);
  }

  // (Built by appending: GCC 12 at -O2 warns falsely, -Wrestrict, on "'" + std::string temporaries.)
  [[noreturn]] void not_a_permutation(const std::string& name, int n) const {
    std::string m = "'";
    m += clip_for_message(name);
    m += "' is not a permutation of 0..";
    m += std::to_string(n - 1);
    fail(m);
  }

  const RawTensor& get(const std::string& name, std::vector<int64_t> shape) {
    auto it = tensors.find(name);
    if (it == tensors.end()) fail("lacks the weight '" + clip_for_message(name) + "' (exported from a different model version?)");
    if (it->second.shape != shape) {
      std::ostringstream o;
      o << "weight '" << name << "' has shape [";
      for (size_t i = 0; i < it->second.shape.size(); ++i) o << (i ? "," : "") << it->second.shape[i];
      o << "], the config implies [";
      for (size_t i = 0; i < shape.size(); ++i) o << (i ? "," : "") << shape[i];
      o << "]";
      fail(o.str());
    }
    used[name] = true;
    return it->second;
  }
  bool has(const std::string& name) const { return tensors.count(name) > 0; }

  std::vector<float> floats(const std::string& name, std::vector<int64_t> shape) {
    const RawTensor& t = get(name, shape);
    size_t n = 1;
    for (auto d : shape) n *= size_t(d);
    std::vector<float> out(n);
    if (t.dtype == "F32") {
      std::memcpy(out.data(), t.data, n * 4);
    } else if (t.dtype == "F64") {
      for (size_t i = 0; i < n; ++i) {
        double v;
        std::memcpy(&v, t.data + 8 * i, 8);
        out[i] = float(v);
      }
    } else {
      fail("weight '" + clip_for_message(name) + "' has dtype " + clip_for_message(t.dtype) + "; expected F32");
    }
    for (float v : out)
      if (!std::isfinite(v)) fail("weight '" + clip_for_message(name) + "' holds a non-finite value");
    return out;
  }

  std::vector<int> indices(const std::string& name, int n) {
    const RawTensor& t = get(name, {n});
    std::vector<int> out(static_cast<size_t>(n));
    std::vector<bool> seen(size_t(n), false);
    for (int i = 0; i < n; ++i) {
      int64_t v;
      if (t.dtype == "I64") {
        std::memcpy(&v, t.data + 8 * i, 8);
      } else if (t.dtype == "F32") {
        float f;
        std::memcpy(&f, t.data + 4 * i, 4);
        if (!(f >= 0 && f < float(n)) || f != std::floor(f)) not_a_permutation(name, n);
        v = int64_t(f);
      } else {
        fail("weight '" + clip_for_message(name) + "' has dtype " + clip_for_message(t.dtype) + "; expected I64");
      }
      if (v < 0 || v >= n || seen[size_t(v)]) not_a_permutation(name, n);
      seen[size_t(v)] = true;
      out[size_t(i)] = int(v);
    }
    return out;
  }
};

Reader open_file(const std::string& path) {
  Reader r;
  r.source = path;
  std::ifstream f(path, std::ios::binary);
  if (!f) throw LoadError("cannot open '" + path + "' (does it exist? export one with `nfp export`)");
  std::ostringstream ss;
  ss << f.rdbuf();
  r.bytes = ss.str();
  const std::string& b = r.bytes;
  if (b.size() < 8) r.fail("is not an .nfpr file (shorter than its 8-byte header length; truncated?)");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | (unsigned char)b[size_t(i)];
  if (n > (uint64_t(100) << 20) || n > b.size() - 8) r.fail("is not an .nfpr file (bad header length; truncated or corrupt?)");
  JsonValue& header = r.header;
  try {
    header = parse_json(b.data() + 8, b.data() + 8 + n);
  } catch (const LoadError& e) {
    r.fail(std::string("is not an .nfpr file (") + e.what() + ")");
  }
  if (header.kind != JsonValue::Object) r.fail("is not an .nfpr file (header is not a JSON object)");
  const size_t buffer = b.size() - 8 - n;
  r.data_begin = size_t(8 + n);
  const char* base = b.data() + 8 + n;
  try {
  for (const auto& [name, v] : header.obj) {
    if (name == "__metadata__") continue;
    const std::string w = "tensor '" + clip_for_message(name) + "'";
    RawTensor t;
    t.dtype = v.at("dtype", w).string(w + " dtype");
    size_t elem = t.dtype == "F32" ? 4 : t.dtype == "F64" || t.dtype == "I64" ? 8 : 0;
    if (!elem) r.fail(w + " has unsupported dtype " + clip_for_message(t.dtype));
    size_t numel = 1;
    const JsonValue& shape = v.at("shape", w);
    if (shape.kind != JsonValue::Array || shape.arr.size() > 8) r.fail(w + " has a malformed shape");
    for (const auto& d : shape.arr) {
      const long long x = d.integer(w + " shape");
      if (x < 0 || x > (1ll << 32)) r.fail(w + " has an implausible shape");
      t.shape.push_back(x);
      // numel <= the buffer, so a product of large dimensions cannot wrap around to a small size
      if (x > 0 && numel > buffer / size_t(x)) r.fail(w + " is larger than the file's data (truncated or corrupt?)");
      numel *= size_t(x);
    }
    const auto& off = v.at("data_offsets", w).arr;
    if (off.size() != 2) r.fail(w + " has bad data_offsets");
    const long long b0 = off[0].integer(w), b1 = off[1].integer(w);
    if (b0 < 0 || b1 < b0 || size_t(b1) > buffer || size_t(b1 - b0) != numel * elem)
      r.fail(w + " has data_offsets outside the file or inconsistent with its shape (truncated or corrupt?)");
    t.data = base + b0;
    t.bytes = size_t(b1 - b0);
    r.tensors[name] = t;
  }
  } catch (const LoadError& e) {
    const std::string what = e.what();
    if (what.rfind("'" + path + "'", 0) == 0) throw;
    r.fail("is not an .nfpr file (" + what + ")");
  }
  if (!header.has("__metadata__") || !header.obj.at("__metadata__").has("nfp_runtime"))
    r.fail("is a safetensors file but not an .nfpr (no __metadata__.nfp_runtime config); export it with `nfp export`");
  const JsonValue& meta = header.obj.at("__metadata__");
  for (const auto& [k, v] : meta.obj)
    if (v.kind != JsonValue::String) r.fail("is not an .nfpr file (__metadata__ value '" + clip_for_message(k) + "' is not a string)");
  return r;
}

}  // namespace

namespace {
struct FileWeights : WeightSource {
  Reader* r;
  explicit FileWeights(Reader* reader) : r(reader) {}
  std::vector<float> floats(const std::string& name, std::vector<int64_t> shape) override { return r->floats(name, shape); }
  std::vector<int> indices(const std::string& name, int n) override { return r->indices(name, n); }
  bool has(const std::string& name) const override { return r->has(name); }
  void touch(const std::string& name) override {
    if (r->has(name)) r->used[name] = true;
  }
};
}  // namespace

// The stored checksum against the data buffer and the config (checksum.hpp): a flipped byte anywhere in the
// weights or the config is refused before anything is built from it.
void verify_checksum(const Reader& r, const std::string& config) {
  const JsonValue& meta = r.header.obj.at("__metadata__");
  if (!meta.has("nfp_checksum"))
    r.fail("has no __metadata__.nfp_checksum, so its integrity cannot be verified; re-export it with `nfp export`");
  const std::string& stored = meta.obj.at("nfp_checksum").str;
  uint64_t h = fnv1a64(r.bytes.data() + r.data_begin, r.bytes.size() - r.data_begin);
  h = fnv1a64(config.data(), config.size(), h);
  if (stored != checksum_string(h))
    r.fail("checksum mismatch (stored " + clip_for_message(stored) + ", computed " + checksum_string(h) +
           "): the file is corrupt (a changed byte, a bad copy); copy it again or re-export it with `nfp export`");
}

Model load_model(const std::string& path, WeightType weights) {
  Reader r = open_file(path);
  Model m;
  m.source = path;
  // The config is a JSON string inside the header's metadata.
  m.config_json = r.header.obj.at("__metadata__").obj.at("nfp_runtime").str;
  JsonValue config;
  try {
    config = parse_json(m.config_json.data(), m.config_json.data() + m.config_json.size());
    check_format(config);  // an older file gets its re-export hint, not a missing-checksum message
    verify_checksum(r, m.config_json);
    FileWeights w(&r);
    build_model(m, config, w);
  } catch (const LoadError& e) {
    const std::string what = e.what();
    if (what.rfind("'" + path + "'", 0) == 0) throw;
    r.fail(std::string("bad runtime config: ") + what);
  }
  for (const auto& [name, t] : r.tensors)
    if (!r.used.count(name))
      r.fail("holds the weight '" + clip_for_message(name) + "' that its config does not use (config and weights disagree)");
  quantize_conditioners(m, weights);
  return m;
}

}  // namespace nfp::rt
