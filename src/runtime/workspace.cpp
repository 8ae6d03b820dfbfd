// Workspace sizing: every buffer any call can touch, for up to max_rows samples per call.
#include <algorithm>

#include "runtime/exec.hpp"

namespace nfp::rt {

Workspace::Workspace(const Model& m, int R) : model(&m), max_rows(R) {
  const int D = m.dim, C = m.context_dim, N = m.context_tokens;
  const size_t RD = size_t(R) * D;
  size_t hidden = 1, depth = 1, pmax = 1, T = 1, H = 1, A = 1, ff = 0, tt = 1, tout_n = 1, cache = 0, tape_tf = 1;
  ctx_offset.assign(2 * m.layers.size(), 0);
  for (size_t l = 0; l < m.layers.size(); ++l) {
    for (size_t j = 0; j < m.layers[l].nets.size(); ++j) {
      const Net& n = m.layers[l].nets[j];
      ctx_offset[2 * l + j] = cache;
      pmax = std::max(pmax, size_t(n.trans_dim) * n.P);
      if (n.transformer) {
        const TransformerNet& t = n.tf;
        T = std::max(T, size_t(t.tokens));
        H = std::max(H, size_t(t.H));
        A = std::max(A, size_t(t.A));
        tt = std::max(tt, size_t(t.tokens_out));
        tout_n = std::max(tout_n, size_t(t.A) * n.P);
        for (const auto& b : t.blocks) ff = std::max(ff, size_t(b.ff ? 4 * t.H : 0));
        cache += transformer_cache_size(t, N);
        tape_tf = std::max(tape_tf, transformer_tape_size(t, N));
      } else {
        hidden = std::max(hidden, size_t(n.mlp.out.in));
        depth = std::max(depth, n.mlp.hidden_x.size());
        if (C > 0) cache += size_t(n.mlp.first_ctx.out);
      }
    }
  }
  if (m.encoder.present) hidden = std::max(hidden, size_t(m.encoder.net.out.in));
  enc_in.assign(size_t(std::max(m.obs_dim, 1)), 0.0f);
  if (m.encoder.present) size_encoders(m.encoder);
  ctx.assign(size_t(N) * std::max(C, 1), 0.0f);
  pooled.assign(size_t(std::max(C, 1)), 0.0f);
  ctx_cache.assign(std::max<size_t>(cache, 1), 0.0f);
  x.assign(RD, 0.0f);
  tmp.assign(RD, 0.0f);
  coef_s.assign(RD, 0.0f);
  coef_e.assign(RD, 0.0f);
  z.assign(RD, 0.0f);
  logdet.assign(size_t(R), 0.0);
  logp.assign(size_t(R), 0.0);
  size_t bins = 1;
  for (const auto& L : m.layers) bins = std::max(bins, size_t(L.spline.bins));
  spline_exp.assign(size_t(D) * 2 * bins, 0.0);
  spline_tmp.assign(size_t(D) * 8, 0.0);
  spline_bin.assign(size_t(D), 0);
  const size_t RT = size_t(R) * T;
  for (int j = 0; j < 2; ++j) {
    params[j].assign(size_t(R) * pmax, 0.0f);
    dparams[j].assign(size_t(R) * pmax, 0.0f);
    tape[j].pre.assign(depth * R * hidden, 0.0f);
    tape[j].normed.assign(depth * R * hidden, 0.0f);
    tape[j].act.assign(depth * R * hidden, 0.0f);
    tape[j].stats.assign(depth * R * 2, 0.0f);
  }
  h0.assign(size_t(R) * hidden, 0.0f);
  h1.assign(size_t(R) * hidden, 0.0f);
  dh0.assign(size_t(R) * hidden, 0.0f);
  dh1.assign(size_t(R) * hidden, 0.0f);
  stats.assign(RT * 2, 0.0f);
  th.assign(RT * H, 0.0f);
  tn.assign(RT * H, 0.0f);
  tq.assign(RT * H, 0.0f);
  tkv.assign(RT * 2 * H, 0.0f);
  to.assign(RT * H, 0.0f);
  tff.assign(std::max<size_t>(RT * ff, 1), 0.0f);
  thead.assign(size_t(R) * tt * 2 * H, 0.0f);
  tout.assign(size_t(R) * tt * tout_n, 0.0f);
  scores.assign(std::max<size_t>(T, size_t(N)) + 1, 0.0f);
  tf_tape.assign(tape_tf, 0.0f);
  acts.assign((m.layers.size() + 1) * RD, 0.0f);
  grad.assign(RD, 0.0f);
  grad_tmp.assign(RD, 0.0f);
  adam_m.assign(RD, 0.0f);
  adam_v.assign(RD, 0.0f);
  action_out.assign(RD, 0.0f);
  if (m.weights == WeightType::W8A8) {
    // The widest input of any conditioner Linear (x_cond <= D, context C, MLP hidden, transformer H, 2H, 4H)
    // and the most rows one product multiplies (R samples x T tokens, N context tokens, T in the backward pass).
    const size_t in = std::max({size_t(D), size_t(std::max(C, 1)), hidden, 4 * H, A});
    const size_t rows = std::max({size_t(R) * T, size_t(N), size_t(R)});
    q8.assign(4 * ((in + 3) / 4), 0);
    q8_rows.assign(rows * in, 0.0f);
  }
}

void Workspace::size_encoders(const Encoder& e) {
  mlp_in.assign(size_t(e.in), 0.0f);
  const ImageInput& im = e.input.images;
  size_t map = 1, col = 1, ch = 1, feat_n = 1, out_n = 1;
  for (const auto& n : im.encoders) {
    map = std::max(map, n.max_map);
    col = std::max(col, n.max_cols);
    ch = std::max(ch, n.max_map);  // channels <= the map's size
    if (n.pool != ImagePool::Flatten) feat_n = std::max(feat_n, size_t(n.pooled));
    out_n = std::max(out_n, size_t(n.feature_dim));
  }
  for (auto& v : maps) v.assign(map, 0.0f);
  cols.assign(col, 0.0f);
  gn_scale.assign(ch, 0.0f);
  gn_shift.assign(ch, 0.0f);
  feat.assign(feat_n, 0.0f);
  const size_t frames = im.cameras.size() * size_t(e.input.history);
  frame_bytes.assign(frames * size_t(im.camera_h) * im.camera_w * 3, 0);
  frame_seen.assign(std::max<size_t>(frames, 1), 0);
  frame_feat.assign(std::max<size_t>(frames, 1) * out_n, 0.0f);
  if (im.resize_h > 0) {
    img_resized.assign(size_t(im.resize_h) * im.resize_w * 3, 0);
    img_rows.assign(size_t(im.camera_h) * im.resize_w * 3, 0.0f);
    img_acc.assign(size_t(im.resize_w) * 3, 0.0f);
  }
  const InstructionNet& w = e.input.instruction;
  if (w.present) {
    const size_t L = size_t(w.max_tokens), D = size_t(w.dim);
    words.assign(L * D, 0.0f);
    words_n.assign(L * D, 0.0f);
    words_qkv.assign(L * 3 * D, 0.0f);
    words_att.assign(L * D, 0.0f);
    words_ff.assign(L * 2 * D, 0.0f);
    word_scores.assign(L, 0.0f);
    word_ids.assign(L, 0);
    size_t longest = 0;
    for (const auto& v : w.vocabulary) longest = std::max(longest, v.size());
    word_chars.assign(longest + 1, 0);
  }
}

}  // namespace nfp::rt
