// `nfp bench curves`: success against training compute, per head, until each head stops improving.
// Each head trains once (OUT/runs/<head>/, the head's default config over --max-steps steps, so its learning-rate
// schedule spans the cap), stopping at every --eval-every steps to evaluate that checkpoint's EMA weights on the same
// --episodes seeds (100000.., never collected) with each of its curves' sampling settings. A head stops when all its
// curves have plateaued (plateaued(), below) or at --max-steps. Everything resumes: a rerun with the same OUT skips
// finished evaluations and continues each run from its last checkpoint (bit for bit, as `nfp train --resume`).
//   OUT/data/<task>_<demos>[_<camera>...<size>px].hdf5   the demonstrations (collected once, unless --data)
//   OUT/runs/<head>/        the run; compute.json: {"<step>": {"cpu_s", "wall_s"}} cumulative training compute
//   OUT/evals/<curve>/<step>.json (+ .eval_info.json)    each evaluation
//   OUT/results.csv (a row per curve and evaluation), OUT/summary.csv + results.md (a row per curve: plateau, compute to
//   90% of it), OUT/success_vs_cpu.svg and success_vs_steps.svg (the Wilson interval as a band), rewritten after
//   every evaluation from what OUT holds.
// A head whose curves are finished (plateau or cap) by the evaluations in OUT is not trained again, so OUT's small files
// (evals/*/*.json, runs/*/compute.json and train_config.json) carry finished heads to another machine without their
// checkpoints. Two processes may share OUT (e.g. one per core): a head's run is locked (flock) by the process training it, and the
// other process takes the next head.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "nfp/policy.hpp"
#include "nfp/runtime_setup.hpp"

namespace nfp::bench {

// One curve: a head and how its checkpoints are sampled. "HEAD" samples as the checkpoint says (its defaults);
// "HEAD:SAMPLING" with SAMPLING one of sample, sbs-N, gr-K (flow heads), ddim-N, ddpm-N (diffusion), euler-N (flow
// matching) -- e.g. diffusion:ddim-10 and diffusion:ddpm-100 are two curves of one trained model.
struct CurveSpec {
  std::string name;     // as given: "diffusion:ddpm-100"; a directory name under evals/
  std::string head;     // "diffusion"
  std::string sampling; // "ddpm-100" (empty: the checkpoint's defaults)
  // Applied over the checkpoint's inference defaults (unset fields keep them).
  std::string strategy, sampler;
  int64_t candidates = 0, gr_steps = -1, steps = 0;
};
// nfp::Error (one line, listing the forms) for an unknown head or sampling, or one that does not fit the head.
CurveSpec parse_curve_spec(const std::string& text);
void apply_curve_sampling(const CurveSpec& curve, InferenceOptions& inference);

// One evaluation of a curve.
struct CurvePoint {
  int64_t step = 0;
  double train_cpu_s = NAN, train_wall_s = NAN;  // cumulative training compute up to this checkpoint
  int64_t samples = 0;                           // training windows seen: step x global batch
  int64_t successes = 0, episodes = 0;
  double chunk_p50_ms = NAN;
};

// Plateau rule: with at least 2 x window evaluations, the last `window` of them pooled (successes / episodes) are not
// above the upper end of the 95% Wilson interval of the `window` before them pooled: no gain beyond the interval. A
// last window below kMinPlateauPc success is never a plateau (the head has not started learning: it trains to the cap).
constexpr double kMinPlateauPc = 10.0;
bool plateaued(const std::vector<CurvePoint>& points, int window);

// What a finished (or unfinished) curve says: its plateau success (the last `window` evaluations pooled, with their
// Wilson interval), and the first evaluation reaching 90% of that plateau (its compute and latency).
struct CurveSummary {
  double plateau_pc = NAN, plateau_lo = NAN, plateau_hi = NAN;
  bool plateau_reached = false;  // by plateaued(); false: capped or still running
  int64_t last_step = 0;
  std::optional<CurvePoint> at_90pc;  // none without points
};
CurveSummary summarize_curve(const std::vector<CurvePoint>& points, int window);

struct CurvesOptions {
  std::filesystem::path out;
  std::string task = "lift";
  std::vector<std::string> curves = {"nfp-spline", "nina-mlp", "diffusion:ddim-10", "diffusion:ddpm-100",
                                     "flow-matching:euler-4", "regression"};
  int64_t max_steps = 20000, eval_every = 1000;
  int64_t episodes = 50;
  uint64_t eval_seed = 100000;
  int plateau_window = 3;
  int demos = 200;
  std::filesystem::path data;     // existing demonstrations instead of collecting
  std::vector<std::string> obs;   // policy observations (empty: state); "images" collects and trains on cameras
  std::vector<std::string> cameras;  // with images (empty: the task's first camera)
  int image_size = 84;               // with images: the collected size
  int64_t batch = 0;                 // > 0: every head's batch
  nlohmann::json config = nlohmann::json::object();  // {"policy": {...}, "train": {...}} over every head's defaults
  int threads = kDefaultThreads;
  std::string device = "cpu";
  std::string command;                           // recorded in results.md
  std::function<void(const std::string&)> log;   // one line per segment and evaluation
  std::function<bool()> stop_requested;          // polled during training (Ctrl-C): checkpoint and return
};

// Runs (or resumes) every curve; returns {"task", "out", "curves": [{curve, head, status, plateau_pc, ..., points}],
// "interrupted"}.
nlohmann::json run_curves(const CurvesOptions& options);

}  // namespace nfp::bench
