// Never a non-finite number from the runtime (c_api.cpp): a NaN, +-Inf or FLT_MAX element in an observation,
// a given chunk or a given latent makes every call return NFP_RT_NONFINITE with the caller's buffers untouched;
// so does a result that would overflow. Run over every model the runtime tests export: the seven flow
// configurations of runtime_cases() and a policy of each flow head.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>

#include "nfp/runtime.h"
#include "runtime_fixtures.hpp"

namespace nfp {
namespace {

constexpr float kSentinel = 12345.0f;  // what the outputs hold before a refused call, and must hold after it
const float kBad[] = {NAN, INFINITY, -INFINITY, FLT_MAX, -FLT_MAX};

struct Exported {
  std::string name;
  std::unique_ptr<runtime::Model> model;
};

std::vector<Exported> every_exported_model() {
  std::vector<Exported> out;
  for (const auto& tc : test::runtime_cases()) {
    const auto path = test::temp_path("nonfinite_" + tc.name + ".nfpr");
    RuntimeExportOptions o;
    o.context_tokens = tc.context_tokens;
    o.action_mean.assign(size_t(tc.config.dim), 0.5);
    o.action_std.assign(size_t(tc.config.dim), 2.0);
    export_flow(*test::random_flow(tc.config, 5), o, path);
    out.push_back({tc.name, std::make_unique<runtime::Model>(path.string())});
    std::filesystem::remove(path);
  }
  for (const char* head : {"nina-mlp", "nina-transformer", "nfp-spline"}) {
    Policy p = test::random_policy(head, true);
    const auto path = test::temp_path(std::string("nonfinite_") + head + ".nfpr");
    export_policy(*p, path);
    out.push_back({head, std::make_unique<runtime::Model>(path.string())});
    std::filesystem::remove(path);
  }
  return out;
}

bool untouched(const std::vector<float>& v) {
  return std::all_of(v.begin(), v.end(), [](float x) { return x == kSentinel; });
}
bool untouched(const std::vector<double>& v) {
  return std::all_of(v.begin(), v.end(), [](double x) { return x == double(kSentinel); });
}

enum class Bad { none, obs, chunk, latent };

// The calls that read the bad input (every call for the observation; log_prob / log_prob_grad for a chunk;
// sample_latent for a latent) must return NFP_RT_NONFINITE and leave their outputs untouched; with clean
// input every call is OK with finite outputs.
void expect_calls(runtime::Workspace& ws, int D, const std::vector<float>& obs, const std::vector<float>& chunk,
                  const std::vector<float>& z, Bad bad, const std::string& what) {
  const int n = 2;
  const nfp_rt_status expect = bad == Bad::none ? NFP_RT_OK : NFP_RT_NONFINITE;
  std::vector<float> a(size_t(n) * D, kSentinel), g(size_t(n) * D, kSentinel);
  std::vector<double> lp(size_t(n), kSentinel);
  auto check = [&](nfp_rt_status s, const char* call) {
    EXPECT_EQ(s, expect) << what << ": " << call;
    if (expect != NFP_RT_OK) {
      EXPECT_TRUE(untouched(a) && untouched(g) && untouched(lp)) << what << ": " << call << " wrote its outputs";
    } else {
      for (float x : a) EXPECT_TRUE(x == kSentinel || std::isfinite(x)) << what << ": " << call;
      for (double x : lp) EXPECT_TRUE(x == double(kSentinel) || std::isfinite(x)) << what << ": " << call;
    }
    std::fill(a.begin(), a.end(), kSentinel), std::fill(g.begin(), g.end(), kSentinel);
    std::fill(lp.begin(), lp.end(), kSentinel);
  };
  const bool all = bad == Bad::none || bad == Bad::obs;
  if (all || bad == Bad::latent) check(ws.sample_latent(obs, z, n, a, lp.data()), "sample_latent");
  if (all || bad == Bad::chunk) {
    check(ws.log_prob(obs, chunk, n, lp.data()), "log_prob");
    check(ws.log_prob_grad(obs, chunk, n, lp.data(), g), "log_prob_grad");
  }
  if (!all) return;
  check(ws.sample(obs, 1.0f, 3, a, lp.data(), n), "sample");
  check(ws.sbs(obs, n, 1.0f, 3, a, lp.data()), "sbs");
  check(ws.gr(obs, 3, 0.01f, 1.0f, 3, a, lp.data()), "gr");
}

TEST(RuntimeNonFinite, EveryCallRefusesNanInfAndFltMaxInputs) {
  for (const auto& e : every_exported_model()) {
    const nfp_rt_info& info = e.model->info();
    const int D = info.dim, I = info.obs_dim;
    runtime::Workspace ws(*e.model, 2);
    const std::vector<float> obs(size_t(I), 0.3f), chunk(size_t(2) * D, 0.1f), z(size_t(2) * D, 0.5f);
    expect_calls(ws, D, obs, chunk, z, Bad::none, e.name + " clean");  // the calls work on clean input
    for (float bad : kBad) {
      const std::string v = e.name + " " + std::to_string(bad);
      for (int at : {0, I / 2, I - 1}) {  // the observation, at its first, middle and last element
        if (I == 0) break;
        std::vector<float> o = obs;
        o[size_t(at)] = bad;
        expect_calls(ws, D, o, chunk, z, Bad::obs, v + " in obs[" + std::to_string(at) + "]");
      }
      std::vector<float> c = chunk, zz = z;  // a given chunk (log_prob, log_prob_grad) and a given latent
      c[size_t(D + D / 2)] = bad;
      zz[size_t(D - 1)] = bad;
      expect_calls(ws, D, obs, c, z, Bad::chunk, v + " in the chunk");
      expect_calls(ws, D, obs, chunk, zz, Bad::latent, v + " in the latent");
    }
  }
}

// Finite inputs whose result overflows: raw actions = normalized x 1e31 (a finite std), from a latent of 1e10.
TEST(RuntimeNonFinite, AnOverflowingResultIsRefusedToo) {
  const auto tc = test::runtime_cases()[0];
  const auto path = test::temp_path("nonfinite_overflow.nfpr");
  RuntimeExportOptions o;
  o.action_mean.assign(size_t(tc.config.dim), 0.0);
  o.action_std.assign(size_t(tc.config.dim), 1e31);
  export_flow(*test::random_flow(tc.config, 5), o, path);
  runtime::Model model(path.string());
  std::filesystem::remove(path);
  const int D = model.info().dim;
  runtime::Workspace ws(model, 1);
  std::vector<float> obs(size_t(model.info().obs_dim), 0.3f), z(size_t(D), 1e10f), a(size_t(D), kSentinel);
  double lp = kSentinel;
  EXPECT_EQ(ws.sample_latent(obs, z, 1, a, &lp), NFP_RT_NONFINITE);
  EXPECT_TRUE(untouched(a));
  EXPECT_EQ(lp, double(kSentinel));
  std::fill(z.begin(), z.end(), 0.0f);  // the mode maps to a modest chunk: fine
  EXPECT_EQ(ws.sample_latent(obs, z, 1, a, &lp), NFP_RT_OK);
}

// The C++ wrapper: check() turns a status into an exception that names the call and says what was wrong.
TEST(RuntimeNonFinite, WrapperCheckThrowsAClearError) {
  auto models = every_exported_model();
  const auto& m = *models.back().model;  // a policy
  runtime::Workspace ws(m, 1);
  std::vector<float> obs(size_t(m.info().obs_dim), NAN), a(size_t(m.info().dim));
  try {
    runtime::check(ws.sample(obs, 1.0f, 1, a), "sample");
    ADD_FAILURE() << "check() should throw for a NaN observation";
  } catch (const runtime::CallError& e) {
    EXPECT_EQ(e.status(), NFP_RT_NONFINITE);
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind("nfp runtime: sample: non-finite input or result", 0), 0u) << msg;
    EXPECT_NE(msg.find("NaN or Inf"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos);
  }
  EXPECT_NO_THROW(runtime::check(NFP_RT_OK, "sample"));
}

}  // namespace
}  // namespace nfp
