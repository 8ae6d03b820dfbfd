#include "nfp/safetensors.hpp"

#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "nfp/atomic_file.hpp"
#include "nfp/error.hpp"
#include "runtime/checksum.hpp"  // header-only FNV-1a 64, the .nfpr checksum

namespace nfp {
namespace {

static_assert(sizeof(uint64_t) == 8);
constexpr uint64_t kMaxHeader = uint64_t(100) << 20;  // 100 MB, the limit the reference implementation uses

const std::map<std::string, size_t>& dtype_sizes() {
  static const std::map<std::string, size_t> sizes = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"I16", 2}, {"U16", 2}, {"F16", 2}, {"BF16", 2},
      {"I32", 4},  {"U32", 4}, {"F32", 4}, {"I64", 8}, {"U64", 8}, {"F64", 8}};
  return sizes;
}

uint64_t read_u64_le(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

}  // namespace

size_t safetensors_dtype_size(const std::string& dtype) {
  const auto it = dtype_sizes().find(dtype);
  require(it != dtype_sizes().end(), "unknown safetensors dtype " + quoted_value(dtype));
  return it->second;
}

int64_t SafeTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string encode_safetensors(const SafeTensorsFile& file) {
  nlohmann::json header = nlohmann::json::object();
  if (!file.metadata.empty()) header["__metadata__"] = file.metadata;
  uint64_t offset = 0;
  for (const auto& [name, t] : file.tensors) {
    require(name != "__metadata__", "a tensor cannot be named __metadata__");
    const uint64_t bytes = uint64_t(t.numel()) * safetensors_dtype_size(t.dtype);
    require(bytes == t.data.size(), "tensor '" + name + "': data holds " + std::to_string(t.data.size()) +
                                        " bytes but dtype and shape need " + std::to_string(bytes));
    header[name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  const uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  out += h;
  out.reserve(out.size() + offset);
  for (const auto& [name, t] : file.tensors) out.append(reinterpret_cast<const char*>(t.data.data()), t.data.size());
  return out;
}

SafeTensorsFile decode_safetensors(const std::string& bytes, const std::string& source) {
  const std::string where = "'" + source + "' is not a valid safetensors file: ";
  require(bytes.size() >= 8, where + "shorter than its 8-byte header length (truncated?)");
  const uint64_t n = read_u64_le(bytes.data());
  require(n <= kMaxHeader, where + "header length " + std::to_string(n) + " is implausible (corrupt file?)");
  require(n <= bytes.size() - 8, where + "header says " + std::to_string(n) + " bytes but the file has only " +
                                     std::to_string(bytes.size() - 8) + " after the length (truncated?)");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  } catch (const nlohmann::json::exception& e) {
    throw Error(where + "header is not JSON (" + e.what() + ")");
  }
  require(header.is_object(), where + "header is not a JSON object");
  const uint64_t buffer_size = bytes.size() - 8 - n;
  const char* buffer = bytes.data() + 8 + n;
  SafeTensorsFile out;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      require(entry.is_object(), where + "__metadata__ is not an object");
      for (const auto& [k, v] : entry.items()) {
        require(v.is_string(), where + "__metadata__ value " + quoted_value(k) + " is not a string");
        out.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    const std::string what = where + "tensor " + quoted_value(name) + " ";
    require(entry.is_object() && entry.contains("dtype") && entry.contains("shape") && entry.contains("data_offsets"),
            what + "lacks dtype, shape or data_offsets");
    SafeTensor t;
    require(entry["dtype"].is_string(), what + "has a non-string dtype");
    t.dtype = entry["dtype"].get<std::string>();
    require(dtype_sizes().count(t.dtype) == 1, what + "has unknown dtype " + quoted_value(t.dtype));
    require(entry["shape"].is_array(), what + "has a non-array shape");
    for (const auto& d : entry["shape"]) {
      require(d.is_number_integer() && d.get<int64_t>() >= 0, what + "has a negative or non-integer dimension");
      t.shape.push_back(d.get<int64_t>());
    }
    const auto& off = entry["data_offsets"];
    require(off.is_array() && off.size() == 2 && off[0].is_number_unsigned() && off[1].is_number_unsigned(),
            what + "has malformed data_offsets");
    const uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    require(begin <= end && end <= buffer_size,
            what + "points outside the data buffer (offsets " + std::to_string(begin) + ".." + std::to_string(end) +
                ", buffer " + std::to_string(buffer_size) + " bytes; truncated?)");
    // Overflow-safe size check: numel * itemsize must equal the byte range.
    uint64_t expect = safetensors_dtype_size(t.dtype);
    for (int64_t d : t.shape) {
      require(d == 0 || expect <= std::numeric_limits<uint64_t>::max() / uint64_t(d), what + "shape is too large");
      expect *= uint64_t(d);
    }
    require(expect == end - begin, what + "has " + std::to_string(end - begin) + " bytes but dtype and shape need " +
                                       std::to_string(expect));
    t.data.assign(reinterpret_cast<const uint8_t*>(buffer + begin), reinterpret_cast<const uint8_t*>(buffer + end));
    out.tensors.emplace(name, std::move(t));
  }
  // nfp's files carry the FNV-1a 64 of their data buffer (then, in an .nfpr, of its runtime config): a changed byte
  // is refused here, not trained on or resumed from. Files from other tools have none and are read as they are.
  if (const auto it = out.metadata.find("nfp_checksum"); it != out.metadata.end()) {
    uint64_t h = rt::fnv1a64(buffer, size_t(buffer_size));
    if (const auto cfg = out.metadata.find("nfp_runtime"); cfg != out.metadata.end())
      h = rt::fnv1a64(cfg->second.data(), cfg->second.size(), h);
    require(it->second == rt::checksum_string(h),
            "'" + source + "' is corrupt: its checksum does not match its data (a changed byte, a bad copy or a "
            "truncated write); restore it from a good copy (a run keeps older checkpoints in RUN/checkpoints/)");
  }
  return out;
}

void write_safetensors(const std::filesystem::path& path, const SafeTensorsFile& file) {
  // An .nfpr carries its own checksum (over its config too): written as given.
  if (file.metadata.count("nfp_runtime")) return write_file_atomic(path, encode_safetensors(file));
  SafeTensorsFile with = file;
  uint64_t h = rt::kFnv1a64Offset;  // the data buffer as encode_safetensors lays it out: tensors in name order
  for (const auto& [name, t] : file.tensors) h = rt::fnv1a64(t.data.data(), t.data.size(), h);
  with.metadata["nfp_checksum"] = rt::checksum_string(h);
  write_file_atomic(path, encode_safetensors(with));
}

SafeTensorsFile read_safetensors(const std::filesystem::path& path) {
  return decode_safetensors(read_file(path), path.string());
}

}  // namespace nfp
