// Instruction encoder: vocabulary, unknown words, empty and very long instructions, pooling, save / load.
#include <gtest/gtest.h>

#include "nfp/error.hpp"
#include "nfp/instruction_encoder.hpp"

using namespace nfp;

namespace {
InstructionEncoderConfig config_for(const std::vector<std::string>& texts, const std::string& pool = "attention") {
  InstructionEncoderConfig c;
  c.embed_dim = 16;
  c.max_tokens = 8;
  c.pool = pool;
  c.vocabulary = build_vocabulary(texts).words;
  return c;
}
}  // namespace

TEST(Vocabulary, BuildsSortedWordsAfterSpecials) {
  auto v = build_vocabulary({"Lift the RED block.", "put the red block on the green pad"});
  ASSERT_GE(v.size(), 3);
  EXPECT_EQ(v.words[0], "<pad>");
  EXPECT_EQ(v.words[1], "<unk>");
  EXPECT_EQ(v.words[2], "<none>");
  EXPECT_EQ(v.size(), 3 + 8);  // block green lift on pad put red the
  EXPECT_EQ(v.words[v.id("red")], "red");
  EXPECT_EQ(v.id("purple"), 1);
  EXPECT_EQ(tokenize_instruction("  Put, the-block!"), (std::vector<std::string>{"put", "the", "block"}));
}

TEST(InstructionEncoder, UnknownEmptyAndLongInstructions) {
  InstructionEncoder enc(config_for({"lift the red block", "lift the blue block"}));
  auto [ids, mask] = enc->token_ids({"lift the purple block", "", std::string(500, 'x') + " y"});
  // unknown word -> <unk> (1); empty -> one <none> token (2)
  EXPECT_EQ(ids[0][2].item<int64_t>(), 1);
  EXPECT_EQ(ids[1][0].item<int64_t>(), 2);
  EXPECT_EQ(mask[1].sum().item<int64_t>(), 1);

  std::string very_long;
  for (int i = 0; i < 1000; ++i) very_long += "lift the red block ";
  auto out = enc->forward({very_long, "", "lift the red block"});
  EXPECT_EQ(out.tokens.size(1), 8) << "truncated to max_tokens";
  EXPECT_EQ(out.tokens.sizes(), (std::vector<int64_t>{3, 8, 16}));
  EXPECT_EQ(out.pooled.sizes(), (std::vector<int64_t>{3, 16}));
  EXPECT_TRUE(torch::isfinite(out.pooled).all().item<bool>());
  EXPECT_FALSE(torch::allclose(out.pooled[1], out.pooled[2])) << "a blank instruction must differ from a real one";
}

TEST(InstructionEncoder, PoolingIgnoresPadding) {
  for (const char* pool : {"attention", "mean"}) {
    InstructionEncoder enc(config_for({"lift the red block", "go"}, pool));
    auto alone = enc->forward({"go"}).pooled;
    auto padded = enc->forward({"go", "lift the red block"}).pooled;  // "go" is padded to 4 tokens here
    EXPECT_TRUE(torch::allclose(alone[0], padded[0], 1e-5, 1e-6)) << pool;
  }
}

TEST(InstructionEncoder, FixedLengthTokensDoNotDependOnTheBatch) {
  // A head's cross-attention attends over every token position (no padding mask), so token consumers ask for
  // max_tokens positions: a sample's tokens must then be the same alone and beside a longer instruction.
  InstructionEncoder enc(config_for({"lift the red block", "go"}));
  auto alone = enc->forward({"go"}, /*fixed_length*/ true);
  auto batch = enc->forward({"go", "lift the red block", std::string(300, 'w') + " x y z a b c d e f"}, true);
  EXPECT_EQ(alone.tokens.sizes(), (std::vector<int64_t>{1, 8, 16}));
  EXPECT_EQ(batch.tokens.sizes(), (std::vector<int64_t>{3, 8, 16}));
  EXPECT_TRUE(torch::allclose(alone.tokens[0], batch.tokens[0], 1e-5, 1e-6)) << "equal up to float rounding";
  EXPECT_EQ(batch.mask[0].sum().item<int64_t>(), 1);
  EXPECT_EQ(batch.mask[2].sum().item<int64_t>(), 8) << "truncated at max_tokens";
  EXPECT_TRUE(torch::allclose(alone.pooled[0], enc->forward({"go"}).pooled[0], 1e-5, 1e-6)) << "pooling ignores pads";
}

TEST(InstructionEncoder, SelfAttentionTellsWordOrderApart) {
  // multi-task's two stacking goals use the same words in another order
  const std::vector<std::string> texts = {"put the red block on the blue block", "put the blue block on the red block"};
  auto c = config_for(texts, "mean");
  c.max_tokens = 12;
  c.layers = 0;
  torch::manual_seed(0);
  auto bag = InstructionEncoder(c)->forward(texts).pooled;
  EXPECT_TRUE(torch::allclose(bag[0], bag[1], 1e-5, 1e-6)) << "without self-attention the mean is a bag of words";
  c.layers = 1;
  torch::manual_seed(0);
  auto ordered = InstructionEncoder(c)->forward(texts).pooled;
  EXPECT_GT((ordered[0] - ordered[1]).norm().item<double>(), 1e-2 * ordered[0].norm().item<double>());
  c.heads = 5;  // 16 is not a multiple of 5
  EXPECT_THROW(InstructionEncoder{c}, Error);
}

TEST(InstructionEncoder, DistinguishesInstructionsAndRoundTripsVocabulary) {
  const std::vector<std::string> texts = {"lift the red block", "lift the blue block"};
  auto c = config_for(texts, "mean");
  InstructionEncoder enc(c);
  auto out = enc->forward(texts);
  EXPECT_FALSE(torch::allclose(out.pooled[0], out.pooled[1]));
  json j = c;
  auto back = j.get<InstructionEncoderConfig>();
  EXPECT_EQ(back.vocabulary, c.vocabulary);
  InstructionEncoderConfig bad = c;
  bad.vocabulary = {"red", "blue"};
  EXPECT_THROW(InstructionEncoder{bad}, Error);
  EXPECT_THROW(json({{"embed_dim", 4}, {"vocab", 1}}).get<InstructionEncoderConfig>(), Error);
}
