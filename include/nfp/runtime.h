/* nfp runtime: libtorch-free, real-time-safe inference for exported flow policies (.nfpr files).
 *
 * Model (immutable, shareable between threads) -> workspace (mutable, one per thread, all memory allocated
 * at creation) -> calls. The calls below (sample, sample_latent, sbs, gr, log_prob, log_prob_grad) allocate
 * nothing, take no lock, throw nothing, and give the same result for the same inputs and seed.
 *
 * Units: obs are raw (the runtime applies the exported normalization); actions in and out are raw
 * (horizon x action_dim, row-major; a policy's sampled chunks are clamped to its normalized range first, as
 * nfp::Policy does); log-likelihoods are log p of the normalized chunk under the flow, in nats
 * (the density the policy was trained on; subtract sum(log action_std) for raw units).
 * Direction: the flow maps data -> latent (density); sampling draws z ~ N(0, sigma^2 I) and inverts it.
 * Errors: every call returns a status; on any status but NFP_RT_OK the output buffers are left untouched, so a
 * controller must check it (a NaN observation gives NFP_RT_NONFINITE, never NaN actions). */
#ifndef NFP_RUNTIME_H
#define NFP_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nfp_rt_model nfp_rt_model;
typedef struct nfp_rt_workspace nfp_rt_workspace;

typedef enum {
  NFP_RT_OK = 0,
  NFP_RT_BAD_ARGUMENT = 1, /* null pointer, n < 1, non-finite sigma, ... */
  NFP_RT_CAPACITY = 2,     /* more samples than the workspace was created for */
  NFP_RT_UNSUPPORTED = 3,  /* the model lacks what the call needs (nfp_rt_monitor without an exported monitor) */
  NFP_RT_NONFINITE = 4     /* an input (obs, given chunk or latent) holds NaN or +-Inf, or a value whose square
                              overflows float32 once normalized (|v| >= 1.8e19 normalized units, e.g. FLT_MAX from a
                              broken sensor), or the result would not be finite. The outputs (actions, log_prob,
                              grad) are left untouched. No call ever returns NFP_RT_OK with a non-finite value. */
} nfp_rt_status;

typedef struct {
  int dim;            /* D = horizon x action_dim */
  int horizon;        /* T */
  int action_dim;     /* A */
  int obs_dim;        /* floats per observation: context_tokens x context_dim, or for a policy its state vector
                         (the raw low-dim history, key by key, + the previous raw action; docs/RUNTIME.md);
                         0 = unconditional (or a policy of cameras / instruction alone) */
  int context_dim;    /* C */
  int context_tokens; /* N */
  int layers;         /* transforms in the flow */
  const char* kind;   /* "flow", "density" or "policy" */
  const char* kernels; /* the compute kernels in use: "avx512", "avx2" or "generic" */
  float sigma;         /* the base std the policy was configured to sample with (1 for flow / density) */
  const char* weights; /* storage of the conditioners' Linear weights: "f32", "bf16", "int8" or "w8a8" */
  /* A policy's observation beyond the state vector (0 for flows, density models and state-only policies); such a
     policy takes its observation through nfp_rt_observe. */
  int history;         /* frames per observation (each low-dim key's history and each camera's images); 1 otherwise */
  int cameras;         /* camera images per frame; nfp_rt_model_camera(model, i) names them ("top_image") */
  int image_height;    /* the size every camera image must have: the cameras' size in training (the runtime */
  int image_width;     /* resizes and centre-crops it exactly as training did) */
  int instruction;     /* 1: the policy reads an instruction string */
  int monitor;         /* 1: the policy was exported with its likelihood monitor (nfp_rt_monitor) */
} nfp_rt_info;

/* A policy's whole observation (zero-initialize, then set what the model has; nfp_rt_info says what that is). */
typedef struct {
  const float* state;            /* obs_dim raw floats: each low-dim key's history (history x width, oldest first),
                                    key by key in the order of the config's policy.obs_keys, then the previous raw
                                    action when the policy conditions on it (docs/RUNTIME.md); NULL if obs_dim is 0 */
  const uint8_t* const* images;  /* cameras x history pointers, camera-major: images[c * history + j] is camera c's
                                    frame j (oldest first), image_height x image_width x 3 uint8 RGB, row 0 at the
                                    top; NULL when the policy has no cameras */
  const char* instruction;       /* NUL-terminated text; NULL or "" = no instruction (encoded as <none>) */
} nfp_rt_observation;

/* Load-time options (zero-initialize, then set what you need). */
typedef struct {
  /* Storage precision of the coupling conditioners' Linear weights (weight-only: activations, accumulation,
   * biases, norms and the coupling math stay f32): NULL, "" or "f32" (as exported; agrees with libtorch to
   * ~1e-4), "bf16" (round to nearest even), "int8" (symmetric, one f32 scale per output row, round to
   * nearest). "w8a8": int8's weights, and each activation row entering those Linears rounded to int8 too
   * (one symmetric scale per row), int32 accumulation (VNNI where the CPU has it). Fewer bytes per weight make
   * the batch-1 call, which streams every weight, faster; accuracy: docs/RUNTIME.md. */
  const char* weights;
} nfp_rt_load_options;

/* Loads an .nfpr file (format 3). On failure returns NULL and writes a one-line message to error (if not NULL):
 * a missing or truncated file, a checksum mismatch (the file is corrupt), an unknown or misspelled config key,
 * a size out of range, a non-finite weight or statistic, or a file written by an older nfp (formats 1 and 2
 * are refused: re-export them with `nfp export`). See docs/RUNTIME.md, "The .nfpr file". */
nfp_rt_model* nfp_rt_model_load(const char* path, char* error, size_t error_size);
/* The same with options (NULL: the defaults, i.e. nfp_rt_model_load). An unknown weights value fails like a
 * bad file: NULL and one line in error. */
nfp_rt_model* nfp_rt_model_load_ex(const char* path, const nfp_rt_load_options* options, char* error,
                                   size_t error_size);
void nfp_rt_model_free(nfp_rt_model* model);
void nfp_rt_model_info(const nfp_rt_model* model, nfp_rt_info* info);
/* The JSON config embedded in the file (valid while the model lives). */
const char* nfp_rt_model_config(const nfp_rt_model* model);

/* The observation key of camera i (0 <= i < info.cameras), valid while the model lives; NULL out of range. */
const char* nfp_rt_model_camera(const nfp_rt_model* model, int i);

/* A workspace for up to max_samples samples per call (SBS's N); NULL if memory runs out. The model must
 * outlive it. */
nfp_rt_workspace* nfp_rt_workspace_create(const nfp_rt_model* model, int max_samples);
void nfp_rt_workspace_free(nfp_rt_workspace* ws);
/* Bytes the workspace holds. */
size_t nfp_rt_workspace_bytes(const nfp_rt_workspace* ws);

/* Encodes an observation into the workspace (a policy's cameras and instruction encoders, then its state MLP; a
 * flow's context is just normalized). The calls below, given obs = NULL, then use it, as many times as wanted (a
 * sample, then the log p of the chunk executed, ...) until the next observation. A policy with cameras or an
 * instruction takes its observation only this way (a call with a non-NULL obs is NFP_RT_BAD_ARGUMENT). Returns
 * NFP_RT_NONFINITE for a NaN / Inf state value (as the calls do), NFP_RT_BAD_ARGUMENT for a missing part (state,
 * images). On any error the workspace holds no observation, so a following call with obs = NULL is
 * NFP_RT_BAD_ARGUMENT rather than a plan for a stale one. Allocates nothing, like the calls. */
nfp_rt_status nfp_rt_observe(nfp_rt_workspace* ws, const nfp_rt_observation* obs);

/* In the calls below, obs is the observation (obs_dim raw floats: a flow's context, or a state-only policy's state
 * vector), which the workspace then holds, or NULL for the one it holds (from nfp_rt_observe or an earlier call;
 * NFP_RT_BAD_ARGUMENT when it holds none). An unconditional flow takes NULL. */

/* n samples for one observation: actions (n x D), log_prob (n) (either may be NULL). */
nfp_rt_status nfp_rt_sample(nfp_rt_workspace* ws, const float* obs, float sigma, uint64_t seed, int n,
                            float* actions, double* log_prob);
/* The same from given latents z (n x D) (no randomness): the hook for exact comparisons. */
nfp_rt_status nfp_rt_sample_latent(nfp_rt_workspace* ws, const float* obs, const float* z, int n, float* actions,
                                   double* log_prob);
/* Stochastic batch selection: n samples at sigma, returns the most likely one: action (D), log_prob (1). */
nfp_rt_status nfp_rt_sbs(nfp_rt_workspace* ws, const float* obs, int n, float sigma, uint64_t seed, float* action,
                         double* log_prob);
/* Gradient refinement: one sample at sigma, then `steps` Adam steps (learning rate step_size, in normalized
 * units) ascending log p; returns the refined action (D) and its log p. */
nfp_rt_status nfp_rt_gr(nfp_rt_workspace* ws, const float* obs, int steps, float step_size, float sigma,
                        uint64_t seed, float* action, double* log_prob);
/* log p of n raw chunks actions (n x D) given obs: log_prob (n). */
nfp_rt_status nfp_rt_log_prob(nfp_rt_workspace* ws, const float* obs, const float* actions, int n,
                              double* log_prob);
/* log p and its gradient with respect to the normalized chunk: grad (n x D). */
nfp_rt_status nfp_rt_log_prob_grad(nfp_rt_workspace* ws, const float* obs, const float* actions, int n,
                                   double* log_prob, float* grad);

/* The likelihood monitor calibrated with `nfp monitor calibrate` and exported with the policy (info.monitor;
 * docs/MONITOR.md): for the chunk planned at chunk index t of an episode (0 = its first plan) whose log p is
 * log_prob (as a call returned it), the standardized score (-log_prob / dim - mean_t) / scale_t and whether it
 * alarms (score above the calibrated quantile; at most alpha of successful episodes ever do). A non-finite log_prob
 * alarms. Either output may be NULL. NFP_RT_UNSUPPORTED without a monitor; allocates nothing. */
nfp_rt_status nfp_rt_monitor(const nfp_rt_model* model, int chunk_index, double log_prob, double* score, int* alarm);

/* The context the workspace holds (after nfp_rt_observe or a call given obs): context_tokens x context_dim floats,
 * the policy's embedding of its observation (row 0; with an instruction's tokens, those follow), what an
 * observation-side monitor scores (docs/MONITOR.md). size: the floats context can take. NFP_RT_BAD_ARGUMENT without
 * a held observation or with size < context_tokens x context_dim; allocates nothing. */
nfp_rt_status nfp_rt_context(const nfp_rt_workspace* ws, float* context, size_t size);

const char* nfp_rt_status_string(nfp_rt_status status);

#ifdef __cplusplus
}
#endif
#endif /* NFP_RUNTIME_H */
