// An instruction -> its pooled vector (and, for nina-transformer, its words as context tokens), as
// src/nets/instruction_encoder.cpp computes it: lower-cased alphanumeric words, <unk> for unknown ones, <none>
// for an empty instruction, embeddings + positions, pre-LN self-attention blocks (padding masked), attention or
// mean pooling. Nothing allocates: the words are matched in place against the sorted vocabulary.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <string_view>

#include "runtime/exec.hpp"

namespace nfp::rt {
namespace {

constexpr int kPad = 0, kUnk = 1, kNone = 2;

int word_id(const InstructionNet& n, std::string_view word) {
  const auto first = n.vocabulary.begin() + 3;
  auto it = std::lower_bound(first, n.vocabulary.end(), word,
                             [](const std::string& a, std::string_view b) { return std::string_view(a) < b; });
  return it != n.vocabulary.end() && std::string_view(*it) == word ? int(it - n.vocabulary.begin()) : kUnk;
}

// The token ids of `text` (nfp::tokenize_instruction + Vocabulary::id), at most max_tokens; returns how many
// (>= 1: an empty instruction is <none>).
int tokenize(Workspace& ws, const InstructionNet& n, const char* text) {
  int count = 0;
  char* word = ws.word_chars.data();
  const size_t cap = ws.word_chars.size();  // longer than every vocabulary word: a longer word is <unk>
  size_t len = 0;
  auto flush = [&] {
    if (len > 0 && count < n.max_tokens) ws.word_ids[size_t(count++)] = len < cap ? word_id(n, {word, len}) : kUnk;
    len = 0;
  };
  for (const char* p = text ? text : ""; *p; ++p) {
    const unsigned char ch = static_cast<unsigned char>(*p);
    if (std::isalnum(ch)) {
      if (len < cap) word[len] = char(std::tolower(ch));
      ++len;
    } else {
      flush();
    }
  }
  flush();
  if (count == 0) ws.word_ids[size_t(count++)] = kNone;
  return count;
}

// Multi-head self-attention of the rows n (L x D) over the first `keys` rows: out (L x D), before out_proj.
void self_attention(Workspace& ws, const InstructionNet& n, int L, int keys, const float* qkv, float* out) {
  const int D = n.dim, hd = D / n.heads;
  const float scale = 1.0f / std::sqrt(float(hd));
  float* s = ws.word_scores.data();
  for (int h = 0; h < n.heads; ++h)
    for (int i = 0; i < L; ++i) {
      const float* q = qkv + size_t(i) * 3 * D + h * hd;
      float mx = -INFINITY;
      for (int j = 0; j < keys; ++j) {
        const float* k = qkv + size_t(j) * 3 * D + D + h * hd;
        float d = 0;
        for (int e = 0; e < hd; ++e) d += q[e] * scale * k[e];
        s[j] = d;
        mx = std::max(mx, d);
      }
      float sum = 0;
      for (int j = 0; j < keys; ++j) sum += (s[j] = std::exp(s[j] - mx));
      float* o = out + size_t(i) * D + h * hd;
      std::fill(o, o + hd, 0.0f);
      for (int j = 0; j < keys; ++j) {
        const float* v = qkv + size_t(j) * 3 * D + 2 * D + h * hd;
        const float p = s[j] / sum;
        for (int e = 0; e < hd; ++e) o[e] += p * v[e];
      }
    }
}

}  // namespace

void instruction_features(Workspace& ws, const InstructionNet& n, const char* text, float* pooled, float* tokens) {
  const Kernels& k = kernels();
  const int count = tokenize(ws, n, text);
  const int L = n.tokens ? n.max_tokens : count, D = n.dim;
  float* x = ws.words.data();
  for (int i = 0; i < L; ++i) {
    const int id = i < count ? ws.word_ids[size_t(i)] : kPad;
    const float* e = n.embed.data() + size_t(id) * D;
    const float* p = n.position.data() + size_t(i) * D;
    for (int d = 0; d < D; ++d) x[size_t(i) * D + d] = e[d] + p[d];
  }
  float* nx = ws.words_n.data();
  float* qkv = ws.words_qkv.data();
  float* att = ws.words_att.data();
  float* ff = ws.words_ff.data();
  const size_t LD = size_t(L) * D;
  for (const auto& b : n.blocks) {
    std::memcpy(nx, x, LD * sizeof(float));
    k.layer_norm(nx, L, D, D, b.ln_attn.gamma.data(), b.ln_attn.beta.data(), nullptr);
    k.gemm(nx, D, L, b.in_proj.fwd, b.in_proj.bias.data(), qkv, 3 * D, false);
    self_attention(ws, n, L, count, qkv, att);
    k.gemm(att, D, L, b.out_proj.fwd, b.out_proj.bias.data(), x, D, true);  // x += attention
    std::memcpy(nx, x, LD * sizeof(float));
    k.layer_norm(nx, L, D, D, b.ln_ff.gamma.data(), b.ln_ff.beta.data(), nullptr);
    k.gemm(nx, D, L, b.ff1.fwd, b.ff1.bias.data(), ff, 2 * D, false);
    k.gelu(ff, ff, int64_t(L) * 2 * D);
    k.gemm(ff, 2 * D, L, b.ff2.fwd, b.ff2.bias.data(), x, D, true);  // x += feed-forward
  }
  // Pooling over the real words (padding never counts).
  std::fill(pooled, pooled + D, 0.0f);
  if (n.attention_pool) {
    float* s = ws.word_scores.data();
    const float inv = 1.0f / std::sqrt(float(D));
    float mx = -INFINITY;
    for (int i = 0; i < count; ++i) {
      float d = 0;
      for (int e = 0; e < D; ++e) d += x[size_t(i) * D + e] * n.query[size_t(e)];
      s[i] = d * inv;
      mx = std::max(mx, s[i]);
    }
    float sum = 0;
    for (int i = 0; i < count; ++i) sum += (s[i] = std::exp(s[i] - mx));
    for (int i = 0; i < count; ++i)
      for (int e = 0; e < D; ++e) pooled[e] += s[i] / sum * x[size_t(i) * D + e];
  } else {
    for (int i = 0; i < count; ++i)
      for (int e = 0; e < D; ++e) pooled[e] += x[size_t(i) * D + e];
    for (int e = 0; e < D; ++e) pooled[e] /= float(count);
  }
  if (n.tokens) k.gemm(x, D, L, n.token_proj.fwd, n.token_proj.bias.data(), tokens, n.token_proj.out, false);
}

}  // namespace nfp::rt
