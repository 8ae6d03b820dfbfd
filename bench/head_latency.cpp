// `nfp bench latency`: heads timed interleaved, with parameters and FLOPs (see bench/bench_latency.hpp).
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>

#include "bench_e2e.hpp"
#include "bench_flops.hpp"
#include "bench_latency.hpp"
#include "nfp/action_head.hpp"
#include "nfp/device.hpp"
#include "nfp/error.hpp"
#include "nfp/flow.hpp"
#include "nfp/head_registry.hpp"
#include "nfp/policy_runner.hpp"
#include "nfp/runtime_setup.hpp"
#include "nfp/sim_env.hpp"

namespace nfp::bench {

namespace {

using Clock = std::chrono::steady_clock;

struct Row {
  std::string name, type, mode;  // mode: sample | sbs | gr
  ActionHead head;
  SampleOptions sample;
  InferenceOptions strategy;
  std::vector<double> ms;
  // end-to-end rows: the whole image policy on one observation (strategy in its runner's options)
  std::string encoder;       // "" for head-only rows
  std::shared_ptr<PolicyRunner> runner;  // shared: head rows are copied from one another
  Observation obs;
};

double elapsed_ms(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double nearest_rank(const std::vector<double>& sorted, double p) {
  const auto i = size_t(std::ceil(p / 100.0 * double(sorted.size())));
  return sorted[std::min(sorted.size() - 1, i == 0 ? 0 : i - 1)];
}

void run_once(Row& r, const torch::Tensor& ctx, at::Generator& gen) {
  if (r.runner) {  // pushes the frame (history of 2: the previous call's frame is reused), encodes, samples
    r.runner->plan(r.obs);
    return;
  }
  torch::NoGradGuard ng;  // gr switches gradients back on for its own steps
  if (r.mode == "sample")
    r.head->sample(ctx, 1, r.sample, gen);
  else
    run_strategy(*r.head, ctx, r.strategy, gen);
  if (ctx.is_cuda()) torch::cuda::synchronize();  // a row's time is the GPU's work, not its launch
}

// A sampling-steps head whose sampler is selectable (diffusion's DDPM / DDIM): its rows name the sampler.
bool has_sampler_choice(const std::string& type) {
  const auto& opts = head_options(type);
  return head_traits(type).has_sampling_steps && std::find(opts.begin(), opts.end(), "sampler") != opts.end();
}

HeadConfig head_config(const std::string& type, const LatencyOptions& o, int64_t action_dim) {
  HeadConfig c = default_head_config(type, o.horizon, action_dim, o.context_dim);
  if (o.head_overrides.contains(type)) {
    json j = c;
    require(o.head_overrides[type].is_object(), "bench latency: head_config." + type + " must be an object");
    j.update(o.head_overrides[type]);
    j["type"] = type;
    from_json(j, c);
  }
  c.seed = o.seed;
  return c;
}

// End-to-end rows: the CPU-default conv encoder into nfp-spline (sample, SBS), diffusion DDIM and flow matching
// Euler-4, and full-width ResNet-18 (GroupNorm, as `nfp train --encoder resnet18`) into nfp-spline; one camera at
// image_size plus state. Only the heads selected by `heads` (all when empty).
void add_e2e_rows(const LatencyOptions& o, int64_t action_dim, torch::Device device, std::vector<Row>& rows) {
  struct Spec {
    std::string encoder, head, mode;
    int64_t steps;
  };
  const std::vector<Spec> specs = {{"conv", "nfp-spline", "sample", 0},    {"conv", "nfp-spline", "sbs", 0},
                                   {"conv", "diffusion", "sample", 10},    {"conv", "flow-matching", "sample", 4},
                                   {"resnet18", "nfp-spline", "sample", 0}};
  const std::string px = std::to_string(o.image_size);
  for (const auto& sp : specs) {
    if (!o.heads.empty() && std::find(o.heads.begin(), o.heads.end(), sp.head) == o.heads.end()) continue;
    const HeadConfig cfg = head_config(sp.head, o, action_dim);
    ImageEncoderConfig enc;
    enc.type = sp.encoder;
    if (sp.encoder == "resnet18") enc.width = 1.0;  // what --encoder resnet18 selects
    Row r;
    r.type = sp.head;
    r.mode = sp.mode;
    r.encoder = sp.encoder;
    Policy policy = make_e2e_policy(o.task, enc, o.image_size, cfg, o.horizon, o.context_dim);
    policy->to(device);  // PolicyRunner::plan returns a CPU chunk: its time includes the GPU's work
    r.obs = e2e_observation(*policy, o.seed);
    r.head = policy->head();
    RunnerOptions run = policy->default_options();
    auto& inf = run.inference;
    inf.strategy = sp.mode;
    inf.candidates = o.candidates;
    std::string row = sp.head;
    if (has_sampler_choice(sp.head)) {  // diffusion: DDPM runs all train_steps
      inf.steps = cfg.sampler == "ddim" ? std::min<int64_t>(sp.steps, cfg.train_steps) : cfg.train_steps;
      row += "-" + cfg.sampler + "-" + std::to_string(inf.steps);
    } else if (head_traits(sp.head).has_sampling_steps) {
      inf.steps = sp.steps;
      row += "-" + std::to_string(sp.steps);
    } else if (sp.mode == "sbs") {
      row += "-sbs-" + std::to_string(o.candidates);
    }
    r.runner = std::make_shared<PolicyRunner>(policy, run);
    r.runner->reset(cfg.seed);
    r.name = "e2e-" + (sp.encoder == "conv" ? "conv" + px : sp.encoder + "-" + px) + "-" + row;
    rows.push_back(std::move(r));
  }
}

std::vector<Row> make_rows(const LatencyOptions& o, int64_t action_dim, torch::Device device) {
  const auto all = head_names();
  for (const auto& h : o.heads)
    require(std::find(all.begin(), all.end(), h) != all.end(), "bench latency: unknown head '" + h + "'");
  for (const auto& [k, v] : o.head_overrides.items())
    require(std::find(all.begin(), all.end(), k) != all.end(), "bench latency: head_config names unknown head '" + k + "'");
  std::vector<Row> rows;
  for (const auto& type : all) {
    if (!o.heads.empty() && std::find(o.heads.begin(), o.heads.end(), type) == o.heads.end()) continue;
    const HeadConfig cfg = head_config(type, o, action_dim);
    ActionHead head = make_head(cfg);
    head->to(device);
    head->eval();
    Row base;
    base.name = base.type = type;
    base.mode = "sample";
    base.head = head;
    if (head->has_log_prob()) {
      rows.push_back(base);
      Row sbs = base;
      sbs.mode = sbs.strategy.strategy = "sbs";
      sbs.strategy.candidates = o.candidates;
      sbs.name = type + "-sbs-" + std::to_string(o.candidates);
      rows.push_back(sbs);
      Row gr = base;
      gr.mode = gr.strategy.strategy = "gr";
      gr.strategy.gr_steps = o.gr_steps;
      gr.name = type + "-gr-" + std::to_string(o.gr_steps);
      rows.push_back(gr);
    } else if (has_sampler_choice(type)) {  // diffusion: DDPM over every training step, DDIM over 10
      Row ddpm = base;
      ddpm.sample.sampler = "ddpm";
      ddpm.sample.steps = cfg.train_steps;
      ddpm.name = type + "-ddpm-" + std::to_string(cfg.train_steps);
      rows.push_back(ddpm);
      Row ddim = base;
      ddim.sample.sampler = "ddim";
      ddim.sample.steps = std::min<int64_t>(10, cfg.train_steps);
      ddim.name = type + "-ddim-" + std::to_string(ddim.sample.steps);
      rows.push_back(ddim);
    } else if (head_traits(type).has_sampling_steps) {  // flow matching: Euler steps
      for (int64_t k : {4, 10}) {
        Row fm = base;
        fm.sample.steps = k;
        fm.name = type + "-" + std::to_string(k);
        rows.push_back(fm);
      }
    } else {
      rows.push_back(base);
    }
  }
  if (o.end_to_end) add_e2e_rows(o, action_dim, device, rows);
  require(!rows.empty(), "bench latency: no heads selected");
  return rows;
}

}  // namespace

void apply_latency_config(const nlohmann::json& j, LatencyOptions& o) {
  const std::string w = "bench latency config";
  require_known_keys(j,
                     {"task", "horizon", "context_dim", "seconds", "min_calls", "warmup", "candidates", "gr_steps",
                      "heads", "head_config", "reference", "end_to_end", "image_size"},
                     w);
  o.task = json_get(j, "task", o.task, w);
  o.horizon = json_get(j, "horizon", o.horizon, w);
  o.context_dim = json_get(j, "context_dim", o.context_dim, w);
  o.seconds = json_get(j, "seconds", o.seconds, w);
  o.min_calls = json_get(j, "min_calls", o.min_calls, w);
  o.warmup = json_get(j, "warmup", o.warmup, w);
  o.candidates = json_get(j, "candidates", o.candidates, w);
  o.gr_steps = json_get(j, "gr_steps", o.gr_steps, w);
  o.heads = json_get(j, "heads", o.heads, w);
  o.reference = json_get(j, "reference", o.reference, w);
  o.end_to_end = json_get(j, "end_to_end", o.end_to_end, w);
  o.image_size = json_get(j, "image_size", o.image_size, w);
  if (j.contains("head_config")) {
    require(j["head_config"].is_object(), w + ": head_config must be an object of head type -> config");
    o.head_overrides = j["head_config"];
  }
}

nlohmann::json head_latency(const LatencyOptions& o) {
  require(o.horizon >= 1 && o.context_dim >= 1, "bench latency: horizon and context_dim must be >= 1");
  require(o.seconds >= 0 && o.min_calls >= 1 && o.warmup >= 0, "bench latency: need seconds >= 0, min_calls >= 1, warmup >= 0");
  require(o.candidates >= 1 && o.gr_steps >= 1, "bench latency: candidates and gr_steps must be >= 1");
  require(!o.end_to_end || o.image_size >= 8, "bench latency: image_size must be >= 8");
  const torch::Device device = resolve_device(o.device);
  const int64_t action_dim = sim::task_spec(o.task).action.dim;
  configure_threads(o.threads);
  torch::manual_seed(int64_t(o.seed));
  auto rows = make_rows(o, action_dim, device);
  const auto ctx = torch::randn({1, o.context_dim}).to(device);
  at::Generator gen = make_generator(device, o.seed);

  std::vector<FlopCount> flops;
  for (auto& r : rows) {
    for (int64_t i = 0; i < o.warmup; ++i) run_once(r, ctx, gen);
    flops.push_back(count_flops([&] { run_once(r, ctx, gen); }));
  }
  // Interleaved rounds: each row runs for a short slice in turn, so load drifts hit every row alike while fast
  // rows still collect enough calls for a p99.
  const double slice_ms = std::max(1.0, o.seconds * 1000.0 / 10.0);
  const auto start = Clock::now();
  auto done = [&] {
    if (elapsed_ms(start) < o.seconds * 1000.0 * double(rows.size())) return false;
    return std::all_of(rows.begin(), rows.end(), [&](const Row& r) { return int64_t(r.ms.size()) >= o.min_calls; });
  };
  while (!done())
    for (auto& r : rows) {
      const auto t_slice = Clock::now();
      do {
        const auto t0 = Clock::now();
        run_once(r, ctx, gen);
        r.ms.push_back(elapsed_ms(t0));
      } while (elapsed_ms(t_slice) < slice_ms);
    }

  double ref_p50 = NAN;
  std::vector<double> p50s;
  for (auto& r : rows) {
    std::sort(r.ms.begin(), r.ms.end());
    p50s.push_back(nearest_rank(r.ms, 50));
    if (r.name == o.reference) ref_p50 = p50s.back();
  }
  nlohmann::json heads = nlohmann::json::array();
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    double mean = 0;
    for (double x : r.ms) mean += x / double(r.ms.size());
    heads.push_back({{"name", r.name},
                     {"head", r.type},
                     {"mode", r.mode},
                     {"encoder", r.encoder.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.encoder)},
                     {"params", r.runner ? count_parameters(*r.runner->policy()) : count_parameters(*r.head)},
                     {"flops", flops[i].total},
                     {"flops_matmul", flops[i].matmul},
                     {"flops_conv", flops[i].conv},
                     {"p50_ms", p50s[i]},
                     {"p99_ms", nearest_rank(r.ms, 99)},
                     {"mean_ms", mean},
                     {"calls", r.ms.size()},
                     {"ratio_to_flow", std::isnan(ref_p50) ? nlohmann::json(nullptr) : nlohmann::json(p50s[i] / ref_p50)}});
  }
  return {{"task", o.task},
          {"horizon", o.horizon},
          {"action_dim", action_dim},
          {"context_dim", o.context_dim},
          {"threads", o.threads},
          {"device", o.device},
          {"batch", 1},
          {"reference", o.reference},
          {"flops_method", "torch legacy profiler op counter (mm, addmm, bmm, mul, add, conv2d) + conv1d from input shapes"},
          {"image_size", o.image_size},
          {"end_to_end",
           o.end_to_end ? "e2e-* rows: a random-weight image policy (one camera image_size^2 + state, history 2, "
                          "state MLP), PolicyRunner::plan on one observation: frame push, encoder, head, strategy; "
                          "params are the whole policy's"
                        : "off"},
          {"heads", heads}};
}

}  // namespace nfp::bench
