// C++ wrapper over the C API (include/nfp/runtime.h): RAII handles and spans. Loading throws
// std::runtime_error; the per-call methods return nfp_rt_status ([[nodiscard]]: a status must be looked at) and
// never throw, so they stay real-time safe; wrap a call in nfp::runtime::check(...) to get an exception instead:
//   nfp::runtime::check(ws.sample(obs, sigma, seed, chunk), "sample");   // throws CallError unless NFP_RT_OK
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>

#include "nfp/runtime.h"

namespace nfp::runtime {

// A call that did not return NFP_RT_OK, e.g. "nfp runtime: sample: non-finite input or result: the observation
// ... holds NaN or Inf ...". status() is the C status (NFP_RT_NONFINITE for a NaN / Inf / FLT_MAX observation).
class CallError : public std::runtime_error {
 public:
  CallError(nfp_rt_status status, const std::string& call)
      : std::runtime_error("nfp runtime: " + call + ": " + nfp_rt_status_string(status)), status_(status) {}
  nfp_rt_status status() const { return status_; }

 private:
  nfp_rt_status status_;
};

// Throws CallError naming `call` unless status is NFP_RT_OK (the exception allocates: not for a real-time path).
inline void check(nfp_rt_status status, const char* call) {
  if (status != NFP_RT_OK) throw CallError(status, call);
}

class Model {
 public:
  // weights: "f32" (default), "bf16", "int8" or "w8a8" (nfp_rt_load_options).
  explicit Model(const std::string& path, const std::string& weights = "f32") {
    char err[1024] = {0};
    nfp_rt_load_options options{};
    options.weights = weights.c_str();
    ptr_.reset(nfp_rt_model_load_ex(path.c_str(), &options, err, sizeof err));
    if (!ptr_) throw std::runtime_error(err);
    nfp_rt_model_info(ptr_.get(), &info_);
  }
  const nfp_rt_info& info() const { return info_; }
  std::string config_json() const { return nfp_rt_model_config(ptr_.get()); }
  // The exported monitor's verdict on a chunk (nfp_rt_monitor): score and alarm.
  [[nodiscard]] nfp_rt_status monitor(int chunk_index, double log_prob, double* score, int* alarm) const {
    return nfp_rt_monitor(ptr_.get(), chunk_index, log_prob, score, alarm);
  }
  const nfp_rt_model* get() const { return ptr_.get(); }

 private:
  struct Free {
    void operator()(nfp_rt_model* m) const { nfp_rt_model_free(m); }
  };
  std::unique_ptr<nfp_rt_model, Free> ptr_;
  nfp_rt_info info_{};
};

class Workspace {
 public:
  Workspace(const Model& model, int max_samples = 1) : ws_(nfp_rt_workspace_create(model.get(), max_samples)) {
    if (!ws_) throw std::runtime_error("nfp runtime: cannot allocate a workspace");
  }
  // A policy's whole observation (nfp_rt_observe): images camera-major (camera c's frame j at c * history + j),
  // each info().image_height x image_width x 3 uint8. The calls given an empty obs then plan for it.
  [[nodiscard]] nfp_rt_status observe(std::span<const float> state, std::span<const uint8_t* const> images = {},
                                      const char* instruction = nullptr) {
    nfp_rt_observation o{};
    o.state = data(state);
    o.images = images.empty() ? nullptr : images.data();
    o.instruction = instruction;
    return nfp_rt_observe(ws_.get(), &o);
  }
  // obs: the observation's floats (a flow's context, a state-only policy's state vector), or empty for the one the
  // workspace holds (observe(), or the last call's).
  [[nodiscard]] nfp_rt_status sample(std::span<const float> obs, float sigma, uint64_t seed, std::span<float> actions,
                       double* log_prob = nullptr, int n = 1) {
    return nfp_rt_sample(ws_.get(), data(obs), sigma, seed, n, actions.data(), log_prob);
  }
  [[nodiscard]] nfp_rt_status sample_latent(std::span<const float> obs, std::span<const float> z, int n, std::span<float> actions,
                              double* log_prob = nullptr) {
    return nfp_rt_sample_latent(ws_.get(), data(obs), z.data(), n, actions.data(), log_prob);
  }
  [[nodiscard]] nfp_rt_status sbs(std::span<const float> obs, int n, float sigma, uint64_t seed, std::span<float> action,
                    double* log_prob = nullptr) {
    return nfp_rt_sbs(ws_.get(), data(obs), n, sigma, seed, action.data(), log_prob);
  }
  [[nodiscard]] nfp_rt_status gr(std::span<const float> obs, int steps, float step_size, float sigma, uint64_t seed,
                   std::span<float> action, double* log_prob = nullptr) {
    return nfp_rt_gr(ws_.get(), data(obs), steps, step_size, sigma, seed, action.data(), log_prob);
  }
  [[nodiscard]] nfp_rt_status log_prob(std::span<const float> obs, std::span<const float> actions, int n, double* log_prob) {
    return nfp_rt_log_prob(ws_.get(), data(obs), actions.data(), n, log_prob);
  }
  [[nodiscard]] nfp_rt_status log_prob_grad(std::span<const float> obs, std::span<const float> actions, int n, double* log_prob,
                              std::span<float> grad) {
    return nfp_rt_log_prob_grad(ws_.get(), data(obs), actions.data(), n, log_prob, grad.data());
  }
  [[nodiscard]] nfp_rt_status context(std::span<float> out) const { return nfp_rt_context(ws_.get(), out.data(), out.size()); }
  size_t bytes() const { return nfp_rt_workspace_bytes(ws_.get()); }

 private:
  static const float* data(std::span<const float> s) { return s.empty() ? nullptr : s.data(); }
  struct Free {
    void operator()(nfp_rt_workspace* w) const { nfp_rt_workspace_free(w); }
  };
  std::unique_ptr<nfp_rt_workspace, Free> ws_;
};

}  // namespace nfp::runtime
