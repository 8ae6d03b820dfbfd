// The C API (include/nfp/runtime.h) over the internal Model / Workspace. Load and workspace creation may
// allocate and catch exceptions; the per-call functions only validate arguments and run the passes. No call
// returns NFP_RT_OK with a non-finite number: inputs are checked on entry (after normalization), the context
// after the encoder, and every chunk / log p / gradient before it is copied out (NFP_RT_NONFINITE otherwise,
// the caller's buffers untouched).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>

#include "nfp/runtime.h"
#include "runtime/exec.hpp"
#include "runtime/json_lite.hpp"

struct nfp_rt_model {
  nfp::rt::Model m;
};

struct nfp_rt_workspace {
  nfp::rt::Workspace w;
  const nfp_rt_model* model;
};

namespace {

using nfp::rt::Workspace;

// splitmix64 -> uniform doubles -> Box-Muller: deterministic for a seed on every platform.
struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return (double(next() >> 11) + 0.5) * 0x1.0p-53; }  // (0, 1)
};

void gaussian(uint64_t seed, float sigma, float* z, size_t n) {
  Rng r{seed};
  for (size_t i = 0; i < n; i += 2) {
    const double u = r.uniform(), v = r.uniform();
    const double rad = std::sqrt(-2.0 * std::log(u)), a = 2.0 * M_PI * v;
    z[i] = float(sigma * rad * std::cos(a));
    if (i + 1 < n) z[i + 1] = float(sigma * rad * std::sin(a));
  }
}

// A policy whose observation holds more than its state vector (nfp_rt_observe only).
bool needs_observe(const nfp::rt::Model& m) {
  return m.encoder.input.images.present() || m.encoder.input.instruction.present;
}

nfp_rt_status check(const nfp_rt_workspace* ws, const float* obs, int n) {
  if (!ws) return NFP_RT_BAD_ARGUMENT;
  if (n < 1) return NFP_RT_BAD_ARGUMENT;
  if (n > ws->w.max_rows) return NFP_RT_CAPACITY;
  if (obs && needs_observe(*ws->w.model)) return NFP_RT_BAD_ARGUMENT;
  if (!obs && ws->w.model->context_dim > 0 && !ws->w.context_ready) return NFP_RT_BAD_ARGUMENT;
  return NFP_RT_OK;
}

// The context of a call: obs encoded (and held), or the one the workspace holds (obs null; check() made sure).
bool use_context(Workspace& w, const float* obs) { return !obs || nfp::rt::set_context(w, obs); }

// Raw actions from normalized rows x (n x D) into out (may be null: only the check), only if every one is
// finite (a policy clamps the normalized chunk first, as nfp::Policy does); out is untouched otherwise.
bool denormalize(const nfp::rt::Model& m, const float* x, float* out, int n) {
  const size_t D = size_t(m.dim);
  const float c = m.action_clamp;
  auto raw = [&](size_t i) {
    const float v = c > 0 ? std::clamp(x[i], -c, c) : x[i];
    return m.action_std.empty() ? v : v * m.action_std[i % D] + m.action_mean[i % D];
  };
  for (size_t i = 0; i < size_t(n) * D; ++i)
    if (!std::isfinite(x[i]) || !std::isfinite(raw(i))) return false;
  if (out)
    for (size_t i = 0; i < size_t(n) * D; ++i) out[i] = raw(i);
  return true;
}

// Raw chunks a (n x D) -> normalized x; false if a value is unusable (nfp::rt::usable) once normalized.
bool normalize(const nfp::rt::Model& m, const float* a, float* x, int n) {
  const size_t D = size_t(m.dim);
  for (size_t i = 0; i < size_t(n) * D; ++i) {
    x[i] = m.action_std.empty() ? a[i] : (a[i] - m.action_mean[i % D]) * m.action_inv_std[i % D];
    if (!nfp::rt::usable(x[i])) return false;
  }
  return true;
}

bool finite_rows(const double* v, int n) {
  for (int i = 0; i < n; ++i)
    if (!std::isfinite(v[i])) return false;
  return true;
}

// ws.z holds the latents (n x D): x = inverse(z), logp = log N(z) - log|dx/dz|.
void run_inverse(Workspace& w, int n) {
  const int D = w.model->dim;
  std::memcpy(w.x.data(), w.z.data(), size_t(n) * D * sizeof(float));
  for (int r = 0; r < n; ++r) w.logdet[size_t(r)] = 0;
  nfp::rt::flow_inverse(w, w.x.data(), n, w.logdet.data());
  for (int r = 0; r < n; ++r)
    w.logp[size_t(r)] = nfp::rt::std_normal_log_prob(w.z.data() + size_t(r) * D, D) - w.logdet[size_t(r)];
}

// After run_inverse: copies the n chunks (raw units) and their log p out, or returns NFP_RT_NONFINITE with the
// outputs untouched when one of them is not finite.
nfp_rt_status finish_samples(Workspace& w, int n, float* actions, double* log_prob) {
  if (!finite_rows(w.logp.data(), n) || !denormalize(*w.model, w.x.data(), actions, n)) return NFP_RT_NONFINITE;
  if (log_prob) std::memcpy(log_prob, w.logp.data(), size_t(n) * sizeof(double));
  return NFP_RT_OK;
}

}  // namespace

extern "C" {

nfp_rt_model* nfp_rt_model_load(const char* path, char* error, size_t error_size) {
  return nfp_rt_model_load_ex(path, nullptr, error, error_size);
}

nfp_rt_model* nfp_rt_model_load_ex(const char* path, const nfp_rt_load_options* options, char* error,
                                   size_t error_size) {
  try {
    if (!path) throw nfp::rt::LoadError("no path given");
    const auto weights = nfp::rt::parse_weight_type(options && options->weights ? options->weights : "");
    return new nfp_rt_model{nfp::rt::load_model(path, weights)};
  } catch (const std::exception& e) {
    if (error && error_size) {
      std::strncpy(error, e.what(), error_size - 1);
      error[error_size - 1] = '\0';
    }
    return nullptr;
  }
}

void nfp_rt_model_free(nfp_rt_model* model) { delete model; }

void nfp_rt_model_info(const nfp_rt_model* model, nfp_rt_info* info) {
  const auto& m = model->m;
  info->dim = m.dim;
  info->horizon = m.horizon;
  info->action_dim = m.action_dim;
  info->obs_dim = m.obs_dim;
  info->context_dim = m.context_dim;
  info->context_tokens = m.context_tokens;
  info->layers = int(m.layers.size());
  info->kind = m.kind.c_str();
  info->sigma = m.sigma;
  info->kernels = nfp::rt::kernels().name;
  info->weights = nfp::rt::weight_type_name(m.weights);
  const auto& in = m.encoder.input;
  info->history = m.encoder.present ? in.history : 1;
  info->cameras = int(in.images.cameras.size());
  info->image_height = in.images.camera_h;
  info->image_width = in.images.camera_w;
  info->instruction = in.instruction.present ? 1 : 0;
  info->monitor = m.monitor ? 1 : 0;
}

nfp_rt_status nfp_rt_monitor(const nfp_rt_model* model, int chunk_index, double log_prob, double* score, int* alarm) {
  if (!model || chunk_index < 0) return NFP_RT_BAD_ARGUMENT;
  const auto& m = model->m;
  if (!m.monitor) return NFP_RT_UNSUPPORTED;
  const size_t t = std::min(size_t(chunk_index), m.monitor_mean.size() - 1);
  const double s = std::isfinite(log_prob) ? (-log_prob / m.dim - m.monitor_mean[t]) / m.monitor_scale[t] : INFINITY;
  if (score) *score = s;
  if (alarm) *alarm = s > m.monitor_quantile ? 1 : 0;
  return NFP_RT_OK;
}

nfp_rt_status nfp_rt_context(const nfp_rt_workspace* ws, float* context, size_t size) {
  if (!ws || !context) return NFP_RT_BAD_ARGUMENT;
  const auto& m = *ws->w.model;
  const size_t n = size_t(m.context_tokens) * size_t(m.context_dim);
  if (n == 0 || !ws->w.context_ready || size < n) return NFP_RT_BAD_ARGUMENT;
  std::copy(ws->w.ctx.begin(), ws->w.ctx.begin() + std::ptrdiff_t(n), context);
  return NFP_RT_OK;
}

const char* nfp_rt_model_camera(const nfp_rt_model* model, int i) {
  if (!model) return nullptr;
  const auto& cams = model->m.encoder.input.images.cameras;
  return i >= 0 && size_t(i) < cams.size() ? cams[size_t(i)].c_str() : nullptr;
}

const char* nfp_rt_model_config(const nfp_rt_model* model) { return model->m.config_json.c_str(); }

nfp_rt_workspace* nfp_rt_workspace_create(const nfp_rt_model* model, int max_samples) {
  if (!model || max_samples < 1) return nullptr;
  try {
    return new nfp_rt_workspace{Workspace(model->m, max_samples), model};
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}

void nfp_rt_workspace_free(nfp_rt_workspace* ws) { delete ws; }

size_t nfp_rt_workspace_bytes(const nfp_rt_workspace* ws) {
  const Workspace& w = ws->w;
  size_t b = 0;
  for (const auto* v : {&w.enc_in, &w.ctx, &w.pooled, &w.ctx_cache, &w.x, &w.tmp, &w.z, &w.coef_s, &w.coef_e,
                        &w.params[0], &w.params[1], &w.h0, &w.h1,
                        &w.stats, &w.th, &w.tn, &w.tq, &w.tkv, &w.to, &w.tff, &w.thead, &w.tout, &w.scores, &w.acts,
                        &w.grad, &w.grad_tmp, &w.dparams[0], &w.dparams[1], &w.dh0, &w.dh1, &w.adam_m, &w.adam_v,
                        &w.action_out, &w.mlp_in, &w.img_rows, &w.img_acc, &w.maps[0], &w.maps[1], &w.maps[2], &w.cols,
                        &w.gn_scale, &w.gn_shift, &w.feat, &w.words, &w.words_n, &w.words_qkv, &w.words_att,
                        &w.words_ff, &w.word_scores, &w.frame_feat})
    b += v->size() * sizeof(float);
  b += w.img_resized.size() + w.word_chars.size() + w.word_ids.size() * sizeof(int) + w.frame_bytes.size() +
       w.frame_seen.size();
  b += (w.tf_tape.size() + w.q8_rows.size()) * sizeof(float) + w.q8.size();
  for (const auto& t : w.tape) b += (t.pre.size() + t.normed.size() + t.act.size() + t.stats.size()) * sizeof(float);
  b += w.spline_bin.size() * sizeof(int);
  return b + (w.logdet.size() + w.logp.size() + w.spline_exp.size() + w.spline_tmp.size()) * sizeof(double);
}

nfp_rt_status nfp_rt_observe(nfp_rt_workspace* ws, const nfp_rt_observation* obs) {
  if (!ws || !obs) return NFP_RT_BAD_ARGUMENT;
  Workspace& w = ws->w;
  const nfp::rt::Model& m = *w.model;
  w.context_ready = false;
  if (m.obs_dim > 0 && !obs->state) return NFP_RT_BAD_ARGUMENT;
  const auto& in = m.encoder.input;
  if (in.images.present()) {
    if (!obs->images) return NFP_RT_BAD_ARGUMENT;
    for (size_t i = 0; i < in.images.cameras.size() * size_t(in.history); ++i)
      if (!obs->images[i]) return NFP_RT_BAD_ARGUMENT;
  }
  const bool ok = m.encoder.present ? nfp::rt::encode_observation(w, obs->state, obs->images, obs->instruction)
                                    : nfp::rt::set_context(w, obs->state);
  return ok ? NFP_RT_OK : NFP_RT_NONFINITE;
}

nfp_rt_status nfp_rt_sample_latent(nfp_rt_workspace* ws, const float* obs, const float* z, int n, float* actions,
                                   double* log_prob) {
  if (nfp_rt_status s = check(ws, obs, n)) return s;
  if (!z) return NFP_RT_BAD_ARGUMENT;
  Workspace& w = ws->w;
  const size_t nd = size_t(n) * w.model->dim;
  for (size_t i = 0; i < nd; ++i)
    if (!nfp::rt::usable(z[i])) return NFP_RT_NONFINITE;
  if (!use_context(w, obs)) return NFP_RT_NONFINITE;
  std::memcpy(w.z.data(), z, nd * sizeof(float));
  run_inverse(w, n);
  return finish_samples(w, n, actions, log_prob);
}

nfp_rt_status nfp_rt_sample(nfp_rt_workspace* ws, const float* obs, float sigma, uint64_t seed, int n,
                            float* actions, double* log_prob) {
  if (nfp_rt_status s = check(ws, obs, n)) return s;
  if (!(sigma >= 0) || !std::isfinite(sigma)) return NFP_RT_BAD_ARGUMENT;
  Workspace& w = ws->w;
  if (!use_context(w, obs)) return NFP_RT_NONFINITE;
  gaussian(seed, sigma, w.z.data(), size_t(n) * w.model->dim);
  run_inverse(w, n);
  return finish_samples(w, n, actions, log_prob);
}

nfp_rt_status nfp_rt_sbs(nfp_rt_workspace* ws, const float* obs, int n, float sigma, uint64_t seed, float* action,
                         double* log_prob) {
  if (nfp_rt_status s = check(ws, obs, n)) return s;
  if (!(sigma >= 0) || !std::isfinite(sigma)) return NFP_RT_BAD_ARGUMENT;
  Workspace& w = ws->w;
  if (!use_context(w, obs)) return NFP_RT_NONFINITE;
  gaussian(seed, sigma, w.z.data(), size_t(n) * w.model->dim);
  run_inverse(w, n);
  // The most likely sample among those whose chunk and log p are finite (a NaN log p never compares greater).
  const size_t D = size_t(w.model->dim);
  int best = -1;
  for (int r = 0; r < n; ++r)
    if (std::isfinite(w.logp[size_t(r)]) && (best < 0 || w.logp[size_t(r)] > w.logp[size_t(best)]) &&
        nfp::rt::all_finite(w.x.data() + size_t(r) * D, D))
      best = r;
  if (best < 0 || !denormalize(*w.model, w.x.data() + size_t(best) * D, action, 1)) return NFP_RT_NONFINITE;
  if (log_prob) *log_prob = w.logp[size_t(best)];
  return NFP_RT_OK;
}

nfp_rt_status nfp_rt_log_prob(nfp_rt_workspace* ws, const float* obs, const float* actions, int n, double* log_prob) {
  if (nfp_rt_status s = check(ws, obs, n)) return s;
  if (!actions || !log_prob) return NFP_RT_BAD_ARGUMENT;
  Workspace& w = ws->w;
  const int D = w.model->dim;
  if (!normalize(*w.model, actions, w.x.data(), n) || !use_context(w, obs)) return NFP_RT_NONFINITE;
  for (int r = 0; r < n; ++r) w.logdet[size_t(r)] = 0;
  nfp::rt::flow_forward(w, w.x.data(), n, w.logdet.data(), nullptr);
  for (int r = 0; r < n; ++r)
    w.logp[size_t(r)] = nfp::rt::std_normal_log_prob(w.x.data() + size_t(r) * D, D) + w.logdet[size_t(r)];
  if (!finite_rows(w.logp.data(), n)) return NFP_RT_NONFINITE;
  std::memcpy(log_prob, w.logp.data(), size_t(n) * sizeof(double));
  return NFP_RT_OK;
}

nfp_rt_status nfp_rt_log_prob_grad(nfp_rt_workspace* ws, const float* obs, const float* actions, int n,
                                   double* log_prob, float* grad) {
  if (nfp_rt_status s = check(ws, obs, n)) return s;
  if (!actions || !grad) return NFP_RT_BAD_ARGUMENT;
  Workspace& w = ws->w;
  const size_t nd = size_t(n) * w.model->dim;
  if (!normalize(*w.model, actions, w.action_out.data(), n) || !use_context(w, obs)) return NFP_RT_NONFINITE;
  nfp::rt::flow_log_prob_grad(w, w.action_out.data(), n, w.grad.data(), w.logp.data());
  if (!finite_rows(w.logp.data(), n) || !nfp::rt::all_finite(w.grad.data(), nd)) return NFP_RT_NONFINITE;
  std::memcpy(grad, w.grad.data(), nd * sizeof(float));
  if (log_prob) std::memcpy(log_prob, w.logp.data(), size_t(n) * sizeof(double));
  return NFP_RT_OK;
}

nfp_rt_status nfp_rt_gr(nfp_rt_workspace* ws, const float* obs, int steps, float step_size, float sigma,
                        uint64_t seed, float* action, double* log_prob) {
  if (nfp_rt_status s = check(ws, obs, 1)) return s;
  if (steps < 0 || !(step_size >= 0) || !std::isfinite(step_size) || !(sigma >= 0) || !std::isfinite(sigma))
    return NFP_RT_BAD_ARGUMENT;
  Workspace& w = ws->w;
  const int D = w.model->dim;
  if (!use_context(w, obs)) return NFP_RT_NONFINITE;
  gaussian(seed, sigma, w.z.data(), size_t(D));
  run_inverse(w, 1);
  // The start must be finite; a step whose gradient goes non-finite can only give a NaN log p, which never
  // replaces the best chunk, so the result is the best finite chunk seen.
  if (!std::isfinite(w.logp[0]) || !nfp::rt::all_finite(w.x.data(), size_t(D))) return NFP_RT_NONFINITE;
  float* a = w.action_out.data();  // the chunk being refined, normalized units
  std::memcpy(a, w.x.data(), size_t(D) * sizeof(float));
  std::fill(w.adam_m.begin(), w.adam_m.begin() + D, 0.0f);
  std::fill(w.adam_v.begin(), w.adam_v.begin() + D, 0.0f);
  // As nfp's gradient_refinement: Adam ascending log p, keeping the best chunk seen (never lowers log p).
  float* best = w.tmp.data();
  std::memcpy(best, a, size_t(D) * sizeof(float));
  double best_lp = w.logp[0];
  const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
  for (int t = 1; t <= steps; ++t) {
    nfp::rt::flow_log_prob_grad(w, a, 1, w.grad.data(), w.logp.data());
    if (t > 1 && w.logp[0] > best_lp) {  // logp is that of a_{t-1}; a_0's is the sample's
      best_lp = w.logp[0];
      std::memcpy(best, a, size_t(D) * sizeof(float));
    }
    const double c1 = 1 - std::pow(b1, t), c2 = 1 - std::pow(b2, t);
    for (int i = 0; i < D; ++i) {
      const double g = w.grad[size_t(i)];
      w.adam_m[size_t(i)] = float(b1 * w.adam_m[size_t(i)] + (1 - b1) * g);
      w.adam_v[size_t(i)] = float(b2 * w.adam_v[size_t(i)] + (1 - b2) * g * g);
      a[i] = float(a[i] + step_size * (w.adam_m[size_t(i)] / c1) / (std::sqrt(w.adam_v[size_t(i)] / c2) + eps));
    }
  }
  if (steps > 0) {  // log p of the final chunk
    std::memcpy(w.x.data(), a, size_t(D) * sizeof(float));
    w.logdet[0] = 0;
    nfp::rt::flow_forward(w, w.x.data(), 1, w.logdet.data(), nullptr);
    const double lp = nfp::rt::std_normal_log_prob(w.x.data(), D) + w.logdet[0];
    if (lp > best_lp) {
      best_lp = lp;
      std::memcpy(best, a, size_t(D) * sizeof(float));
    }
  }
  if (!std::isfinite(best_lp) || !denormalize(*w.model, best, action, 1)) return NFP_RT_NONFINITE;
  if (log_prob) *log_prob = best_lp;
  return NFP_RT_OK;
}

const char* nfp_rt_status_string(nfp_rt_status s) {
  switch (s) {
    case NFP_RT_OK: return "ok";
    case NFP_RT_BAD_ARGUMENT: return "bad argument";
    case NFP_RT_CAPACITY: return "more samples than the workspace holds";
    case NFP_RT_UNSUPPORTED: return "not supported for this model";
    case NFP_RT_NONFINITE:
      return "non-finite input or result: the observation (or given chunk / latent) holds NaN or Inf, or a value that "
             "overflows once normalized (e.g. FLT_MAX); outputs left untouched";
  }
  return "unknown status";
}

}  // extern "C"
