// The loader: every window once per epoch, seeded shuffling, identical batches whatever the number of
// workers or whether images are in memory, and errors from worker threads reaching the caller.
#include <gtest/gtest.h>

#include <set>

#include "data_fixtures.hpp"
#include "nfp/data_loader.hpp"
#include "nfp/error.hpp"

namespace nfp {
namespace {

struct Fixture {
  test::TempDir dir;
  std::shared_ptr<WindowDataset> dataset;
  explicit Fixture(int64_t budget = int64_t(1) << 30) {
    write_robomimic(dir / "l.hdf5", {test::make_episode(0, 9), test::make_episode(1, 13), test::make_episode(2, 5)},
                    nlohmann::json::object());
    StoreOptions so;
    so.image_memory_budget = budget;
    auto st = std::make_shared<EpisodeStore>(open_episode_store((dir / "l.hdf5").string(), so));
    dataset = std::make_shared<WindowDataset>(st, WindowSpec{2, 4, 2}, compute_normalizer(*st));
  }
};

std::vector<std::pair<int, int>> epoch_windows(DataLoader& loader, int64_t epoch) {
  std::vector<std::pair<int, int>> seen;
  loader.start_epoch(epoch);
  while (auto b = loader.next())
    for (const auto& w : b->windows) seen.emplace_back(w.episode, w.t);
  return seen;
}

TEST(DataLoader, EveryWindowOncePerEpochInASeededOrder) {
  Fixture f;
  LoaderOptions opt;
  opt.batch_size = 5;
  opt.drop_last = false;
  opt.seed = 3;
  DataLoader loader(f.dataset, opt);
  EXPECT_EQ(loader.batches_per_epoch(), 6);  // 27 windows
  const auto e0 = epoch_windows(loader, 0);
  const auto e1 = epoch_windows(loader, 1);
  ASSERT_EQ(e0.size(), 27u);
  const std::set<std::pair<int, int>> distinct(e0.begin(), e0.end());
  EXPECT_EQ(distinct.size(), 27u);
  EXPECT_NE(e0, e1);                         // reshuffled each epoch
  EXPECT_EQ(e0, epoch_windows(loader, 0));   // reproducible
  opt.seed = 4;
  DataLoader other(f.dataset, opt);
  EXPECT_NE(e0, epoch_windows(other, 0));
  opt.shuffle = false;
  DataLoader ordered(f.dataset, opt);
  const auto in_order = epoch_windows(ordered, 5);
  EXPECT_EQ(in_order.front(), std::make_pair(0, 0));
  EXPECT_EQ(in_order.back(), std::make_pair(2, 4));
  opt.drop_last = true;
  DataLoader dropping(f.dataset, opt);
  EXPECT_EQ(epoch_windows(dropping, 0).size(), 25u);
}

// Data-parallel shards: per epoch, ranks 0 and 1 of 2 (batch 3 each) take disjoint windows whose union, batch by
// batch, is what one process with batch 6 takes; the same number of batches on both; bad shards refused.
TEST(DataLoader, RanksSplitEachGlobalBatch) {
  Fixture f;
  LoaderOptions opt;
  opt.seed = 5;
  opt.batch_size = 6;
  DataLoader whole(f.dataset, opt);
  opt.batch_size = 3;
  opt.world_size = 2;
  opt.workers = 0;
  DataLoader r0(f.dataset, opt);
  opt.rank = 1;
  opt.workers = 2;  // the slice does not depend on the workers
  DataLoader r1(f.dataset, opt);
  for (int64_t epoch : {0, 3}) {
    whole.start_epoch(epoch), r0.start_epoch(epoch), r1.start_epoch(epoch);
    ASSERT_EQ(r0.batches_per_epoch(), whole.batches_per_epoch());  // 27 windows: 4 global batches of 6
    ASSERT_EQ(r1.batches_per_epoch(), 4);
    while (auto w = whole.next()) {
      auto a = r0.next(), b = r1.next();
      ASSERT_TRUE(a && b);
      std::vector<std::pair<int, int>> expected, got;
      for (const auto& x : w->windows) expected.emplace_back(x.episode, x.t);
      for (const auto* part : {&*a, &*b})
        for (const auto& x : part->windows) got.emplace_back(x.episode, x.t);
      EXPECT_EQ(got, expected) << "epoch " << epoch;
      EXPECT_TRUE(torch::equal(torch::cat({a->actions, b->actions}), w->actions));
    }
    EXPECT_FALSE(r0.next());
    EXPECT_FALSE(r1.next());
  }
  opt.rank = 2;
  EXPECT_THROW(DataLoader(f.dataset, opt), Error);
  opt.rank = 0;
  opt.drop_last = false;
  EXPECT_THROW(DataLoader(f.dataset, opt), Error);
  opt.drop_last = true;
  opt.batch_size = 14;  // 28 > 27 windows
  EXPECT_THROW(DataLoader(f.dataset, opt), Error);
}

TEST(DataLoader, WorkersAndLazyImagesGiveIdenticalBatches) {
  Fixture mem, lazy(0);
  ASSERT_TRUE(lazy.dataset->store().lazy_images);
  LoaderOptions opt;
  opt.batch_size = 4;
  opt.seed = 11;
  opt.workers = 0;
  DataLoader reference(mem.dataset, opt);
  reference.start_epoch(2);
  std::vector<Batch> expected;
  while (auto b = reference.next()) expected.push_back(*b);
  for (int workers : {1, 2}) {
    for (auto* f : {&mem, &lazy}) {
      opt.workers = workers;
      opt.prefetch = 2;
      DataLoader loader(f->dataset, opt);
      loader.start_epoch(2);
      for (size_t k = 0; k < expected.size(); ++k) {
        auto b = loader.next();
        ASSERT_TRUE(b.has_value());
        EXPECT_TRUE(torch::equal(b->actions, expected[k].actions)) << "batch " << k << " workers " << workers;
        EXPECT_TRUE(torch::equal(b->images.at("agentview_image"), expected[k].images.at("agentview_image")))
            << "batch " << k << " workers " << workers << (f == &lazy ? " lazy" : "");
      }
      EXPECT_FALSE(loader.next().has_value());
    }
  }
}

TEST(DataLoader, AFileVanishingUnderALazyLoaderIsAnErrorNotACrash) {
  Fixture f(0);
  std::filesystem::resize_file(f.dir / "l.hdf5", 2048);  // truncated after the store was opened
  LoaderOptions opt;
  opt.batch_size = 4;
  opt.workers = 2;
  DataLoader loader(f.dataset, opt);
  loader.start_epoch(0);
  try {
    while (loader.next()) {
    }
    FAIL() << "expected nfp::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("l.hdf5"), std::string::npos) << e.what();
  }
}

TEST(DataLoader, StopsCleanlyMidEpochAndRejectsOversizedBatches) {
  Fixture f;
  LoaderOptions opt;
  opt.batch_size = 2;
  opt.workers = 2;
  {
    DataLoader loader(f.dataset, opt);
    loader.start_epoch(0);
    ASSERT_TRUE(loader.next().has_value());
  }  // destroyed with workers waiting on a full queue
  opt.batch_size = 100;
  EXPECT_THROW(DataLoader(f.dataset, opt), Error);
}

}  // namespace
}  // namespace nfp
