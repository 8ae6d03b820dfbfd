// Episode store over a file, a directory or a glob; consistency checks across files; the image memory budget.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "data_fixtures.hpp"
#include "nfp/episode_store.hpp"

namespace nfp {
namespace {

Episode act_episode(int i, int64_t T) {
  Episode e = test::make_episode(i, T, 14, "top", 6, 8);
  e.obs.clear();
  e.obs["qpos"] = {{T, 14}, std::vector<float>(T * 14, float(i))};
  return e;
}

TEST(EpisodeStore, DirectoryAndGlobOfActFiles) {
  test::TempDir dir;
  for (int i = 0; i < 3; ++i) write_act_episode(dir / ("episode_" + std::to_string(i) + ".hdf5"), act_episode(i, 4 + i));
  std::ofstream(dir / "notes.txt") << "not a dataset";
  const EpisodeStore st = open_episode_store(dir.path().string());
  EXPECT_EQ(st.layout, DatasetLayout::act);
  ASSERT_EQ(st.episodes.size(), 3u);
  EXPECT_EQ(st.total_frames(), 4 + 5 + 6);
  EXPECT_EQ(st.action_key, "action");
  EXPECT_EQ(st.action_dim, 14);
  EXPECT_EQ(st.cameras, std::vector<std::string>{"top"});
  EXPECT_EQ(st.obs_keys, std::vector<std::string>{"qpos"});
  EXPECT_EQ(st.episodes[2].obs.at("qpos").data[0], 2.0f);
  EXPECT_EQ(st.file_of[2], 2u);
  EXPECT_FALSE(st.lazy_images);
  EXPECT_EQ(st.image_bytes, 15 * 6 * 8 * 3);

  const EpisodeStore g = open_episode_store((dir.path() / "episode_[12].hdf5").string());
  ASSERT_EQ(g.episodes.size(), 2u);
  EXPECT_EQ(g.episodes[0].name, "episode_1");
  EXPECT_THROW(open_episode_store((dir.path() / "*.h5").string()), Error);
}

TEST(EpisodeStore, FilesThatDisagreeAreNamed) {
  test::TempDir dir;
  write_act_episode(dir / "a.hdf5", act_episode(0, 4));
  Episode other = act_episode(1, 4);
  other.obs["qpos"] = {{4, 7}, std::vector<float>(28, 0.0f)};
  write_act_episode(dir / "b.hdf5", other);
  try {
    open_episode_store(dir.path().string());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("b.hdf5"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("qpos"), std::string::npos) << e.what();
  }
  std::filesystem::remove(dir / "b.hdf5");
  write_robomimic(dir / "c.hdf5", {test::make_episode(0, 3)}, nlohmann::json::object());
  EXPECT_THROW(open_episode_store(dir.path().string()), Error);  // mixed layouts
  EXPECT_THROW(open_episode_store((dir.path() / "nothing_here").string()), Error);
}

// Within one file: a demo without a key the first one has, with a key of another width, or with a NaN action is
// named at load (it used to surface later as `map::at`, or as NaN statistics).
TEST(EpisodeStore, EpisodesThatDisagreeWithinAFileAreNamed) {
  test::TempDir dir;
  auto error_of = [&](Episode bad) {
    write_robomimic(dir / "d.hdf5", {test::make_episode(0, 4, 3, ""), bad}, nlohmann::json::object());
    try {
      open_episode_store((dir / "d.hdf5").string());
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  Episode missing = test::make_episode(1, 4, 3, "");
  missing.obs.erase("state");
  missing.obs["other"] = {{4, 2}, std::vector<float>(8, 0.0f)};
  const std::string m = error_of(missing);
  EXPECT_NE(m.find("demo_1"), std::string::npos) << m;
  EXPECT_NE(m.find("state"), std::string::npos) << m;
  EXPECT_EQ(m.find("map::at"), std::string::npos) << m;
  Episode wide = test::make_episode(1, 4, 3, "");
  wide.obs["state"] = {{4, 5}, std::vector<float>(20, 0.0f)};
  EXPECT_NE(error_of(wide).find("demo_1"), std::string::npos) << error_of(wide);
  Episode nan = test::make_episode(1, 4, 3, "");
  nan.actions.data[5] = std::nanf("");
  const std::string n = error_of(nan);
  EXPECT_NE(n.find("demo_1: 'actions' holds a non-finite value"), std::string::npos) << n;
}

TEST(EpisodeStore, ImagesAboveTheBudgetAreReadLazilyWithTheSameBytes) {
  test::TempDir dir;
  write_robomimic(dir / "d.hdf5", {test::make_episode(0, 5), test::make_episode(1, 7)}, nlohmann::json::object());
  StoreOptions opt;
  const EpisodeStore mem = open_episode_store((dir / "d.hdf5").string(), opt);
  opt.image_memory_budget = mem.image_bytes - 1;
  const EpisodeStore lazy = open_episode_store((dir / "d.hdf5").string(), opt);
  EXPECT_FALSE(mem.lazy_images);
  EXPECT_TRUE(lazy.lazy_images);
  EXPECT_TRUE(lazy.episodes[1].images.empty());
  const std::vector<int64_t> frames = {6, 0, 3, 3};
  std::vector<uint8_t> a(4 * 8 * 8 * 3), b(a.size());
  mem.copy_frames(1, 0, frames, a.data());
  lazy.copy_frames(1, 0, frames, b.data());
  EXPECT_EQ(a, b);
  EXPECT_EQ(b[0], 7);  // frame 6 of episode 1
}

// --image-size: every image resized once as it is read; lazily read frames are resized alike, and the memory
// budget counts the resized bytes.
TEST(EpisodeStore, ImagesAreResizedAtLoadInMemoryAndLazily) {
  test::TempDir dir;
  write_robomimic(dir / "d.hdf5", {test::make_episode(0, 5), test::make_episode(1, 7)}, nlohmann::json::object());
  StoreOptions opt;
  opt.read.image_size = {4, 2};
  const EpisodeStore mem = open_episode_store((dir / "d.hdf5").string(), opt);
  EXPECT_FALSE(mem.lazy_images);
  EXPECT_EQ(mem.camera_shapes, (std::vector<std::vector<int64_t>>{{4, 2, 3}}));
  EXPECT_EQ(mem.camera_source_shapes, (std::vector<std::vector<int64_t>>{{8, 8, 3}}));
  EXPECT_EQ(mem.image_bytes, 12 * 4 * 2 * 3);
  EXPECT_EQ(mem.episodes[1].images.at("agentview_image").shape, (std::vector<int64_t>{7, 4, 2, 3}));
  opt.image_memory_budget = mem.image_bytes - 1;
  const EpisodeStore lazy = open_episode_store((dir / "d.hdf5").string(), opt);
  EXPECT_TRUE(lazy.lazy_images);
  const std::vector<int64_t> frames = {6, 0, 3};
  std::vector<uint8_t> a(3 * 4 * 2 * 3), b(a.size());
  mem.copy_frames(1, 0, frames, a.data());
  lazy.copy_frames(1, 0, frames, b.data());
  EXPECT_EQ(a, b);
  EXPECT_EQ(a[0], 7);  // a constant frame (every byte 6 + 1) stays constant
  EXPECT_EQ(a.back(), 4);
}

}  // namespace
}  // namespace nfp

namespace nfp {
namespace {

TEST(EpisodeStore, SeededSplitByWholeEpisodes) {
  test::TempDir dir;
  for (int i = 0; i < 10; ++i) write_act_episode(dir / ("episode_" + std::to_string(i) + ".hdf5"), act_episode(i, 3));
  auto [train, valid] = split_episodes(open_episode_store(dir.path().string()), 0.2, 5);
  ASSERT_EQ(train.episodes.size(), 8u);
  ASSERT_EQ(valid.episodes.size(), 2u);
  std::set<std::string> names;
  for (const auto* s : {&train, &valid})
    for (const auto& e : s->episodes) names.insert(e.name);
  EXPECT_EQ(names.size(), 10u);  // disjoint and complete
  EXPECT_EQ(valid.cameras, train.cameras);
  auto [train2, valid2] = split_episodes(open_episode_store(dir.path().string()), 0.2, 5);
  EXPECT_EQ(valid2.episodes[0].name, valid.episodes[0].name);  // same seed, same split
  EXPECT_EQ(split_episodes(open_episode_store(dir.path().string()), 0.01, 5).second.episodes.size(), 1u);
}

}  // namespace
}  // namespace nfp
