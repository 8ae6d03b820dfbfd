// Exported policies against libtorch's nfp::Policy for every flow head: raw observation history (+ previous
// action) in, same latent noise -> the same chunk in data units and the same log p; log p of given raw chunks;
// and `nfp export` on policy checkpoints (flow heads export, other heads and bad input fail cleanly).
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "nfp/atomic_file.hpp"
#include "nfp/checkpoint.hpp"
#include "nfp/export.hpp"
#include "nfp/runtime.hpp"
#include "nfp_cli.hpp"
#include "runtime_fixtures.hpp"

namespace nfp {
namespace {

// The bound (normalized units); float32 through encoder + flow on both sides.
constexpr double kTol = 1e-4;

struct PolicyCase {
  std::string head;
  bool prev_action;
};

Policy random_policy(const PolicyCase& pc, bool push_task = false) {
  return test::random_policy(pc.head, pc.prev_action, push_task);
}

std::shared_ptr<FlowImpl> head_flow(Policy& p) {
  for (const auto& m : p->head()->named_children())
    if (m.key() == "flow") return std::dynamic_pointer_cast<FlowImpl>(m.value());
  return nullptr;
}

class RuntimePolicy : public ::testing::TestWithParam<PolicyCase> {};

TEST_P(RuntimePolicy, ChunksAndLogProbsEqualLibtorch) {
  const auto& pc = GetParam();
  Policy p = random_policy(pc);
  const auto& c = p->config();
  const auto path = test::temp_path("policy_" + pc.head + ".nfpr");
  export_policy(*p, path);
  runtime::Model model(path.string());
  const int n = 7, D = int(c.horizon * c.action_dim), A = int(c.action_dim);
  const int in = int(c.history * 5 + (c.prev_action ? A : 0));
  ASSERT_EQ(std::string(model.info().kind), "policy");
  ASSERT_EQ(model.info().obs_dim, in);
  ASSERT_EQ(model.info().dim, D);
  EXPECT_FLOAT_EQ(model.info().sigma, 0.8f);
  runtime::Workspace ws(model, n);

  // Raw observations, in the runtime's layout: each key's history, then the previous raw action.
  torch::manual_seed(9);
  ObservationBatch obs_n;
  std::vector<float> obs;
  const Normalizer& nz = p->normalizer();
  for (size_t k = 0; k < c.obs_keys.size(); ++k) {
    auto raw = torch::randn({c.history, c.obs_dims[k]}) * 2 + 1;
    obs.insert(obs.end(), raw.data_ptr<float>(), raw.data_ptr<float>() + raw.numel());
    obs_n.lowdim[c.obs_keys[k]] = nz.normalize(c.obs_keys[k], raw).unsqueeze(0);
  }
  if (c.prev_action) {
    auto raw = torch::randn({A}) + 1;
    obs.insert(obs.end(), raw.data_ptr<float>(), raw.data_ptr<float>() + A);
    obs_n.prev_action = nz.normalize("action", raw).unsqueeze(0);
  }
  torch::NoGradGuard ng;
  auto ctx = p->encode(obs_n).expand({n, c.context_dim}).contiguous();
  auto flow = head_flow(p);
  ASSERT_TRUE(flow);
  auto z = torch::randn({n, D}) * 1.3;  // some samples land outside [-1, 1]: the clamp is exercised
  auto ref = flow->sample_from(z, ctx);
  auto ref_raw = nz.unnormalize("action", ref.x.clamp(-1.0, 1.0).view({n, c.horizon, A}));
  auto inv_scale = torch::tensor(nz.at("action").inv_scale);  // raw -> normalized units

  std::vector<float> zv(z.data_ptr<float>(), z.data_ptr<float>() + z.numel()), a(size_t(n) * D);
  std::vector<double> lp(static_cast<size_t>(n));
  ASSERT_EQ(ws.sample_latent(obs, zv, n, a, lp.data()), NFP_RT_OK);
  auto got = torch::from_blob(a.data(), {n, c.horizon, A}).clone();
  EXPECT_LE(((got - ref_raw) * inv_scale).abs().max().item<double>(), kTol) << pc.head;
  EXPECT_GT((ref.x.abs() > 1).sum().item<int64_t>(), 0) << "the clamp was not exercised";
  EXPECT_LE((torch::tensor(lp, torch::kFloat64) - ref.log_prob.to(torch::kFloat64)).abs().max().item<double>(), kTol);

  // log p of given raw chunks (raw -> normalized inside the runtime).
  auto an = torch::rand({n, D}) * 1.8 - 0.9;
  auto araw = nz.unnormalize("action", an.view({n, c.horizon, A})).contiguous();
  // The reference sees the chunk as the policy would: raw -> normalized by the Normalizer (float rounding of
  // the round trip alone moves log p by ~1e-4 here, the random flows being steep).
  auto ref_lp = flow->log_prob(nz.normalize("action", araw).view({n, D}), ctx).to(torch::kFloat64);
  std::vector<float> av(araw.data_ptr<float>(), araw.data_ptr<float>() + araw.numel());
  ASSERT_EQ(ws.log_prob(obs, av, n, lp.data()), NFP_RT_OK);
  EXPECT_LE((torch::tensor(lp, torch::kFloat64) - ref_lp).abs().max().item<double>(), kTol)
      << pc.head << " log p " << ref_lp;
  std::filesystem::remove(path);
}

INSTANTIATE_TEST_SUITE_P(Heads, RuntimePolicy,
                         ::testing::Values(PolicyCase{"nina-mlp", false}, PolicyCase{"nina-mlp", true},
                                           PolicyCase{"nina-transformer", true}, PolicyCase{"nfp-spline", false},
                                           PolicyCase{"nfp-spline", true}),
                         [](const auto& info) {
                           std::string s = info.param.head + (info.param.prev_action ? "_prev" : "");
                           for (auto& ch : s)
                             if (ch == '-') ch = '_';
                           return s;
                         });

TEST(ExportCli, PolicyCheckpointsExportAndOthersFailCleanly) {
  if (!test::nfp_available()) GTEST_SKIP() << "nfp binary not built";
  const auto dir = test::temp_path("policy_ckpt");
  std::filesystem::create_directories(dir);
  Policy p = random_policy({"nfp-spline", true});
  save_checkpoint(*p, dir);
  const auto out = test::temp_path("cli_policy.nfpr");
  auto r = test::run_nfp("export --checkpoint " + dir.string() + " --out " + out.string() + " --json");
  ASSERT_EQ(r.status, 0) << r.out;
  auto j = test::last_line_json(r.out);
  EXPECT_EQ(j["kind"], "policy");
  EXPECT_EQ(j["obs_dim"], 2 * 5 + 3);
  EXPECT_EQ(j["dim"], 12);
  runtime::Model m(out.string());
  EXPECT_EQ(std::string(m.info().kind), "policy");
  const std::string good = read_file(out);

  // An existing output is not replaced without --force: a usage error (exit 2), one line, the file unchanged.
  r = test::run_nfp("export --checkpoint " + dir.string() + " --out " + out.string());
  EXPECT_EQ(r.status, 2) << r.out;
  test::expect_one_line_error(r, "already exists; pass --force to replace it");
  // With --force, a checkpoint whose export does not load back (a NaN weight) fails and the good file stays:
  // the export is validated under a temporary name before it replaces anything, and the temporary is removed.
  const auto nan_dir = test::temp_path("policy_nan_ckpt");
  std::filesystem::create_directories(nan_dir);
  {
    torch::NoGradGuard ng;
    head_flow(p)->parameters().front().view(-1)[0] = std::numeric_limits<float>::quiet_NaN();
  }
  save_checkpoint(*p, nan_dir);
  r = test::run_nfp("export --checkpoint " + nan_dir.string() + " --out " + out.string() + " --force");
  test::expect_one_line_error(r, "does not load back with the runtime");
  EXPECT_NE(r.out.find("non-finite"), std::string::npos) << r.out;
  EXPECT_EQ(read_file(out), good);
  for (const auto& e : std::filesystem::directory_iterator(out.parent_path()))
    EXPECT_EQ(e.path().filename().string().find(out.filename().string() + ".tmp"), std::string::npos) << e.path();
  // --force with a good checkpoint replaces it.
  r = test::run_nfp("export --checkpoint " + dir.string() + " --out " + out.string() + " --force");
  EXPECT_EQ(r.status, 0) << r.out;
  std::filesystem::remove_all(nan_dir);
  std::filesystem::remove(out);

  // A regression head: one clear line, non-zero exit, no file.
  const auto reg = test::temp_path("regression_ckpt");
  std::filesystem::create_directories(reg);
  PolicyConfig rc = p->config();
  rc.head = default_head_config("regression");
  Policy rp = make_policy(rc, p->normalizer());
  save_checkpoint(*rp, reg);
  r = test::run_nfp("export --checkpoint " + reg.string() + " --out " + out.string());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("flow heads only"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(out));
  // Not a checkpoint; a corrupt config.
  r = test::run_nfp("export --checkpoint " + test::temp_path("nowhere").string() + " --out " + out.string());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("not a checkpoint directory"), std::string::npos) << r.out;
  std::ofstream(dir / "config.json") << "{ not json";
  r = test::run_nfp("export --checkpoint " + dir.string() + " --out " + out.string());
  EXPECT_NE(r.status, 0);
  EXPECT_FALSE(std::filesystem::exists(out));
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(reg);
}

// Writes a small exported policy for the package test (tests/runtime/CMakeLists.txt runs this alone with
// NFP_RUNTIME_FIXTURE_OUT set; otherwise it does nothing).
TEST(PackageFixture, WritesAPolicy) {
  const char* out = std::getenv("NFP_RUNTIME_FIXTURE_OUT");
  if (!out) GTEST_SKIP() << "NFP_RUNTIME_FIXTURE_OUT not set";
  Policy p = random_policy({"nina-mlp", true});
  export_policy(*p, out);
  EXPECT_EQ(runtime::Model(out).info().dim, 12);
  // A policy shaped for push-two-goals (random weights), for the control-loop example's test.
  const std::string sim_out = std::string(out) + ".push.nfpr";
  Policy q = random_policy({"nfp-spline", true}, true);
  export_policy(*q, sim_out);
  EXPECT_EQ(runtime::Model(sim_out).info().obs_dim, 2 * 6 + 2);
}

}  // namespace
}  // namespace nfp
