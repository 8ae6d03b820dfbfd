// Fuzz target: JSON files through nfp's typed loaders: the monitor calibration (monitor.json), and where the build
// has the torch-side layers (NFP_FUZZ_JSON_TORCH) a checkpoint's policy config (config.json), its normalization
// statistics (stats.json), a training config (train_config.json / --config), a density model's config and a flow
// config. Every loader gets the same document. A value a loader accepts must round-trip: to_json of it loads again
// to the same JSON (so a loader never keeps what it cannot write back). Allowed outcomes: that, or nfp::Error (one
// line naming the file and key); an escaping nlohmann::json exception ("type must be number, but is string", with
// no key or file) or anything else aborts.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "nfp/error.hpp"
#include "nfp/json_io.hpp"
#include "nfp/monitor.hpp"
#ifdef NFP_FUZZ_JSON_TORCH
#include "nfp/density_model.hpp"
#include "nfp/flow.hpp"
#include "nfp/normalizer.hpp"
#include "nfp/policy.hpp"
#include "nfp/trainer.hpp"
#endif

namespace {

using nfp::json;

[[noreturn]] void finding(const char* loader, const std::string& what) {
  std::fprintf(stderr, "fuzz_json_config: %s: %s\n", loader, what.c_str());
  std::abort();
}

// Loads `j` as T; when accepted, to_json(T) must load again to the same JSON.
template <typename T>
void typed(const char* loader, const json& j) {
  json first;
  try {
    first = j.get<T>();
  } catch (const nfp::Error& e) {
    if (std::strchr(e.what(), '\n')) finding(loader, std::string("a multi-line error: ") + e.what());
    return;
  } catch (const std::exception& e) {
    finding(loader, std::string("unexpected exception: ") + e.what());
  }
  try {
    const json second = first.get<T>();
    if (second != first) finding(loader, "to_json of an accepted value loads to something else:\n" + first.dump() +
                                             "\n" + second.dump());
  } catch (const std::exception& e) {
    finding(loader, std::string("an accepted value does not load again: ") + e.what() + "\n" + first.dump());
  }
}

#ifdef NFP_FUZZ_JSON_TORCH
void stats(const json& j) {
  json first;
  try {
    first = nfp::Normalizer::from_json(j, "stats.json").to_json();
  } catch (const nfp::Error&) {
    return;
  } catch (const std::exception& e) {
    finding("stats", std::string("unexpected exception: ") + e.what());
  }
  try {
    if (nfp::Normalizer::from_json(first, "stats.json").to_json() != first)
      finding("stats", "to_json of accepted statistics loads to something else");
  } catch (const std::exception& e) {
    finding("stats", std::string("accepted statistics do not load again: ") + e.what());
  }
}
#endif

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const json j = json::parse(data, data + size, nullptr, false);
  if (j.is_discarded()) return 0;  // not JSON: read_json_file's parse error, nlohmann's own parser
  typed<nfp::MonitorCalibration>("monitor", j);
#ifdef NFP_FUZZ_JSON_TORCH
  typed<nfp::PolicyConfig>("policy", j);
  typed<nfp::TrainConfig>("train", j);
  typed<nfp::DensityModelConfig>("density", j);
  typed<nfp::FlowConfig>("flow", j);
  stats(j);
#endif
  return 0;
}
