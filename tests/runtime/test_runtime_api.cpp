// The runtime's contract: no allocation inside calls, determinism for a seed, SBS picks the most likely
// sample, GR raises log p, argument and capacity errors, clear errors for corrupt or foreign files.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <new>

#include "nfp/policy.hpp"
#include "nfp/runtime.hpp"
#include "nfp/safetensors.hpp"
#include "runtime_fixtures.hpp"

// Counts every heap allocation in this test binary.
static std::atomic<long> g_allocations{0};
void* operator new(std::size_t n) {
  ++g_allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
// The deletes pair with the news above (malloc / free), but once GCC 12 inlines one into a caller it sees
// free() on a pointer from operator new and warns (-Wmismatched-new-delete, a false positive): kept out of line.
__attribute__((noinline)) void operator delete(void* p) noexcept { std::free(p); }
__attribute__((noinline)) void operator delete[](void* p) noexcept { std::free(p); }
__attribute__((noinline)) void operator delete(void* p, std::size_t) noexcept { std::free(p); }
__attribute__((noinline)) void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace nfp {
namespace {

struct Fixture {
  std::filesystem::path path;
  std::unique_ptr<runtime::Model> model;
  std::vector<float> obs;
};

Fixture make(const std::string& name, const std::string& weights = "f32") {
  auto cases = test::runtime_cases();
  const auto& tc = *std::find_if(cases.begin(), cases.end(), [&](const auto& c) { return c.name == name; });
  Flow f = test::random_flow(tc.config, 21);
  Fixture fx;
  fx.path = test::temp_path("api_" + name + ".nfpr");
  RuntimeExportOptions o;
  o.context_tokens = tc.context_tokens;
  o.action_mean.assign(size_t(tc.config.dim), 0.5);
  o.action_std.assign(size_t(tc.config.dim), 2.0);
  export_flow(*f, o, fx.path);
  fx.model = std::make_unique<runtime::Model>(fx.path.string(), weights);
  fx.obs.assign(size_t(fx.model->info().obs_dim), 0.3f);
  return fx;
}

// Every weight precision: the narrow GEMMs widen in registers (batch 1) or in a stack block (batched); w8a8
// rounds activations into the workspace's scratch.
TEST(RuntimeApi, CallsDoNotAllocate) {
  for (const char* weights : {"f32", "bf16", "int8", "w8a8"})
  for (const char* name : {"affine_mlp_plu_actnorm", "affine_transformer_ctx_tokens", "spline_mlp"}) {
    Fixture fx = make(name, weights);
    const int D = fx.model->info().dim, n = 16;
    runtime::Workspace ws(*fx.model, n);
    std::vector<float> x(static_cast<size_t>(n) * D), g(static_cast<size_t>(n) * D);
    std::vector<double> lp(static_cast<size_t>(n));
    const long before = g_allocations.load();
    ASSERT_EQ(ws.sample(fx.obs, 1.0f, 7, x, lp.data(), n), NFP_RT_OK);
    ASSERT_EQ(ws.sample(fx.obs, 1.0f, 7, x, lp.data(), 1), NFP_RT_OK);  // the batch-1 (GEMV) path
    ASSERT_EQ(ws.sbs(fx.obs, n, 0.8f, 7, x, lp.data()), NFP_RT_OK);
    ASSERT_EQ(ws.log_prob(fx.obs, x, n, lp.data()), NFP_RT_OK);
    ASSERT_EQ(ws.log_prob_grad(fx.obs, x, n, lp.data(), g), NFP_RT_OK);
    ASSERT_EQ(ws.gr(fx.obs, 3, 0.01f, 0.8f, 7, x, lp.data()), NFP_RT_OK);
    EXPECT_EQ(g_allocations.load() - before, 0) << name << " " << weights;
    std::filesystem::remove(fx.path);
  }
}

// A policy adds the encoder and the clamp; its transformer head the conditioner's backward pass (GR).
TEST(RuntimeApi, PolicyCallsDoNotAllocate) {
  for (const char* head : {"nina-transformer", "nfp-spline"}) {
    Policy p = test::random_policy(head, true);
    const auto path = test::temp_path(std::string("api_policy_") + head + ".nfpr");
    export_policy(*p, path);
    runtime::Model model(path.string());
    std::filesystem::remove(path);
    const int D = model.info().dim, n = 8;
    runtime::Workspace ws(model, n);
    std::vector<float> obs(size_t(model.info().obs_dim), 0.2f), x(static_cast<size_t>(n) * D),
        g(static_cast<size_t>(n) * D);
    std::vector<double> lp(static_cast<size_t>(n));
    std::vector<float> sampled(x.size());
    const long before = g_allocations.load();
    ASSERT_EQ(ws.sample(obs, 1.5f, 7, x, lp.data(), n), NFP_RT_OK);
    std::copy(x.begin(), x.end(), sampled.begin());
    ASSERT_EQ(ws.sbs(obs, n, 0.8f, 7, x, lp.data()), NFP_RT_OK);
    ASSERT_EQ(ws.log_prob(obs, x, n, lp.data()), NFP_RT_OK);
    ASSERT_EQ(ws.log_prob_grad(obs, x, n, lp.data(), g), NFP_RT_OK);
    ASSERT_EQ(ws.gr(obs, 3, 0.01f, 0.8f, 7, x, lp.data()), NFP_RT_OK);
    EXPECT_EQ(g_allocations.load() - before, 0) << head;
    // Clamped to the action statistics' range (min-max [-2, 2], [0, 0.5], [1, 5] per action dimension).
    const float lo[] = {-2, 0, 1}, hi[] = {2, 0.5f, 5};
    for (size_t i = 0; i < sampled.size(); ++i)
      EXPECT_TRUE(sampled[i] >= lo[i % 3] - 1e-5f && sampled[i] <= hi[i % 3] + 1e-5f) << head << " " << sampled[i];
  }
}

// Camera and instruction encoders: nfp_rt_observe (resize, crop, convolutions, the words) allocates nothing either.
TEST(RuntimeApi, ObserveDoesNotAllocate) {
  for (const auto& e : test::encoder_cases()) {
    Policy p = test::encoder_policy(e);
    const auto path = test::temp_path("api_observe_" + e.name + ".nfpr");
    export_policy(*p, path);
    runtime::Model model(path.string());
    std::filesystem::remove(path);
    const auto& info = model.info();
    runtime::Workspace ws(model, 4);
    std::vector<float> state(size_t(info.obs_dim), 0.2f), x(size_t(4) * info.dim);
    std::vector<double> lp(4);
    const Image im = test::random_image(info.image_height, info.image_width, 1);
    std::vector<const uint8_t*> images(size_t(info.cameras * info.history), im.pixels.data());
    const long before = g_allocations.load();
    for (const char* text : {"push the red block to the left goal", "", "an unknownword"}) {
      ASSERT_EQ(ws.observe(state, images, text), NFP_RT_OK) << e.name;
      ASSERT_EQ(ws.sample({}, 1.0f, 7, x, lp.data()), NFP_RT_OK) << e.name;
      ASSERT_EQ(ws.sbs({}, 4, 0.8f, 7, x, lp.data()), NFP_RT_OK) << e.name;
      ASSERT_EQ(ws.gr({}, 2, 0.01f, 0.8f, 7, x, lp.data()), NFP_RT_OK) << e.name;
    }
    EXPECT_EQ(g_allocations.load() - before, 0) << e.name;
  }
}

TEST(RuntimeApi, DeterministicForASeedAndDifferentAcrossSeeds) {
  Fixture fx = make("spline_mlp");
  const int D = fx.model->info().dim;
  runtime::Workspace a(*fx.model, 4), b(*fx.model, 4);
  std::vector<float> x1(size_t(4) * D), x2(x1.size()), x3(x1.size());
  ASSERT_EQ(a.sample(fx.obs, 1.0f, 42, x1, nullptr, 4), NFP_RT_OK);
  ASSERT_EQ(b.sample(fx.obs, 1.0f, 42, x2, nullptr, 4), NFP_RT_OK);
  ASSERT_EQ(a.sample(fx.obs, 1.0f, 43, x3, nullptr, 4), NFP_RT_OK);
  EXPECT_EQ(x1, x2);
  EXPECT_NE(x1, x3);
  // sigma = 0 is the image of the latent mode; raw units = normalized * 2 + 0.5 (the exported stats).
  std::vector<float> m(static_cast<size_t>(D)), z(size_t(D), 0.0f), mz(static_cast<size_t>(D));
  ASSERT_EQ(a.sample(fx.obs, 0.0f, 1, m), NFP_RT_OK);
  ASSERT_EQ(a.sample_latent(fx.obs, z, 1, mz), NFP_RT_OK);
  EXPECT_EQ(m, mz);
  std::filesystem::remove(fx.path);
}

TEST(RuntimeApi, SbsPicksTheMostLikelyAndGrRaisesLogProb) {
  Fixture fx = make("affine_mlp_plu_actnorm");
  const int D = fx.model->info().dim, n = 32;
  runtime::Workspace ws(*fx.model, n);
  std::vector<float> all(static_cast<size_t>(n) * D), best(static_cast<size_t>(D));
  std::vector<double> lp(static_cast<size_t>(n));
  double best_lp = 0;
  ASSERT_EQ(ws.sample(fx.obs, 1.0f, 5, all, lp.data(), n), NFP_RT_OK);
  ASSERT_EQ(ws.sbs(fx.obs, n, 1.0f, 5, best, &best_lp), NFP_RT_OK);
  EXPECT_DOUBLE_EQ(best_lp, *std::max_element(lp.begin(), lp.end()));
  double start = 0, refined = 0;
  std::vector<float> a(static_cast<size_t>(D));
  ASSERT_EQ(ws.gr(fx.obs, 0, 0.05f, 1.0f, 9, a, &start), NFP_RT_OK);
  ASSERT_EQ(ws.gr(fx.obs, 20, 0.05f, 1.0f, 9, a, &refined), NFP_RT_OK);
  EXPECT_GT(refined, start + 0.1);
  std::filesystem::remove(fx.path);
}

TEST(RuntimeApi, BadArgumentsAndCapacity) {
  Fixture fx = make("spline_mlp");
  const int D = fx.model->info().dim;
  runtime::Workspace ws(*fx.model, 2);
  std::vector<float> x(size_t(3) * D);
  EXPECT_EQ(ws.sample(fx.obs, 1.0f, 1, x, nullptr, 3), NFP_RT_CAPACITY);
  EXPECT_EQ(ws.sample(fx.obs, NAN, 1, x, nullptr, 1), NFP_RT_BAD_ARGUMENT);
  EXPECT_EQ(ws.sample({}, 1.0f, 1, x, nullptr, 1), NFP_RT_BAD_ARGUMENT);  // conditional model, no obs
  EXPECT_EQ(ws.sbs(fx.obs, 0, 1.0f, 1, x), NFP_RT_BAD_ARGUMENT);
  std::filesystem::remove(fx.path);
}

void expect_load_error(const std::filesystem::path& p, const std::string& fragment) {
  try {
    runtime::Model m(p.string());
    ADD_FAILURE() << "loading " << p << " should fail";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
  }
}

TEST(RuntimeApi, CorruptOrForeignFilesFailClearly) {
  Fixture fx = make("affine_mlp_plu_actnorm");
  std::ifstream in(fx.path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  auto write = [](const std::filesystem::path& p, const std::string& b) { std::ofstream(p, std::ios::binary) << b; };
  const auto bad = test::temp_path("bad.nfpr");
  expect_load_error(test::temp_path("missing.nfpr"), "cannot open");
  write(bad, bytes.substr(0, bytes.size() / 2));
  expect_load_error(bad, "truncated");
  write(bad, "abc");
  expect_load_error(bad, "not an .nfpr");
  std::string garbled = bytes;
  garbled[12] = '#';
  write(bad, garbled);
  expect_load_error(bad, "not an .nfpr");
  // A plain safetensors file (no runtime config).
  SafeTensorsFile plain;
  plain.tensors["w"] = SafeTensor{"F32", {1}, std::vector<uint8_t>(4, 0)};
  write_safetensors(bad, plain);
  expect_load_error(bad, "nfp export");
  // The config and the weights disagree: a weight missing (re-sealed, so the checksum matches).
  SafeTensorsFile f = read_safetensors(fx.path);
  f.tensors.erase("flow.plu3.weight");
  write_nfpr(f, json::parse(f.metadata.at("nfp_runtime")), bad);
  expect_load_error(bad, "flow.plu3.weight");
  std::filesystem::remove(bad);
  std::filesystem::remove(fx.path);
}

}  // namespace
}  // namespace nfp
