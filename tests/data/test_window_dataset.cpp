// Batches of windows: values come from the right frames, padding flags, normalization, image conversion.
#include <gtest/gtest.h>

#include <set>

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
  const Batch b = ds.make_batch({index_of(ds, 1, 3), index_of(ds, 0, 0)});
  // Episode 1, t = 3, T = 5: actions at 3, 5->4, 7->4; observations at 1, 3; previous action at 1.
  ASSERT_EQ(b.actions.sizes(), (std::vector<int64_t>{2, 3, 3}));
  EXPECT_FLOAT_EQ(b.actions[0][0][0].item<float>(), 103.0f);
  EXPECT_FLOAT_EQ(b.actions[0][1][0].item<float>(), 104.0f);
  EXPECT_FLOAT_EQ(b.actions[0][2][2].item<float>(), 104.2f);
  EXPECT_EQ(b.action_pad[0][0].item<bool>(), false);
  EXPECT_EQ(b.action_pad[0][1].item<bool>(), true);
  EXPECT_FLOAT_EQ(b.prev_action[0][0].item<float>(), 101.0f);
  EXPECT_FLOAT_EQ(b.prev_action[1][0].item<float>(), 0.0f);  // t = 0 < s: no previous action
  EXPECT_EQ(b.lowdim.at("state").sizes(), (std::vector<int64_t>{2, 2, 2}));
  EXPECT_FLOAT_EQ(b.lowdim.at("state")[0][0][1].item<float>(), -1.0f);
  EXPECT_FLOAT_EQ(b.lowdim.at("state")[0][1][0].item<float>(), 3.0f);
  EXPECT_FLOAT_EQ(b.lowdim.at("state")[1][0][0].item<float>(), 0.0f);  // t = 0: first frame repeats
  const torch::Tensor& im = b.images.at("agentview_image");  // (B x m x C x H x W)
  ASSERT_EQ(im.sizes(), (std::vector<int64_t>{2, 2, 3, 8, 8}));
  EXPECT_FLOAT_EQ(im[0][0][2][7][7].item<float>(), 2.0f / 255.0f);  // frame 1 of episode 1
  EXPECT_FLOAT_EQ(im[0][1][0][0][0].item<float>(), 4.0f / 255.0f);  // frame 3
  EXPECT_EQ(b.instructions, (std::vector<std::string>{"stack", ""}));
  const Batch flat = ds.make_batch({index_of(ds, 1, 3)}, true);
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
  const Batch b = ds.make_batch(all);
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

// Images come out as (B x m x C x H x W) floats, pixel / 255, from the window's frames.
TEST(WindowDataset, ImagesAreChwFloatsOfTheStoredPixels) {
  test::TempDir dir;
  auto st = store_from({gradient_episode(3)}, dir);
  const WindowDataset ds(st, WindowSpec{1, 1, 1}, identity_normalizer(*st));
  const torch::Tensor im = ds.make_batch({1}).images.at("cam");
  ASSERT_EQ(im.sizes(), (std::vector<int64_t>{1, 1, 3, 12, 12}));
  for (int c = 0; c < 3; ++c)
    for (int64_t y = 0; y < 12; ++y)
      for (int64_t x = 0; x < 12; ++x)
        ASSERT_EQ(im[0][0][c][y][x].item<float>(), float(12 * y + x) / 255.0f) << c << " " << y << " " << x;
}

// --crop: training batches take a random window of every image (each a function of the batch's draw), validation
// batches the centre one; the window's pixels are the stored ones.
TEST(WindowDataset, CropsAreRandomWindowsInTrainingAndTheCentreOtherwise) {
  test::TempDir dir;
  auto st = store_from({gradient_episode(6)}, dir);
  const WindowSpec spec{2, 1, 1};
  const WindowDataset centre(st, spec, identity_normalizer(*st), BatchCrop{{8, 7}, false});
  const torch::Tensor c = centre.make_batch({3}, false, 99).images.at("cam");
  ASSERT_EQ(c.sizes(), (std::vector<int64_t>{1, 2, 3, 8, 7}));
  EXPECT_EQ(c[0][1][0][0][0].item<float>(), float(12 * 2 + 2) / 255.0f);  // window at (2, 2)

  const WindowDataset random(st, spec, identity_normalizer(*st), BatchCrop{{8, 7}, true});
  std::set<std::pair<int, int>> corners;
  for (uint64_t draw = 0; draw < 40; ++draw) {
    const torch::Tensor im = random.make_batch({3, 4}, false, draw).images.at("cam");
    ASSERT_EQ(im.sizes(), (std::vector<int64_t>{2, 2, 3, 8, 7}));
    EXPECT_TRUE(torch::equal(im, random.make_batch({3, 4}, false, draw).images.at("cam")));  // a pure function
    for (int b = 0; b < 2; ++b)
      for (int i = 0; i < 2; ++i) {
        const int first = int(std::lround(im[b][i][0][0][0].item<float>() * 255.0f));
        const int top = first / 12, left = first % 12;
        ASSERT_LE(top, 12 - 8);
        ASSERT_LE(left, 12 - 7);
        // the whole window is the stored image's, shifted: pixel (y, x) = 12 (top + y) + left + x
        ASSERT_EQ(im[b][i][2][7][6].item<float>(), float(12 * (top + 7) + left + 6) / 255.0f);
        corners.insert({top, left});
      }
  }
  EXPECT_GT(corners.size(), 15u);  // of the 5 x 6 windows, over 160 draws
  EXPECT_THROW(WindowDataset(st, spec, identity_normalizer(*st), BatchCrop{{13, 4}, true}), Error);
}

}  // namespace
}  // namespace nfp
