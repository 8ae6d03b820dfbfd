// Normalization: ranges after min-max and mean-std, round trip, constant dimensions, stats.json save/load.
#include <gtest/gtest.h>

#include "data_fixtures.hpp"
#include "nfp/normalizer.hpp"

namespace nfp {
namespace {

EpisodeStore store_of(std::vector<Episode> eps) {
  EpisodeStore s;
  s.action_dim = eps[0].actions.shape[1];
  s.obs_keys = {"state"};
  s.episodes = std::move(eps);
  return s;
}

TEST(Normalizer, MinMaxMapsTrainingRangeOntoMinusOneOne) {
  const EpisodeStore st = store_of({test::make_episode(0, 10), test::make_episode(1, 5)});
  const Normalizer n = compute_normalizer(st);
  const KeyStats& a = n.at("action");
  EXPECT_EQ(a.mode, NormMode::min_max);
  EXPECT_FLOAT_EQ(a.min[1], 0.1f);     // episode 0, t = 0, j = 1
  EXPECT_FLOAT_EQ(a.max[1], 104.1f);   // episode 1, t = 4
  EXPECT_EQ(a.count, 15);
  torch::Tensor all = torch::cat({torch::from_blob((void*)st.episodes[0].actions.data.data(), {10, 3}),
                                  torch::from_blob((void*)st.episodes[1].actions.data.data(), {5, 3})});
  const torch::Tensor z = n.normalize("action", all);
  EXPECT_NEAR(z.min().item<float>(), -1.0f, 1e-6);
  EXPECT_NEAR(z.max().item<float>(), 1.0f, 1e-6);
  for (int j = 0; j < 3; ++j) {
    EXPECT_NEAR(z.select(1, j).min().item<float>(), -1.0f, 1e-6) << "dim " << j;
    EXPECT_NEAR(z.select(1, j).max().item<float>(), 1.0f, 1e-6) << "dim " << j;
  }
  // Round trip in float32: |x| <= 105, so 1e-4 relative is a few ulps of the data.
  EXPECT_TRUE(torch::allclose(n.unnormalize("action", z), all, 1e-5, 1e-4));
}

TEST(Normalizer, MeanStdGivesZeroMeanUnitStdForObservations) {
  const EpisodeStore st = store_of({test::make_episode(0, 10)});
  const Normalizer n = compute_normalizer(st);
  EXPECT_EQ(n.at("state").mode, NormMode::mean_std);
  torch::Tensor x = torch::from_blob((void*)st.episodes[0].obs.at("state").data.data(), {10, 2}).clone();
  const torch::Tensor z = n.normalize("state", x);
  EXPECT_NEAR(z.mean(0)[0].item<float>(), 0.0f, 1e-5);
  EXPECT_NEAR(z.std(0, false)[1].item<float>(), 1.0f, 1e-5);  // population std, as computed
  // normalize_rows (the loader's path) agrees with the tensor path.
  std::vector<float> rows(x.data_ptr<float>(), x.data_ptr<float>() + 20);
  n.normalize_rows("state", rows.data(), 10);
  EXPECT_TRUE(torch::allclose(torch::from_blob(rows.data(), {10, 2}), z));
}

TEST(Normalizer, ConstantDimensionIsCentredNotBlownUp) {
  Episode e = test::make_episode(0, 6, 2, "");
  for (int64_t t = 0; t < 6; ++t) e.actions.data[t * 2 + 1] = 0.25f;  // constant gripper
  const Normalizer n = compute_normalizer(store_of({e}));
  torch::Tensor x = torch::tensor({{3.0f, 0.25f}, {5.0f, 0.25f}});
  const torch::Tensor z = n.normalize("action", x);
  EXPECT_FLOAT_EQ(z[0][1].item<float>(), 0.0f);
  EXPECT_TRUE(torch::isfinite(z).all().item<bool>());
  EXPECT_TRUE(torch::allclose(n.unnormalize("action", z), x));
}

TEST(Normalizer, StatsJsonRoundTripAndErrors) {
  test::TempDir dir;
  NormOptions opt;
  opt.per_key["state"] = NormMode::identity;
  const Normalizer n = compute_normalizer(store_of({test::make_episode(0, 7), test::make_episode(2, 3)}), opt);
  n.save(dir / "stats.json");
  const Normalizer back = Normalizer::load(dir / "stats.json");
  EXPECT_EQ(back.at("state").mode, NormMode::identity);
  const torch::Tensor x = torch::randn({4, 5, 3}) * 50;  // (B x n x A)
  EXPECT_TRUE(torch::allclose(back.normalize("action", x), n.normalize("action", x)));
  EXPECT_TRUE(torch::allclose(back.unnormalize("action", back.normalize("action", x)), x, 1e-5, 1e-4));
  EXPECT_THROW(n.normalize("action", torch::zeros({2, 4})), Error);  // wrong last dimension
  try {
    n.at("joint_states");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("joint_states"), std::string::npos);
  }
  EXPECT_THROW(Normalizer::from_json({{"keys", {{"action", {{"mode", "minmax"}}}}}}, "x"), Error);
}

}  // namespace
}  // namespace nfp
