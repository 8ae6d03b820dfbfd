// Fuzz target: an .nfpr runtime model through the C API, as a robot controller loads it: nfp_rt_model_load, then
// nfp_rt_model_info, a workspace and one sample call with a fixed observation (through nfp_rt_observe for a policy
// with cameras or an instruction), and the monitor when the file has one. The weight storage (f32, bf16, int8,
// w8a8) is picked by the input's size, so every path of the loader's quantizer is fed too.
//
// The file's checksum (runtime/checksum.hpp) is recomputed and written back into the input before it is loaded:
// without that nearly every mutation would stop at "checksum mismatch" and the fuzzer would never reach the config
// and weight validation behind it (the checksum check itself is a few lines covered by tests/runtime).
//
// Allowed outcomes: NULL with a one-line error, or a model whose calls return a status and, with NFP_RT_OK, only
// finite numbers. Anything else (a crash, a sanitizer report, a multi-line error, a NaN with OK) aborts.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unistd.h>
#include <vector>

#include "nfp/runtime.h"
#include "runtime/checksum.hpp"
#include "runtime/json_lite.hpp"

namespace {

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "fuzz_nfpr: %s\n", what);
  std::abort();
}

// Rewrites __metadata__.nfp_checksum to the checksum of the (mutated) data and config, when the header parses and
// the stored value has the exporter's length.
void fix_checksum(std::string& b) {
  if (b.size() < 8) return;
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(b[size_t(i)]);
  if (n > b.size() - 8) return;
  nfp::rt::JsonValue header;
  try {
    header = nfp::rt::parse_json(b.data() + 8, b.data() + 8 + n);
  } catch (const nfp::rt::LoadError&) {
    return;
  }
  if (!header.has("__metadata__")) return;
  const auto& meta = header.obj.at("__metadata__");
  if (!meta.has("nfp_runtime") || !meta.has("nfp_checksum")) return;
  const std::string& stored = meta.obj.at("nfp_checksum").str;
  const std::string& config = meta.obj.at("nfp_runtime").str;
  uint64_t h = nfp::rt::fnv1a64(b.data() + 8 + n, b.size() - 8 - n);
  h = nfp::rt::fnv1a64(config.data(), config.size(), h);
  const std::string want = nfp::rt::checksum_string(h);
  if (stored.size() != want.size()) return;
  const size_t at = b.find(stored, 8);
  if (at != std::string::npos && at + stored.size() <= 8 + n) b.replace(at, want.size(), want);
}

const std::string& temp_path() {
  static const std::string p = (access("/dev/shm", W_OK) == 0 ? std::string("/dev/shm") : std::string("/tmp")) +
                               "/nfp_fuzz_nfpr_" + std::to_string(getpid()) + ".nfpr";
  return p;
}

bool all_finite(const float* v, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (!std::isfinite(v[i])) return false;
  return true;
}

void exercise(nfp_rt_model* model) {
  nfp_rt_info info;
  std::memset(&info, 0, sizeof info);
  nfp_rt_model_info(model, &info);
  if (info.dim < 1 || info.horizon < 1 || info.action_dim < 1 || info.dim != info.horizon * info.action_dim)
    finding("a loaded model reports inconsistent sizes");
  if (info.obs_dim < 0 || info.cameras < 0 || info.history < 1 || !info.kind || !nfp_rt_model_config(model))
    finding("a loaded model reports an invalid info");
  nfp_rt_workspace* ws = nfp_rt_workspace_create(model, 2);
  if (!ws) return;  // out of memory for a crafted (but in-bounds) size: refused, not a crash
  std::vector<float> obs(size_t(info.obs_dim));
  for (size_t i = 0; i < obs.size(); ++i) obs[i] = 0.25f * float(int(i % 7) - 3);
  std::vector<float> actions(size_t(info.dim) * 2, -7.0f);
  double log_prob[2] = {0, 0};
  nfp_rt_status st;
  const size_t image_bytes = size_t(info.image_height) * size_t(info.image_width) * 3;
  if (info.cameras > 0 || info.instruction) {
    if (size_t(info.cameras) * size_t(info.history) * image_bytes > (size_t(64) << 20)) {
      nfp_rt_workspace_free(ws);
      return;
    }
    std::vector<std::vector<uint8_t>> frames(size_t(info.cameras) * size_t(info.history),
                                             std::vector<uint8_t>(image_bytes, 128));
    std::vector<const uint8_t*> images;
    for (auto& f : frames) images.push_back(f.data());
    nfp_rt_observation o;
    std::memset(&o, 0, sizeof o);
    o.state = info.obs_dim > 0 ? obs.data() : nullptr;
    o.images = info.cameras > 0 ? images.data() : nullptr;
    o.instruction = "lift the red cube";
    st = nfp_rt_observe(ws, &o);
    if (st == NFP_RT_OK) st = nfp_rt_sample(ws, nullptr, 1.0f, 7, 2, actions.data(), log_prob);
  } else {
    st = nfp_rt_sample(ws, info.obs_dim > 0 ? obs.data() : nullptr, 1.0f, 7, 2, actions.data(), log_prob);
  }
  if (std::getenv("NFP_FUZZ_VERBOSE")) std::fprintf(stderr, "fuzz_nfpr: sample: %s\n", nfp_rt_status_string(st));
  if (st == NFP_RT_OK && (!all_finite(actions.data(), actions.size()) || !std::isfinite(log_prob[0]) ||
                          !std::isfinite(log_prob[1])))
    finding("nfp_rt_sample returned NFP_RT_OK with a non-finite action or log p");
  if (st == NFP_RT_OK && info.monitor) {
    double score = 0;
    int alarm = 0;
    if (nfp_rt_monitor(model, 0, log_prob[0], &score, &alarm) == NFP_RT_OK && !std::isfinite(score) && !alarm)
      finding("nfp_rt_monitor gave a non-finite score without an alarm");
  }
  nfp_rt_workspace_free(ws);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  fix_checksum(bytes);
  {
    FILE* f = std::fopen(temp_path().c_str(), "wb");
    if (!f) finding("cannot write the temporary model file");
    if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) finding("short write");
    std::fclose(f);
  }
  static const char* const kWeights[] = {"", "bf16", "int8", "w8a8"};
  nfp_rt_load_options options;
  std::memset(&options, 0, sizeof options);
  options.weights = kWeights[size % 4];
  char error[512];
  error[0] = '\0';
  nfp_rt_model* model = nfp_rt_model_load_ex(temp_path().c_str(), &options, error, sizeof error);
  std::remove(temp_path().c_str());
  static const bool verbose = std::getenv("NFP_FUZZ_VERBOSE") != nullptr;  // triage: say what happened
  if (verbose) std::fprintf(stderr, "fuzz_nfpr: %s\n", model ? "loaded" : error);
  if (!model) {
    if (error[0] == '\0') finding("a refused model without an error message");
    if (std::strchr(error, '\n')) finding("a refused model with a multi-line error message");
    return 0;
  }
  exercise(model);
  nfp_rt_model_free(model);
  return 0;
}
