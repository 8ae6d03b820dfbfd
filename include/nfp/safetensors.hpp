// Hugging Face safetensors files, without libtorch (the runtime links this too).
// Layout: u64 little-endian header length N, N bytes of JSON header
// {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {str: str}},
// then the data buffer; offsets are relative to the buffer. The header is padded with spaces to 8 bytes.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace nfp {

struct SafeTensor {
  std::string dtype;             // "F32", "F64", "I64", "U8", ... (safetensors dtype names)
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;     // little-endian bytes, numel * dtype_size(dtype)
  int64_t numel() const;
};

struct SafeTensorsFile {
  std::map<std::string, SafeTensor> tensors;
  std::map<std::string, std::string> metadata;
};

// Bytes per element of a safetensors dtype name; throws nfp::Error for an unknown name.
size_t safetensors_dtype_size(const std::string& dtype);

std::string encode_safetensors(const SafeTensorsFile& file);
// `source` names the file in error messages.
SafeTensorsFile decode_safetensors(const std::string& bytes, const std::string& source);

// Atomic; sets __metadata__.nfp_checksum (FNV-1a 64 of the data buffer), except in an .nfpr (metadata nfp_runtime),
// whose exporter sets its own over the config too. decode_safetensors verifies it where present and refuses a mismatch in one line.
void write_safetensors(const std::filesystem::path& path, const SafeTensorsFile& file);
SafeTensorsFile read_safetensors(const std::filesystem::path& path);

}  // namespace nfp
