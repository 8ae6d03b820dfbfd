// Window index arithmetic against a hand-computed table (history m, horizon n, stride s, edge padding).
#include <gtest/gtest.h>

#include "nfp/error.hpp"
#include "nfp/windows.hpp"

namespace nfp {
namespace {

using V = std::vector<int64_t>;

TEST(Windows, StridedHistoryAndHorizonMatchTheHandTable) {
  // T = 5, m = 3, n = 4, s = 2: observations t-4, t-2, t (oldest first), actions t, t+2, t+4, t+6,
  // clamped to [0, 4] (first / last frame repeats).
  const WindowSpec spec{3, 4, 2};
  const std::vector<V> obs = {{0, 0, 0}, {0, 0, 1}, {0, 0, 2}, {0, 1, 3}, {0, 2, 4}};
  const std::vector<V> act = {{0, 2, 4, 4}, {1, 3, 4, 4}, {2, 4, 4, 4}, {3, 4, 4, 4}, {4, 4, 4, 4}};
  const V prev = {-1, -1, 0, 1, 2};
  for (int64_t t = 0; t < 5; ++t) {
    EXPECT_EQ(observation_frames(spec, t, 5), obs[t]) << "t=" << t;
    EXPECT_EQ(action_frames(spec, t, 5), act[t]) << "t=" << t;
    EXPECT_EQ(previous_action_frame(spec, t), prev[t]) << "t=" << t;
  }
}

TEST(Windows, UnitStrideInTheMiddleOfALongEpisodeIsContiguous) {
  const WindowSpec spec{2, 16, 1};
  EXPECT_EQ(observation_frames(spec, 10, 100), (V{9, 10}));
  V expected;
  for (int64_t i = 10; i < 26; ++i) expected.push_back(i);
  EXPECT_EQ(action_frames(spec, 10, 100), expected);
  // Stride 3 in the middle: no clamping, exact spacing.
  const WindowSpec strided{4, 3, 3};
  EXPECT_EQ(observation_frames(strided, 20, 100), (V{11, 14, 17, 20}));
  EXPECT_EQ(action_frames(strided, 20, 100), (V{20, 23, 26}));
}

TEST(Windows, OneWindowPerTimeStepOfEveryEpisode) {
  const auto refs = enumerate_windows({3, 0, 2});
  ASSERT_EQ(refs.size(), 5u);
  EXPECT_EQ(refs[2].episode, 0);
  EXPECT_EQ(refs[2].t, 2);
  EXPECT_EQ(refs[3].episode, 2);  // the empty episode gives no window
  EXPECT_EQ(refs[3].t, 0);
}

TEST(Windows, InvalidSpecIsRejected) {
  EXPECT_THROW(validate(WindowSpec{0, 1, 1}), Error);
  EXPECT_THROW(validate(WindowSpec{1, 1, 0}), Error);
  EXPECT_NO_THROW(validate(WindowSpec{1, 1, 1}));
}

}  // namespace
}  // namespace nfp
