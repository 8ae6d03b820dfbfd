// Image- and instruction-conditioned policies: encoders feed the context, act() takes camera images and an
// instruction, save -> load restores encoders and vocabulary (identical actions), wrong images fail clearly.
#include <gtest/gtest.h>

#include <filesystem>

#include "nfp/error.hpp"
#include "nfp/policy.hpp"

namespace nfp {
namespace {

KeyStats unit_stats(size_t dim) {
  KeyStats s;
  s.mode = NormMode::min_max;
  s.min.assign(dim, -1.0);
  s.max.assign(dim, 1.0);
  s.mean.assign(dim, 0.0);
  s.std.assign(dim, 1.0);
  s.count = 10;
  s.finalize();
  return s;
}

PolicyConfig vision_config(bool shared) {
  PolicyConfig c;
  c.obs = {"state", "images", "instruction"};
  c.obs_keys = {"state"};
  c.obs_dims = {3};
  c.cameras = {"top_image", "wrist_image"};
  c.image_hw = {24, 24};
  c.image_encoder.conv_channels = 4;
  c.image_encoder.feature_dim = 8;
  c.image_encoder.shared = shared;
  c.instruction_encoder.embed_dim = 8;
  c.instruction_encoder.vocabulary = build_vocabulary({"lift the red block", "lift the blue block"}).words;
  c.action_dim = 2;
  c.horizon = 4;
  c.n_action_steps = 2;
  c.prev_action = true;
  c.encoder_hidden = 32;
  c.context_dim = 16;
  c.head = default_head_config("nfp-spline");
  c.head.hidden = 16;
  c.head.layers = 2;
  return c;
}

// A policy over a 3-d "state" and 2-d actions, both normalized from [-1, 1], with seeded initial weights.
Policy make_with(const PolicyConfig& c) {
  Normalizer n;
  n.keys["action"] = unit_stats(2);
  n.keys["state"] = unit_stats(3);
  torch::manual_seed(5);
  return make_policy(c, n);
}

Policy vision_policy(bool shared) { return make_with(vision_config(shared)); }

PolicyObservation observation(int step, const std::string& instruction) {
  PolicyObservation o;
  o.lowdim["state"] = {0.1f * float(step), 0.2f, -0.3f};
  auto gen = at::make_generator<at::CPUGeneratorImpl>(uint64_t(step));
  o.images["top_image"] = torch::randint(0, 256, {24, 24, 3}, gen, torch::kUInt8);
  o.images["wrist_image"] = torch::randint(0, 256, {24, 24, 3}, gen, torch::kUInt8);
  o.instruction = instruction;
  return o;
}

// state + instruction into a small nina-transformer whose couplings cross-attend over the instruction's tokens
PolicyConfig token_config() {
  PolicyConfig c;
  c.obs = {"state", "instruction"};
  c.obs_keys = {"state"};
  c.obs_dims = {3};
  c.instruction_encoder.embed_dim = 8;
  c.instruction_encoder.max_tokens = 6;
  c.instruction_encoder.vocabulary = build_vocabulary({"lift the red block", "lift the blue block"}).words;
  c.instruction_tokens = true;
  c.action_dim = 2;
  c.horizon = 4;
  c.encoder_hidden = 32;
  c.context_dim = 16;
  c.head = default_head_config("nina-transformer");
  c.head.hidden = 16;
  c.head.layers = 2;
  c.head.depth = 1;
  c.head.heads = 2;
  return c;
}

PolicyInput token_input(const std::vector<std::string>& instructions) {
  const int64_t B = int64_t(instructions.size());
  PolicyInput in;
  // row b's state depends on b alone, so that a sample is the same in any batch
  in.lowdim["state"] = torch::linspace(-1, 1, 2 * 3).view({1, 2, 3}) + 0.1 * torch::arange(B).view({B, 1, 1});
  in.instructions = instructions;
  return in;
}

}  // namespace

TEST(VisionPolicy, InstructionTokensReachTheTransformerHead) {
  auto p = make_with(token_config());
  p->eval();
  auto in = token_input({"lift the red block", "lift the blue block"});
  auto ctx = p->encode(in);
  EXPECT_EQ(ctx.sizes(), (std::vector<int64_t>{2, 1 + 6, 16})) << "the observation's vector, then max_tokens tokens";
  // The couplings read the tokens: log p has a gradient through the token projection.
  auto actions = torch::linspace(-0.5, 0.5, 2 * 4 * 2).view({2, 4, 2});
  p->head()->log_prob(actions, ctx).sum().backward();
  auto grad = p->named_parameters()["token_proj.weight"].grad();
  ASSERT_TRUE(grad.defined());
  EXPECT_GT(grad.abs().sum().item<double>(), 0.0);
  // A sample's likelihood does not depend on what else is in the batch (tokens are padded to max_tokens).
  torch::NoGradGuard ng;
  auto alone = p->head()->log_prob(actions.narrow(0, 0, 1), p->encode(token_input({"lift the red block"})));
  auto mixed = token_input({"lift the red block", std::string(200, 'q') + " lift the the the the the block"});
  auto beside = p->head()->log_prob(actions, p->encode(mixed));
  EXPECT_NEAR(alone.item<double>(), beside[0].item<double>(), 1e-4);
  // ... and it does depend on the instruction
  auto other = p->head()->log_prob(actions.narrow(0, 0, 1), p->encode(token_input({"lift the blue block"})));
  EXPECT_GT(std::abs(alone.item<double>() - other.item<double>()), 1e-4);
}

TEST(VisionPolicy, InstructionTokensNeedTheTransformerHeadAndRoundTrip) {
  auto c = token_config();
  c.head = default_head_config("nfp-spline");
  EXPECT_THROW(make_with(c), Error) << "an MLP conditioner takes one context vector";
  c.instruction_tokens = false;
  EXPECT_NO_THROW(make_with(c));
  // saved and loaded: the key survives, identical actions; a config written before the key existed loads as false
  const auto dir = std::filesystem::temp_directory_path() / ("nfp_token_policy_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto p = make_with(token_config());
  p->eval();
  save_policy(p, dir);
  auto q = load_policy(dir);
  EXPECT_TRUE(q->config().instruction_tokens);
  p->reset(3);
  q->reset(3);
  PolicyObservation o;
  o.lowdim["state"] = {0.1f, 0.2f, -0.3f};
  o.instruction = "lift the blue block";
  EXPECT_EQ(p->act(o), q->act(o));
  std::filesystem::remove_all(dir);
  json j = token_config();
  j.erase("instruction_tokens");
  EXPECT_FALSE(j.get<PolicyConfig>().instruction_tokens);
  // a checkpoint's instruction encoder from before self-attention (vocabulary, no "layers") keeps its 0 layers
  j["instruction_encoder"].erase("layers");
  EXPECT_EQ(j.get<PolicyConfig>().instruction_encoder.layers, 0);
  EXPECT_EQ(token_config().instruction_encoder.layers, 1) << "new policies get one block";
}

TEST(VisionPolicy, EncodesEveryModality) {
  for (bool shared : {true, false}) {
    auto p = vision_policy(shared);
    int64_t encoders = 0;
    for (const auto& m : p->named_children()) encoders += m.key().rfind("image_encoder", 0) == 0;
    EXPECT_EQ(encoders, shared ? 1 : 2);
    PolicyInput in;
    in.lowdim["state"] = torch::zeros({5, 2, 3});
    in.images["top_image"] = torch::rand({5, 2, 3, 24, 24});
    in.images["wrist_image"] = torch::rand({5, 2, 3, 24, 24});
    in.instructions = std::vector<std::string>(5, "lift the red block");
    in.prev_action = torch::zeros({5, 2});
    p->eval();
    auto ctx = p->encode(in);
    EXPECT_EQ(ctx.sizes(), (std::vector<int64_t>{5, 16}));
    // the context depends on the images and on the instruction
    auto other = in;
    other.images["wrist_image"] = torch::rand({5, 2, 3, 24, 24});
    EXPECT_FALSE(torch::allclose(p->encode(other), ctx));
    other = in;
    other.instructions = std::vector<std::string>(5, "lift the blue block");
    EXPECT_FALSE(torch::allclose(p->encode(other), ctx));
    in.images.erase("wrist_image");
    EXPECT_THROW(p->encode(in), Error);
  }
}

TEST(VisionPolicy, SaveLoadRestoresEncodersAndVocabulary) {
  const auto dir = std::filesystem::temp_directory_path() / ("nfp_vision_policy_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto p = vision_policy(false);
  p->eval();
  save_policy(p, dir);
  auto q = load_policy(dir);
  EXPECT_EQ(q->config().instruction_encoder.vocabulary, p->config().instruction_encoder.vocabulary);
  EXPECT_EQ(q->config().cameras, p->config().cameras);
  p->reset(7);
  q->reset(7);
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(p->act(observation(i, "lift the red block")), q->act(observation(i, "lift the red block"))) << i;
  std::filesystem::remove_all(dir);
}

TEST(VisionPolicy, WrongImagesFailClearly) {
  auto p = vision_policy(true);
  p->eval();
  p->reset(0);
  auto o = observation(0, "");
  o.images["top_image"] = torch::zeros({24, 24, 3}, torch::kFloat32);  // not uint8
  EXPECT_THROW(p->act(o), Error);
  o = observation(0, "");
  o.images["top_image"] = torch::zeros({32, 24, 3}, torch::kUInt8);
  EXPECT_THROW(p->act(o), Error);
  o = observation(0, "");
  o.images.erase("wrist_image");
  EXPECT_THROW(p->act(o), Error);
  // blank and unknown instructions still act (they map to <none> / <unk>)
  for (const char* text : {"", "do a backflip", "lift the red block"}) {
    p->reset(0);
    for (float v : p->act(observation(1, text))) EXPECT_TRUE(std::isfinite(v)) << text;
  }
}

}  // namespace nfp
