// Batches of windows: values come from the right frames, padding flags, normalization, and augmentation.
#include <gtest/gtest.h>

#include "data_fixtures.hpp"
#include "nfp/window_dataset.hpp"

namespace nfp {
namespace {

std::shared_ptr<EpisodeStore> store_from(const std::vector<Episode>& eps, test::TempDir& dir) {
  write_robomimic(dir / "w.hdf5", eps, nlohmann::json::object());
  return std::make_shared<EpisodeStore>(open_episode_store((dir / "w.hdf5").string()));
}

Normalizer identity_normalizer(const EpisodeStore& st) {
  NormOptions opt;
  opt.actions = opt.low_dim = NormMode::identity;
  return compute_normalizer(st, opt);
}

int64_t index_of(const WindowDataset& ds, int episode, int t) {
  for (int64_t i = 0; i < ds.size(); ++i)
    if (ds.window(i).episode == episode && ds.window(i).t == t) return i;
  return -1;
}

TEST(WindowDataset, BatchTakesStridedFramesWithEdgePadding) {
  test::TempDir dir;
  auto st = store_from({test::make_episode(0, 4), test::make_episode(1, 5)}, dir);
  st->episodes[1].instruction = "stack";
  const WindowDataset ds(st, WindowSpec{2, 3, 2}, identity_normalizer(*st));
  EXPECT_EQ(ds.size(), 9);
  const Batch b = ds.make_batch({index_of(ds, 1, 3), index_of(ds, 0, 0)}, {}, 0);
  // Episode 1, t = 3, T = 5: actions at 3, 5->4, 7->4; observations at 1, 3; previous action at 1.
  ASSERT_EQ(b.actions.sizes(), (std::vector<int64_t>{2, 3, 3}));
  EXPECT_FLOAT_EQ(b.actions[0][0][0].item<float>(), 103.0f);
  EXPECT_FLOAT_EQ(b.actions[0][1][0].item<float>(), 104.0f);
  EXPECT_FLOAT_EQ(b.actions[0][2][2].item<float>(), 104.2f);
  EXPECT_EQ(b.action_pad[0][0].item<bool>(), false);
  EXPECT_EQ(b.action_pad[0][1].item<bool>(), true);
  EXPECT_FLOAT_EQ(b.prev_action[0][0].item<float>(), 101.0f);
  EXPECT_FLOAT_EQ(b.prev_action[1][0].item<float>(), 0.0f);  // t = 0 < s: no previous action
  EXPECT_EQ(b.obs.at("state").sizes(), (std::vector<int64_t>{2, 2, 2}));
  EXPECT_FLOAT_EQ(b.obs.at("state")[0][0][1].item<float>(), -1.0f);
  EXPECT_FLOAT_EQ(b.obs.at("state")[0][1][0].item<float>(), 3.0f);
  EXPECT_FLOAT_EQ(b.obs.at("state")[1][0][0].item<float>(), 0.0f);  // t = 0: first frame repeats
  const torch::Tensor& im = b.images.at("agentview_image");  // (B x m x C x H x W)
  ASSERT_EQ(im.sizes(), (std::vector<int64_t>{2, 2, 3, 8, 8}));
  EXPECT_FLOAT_EQ(im[0][0][2][7][7].item<float>(), 2.0f / 255.0f);  // frame 1 of episode 1
  EXPECT_FLOAT_EQ(im[0][1][0][0][0].item<float>(), 4.0f / 255.0f);  // frame 3
  EXPECT_EQ(b.instructions, (std::vector<std::string>{"stack", ""}));
  const Batch flat = ds.make_batch({index_of(ds, 1, 3)}, {}, 0, true);
  EXPECT_EQ(flat.actions.sizes(), (std::vector<int64_t>{1, 9}));
  EXPECT_FLOAT_EQ(flat.actions[0][3].item<float>(), 104.0f);  // (n x A) flattened time-major
}

TEST(WindowDataset, ActionsAreNormalizedWithTheGivenStats) {
  test::TempDir dir;
  auto st = store_from({test::make_episode(0, 6), test::make_episode(1, 6)}, dir);
  const Normalizer n = compute_normalizer(*st);
  const WindowDataset ds(st, WindowSpec{1, 4, 1}, n);
  std::vector<int64_t> all(ds.size());
  for (int64_t i = 0; i < ds.size(); ++i) all[i] = i;
  const Batch b = ds.make_batch(all, {}, 0);
  EXPECT_NEAR(b.actions.min().item<float>(), -1.0f, 1e-6);
  EXPECT_NEAR(b.actions.max().item<float>(), 1.0f, 1e-6);
  EXPECT_TRUE(torch::allclose(n.unnormalize("action", b.actions)[0][0],
                              torch::tensor({0.0f, 0.1f, 0.2f}), 1e-5, 1e-4));
}

// Image whose pixel (y, x) is 12 y + x in every channel, so a shift can be read off the output.
Episode gradient_episode(int64_t T) {
  Episode e = test::make_episode(0, T, 2, "cam", 12, 12);
  auto& im = e.images["cam"];
  for (int64_t t = 0; t < T; ++t)
    for (int64_t y = 0; y < 12; ++y)
      for (int64_t x = 0; x < 12; ++x)
        for (int c = 0; c < 3; ++c) im.data[((t * 12 + y) * 12 + x) * 3 + c] = uint8_t(12 * y + x);
  return e;
}

TEST(WindowDataset, RandomShiftMovesWholeWindowsAndIsOffForEvaluation) {
  test::TempDir dir;
  auto st = store_from({gradient_episode(20)}, dir);
  const WindowDataset ds(st, WindowSpec{2, 1, 1}, identity_normalizer(*st));
  std::vector<int64_t> all(ds.size());
  for (int64_t i = 0; i < ds.size(); ++i) all[i] = i;
  AugmentOptions aug;
  aug.kind = Augment::random_shift;
  aug.shift_pad = 4;
  const torch::Tensor im = (ds.make_batch(all, aug, 7).images.at("cam") * 255).round().to(torch::kInt64);
  int shifted = 0;
  for (int64_t b = 0; b < ds.size(); ++b) {
    const int64_t v = im[b][0][0][6][6].item<int64_t>();  // centre pixel: no clamping for |shift| <= 4
    const int64_t dy = v / 12 - 6, dx = v % 12 - 6;
    ASSERT_LE(std::abs(dy), 4);
    ASSERT_LE(std::abs(dx), 4);
    shifted += (dy != 0 || dx != 0);
    for (int64_t y = 0; y < 12; ++y)
      for (int64_t x = 0; x < 12; ++x) {
        const int64_t expect = 12 * std::clamp<int64_t>(y + dy, 0, 11) + std::clamp<int64_t>(x + dx, 0, 11);
        ASSERT_EQ(im[b][1][2][y][x].item<int64_t>(), expect) << "both history frames share one shift";
      }
  }
  EXPECT_GT(shifted, ds.size() / 2);  // P(no shift) = 1/81 per window
  aug.train = false;
  const torch::Tensor eval = ds.make_batch(all, aug, 7).images.at("cam");
  EXPECT_TRUE(torch::equal(eval, ds.make_batch(all, {}, 0).images.at("cam")));
}

TEST(WindowDataset, RandomCropIsCentredForEvaluation) {
  test::TempDir dir;
  auto st = store_from({gradient_episode(3)}, dir);
  const WindowDataset ds(st, WindowSpec{1, 1, 1}, identity_normalizer(*st));
  AugmentOptions aug;
  aug.kind = Augment::random_crop;
  aug.crop_h = aug.crop_w = 8;
  EXPECT_EQ(ds.image_shape(0, aug), (std::vector<int64_t>{3, 8, 8}));
  aug.train = false;
  const torch::Tensor im = (ds.make_batch({1}, aug, 0).images.at("cam") * 255).round();
  EXPECT_EQ(im.sizes(), (std::vector<int64_t>{1, 1, 3, 8, 8}));
  EXPECT_EQ(im[0][0][0][0][0].item<float>(), 26.0f);  // offset (2, 2): 12 * 2 + 2
  aug.crop_h = 13;
  EXPECT_THROW(ds.make_batch({1}, aug, 0), Error);
}

}  // namespace
}  // namespace nfp
