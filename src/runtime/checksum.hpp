// The .nfpr integrity checksum: FNV-1a 64 over the file's tensor data buffer (every byte after the safetensors
// header), then over the runtime config string; stored as "fnv1a64:<16 hex digits>" in
// __metadata__.nfp_checksum by the exporter (src/export/export_nfpr.cpp includes this header) and verified at load.
// Why FNV-1a 64: ten lines with no table and no dependency (the runtime links nothing), 64 bits, and every
// single-byte change is detected by construction (each step h -> (h ^ byte) * prime is a bijection of h, so a
// changed byte gives a changed state that the remaining steps cannot merge back). CRC32 would also catch it but
// needs a table (or zlib) and keeps 32 bits. It is not a signature: it catches corruption (a flipped bit, a bad
// copy), not a crafted file, which the loader's validation of every size and value handles.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace nfp::rt {

constexpr uint64_t kFnv1a64Offset = 0xcbf29ce484222325ull;

inline uint64_t fnv1a64(const void* data, size_t n, uint64_t h = kFnv1a64Offset) {
  const unsigned char* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

// "fnv1a64:" + 16 lowercase hex digits.
inline std::string checksum_string(uint64_t h) {
  static const char* digits = "0123456789abcdef";
  std::string s = "fnv1a64:";
  for (int i = 15; i >= 0; --i) s += digits[(h >> (4 * i)) & 0xf];
  return s;
}

}  // namespace nfp::rt
