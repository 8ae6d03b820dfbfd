// Fuzz target: a safetensors checkpoint (model.safetensors, train_state.safetensors) through decode_safetensors:
// the u64 header length, the JSON header, dtypes, shapes and data offsets. A decoded file must survive a round
// trip: encode_safetensors of it decodes to the same tensors and metadata (so the reader accepted only what the
// format can say). Allowed outcomes: that, or nfp::Error; anything else (another exception, a crash, a sanitizer
// report, a round trip that differs) aborts.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "nfp/error.hpp"
#include "nfp/safetensors.hpp"

namespace {

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "fuzz_safetensors: %s\n", what);
  std::abort();
}

bool same(const nfp::SafeTensorsFile& a, const nfp::SafeTensorsFile& b) {
  if (a.metadata != b.metadata || a.tensors.size() != b.tensors.size()) return false;
  for (const auto& [name, t] : a.tensors) {
    const auto it = b.tensors.find(name);
    if (it == b.tensors.end() || it->second.dtype != t.dtype || it->second.shape != t.shape ||
        it->second.data != t.data)
      return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  nfp::SafeTensorsFile file;
  try {
    file = nfp::decode_safetensors(bytes, "fuzz.safetensors");
  } catch (const nfp::Error& e) {
    if (std::strchr(e.what(), '\n')) finding("a multi-line error message (a name echoed with its line breaks)");
    return 0;  // refused
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_safetensors: unexpected exception: %s\n", e.what());
    std::abort();
  }
  for (const auto& [name, t] : file.tensors) {
    size_t expect = nfp::safetensors_dtype_size(t.dtype);
    bool zero = false;
    for (int64_t d : t.shape) {
      if (d < 0) finding("a decoded tensor with a negative dimension");
      zero = zero || d == 0;
      if (!zero) expect *= size_t(d);
    }
    if (t.data.size() != (zero ? 0 : expect)) finding("a decoded tensor whose bytes disagree with its shape");
  }
  try {
    const nfp::SafeTensorsFile again = nfp::decode_safetensors(nfp::encode_safetensors(file), "round trip");
    if (!same(file, again)) finding("encode(decode(x)) decodes to something else");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_safetensors: a decoded file does not re-encode: %s\n", e.what());
    std::abort();
  }
  return 0;
}
