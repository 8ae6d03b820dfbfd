// Instruction encoder (nfp/instruction_encoder.hpp): word vocabulary, embeddings, self-attention over the words,
// attention / mean pooling.
#include "nfp/instruction_encoder.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include "nfp/error.hpp"

namespace nfp {
namespace {
const std::vector<std::string> kSpecial = {"<pad>", "<unk>", "<none>"};
constexpr int64_t kPad = 0, kUnk = 1, kNone = 2;
}  // namespace

int64_t Vocabulary::id(const std::string& word) const {
  // words after the specials are sorted: binary search
  auto it = std::lower_bound(words.begin() + std::min<size_t>(words.size(), kSpecial.size()), words.end(), word);
  return (it != words.end() && *it == word) ? int64_t(it - words.begin()) : kUnk;
}

std::vector<std::string> tokenize_instruction(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  for (unsigned char ch : text) {
    if (std::isalnum(ch)) {
      cur.push_back(char(std::tolower(ch)));
    } else if (!cur.empty()) {
      out.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

Vocabulary build_vocabulary(const std::vector<std::string>& instructions) {
  std::set<std::string> words;
  for (const auto& s : instructions)
    for (auto& w : tokenize_instruction(s)) words.insert(std::move(w));
  Vocabulary v;
  v.words = kSpecial;
  v.words.insert(v.words.end(), words.begin(), words.end());
  return v;
}

void to_json(json& j, const InstructionEncoderConfig& c) {
  j = json{{"embed_dim", c.embed_dim}, {"max_tokens", c.max_tokens}, {"pool", c.pool},
           {"layers", c.layers},       {"heads", c.heads},           {"vocabulary", c.vocabulary}};
}

void from_json(const json& j, InstructionEncoderConfig& c) {
  const std::string w = "instruction encoder config";
  require_known_keys(j, json_keys(json(InstructionEncoderConfig{})), w);
  c.embed_dim = json_get(j, "embed_dim", c.embed_dim, w);
  c.max_tokens = json_get(j, "max_tokens", c.max_tokens, w);
  c.pool = json_get(j, "pool", c.pool, w);
  c.layers = json_get(j, "layers", c.layers, w);
  c.heads = json_get(j, "heads", c.heads, w);
  c.vocabulary = json_get(j, "vocabulary", c.vocabulary, w);
}

InstructionEncoderImpl::InstructionEncoderImpl(InstructionEncoderConfig c) : config_(std::move(c)) {
  require(config_.embed_dim >= 1 && config_.max_tokens >= 1, "instruction encoder: embed_dim and max_tokens must be >= 1");
  require(config_.pool == "attention" || config_.pool == "mean",
          "instruction encoder: unknown pool " + quoted_value(config_.pool) + "; known: attention, mean");
  if (config_.vocabulary.empty()) config_.vocabulary = kSpecial;
  require(config_.vocabulary.size() >= kSpecial.size() &&
              std::equal(kSpecial.begin(), kSpecial.end(), config_.vocabulary.begin()) &&
              std::is_sorted(config_.vocabulary.begin() + kSpecial.size(), config_.vocabulary.end()),
          "instruction encoder: the vocabulary must start with <pad>, <unk>, <none> and then list sorted words");
  vocab_.words = config_.vocabulary;
  embed_ = register_module("embed", torch::nn::Embedding(torch::nn::EmbeddingOptions(vocab_.size(), config_.embed_dim)
                                                             .padding_idx(kPad)));
  position_ = register_module("position", torch::nn::Embedding(config_.max_tokens, config_.embed_dim));
  if (config_.pool == "attention") query_ = register_parameter("query", torch::randn({config_.embed_dim}) * 0.02);
  require(config_.layers >= 0 && config_.heads >= 1 && config_.embed_dim % config_.heads == 0,
          "instruction encoder: layers must be >= 0 and embed_dim (" + std::to_string(config_.embed_dim) +
              ") a multiple of heads (" + std::to_string(config_.heads) + ")");
  const int64_t D = config_.embed_dim;
  for (int64_t i = 0; i < config_.layers; ++i) {
    const std::string p = "block" + std::to_string(i) + "_";
    Block b;
    b.ln_attn = register_module(p + "ln_attn", torch::nn::LayerNorm(torch::nn::LayerNormOptions({D})));
    b.attn = register_module(p + "attn", torch::nn::MultiheadAttention(torch::nn::MultiheadAttentionOptions(D, config_.heads)));
    b.ln_ff = register_module(p + "ln_ff", torch::nn::LayerNorm(torch::nn::LayerNormOptions({D})));
    b.ff = register_module(p + "ff", torch::nn::Sequential(torch::nn::Linear(D, 2 * D), torch::nn::GELU(),
                                                           torch::nn::Linear(2 * D, D)));
    blocks_.push_back(b);
  }
}

std::pair<torch::Tensor, torch::Tensor> InstructionEncoderImpl::token_ids(const std::vector<std::string>& texts,
                                                                         bool fixed_length) const {
  std::vector<std::vector<int64_t>> ids;
  size_t L = fixed_length ? size_t(config_.max_tokens) : 1;
  for (const auto& s : texts) {
    auto words = tokenize_instruction(s);
    std::vector<int64_t> row;
    for (const auto& w : words) {
      if (int64_t(row.size()) == config_.max_tokens) break;
      row.push_back(vocab_.id(w));
    }
    if (row.empty()) row.push_back(kNone);
    L = std::max(L, row.size());
    ids.push_back(std::move(row));
  }
  // filled as plain arrays: per-element tensor indexing costs microseconds each, per batch of 256 that adds up
  const int64_t B = int64_t(texts.size());
  std::vector<int64_t> flat(size_t(B) * L, kPad);
  for (size_t b = 0; b < ids.size(); ++b)
    for (size_t i = 0; i < ids[b].size(); ++i) flat[b * L + i] = ids[b][i];
  auto out = torch::tensor(flat, torch::kLong).reshape({B, int64_t(L)});
  auto mask = out.ne(kPad);  // word ids are never <pad>
  return {out, mask};
}

InstructionEncoding InstructionEncoderImpl::forward(const std::vector<std::string>& texts, bool fixed_length) {
  require(!texts.empty(), "instruction encoder: empty batch");
  auto [cpu_ids, cpu_mask] = token_ids(texts, fixed_length);
  const torch::Device device = embed_->weight.device();  // the ids go where the weights are (--device)
  const auto ids = cpu_ids.to(device), mask = cpu_mask.to(device);
  const int64_t L = ids.size(1);
  InstructionEncoding out;
  out.tokens = embed_(ids) + position_(torch::arange(L, ids.options())).unsqueeze(0);
  const auto padding = mask.logical_not();  // (B x L) true where attention must not look
  for (auto& b : blocks_) {
    auto n = b.ln_attn->forward(out.tokens).transpose(0, 1);  // (L x B x D), the layout MultiheadAttention takes
    auto a = std::get<0>(b.attn->forward(n, n, n, padding, /*need_weights*/ false)).transpose(0, 1);
    out.tokens = out.tokens + a;
    out.tokens = out.tokens + b.ff->forward(b.ln_ff->forward(out.tokens));
  }
  out.mask = mask;
  auto m = mask.to(torch::kFloat32).unsqueeze(-1);  // (B x L x 1)
  if (config_.pool == "mean") {
    out.pooled = (out.tokens * m).sum(1) / m.sum(1);  // every row has >= 1 real token (<none> if blank)
  } else {
    auto scores = (out.tokens * query_).sum(-1) / std::sqrt(double(config_.embed_dim));  // (B x L)
    scores = scores.masked_fill(mask.logical_not(), -1e9);
    out.pooled = (torch::softmax(scores, 1).unsqueeze(-1) * out.tokens).sum(1);
  }
  return out;
}

}  // namespace nfp
