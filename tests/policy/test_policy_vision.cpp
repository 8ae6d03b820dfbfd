// Image- and instruction-conditioned policies: encoders feed the context, act() takes camera images and an
// instruction, save -> load restores encoders and vocabulary (identical actions), wrong images fail clearly.
#include <gtest/gtest.h>

#include <filesystem>

#include "nfp/checkpoint.hpp"
#include "nfp/error.hpp"
#include "nfp/policy_runner.hpp"

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

Image random_image(int h, int w, at::Generator& gen) {
  auto px = torch::randint(0, 256, {h, w, 3}, gen, torch::kUInt8).contiguous();
  return {h, w, std::vector<uint8_t>(px.data_ptr<uint8_t>(), px.data_ptr<uint8_t>() + px.numel())};
}

Observation observation(int step, const std::string& instruction) {
  Observation o;
  o.lowdim["state"] = {0.1f * float(step), 0.2f, -0.3f};
  auto gen = at::make_generator<at::CPUGeneratorImpl>(uint64_t(step));
  o.images["top_image"] = random_image(24, 24, gen);
  o.images["wrist_image"] = random_image(24, 24, gen);
  o.instruction = instruction;
  return o;
}

// Actions of `steps` steps of observation(i, instruction) from a reset with `seed`.
std::vector<std::vector<float>> episode(PolicyRunner& r, uint64_t seed, int steps, const std::string& instruction) {
  r.reset(seed);
  std::vector<std::vector<float>> out;
  for (int i = 0; i < steps; ++i) out.push_back(r.act(observation(i, instruction)).action);
  return out;
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

ObservationBatch token_input(const std::vector<std::string>& instructions) {
  const int64_t B = int64_t(instructions.size());
  ObservationBatch in;
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
  auto p = make_with(token_config());
  p->eval();
  save_checkpoint(*p, dir);
  auto q = load_policy(dir);
  EXPECT_TRUE(q->config().instruction_tokens);
  PolicyRunner rp(p), rq(q);
  rp.reset(3);
  rq.reset(3);
  Observation o;
  o.lowdim["state"] = {0.1f, 0.2f, -0.3f};
  o.instruction = "lift the blue block";
  EXPECT_EQ(rp.act(o).action, rq.act(o).action);
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
    ObservationBatch in;
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
  auto p = vision_policy(false);
  p->eval();
  save_checkpoint(*p, dir);
  auto q = load_policy(dir);
  EXPECT_EQ(q->config().instruction_encoder.vocabulary, p->config().instruction_encoder.vocabulary);
  EXPECT_EQ(q->config().cameras, p->config().cameras);
  PolicyRunner rp(p), rq(q);
  EXPECT_EQ(episode(rp, 7, 5, "lift the red block"), episode(rq, 7, 5, "lift the red block"));
  std::filesystem::remove_all(dir);
}

TEST(VisionPolicy, WrongImagesFailClearly) {
  auto p = vision_policy(true);
  p->eval();
  PolicyRunner r(p);
  auto o = observation(0, "");
  o.images["top_image"].pixels.resize(24 * 24);  // one channel, not RGB
  EXPECT_THROW(r.act(o), Error);
  o = observation(0, "");
  o.images["top_image"] = {32, 24, std::vector<uint8_t>(32 * 24 * 3)};
  EXPECT_THROW(r.act(o), Error);
  o = observation(0, "");
  o.images.erase("wrist_image");
  EXPECT_THROW(r.act(o), Error);
  // blank and unknown instructions still act (they map to <none> / <unk>)
  for (const char* text : {"", "do a backflip", "lift the red block"})
    for (const auto& a : episode(r, 0, 2, text))
      for (float v : a) EXPECT_TRUE(std::isfinite(v)) << text;
}

// --image-size / --crop recorded in the config: the runner resizes a camera image of any size to the training
// size and takes its centre window, so it acts exactly as a policy without them does on images prepared by hand;
// the config round-trips, configs from before the keys load as before, and a config that contradicts itself fails.
TEST(VisionPolicy, ResizedAndCroppedImagesArePreparedAsInTraining) {
  PolicyConfig plain = vision_config(true);
  plain.image_hw = {20, 20};
  PolicyConfig cropped = plain;
  cropped.image_preprocess.resize = {24, 24};
  cropped.image_preprocess.source = {{48, 48}, {48, 48}};
  cropped.image_preprocess.crop = {20, 20};
  cropped.image_preprocess.crop_from = {24, 24};
  auto a = make_with(cropped), b = make_with(plain);  // same seed: same weights
  a->eval();
  b->eval();
  auto raw = [](int step) {  // what the robot's cameras give: 48 x 48
    Observation o = observation(step, "lift the red block");
    auto gen = at::make_generator<at::CPUGeneratorImpl>(uint64_t(100 + step));
    o.images["top_image"] = random_image(48, 48, gen);
    o.images["wrist_image"] = random_image(48, 48, gen);
    return o;
  };
  auto by_hand = [&](Observation o) {
    for (auto& [key, im] : o.images) im = crop_image(resize_image(im, {24, 24}), {2, 2}, {20, 20});
    return o;
  };
  PolicyRunner ra(a), rb(b), rc(a);
  ra.reset(3);
  rb.reset(3);
  rc.reset(3);
  for (int i = 0; i < 5; ++i) {
    const Observation o = raw(i);
    const auto expected = rb.act(by_hand(o)).action;
    EXPECT_EQ(ra.act(o).action, expected) << i;
    Observation resized = o;  // images already at the training size are only cropped
    for (auto& [key, im] : resized.images) im = resize_image(im, {24, 24});
    EXPECT_EQ(rc.act(resized).action, expected) << i;
  }
  Observation odd = raw(0);  // any size is resized
  odd.images["top_image"] = {30, 40, std::vector<uint8_t>(30 * 40 * 3, 9)};
  EXPECT_EQ(ra.act(odd).action.size(), 2u);

  json j = a->config();
  EXPECT_EQ(j["image_resize"], json::parse(R"({"to": [24, 24], "from": [[48, 48], [48, 48]]})"));
  EXPECT_EQ(j["image_crop"], json::parse(R"({"to": [20, 20], "from": [24, 24]})"));
  PolicyConfig back;
  from_json(j, back);
  EXPECT_EQ(json(back), j);
  json old = b->config();  // a checkpoint from before the keys
  old.erase("image_resize");
  old.erase("image_crop");
  PolicyConfig old_back;
  from_json(old, old_back);
  EXPECT_TRUE(old_back.image_preprocess.resize.empty() && old_back.image_preprocess.crop.empty());
  EXPECT_TRUE(json(b->config())["image_resize"].is_null());

  PolicyConfig contradictory = cropped;
  contradictory.image_hw = {24, 24};  // the encoder must see the crop
  EXPECT_THROW(make_with(contradictory), Error);
  j["image_crop"] = json::parse(R"({"to": [20, 0], "from": [24, 24]})");
  EXPECT_THROW(from_json(j, back), Error);
}

}  // namespace nfp
