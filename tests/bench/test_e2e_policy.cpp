// The end-to-end latency rows' policies (bench/e2e_policy.cpp): they must be the image policy a user trains
// (one camera + state, history 2, the given encoder and head) and produce a valid chunk from the observation.
#include <gtest/gtest.h>

#include <cmath>

#include "bench_e2e.hpp"
#include "nfp/error.hpp"
#include "nfp/flow.hpp"
#include "nfp/policy_runner.hpp"

namespace nfp::bench {
namespace {

HeadConfig tiny_spline() {
  HeadConfig h = default_head_config("nfp-spline");
  h.layers = 2;
  h.hidden = 16;
  return h;
}

TEST(E2ePolicy, IsTheTrainersImagePolicyShape) {
  ImageEncoderConfig enc;  // conv, the CPU default
  Policy p = make_e2e_policy("push-two-goals", enc, 32, tiny_spline(), 16, 64);
  const auto& c = p->config();
  EXPECT_EQ(c.obs, (std::vector<std::string>{"images", "state"}));
  EXPECT_EQ(c.obs_keys, (std::vector<std::string>{"state"}));  // as resolve_observations picks next to images
  EXPECT_EQ(c.obs_dims, (std::vector<int64_t>{2}));
  EXPECT_EQ(c.cameras, (std::vector<std::string>{"top_image"}));
  EXPECT_EQ(c.image_hw, (std::vector<int64_t>{32, 32}));
  EXPECT_EQ(c.history, 2);  // PolicyConfig's default: the encoder runs over two frames per chunk
  EXPECT_EQ(c.head.context_dim, 64);
  EXPECT_EQ(c.head.action_dim, 2);
  EXPECT_FALSE(p->is_training());  // no random shift while timing
}

TEST(E2ePolicy, PredictsAChunkInsideTheActionBounds) {
  Policy p = make_e2e_policy("push-two-goals", ImageEncoderConfig{}, 24, tiny_spline(), 8, 32);
  auto obs = e2e_observation(*p, 3);
  ASSERT_EQ(obs.images.at("top_image").height, 24);
  ASSERT_EQ(obs.images.at("top_image").width, 24);
  ASSERT_EQ(obs.images.at("top_image").pixels.size(), 24u * 24u * 3u);
  PolicyRunner runner(p);
  const auto r = runner.plan(obs);
  ASSERT_EQ(r.actions.sizes(), (std::vector<int64_t>{8, 2}));
  EXPECT_TRUE(std::isfinite(r.log_prob));
  // actions are clamped to [-1, 1] normalized, i.e. the task's bounds: pusher_x [-0.4, 0.4], pusher_y [-0.35, 0.4]
  EXPECT_GE(r.actions.select(1, 0).min().item<float>(), -0.4f - 1e-5f);
  EXPECT_LE(r.actions.select(1, 0).max().item<float>(), 0.4f + 1e-5f);
  EXPECT_GE(r.actions.select(1, 1).min().item<float>(), -0.35f - 1e-5f);
  EXPECT_LE(r.actions.select(1, 1).max().item<float>(), 0.4f + 1e-5f);
}

TEST(E2ePolicy, ResNet18IsFullWidthWhenAsked) {
  ImageEncoderConfig enc;
  enc.type = "resnet18";
  enc.width = 1.0;
  Policy p = make_e2e_policy("push-two-goals", enc, 32, tiny_spline(), 16, 64);
  Policy conv = make_e2e_policy("push-two-goals", ImageEncoderConfig{}, 32, tiny_spline(), 16, 64);
  // the full ResNet-18 trunk (11,176,512 without fc) is what separates the two policies, give or take the
  // projection and the state MLP's input width (both < 0.1 M here)
  const double extra = double(count_parameters(*p) - count_parameters(*conv));
  EXPECT_NEAR(extra, 11176512.0, 1.0e5);
}

TEST(E2ePolicy, BadInputFails) {
  EXPECT_THROW(make_e2e_policy("nowhere", ImageEncoderConfig{}, 32, tiny_spline(), 16, 64), Error);
  EXPECT_THROW(make_e2e_policy("push-two-goals", ImageEncoderConfig{}, 4, tiny_spline(), 16, 64), Error);
}

}  // namespace
}  // namespace nfp::bench
