// Reading a .nfpr file: a safetensors file whose "__metadata__" holds the runtime config (JSON) under
// "nfp_runtime". Weights are the flow module's own dotted names under "flow."; PLU layers also carry their
// precomputed W and W^-1 ("flow.pluI.weight", "flow.pluI.inverse_weight").
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

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
  std::map<std::string, RawTensor> tensors;
  std::map<std::string, bool> used;

  [[noreturn]] void fail(const std::string& what) const { throw LoadError("'" + source + "': " + what); }

  const RawTensor& get(const std::string& name, std::vector<int64_t> shape) {
    auto it = tensors.find(name);
    if (it == tensors.end()) fail("lacks the weight '" + name + "' (exported from a different model version?)");
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
      fail("weight '" + name + "' has dtype " + t.dtype + "; expected F32");
    }
    for (float v : out)
      if (!std::isfinite(v)) fail("weight '" + name + "' holds a non-finite value");
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
        v = int64_t(f);
      } else {
        fail("weight '" + name + "' has dtype " + t.dtype + "; expected I64");
      }
      if (v < 0 || v >= n || seen[size_t(v)]) fail("'" + name + "' is not a permutation of 0.." + std::to_string(n - 1));
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
  JsonValue header;
  try {
    header = parse_json(b.data() + 8, b.data() + 8 + n);
  } catch (const LoadError& e) {
    r.fail(std::string("is not an .nfpr file (") + e.what() + ")");
  }
  if (header.kind != JsonValue::Object) r.fail("is not an .nfpr file (header is not a JSON object)");
  const size_t buffer = b.size() - 8 - n;
  const char* base = b.data() + 8 + n;
  try {
  for (const auto& [name, v] : header.obj) {
    if (name == "__metadata__") continue;
    const std::string w = "tensor '" + name + "'";
    RawTensor t;
    t.dtype = v.at("dtype", w).string(w + " dtype");
    size_t elem = t.dtype == "F32" ? 4 : t.dtype == "F64" || t.dtype == "I64" ? 8 : 0;
    if (!elem) r.fail(w + " has unsupported dtype " + t.dtype);
    size_t numel = 1;
    for (const auto& d : v.at("shape", w).arr) {
      const long long x = d.integer(w + " shape");
      if (x < 0 || x > (1ll << 32)) r.fail(w + " has an implausible shape");
      t.shape.push_back(x);
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

Model load_model(const std::string& path, WeightType weights) {
  Reader r = open_file(path);
  Model m;
  m.source = path;
  // The config is a JSON string inside the header's metadata.
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | (unsigned char)r.bytes[size_t(i)];
  const JsonValue header = parse_json(r.bytes.data() + 8, r.bytes.data() + 8 + n);
  m.config_json = header.obj.at("__metadata__").obj.at("nfp_runtime").string("nfp_runtime");
  JsonValue config;
  try {
    config = parse_json(m.config_json.data(), m.config_json.data() + m.config_json.size());
    FileWeights w(&r);
    build_model(m, config, w);
  } catch (const LoadError& e) {
    const std::string what = e.what();
    if (what.rfind("'" + path + "'", 0) == 0) throw;
    r.fail(std::string("bad runtime config: ") + what);
  }
  for (const auto& [name, t] : r.tensors)
    if (!r.used.count(name)) r.fail("holds the weight '" + name + "' that its config does not use (config and weights disagree)");
  quantize_conditioners(m, weights);
  return m;
}

}  // namespace nfp::rt
