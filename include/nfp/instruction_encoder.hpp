// Instruction encoder: natural-language instructions -> context tokens (for Transformer-style heads, NinA's
// contract where a VLM's tokens become the flow's context) and a pooled vector (for MLP heads).
// The vocabulary is built from the dataset's instructions (lower-cased words; punctuation splits words) and
// saved in the checkpoint's config.json; an unseen word maps to <unk>. An empty instruction is the single
// token <none>, so a blanked instruction still encodes (to "no instruction", never to a NaN mean).
//   Vocabulary v = build_vocabulary({"lift the red block", ...});
//   InstructionEncoder enc(InstructionEncoderConfig{}, v);
//   auto out = enc->forward({"lift the red block"});   // out.tokens (1 x L x D), out.pooled (1 x D)
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "nfp/json_io.hpp"

namespace nfp {

// words[0] = <pad>, words[1] = <unk>, words[2] = <none>; then the dataset's words, sorted.
struct Vocabulary {
  std::vector<std::string> words;
  int64_t id(const std::string& word) const;  // 1 (<unk>) when unknown
  int64_t size() const { return int64_t(words.size()); }
};
std::vector<std::string> tokenize_instruction(const std::string& text);  // lower-case words
Vocabulary build_vocabulary(const std::vector<std::string>& instructions);

struct InstructionEncoderConfig {
  int64_t embed_dim = 64;        // D
  int64_t max_tokens = 32;       // longer instructions are truncated (their first max_tokens words)
  std::string pool = "attention";  // attention (a learned query attends over the tokens) | mean
  // Self-attention blocks over the tokens before pooling (pre-LN attention + GELU feed-forward, padding masked).
  // Without them the pooled vector is a bag of words: mean pooling gives "put the red block on the blue block"
  // and "put the blue block on the red block" the same vector exactly, attention pooling nearly so.
  int64_t layers = 1;
  int64_t heads = 4;               // attention heads of those blocks (embed_dim must be a multiple)
  std::vector<std::string> vocabulary;  // filled in by training from the dataset (Vocabulary::words)
};
void to_json(json& j, const InstructionEncoderConfig& c);
void from_json(const json& j, InstructionEncoderConfig& c);

struct InstructionEncoding {
  torch::Tensor tokens;  // (B x L x D) token embeddings (+ learned positions); L = longest instruction or max_tokens
  torch::Tensor mask;    // (B x L) bool, true at real tokens (padding false)
  torch::Tensor pooled;  // (B x D)
};

class InstructionEncoderImpl : public torch::nn::Module {
 public:
  explicit InstructionEncoderImpl(InstructionEncoderConfig config);
  // fixed_length: L = max_tokens whatever the batch, so that a consumer attending over every token position
  // (a head's cross-attention, which takes no padding mask) gives each sample the same result in any batch.
  InstructionEncoding forward(const std::vector<std::string>& instructions, bool fixed_length = false);
  // Token ids (B x L) and mask (B x L), padded with <pad>; exposed for tests.
  std::pair<torch::Tensor, torch::Tensor> token_ids(const std::vector<std::string>& instructions,
                                                    bool fixed_length = false) const;
  const Vocabulary& vocabulary() const { return vocab_; }
  int64_t output_dim() const { return config_.embed_dim; }

 private:
  InstructionEncoderConfig config_;
  Vocabulary vocab_;
  torch::nn::Embedding embed_{nullptr}, position_{nullptr};
  struct Block {
    torch::nn::LayerNorm ln_attn{nullptr}, ln_ff{nullptr};
    torch::nn::MultiheadAttention attn{nullptr};
    torch::nn::Sequential ff{nullptr};
  };
  std::vector<Block> blocks_;
  torch::Tensor query_;  // (D) attention pooling query
};
TORCH_MODULE(InstructionEncoder);

}  // namespace nfp
