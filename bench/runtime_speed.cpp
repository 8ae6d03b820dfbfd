// `nfp bench runtime`: the runtime against libtorch eager, one core, interleaved rounds in one process.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <time.h>
#include <unistd.h>

#include "bench_flow.hpp"
#include "bench_runtime.hpp"
#include "bench_policy_speed.hpp"
#include "nfp/checkpoint.hpp"
#include "nfp/density_model.hpp"
#include "nfp/error.hpp"
#include "nfp/export.hpp"
#include "nfp/runtime.hpp"
#include "runtime/kernels.hpp"
#include "runtime/model.hpp"

namespace nfp::bench {
namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }
// This thread's CPU time (ms): unlike wall time it excludes the time the scheduler gives other processes, so
// on a shared, loaded machine it measures the code rather than its share of the core (cache and SMT
// interference from the neighbours remain).
double cpu_ms() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) * 1e-6;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}
double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, size_t(p * double(v.size())))];
}

// Floating-point operations the runtime executes for R samples of one observation (GEMMs only: the
// elementwise work is a few percent). The context part of each first Linear runs once per call.
double runtime_flops(const rt::Model& m, int R) {
  double f = 0;
  auto lin = [&](const rt::Linear& l, double rows) { f += 2.0 * rows * l.in * l.out; };
  for (const auto& L : m.layers) {
    if (L.kind == "plu_linear") f += 2.0 * R * m.dim * m.dim;
    for (const auto& n : L.nets) {
      if (!n.transformer) {
        for (const auto& l : n.mlp.hidden_x) lin(l, R);
        lin(n.mlp.out, R);
        if (m.context_dim) lin(n.mlp.first_ctx, 1);
      } else {
        const auto& t = n.tf;
        const double rows = double(R) * t.tokens, N = m.context_tokens;
        lin(t.input_proj, double(R) * t.tokens_in);
        for (const auto& b : t.blocks) {
          lin(b.self_attn.q, rows), lin(b.self_attn.kv, rows), lin(b.self_attn.out, rows);
          f += 4.0 * R * t.tokens * t.tokens * t.H;
          if (b.cross) lin(b.cross_attn.q, rows), lin(b.cross_attn.out, rows), f += 4.0 * R * t.tokens * N * t.H;
          if (b.ff) lin(b.ff1, rows), lin(b.ff2, rows);
        }
        for (size_t g = 0; g < t.head1.size(); ++g) lin(t.head1[g], double(R) * t.tokens_out), lin(t.head2[g], double(R) * t.tokens_out);
      }
    }
  }
  return f;
}

// Bytes of a matrix's K x N values in its precision (int8: + its per-column scales). The panels' zero padding
// is left out: the kernels skip most of it (a last panel is read only as wide as its columns' vectors), so
// this is the floor.
double stored_bytes(const rt::PackedMatrix& p) {
  const double n = double(p.K) * p.N;
  if (p.type == rt::WeightType::BF16) return n * 2;
  if (p.type == rt::WeightType::I8) return n + double(p.N) * 4;
  if (p.type == rt::WeightType::W8A8) return 4.0 * rt::k_groups(p.K) * p.N + double(p.N) * 8;  // + scales, column sums
  return n * 4;
}

// Bytes of weights a batch-1 sample must stream (every matrix once).
double weight_bytes(const rt::Model& m) {
  double b = 0;
  auto lin = [&](const rt::Linear& l) { b += stored_bytes(l.fwd); };
  auto mlp = [&](const rt::MlpNet& n) {
    for (const auto& l : n.hidden_x) lin(l);
    lin(n.out);
    if (n.first_ctx.in) lin(n.first_ctx);
  };
  if (m.encoder.present) mlp(m.encoder.net);
  for (const auto& L : m.layers) {
    if (L.kind == "plu_linear") b += stored_bytes(L.w_inv);
    for (const auto& n : L.nets) {
      if (!n.transformer) {
        mlp(n.mlp);
        continue;
      }
      const auto& t = n.tf;
      lin(t.input_proj), lin(t.context_proj);
      for (const auto& bl : t.blocks) {
        lin(bl.self_attn.q), lin(bl.self_attn.kv), lin(bl.self_attn.out);
        if (bl.cross) lin(bl.cross_attn.q), lin(bl.cross_attn.kv), lin(bl.cross_attn.out);
        if (bl.ff) lin(bl.ff1), lin(bl.ff2);
      }
      for (size_t g = 0; g < t.head1.size(); ++g) lin(t.head1[g]), lin(t.head2[g]);
    }
  }
  return b;
}

// Best single-core read bandwidth (GB/s) over a buffer of `bytes`: what streaming the weights once can reach
// when they do not fit in the core's own caches.
double stream_gbps(double bytes) {
  std::vector<float> buf(size_t(bytes / 4) + 16, 1.0f);
  double best = 0;
  float sink = 0;
  for (int rep = 0; rep < 10; ++rep) {
    auto t = Clock::now();
    float acc[16] = {0};
    for (size_t i = 0; i + 16 <= buf.size(); i += 16)
      for (int j = 0; j < 16; ++j) acc[j] += buf[i + size_t(j)];
    for (float a : acc) sink += a;
    best = std::max(best, double(buf.size()) * 4 / (ms_since(t) * 1e6));
  }
  if (sink < 0) std::printf(" ");  // keeps the loop
  return best;
}

// Best single-core GFLOP/s of a large square matrix multiply: OpenBLAS through torch::mm, and the runtime's
// own packed kernel; the roofline is the larger.
struct Peaks {
  double torch = 0, runtime = 0, torch_cpu = 0, runtime_cpu = 0;  // GFLOP/s, best of 8, wall and CPU time
};
Peaks matmul_peaks() {
  const int n = 768;
  const double fl = 2.0 * n * n * n;
  Peaks p;
  auto a = torch::randn({n, n}), b = torch::randn({n, n});
  for (int i = 0; i < 8; ++i) {
    auto t = Clock::now();
    const double c0 = cpu_ms();
    auto c = torch::mm(a, b);
    p.torch_cpu = std::max(p.torch_cpu, fl / ((cpu_ms() - c0) * 1e6));
    p.torch = std::max(p.torch, fl / (ms_since(t) * 1e6));
  }
  std::vector<float> av(size_t(n) * n, 0.5f), wv(size_t(n) * n, 0.25f), cv(size_t(n) * n);
  const auto packed = rt::pack_transposed(wv.data(), n, n);
  for (int i = 0; i < 8; ++i) {
    auto t = Clock::now();
    const double c0 = cpu_ms();
    rt::kernels().gemm(av.data(), n, n, packed, nullptr, cv.data(), n, false);
    p.runtime_cpu = std::max(p.runtime_cpu, fl / ((cpu_ms() - c0) * 1e6));
    p.runtime = std::max(p.runtime, fl / (ms_since(t) * 1e6));
  }
  return p;
}

}  // namespace

nlohmann::json runtime_speed(const RuntimeSpeedOptions& o) {
  torch::set_num_threads(1);
  torch::manual_seed(o.seed);
  torch::NoGradGuard ng;
  const auto path = std::filesystem::temp_directory_path() / ("nfp_bench_runtime_" + std::to_string(::getpid()) + ".nfpr");
  Flow flow{nullptr};
  std::optional<DensityModel> density;
  Policy policy{nullptr};
  std::vector<double> obs_mean, obs_std;
  nlohmann::json model_desc;
  if (o.checkpoint.empty()) {
    FlowConfig c = nina_mlp_sized_flow();
    c.seed = o.seed;
    flow = Flow(c);
    flow->eval();
    export_flow(*flow, RuntimeExportOptions{}, path);
    model_desc = {{"source", "random NinA-MLP-sized flow"}, {"flow", json(c)}};
  } else if (export_checkpoint(o.checkpoint, path)["kind"] == "policy") {
    policy = load_policy(o.checkpoint);
    for (const auto& m : policy->head()->named_children())
      if (m.key() == "flow") flow = Flow(std::dynamic_pointer_cast<FlowImpl>(m.value()));
    model_desc = {{"source", o.checkpoint}, {"policy", policy->config().head.type}, {"flow", json(flow->config())}};
  } else {
    density.emplace(DensityModel::load(o.checkpoint));
    flow = density->flow();
    obs_mean = density->config().context_mean;
    obs_std = density->config().context_std;
    model_desc = {{"source", o.checkpoint}, {"flow", json(flow->config())}};
  }
  const auto& fc = flow->config();
  const int D = int(fc.dim), C = int(fc.context_dim), B = o.batch;
  // One runtime model per weight precision, all from the same file; the first listed f32 (else the first
  // listed) is the primary one whose figures stay at the top level of the result.
  struct Prec {
    std::string name;
    std::unique_ptr<runtime::Model> model;
    std::unique_ptr<runtime::Workspace> ws;
    rt::Model internal;
    double diff = 0, diff_lp = 0;
    std::vector<double> r1, rB, cr1, crB, lat, lat_cpu;
  };
  if (o.weights.empty()) throw Error("--weights lists no precision; pass some of f32,bf16,int8,w8a8");
  std::vector<Prec> precs;
  for (const auto& w : o.weights) {
    Prec p;
    p.name = w;
    try {
      p.model = std::make_unique<runtime::Model>(path.string(), w);
      p.internal = rt::load_model(path.string(), rt::parse_weight_type(w));
    } catch (const std::exception& e) {
      std::filesystem::remove(path);
      throw Error(std::string("--weights: ") + e.what());
    }
    p.ws = std::make_unique<runtime::Workspace>(*p.model, B);
    precs.push_back(std::move(p));
  }
  std::filesystem::remove(path);
  size_t primary = 0;
  for (size_t i = 0; i < precs.size(); ++i)
    if (precs[i].name == "f32") {
      primary = i;
      break;
    }
  const runtime::Model& model = *precs[primary].model;

  // One observation in raw units; torch normalizes it (and, for a policy, encodes it: cameras, instruction, state
  // MLP) inside every timed call, as the runtime does (nfp_rt_observe, then the sampling call on it). A policy's
  // cameras film a new frame each call: each workspace's call t takes observation t (cyclically) of a control
  // loop's sliding window (bench_policy_speed.hpp), never the one its previous call took.
  const int obs_dim = model.info().obs_dim;
  auto obs = torch::randn({std::max(obs_dim, 1)});
  std::vector<float> obs_v(obs.data_ptr<float>(), obs.data_ptr<float>() + obs_dim);
  constexpr int kObservations = 16;
  const std::vector<PolicyObservation> pobs =
      policy ? policy_observations(*policy, obs, kObservations) : std::vector<PolicyObservation>{};
  auto context = [&](int t) -> torch::Tensor {
    if (C == 0) return {};
    if (policy) return policy->encode(pobs[size_t(t) % pobs.size()].history);
    auto ctx_n = obs.narrow(0, 0, C).clone();
    if (!obs_mean.empty())
      for (int i = 0; i < C; ++i) ctx_n[i] = (obs_v[size_t(i)] - obs_mean[size_t(i)]) / obs_std[size_t(i)];
    return ctx_n.view({1, C});
  };
  // The runtime's observation: a policy's whole observation is encoded by observe(), the calls then take it (an
  // empty obs); flows and density models pass their context floats to each call.
  std::map<const runtime::Workspace*, size_t> calls;
  auto observe = [&](runtime::Workspace& ws) -> std::span<const float> {
    if (!policy) return obs_v;
    const PolicyObservation& o = pobs[calls[&ws]++ % pobs.size()];
    runtime::check(ws.observe(obs_v, o.images, o.instruction.c_str()), "observe");
    return {};
  };
  auto ctx1 = context(0);
  auto ctxB = !C ? torch::Tensor() : ctx1.dim() == 3 ? ctx1.expand({B, ctx1.size(1), C}).contiguous()
                                                     : ctx1.expand({B, C}).contiguous();
  auto z1 = torch::randn({1, D}), zB = torch::randn({B, D});

  // Agreement on the same latents with libtorch (always f32), per precision (normalized units; a density
  // checkpoint's actions are compared normalized: the runtime's raw output is mapped back).
  {
    auto ref = flow->sample_from(zB, ctxB);
    if (policy) ref.x = ref.x.clamp(-1.0, 1.0);  // the runtime returns the policy's clamped chunk
    std::vector<float> x(size_t(B) * D), zv(zB.data_ptr<float>(), zB.data_ptr<float>() + zB.numel());
    std::vector<double> lp(static_cast<size_t>(B));
    for (auto& p : precs) {
      if (p.ws->sample_latent(observe(*p.ws), zv, B, x, lp.data()) != NFP_RT_OK) throw Error("runtime sample failed");
      auto xr = torch::from_blob(x.data(), {B, D}).clone();
      if (density) {
        auto mean = torch::tensor(density->config().mean).to(torch::kFloat32), sd = torch::tensor(density->config().std).to(torch::kFloat32);
        xr = (xr - mean) / sd;
      }
      if (policy) {  // raw, clamped chunks: back to normalized units
        const auto& pc = policy->config();
        xr = policy->normalizer().normalize("action", xr.view({B, pc.horizon, pc.action_dim})).view({B, D});
      }
      p.diff = (xr - ref.x).abs().max().item<double>();
      p.diff_lp = (torch::tensor(lp) - ref.log_prob.to(torch::kFloat64)).abs().max().item<double>();
    }
  }

  // Interleaved rounds: torch b1, runtime b1 (each precision), torch bB, runtime SBS-B (each precision);
  // wall and thread CPU time of each.
  std::vector<double> t1, tB, ct1, ctB;
  std::vector<float> act(static_cast<size_t>(D));
  double lp = 0;
  for (int round = -3; round < o.rounds; ++round) {  // 3 warm-up rounds
    double c0 = cpu_ms();
    auto t = Clock::now();
    flow->sample_from(z1, context(round + 3));
    const double a = ms_since(t), ca = cpu_ms() - c0;
    for (auto& p : precs) {
      c0 = cpu_ms();
      t = Clock::now();
      const nfp_rt_status st = p.ws->sample(observe(*p.ws), 1.0f, uint64_t(round + 100), act, &lp);
      const double b = ms_since(t), cb = cpu_ms() - c0;
      runtime::check(st, "sample");  // a refused call would time nothing
      if (round >= 0) p.r1.push_back(b), p.cr1.push_back(cb);
    }
    c0 = cpu_ms();
    t = Clock::now();
    auto cB = context(round + 3);
    flow->sample_from(zB, !C ? cB : cB.dim() == 3 ? cB.expand({B, cB.size(1), C}) : cB.expand({B, C}));
    const double c = ms_since(t), cc = cpu_ms() - c0;
    for (auto& p : precs) {
      c0 = cpu_ms();
      t = Clock::now();
      const nfp_rt_status st = p.ws->sbs(observe(*p.ws), B, 1.0f, uint64_t(round + 100), act, &lp);
      const double d = ms_since(t), cd = cpu_ms() - c0;
      runtime::check(st, "sbs");
      if (round >= 0) p.rB.push_back(d), p.crB.push_back(cd);
    }
    if (round >= 0) t1.push_back(a), tB.push_back(c), ct1.push_back(ca), ctB.push_back(cc);
  }
  const Peaks peaks = matmul_peaks();
  const double peak_torch = peaks.torch, peak_rt = peaks.runtime;
  const double roofline = std::max(peak_torch, peak_rt), roofline_cpu = std::max(peaks.torch_cpu, peaks.runtime_cpu);
  const double flops = runtime_flops(precs[primary].internal, B);

  // Latency distribution: o.jitter_calls batch-1 samples per precision, one precision after the other.
  for (auto& p : precs) {
    p.lat.reserve(size_t(o.jitter_calls));
    p.lat_cpu.reserve(size_t(o.jitter_calls));
    for (int i = 0; i < o.jitter_calls; ++i) {
      const double c0 = cpu_ms();
      auto t = Clock::now();
      const nfp_rt_status st = p.ws->sample(observe(*p.ws), 1.0f, uint64_t(i), act, &lp);
      p.lat.push_back(ms_since(t) * 1000.0);
      p.lat_cpu.push_back((cpu_ms() - c0) * 1000.0);
      runtime::check(st, "sample");
    }
  }

  nlohmann::json per = nlohmann::json::object();
  for (const auto& p : precs) {
    const double gflops = flops / (median(p.rB) * 1e6), gflops_cpu = flops / (median(p.crB) * 1e6);
    // The roofline is a best-of measurement; under load the fair comparison is SBS's best round too.
    const double gflops_best = flops / (*std::min_element(p.rB.begin(), p.rB.end()) * 1e6);
    const double wbytes = weight_bytes(p.internal), gbps = stream_gbps(wbytes);
    const double floor_ms = wbytes / (gbps * 1e6);
    const double p50 = percentile(p.lat, 0.5), p99 = percentile(p.lat, 0.99);
    per[p.name] = {{"weights", p.name},
                   {"max_abs_diff", p.diff},
                   {"max_abs_diff_log_prob", p.diff_lp},
                   {"runtime_ms_batch1", median(p.r1)},
                   {"speedup_batch1", median(t1) / median(p.r1)},
                   {"runtime_ms_batch1_best", *std::min_element(p.r1.begin(), p.r1.end())},
                   {"runtime_ms_sbs128", median(p.rB)},
                   {"speedup_batch128", median(tB) / median(p.rB)},
                   {"sbs128_gflops", gflops},
                   {"roofline_ratio", roofline / gflops},
                   {"sbs128_gflops_best", gflops_best},
                   {"roofline_ratio_best", roofline / gflops_best},
                   {"weight_mb", wbytes / 1e6},
                   {"stream_gbps", gbps},
                   {"batch1_floor_ms", floor_ms},
                   {"runtime_batch1_over_floor", median(p.r1) / floor_ms},
                   {"p50_us", p50},
                   {"p99_us", p99},
                   {"p99_over_p50", p99 / p50},
                   {"max_us", *std::max_element(p.lat.begin(), p.lat.end())},
                   // The same figures in thread CPU time (see cpu_ms): what the code costs when it has the core.
                   {"cpu_runtime_ms_batch1", median(p.cr1)},
                   {"cpu_speedup_batch1", median(ct1) / median(p.cr1)},
                   {"cpu_runtime_ms_sbs128", median(p.crB)},
                   {"cpu_sbs128_gflops", gflops_cpu},
                   {"cpu_roofline_ratio", roofline_cpu / gflops_cpu},
                   {"cpu_p50_us", percentile(p.lat_cpu, 0.5)},
                   {"cpu_p99_us", percentile(p.lat_cpu, 0.99)},
                   {"cpu_p99_over_p50", percentile(p.lat_cpu, 0.99) / percentile(p.lat_cpu, 0.5)}};
  }
  // The top level: the primary precision's figures under their historical names, plus the torch side.
  nlohmann::json r = per[precs[primary].name];
  r["model"] = model_desc;
  r["kernels"] = model.info().kernels;
  r["threads"] = 1;
  r["weights"] = precs[primary].name;
  r["batch"] = B;
  r["calls"] = o.jitter_calls;
  r["torch_ms_batch1"] = median(t1);
  r["torch_ms_batch128"] = median(tB);
  r["sbs128_gflop"] = flops / 1e9;
  r["roofline_gflops"] = roofline;
  r["roofline_openblas_gflops"] = peak_torch;
  r["roofline_runtime_kernel_gflops"] = peak_rt;
  r["workspace_bytes"] = precs[primary].ws->bytes();
  r["cpu_torch_ms_batch1"] = median(ct1);
  r["cpu_torch_ms_batch128"] = median(ctB);
  r["cpu_roofline_gflops"] = roofline_cpu;
  r["precisions"] = per;
  if (policy) r["whole_policy"] = whole_policy_speed(*policy, *precs[primary].model, obs_v, pobs, o.rounds);
  return r;
}

}  // namespace nfp::bench
