// Camera images -> features: nfp::prepare_image's resize and centre crop, then the conv net or ResNet-18 with
// GroupNorm, pooling and the projection (src/nets/image_encoder.cpp, resnet.cpp), on channels-last maps.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "runtime/exec.hpp"

namespace nfp::rt {
namespace {

// A channels-last activation map: (h*w rows x c).
struct Map {
  float* data;
  int h, w, c;
};

// n floats from src to dst (null src: zeros). A few floats (a window row of the RGB input) in a plain loop: a
// library call would cost more than the copy.
inline void copy_run(float* dst, const float* src, int n) {
  if (n >= 16) {
    if (src) std::memcpy(dst, src, size_t(n) * sizeof(float));
    else std::memset(dst, 0, size_t(n) * sizeof(float));
    return;
  }
  for (int i = 0; i < n; ++i) dst[i] = src ? src[i] : 0.0f;
}

// im2col rows for a k x k window at `stride`, zero outside: (oh*ow x k*k*cin), column (ky*k + kx)*cin + ci. A
// window row is k adjacent pixels of one map row (channels-last: k*cin adjacent floats), so it is one copy, with
// zeros for the pixels past the map's edges.
void im2col(const Map& x, const Conv2d& cv, int oh, int ow, float* cols) {
  const int K = cv.k * cv.k * x.c, run = cv.k * x.c;
  for (int oy = 0; oy < oh; ++oy)
    for (int ox = 0; ox < ow; ++ox) {
      float* row = cols + (size_t(oy) * ow + ox) * K;
      const int ix0 = ox * cv.stride - cv.pad;
      const int lo = std::max(0, -ix0), hi = std::min(cv.k, x.w - ix0);  // the window's pixels inside the map
      for (int ky = 0; ky < cv.k; ++ky) {
        const int iy = oy * cv.stride - cv.pad + ky;
        float* dst = row + ky * run;
        if (iy < 0 || iy >= x.h || hi <= lo) {
          copy_run(dst, nullptr, run);
          continue;
        }
        copy_run(dst, nullptr, lo * x.c);
        copy_run(dst + lo * x.c, x.data + (size_t(iy) * x.w + ix0 + lo) * x.c, (hi - lo) * x.c);
        copy_run(dst + hi * x.c, nullptr, (cv.k - hi) * x.c);
      }
    }
}

Map conv(Workspace& ws, const Conv2d& cv, const Map& x, float* out) {
  const int oh = (x.h + 2 * cv.pad - cv.k) / cv.stride + 1, ow = (x.w + 2 * cv.pad - cv.k) / cv.stride + 1;
  const float* a = x.data;
  if (cv.k != 1 || cv.stride != 1) {  // a 1x1, stride-1 convolution is the GEMM on the map itself
    im2col(x, cv, oh, ow, ws.cols.data());
    a = ws.cols.data();
  }
  kernels().gemm(a, cv.k * cv.k * cv.cin, oh * ow, cv.w, cv.bias.empty() ? nullptr : cv.bias.data(), out, cv.cout, false);
  return {out, oh, ow, cv.cout};
}

// GroupNorm (eps 1e-5, torch's) in place, then + residual (when given) and ReLU (when asked). Two passes over the
// map (the channel means, then the squared deviations from them: no cancellation), vectorized per channel.
void group_norm(Workspace& ws, const GroupNorm& g, Map x, const float* residual, bool relu) {
  const Kernels& k = kernels();
  const int hw = x.h * x.w, C = x.c, cg = C / g.groups;
  float* mean = ws.gn_scale.data();  // per channel, then per group spread over its channels
  float* sq = ws.gn_shift.data();
  k.channel_sums(x.data, hw, C, nullptr, mean);
  for (int gi = 0; gi < g.groups; ++gi) {
    double s = 0;
    for (int c = gi * cg; c < (gi + 1) * cg; ++c) s += mean[c];
    for (int c = gi * cg; c < (gi + 1) * cg; ++c) mean[c] = float(s / (double(hw) * cg));
  }
  k.channel_sums(x.data, hw, C, mean, sq);
  for (int gi = 0; gi < g.groups; ++gi) {  // sq becomes the shift, mean the scale: y = x * scale + shift
    double v = 0;
    for (int c = gi * cg; c < (gi + 1) * cg; ++c) v += sq[c];
    const float rstd = float(1.0 / std::sqrt(v / (double(hw) * cg) + 1e-5));
    for (int c = gi * cg; c < (gi + 1) * cg; ++c) {
      const float scale = rstd * g.gamma[size_t(c)];
      sq[c] = g.beta[size_t(c)] - mean[c] * scale;
      mean[c] = scale;
    }
  }
  k.channel_affine(x.data, hw, C, mean, sq, residual, relu);
}

// 3 x 3 max pool, stride 2, padding 1 (torch's: padding never wins).
Map max_pool(const Map& x, float* out) {
  const int oh = (x.h - 1) / 2 + 1, ow = (x.w - 1) / 2 + 1;
  for (int oy = 0; oy < oh; ++oy)
    for (int ox = 0; ox < ow; ++ox) {
      float* o = out + (size_t(oy) * ow + ox) * x.c;
      for (int c = 0; c < x.c; ++c) o[c] = -std::numeric_limits<float>::infinity();
      for (int iy = std::max(0, 2 * oy - 1); iy <= std::min(x.h - 1, 2 * oy + 1); ++iy)
        for (int ix = std::max(0, 2 * ox - 1); ix <= std::min(x.w - 1, 2 * ox + 1); ++ix) {
          const float* in = x.data + (size_t(iy) * x.w + ix) * x.c;
          for (int c = 0; c < x.c; ++c) o[c] = std::max(o[c], in[c]);
        }
    }
  return {out, oh, ow, x.c};
}

// The three map buffers other than `a` and `b`.
float* spare(Workspace& ws, const float* a, const float* b = nullptr) {
  for (auto& m : ws.maps)
    if (m.data() != a && m.data() != b) return m.data();
  return nullptr;
}

// The trunk on maps[0] (the image) -> the final map, in one of ws.maps.
Map trunk(Workspace& ws, const ImageNet& n, Map x) {
  if (n.trunk == ImageTrunk::Conv) {
    for (const auto& u : n.convs) {
      x = conv(ws, u.conv, x, spare(ws, x.data));
      group_norm(ws, u.norm, x, nullptr, true);
    }
    return x;
  }
  x = conv(ws, n.stem.conv, x, spare(ws, x.data));
  group_norm(ws, n.stem.norm, x, nullptr, true);
  x = max_pool(x, spare(ws, x.data));
  for (const auto& b : n.blocks) {
    // y = relu(norm_b(conv_b(relu(norm_a(conv_a(x))))) + shortcut), shortcut = x or norm_d(conv_d(x))
    Map y = conv(ws, b.a.conv, x, spare(ws, x.data));
    group_norm(ws, b.a.norm, y, nullptr, true);
    const float* shortcut = x.data;
    if (b.downsample) {
      Map d = conv(ws, b.down.conv, x, spare(ws, x.data, y.data));
      group_norm(ws, b.down.norm, d, nullptr, false);
      shortcut = d.data;
    }
    Map z = conv(ws, b.b.conv, y, spare(ws, shortcut, y.data));
    group_norm(ws, b.b.norm, z, shortcut, true);
    x = z;
  }
  return x;
}

// The pooled vector of the final map into out: average or spatial softmax (flatten pools nothing: the map itself
// is the projection's input, its columns in the map's order).
void pool(const ImageNet& n, const Map& x, float* out) {
  const int hw = x.h * x.w, C = x.c;
  if (n.pool == ImagePool::Average) {
    for (int c = 0; c < C; ++c) {
      float s = 0;
      for (int p = 0; p < hw; ++p) s += x.data[size_t(p) * C + c];
      out[c] = s / float(hw);
    }
    return;
  }
  // spatial softmax: per channel, the softmax over the cells and the expected (x, y) on linspace(-1, 1)
  auto coord = [](int i, int n) { return n == 1 ? -1.0f : -1.0f + 2.0f * float(i) / float(n - 1); };
  for (int c = 0; c < C; ++c) {
    float mx = -std::numeric_limits<float>::infinity();
    for (int p = 0; p < hw; ++p) mx = std::max(mx, x.data[size_t(p) * C + c]);
    double s = 0, ex = 0, ey = 0;
    for (int p = 0; p < hw; ++p) {
      const double e = std::exp(double(x.data[size_t(p) * C + c] - mx));
      s += e;
      ex += e * coord(p % x.w, x.w);
      ey += e * coord(p / x.w, x.h);
    }
    out[2 * c] = float(ex / s);
    out[2 * c + 1] = float(ey / s);
  }
}

void prepare_camera_image(Workspace& ws, const ImageInput& in, const ImageNet& n, const uint8_t* image) {
  const uint8_t* src = image;
  int sw = in.camera_w;
  if (in.resize_h > 0) {  // nfp::resize_image: horizontal pass in float, vertical pass, rounded
    const int C = 3, ow = in.resize_w;
    float* rows = ws.img_rows.data();
    std::fill(rows, rows + size_t(in.camera_h) * ow * C, 0.0f);
    for (int y = 0; y < in.camera_h; ++y) {
      const uint8_t* r = image + size_t(y) * in.camera_w * C;
      float* o = rows + size_t(y) * ow * C;
      for (int ox = 0; ox < ow; ++ox)
        for (const auto& t : in.taps_x[size_t(ox)])
          for (int c = 0; c < C; ++c) o[ox * C + c] += t.weight * float(r[t.index * C + c]);
    }
    float* acc = ws.img_acc.data();
    for (int oy = 0; oy < in.resize_h; ++oy) {
      std::fill(acc, acc + size_t(ow) * C, 0.0f);
      for (const auto& t : in.taps_y[size_t(oy)]) {
        const float* r = rows + size_t(t.index) * ow * C;
        for (int k = 0; k < ow * C; ++k) acc[k] += t.weight * r[k];
      }
      uint8_t* o = ws.img_resized.data() + size_t(oy) * ow * C;
      for (int k = 0; k < ow * C; ++k) o[k] = uint8_t(std::clamp(std::floor(acc[k] + 0.5f), 0.0f, 255.0f));
    }
    src = ws.img_resized.data();
    sw = ow;
  }
  static const float kMean[3] = {0.485f, 0.456f, 0.406f}, kStd[3] = {0.229f, 0.224f, 0.225f};
  float* x = ws.maps[0].data();
  for (int y = 0; y < n.in_h; ++y) {
    const uint8_t* r = src + (size_t(y + in.crop_top) * sw + in.crop_left) * 3;
    for (int i = 0; i < n.in_w * 3; ++i) {
      float v = float(r[i]) / 255.0f;
      if (n.imagenet_norm) v = (v - kMean[i % 3]) / kStd[i % 3];
      x[size_t(y) * n.in_w * 3 + i] = v;
    }
  }
}

}  // namespace

void camera_features(Workspace& ws, size_t c, const uint8_t* const* frames, float* out) {
  const ImageInput& in = ws.model->encoder.input.images;
  const ImageNet& n = in.encoders[size_t(in.encoder_of[c])];
  const int H = ws.model->encoder.input.history, F = n.feature_dim;
  const size_t bytes = size_t(in.camera_h) * in.camera_w * 3, first = c * size_t(H);
  const size_t stride = ws.frame_feat.size() / ws.frame_seen.size();  // floats per cached feature vector
  auto same = [bytes](const uint8_t* a, const uint8_t* b) { return a == b || std::memcmp(a, b, bytes) == 0; };
  for (int j = 0; j < H; ++j) {
    float* o = out + size_t(j) * F;
    const float* hit = nullptr;
    for (int i = 0; i < j && !hit; ++i)  // an earlier frame of this call (a history padded at an episode's start)
      if (same(frames[i], frames[j])) hit = out + size_t(i) * F;
    // The previous call's frames, the one a sliding window shifted here first.
    for (int k = 0; k < H && !hit; ++k) {
      const size_t slot = first + size_t((j + 1 + k) % H);
      if (ws.frame_seen[slot] && same(ws.frame_bytes.data() + slot * bytes, frames[j]))
        hit = ws.frame_feat.data() + slot * stride;
    }
    if (hit) {
      std::memcpy(o, hit, size_t(F) * sizeof(float));
      continue;
    }
    prepare_camera_image(ws, in, n, frames[j]);
    const Map m = trunk(ws, n, {ws.maps[0].data(), n.in_h, n.in_w, 3});
    const float* pooled = m.data;  // flatten: the map itself, in the projection's column order
    if (n.pool != ImagePool::Flatten) pool(n, m, ws.feat.data()), pooled = ws.feat.data();
    kernels().gemm(pooled, n.pooled, 1, n.proj.fwd, n.proj.bias.data(), o, F, false);
  }
  for (int j = 0; j < H; ++j) {  // this call's frames become the cache (after every lookup into the old one)
    const size_t slot = first + size_t(j);
    std::memcpy(ws.frame_bytes.data() + slot * bytes, frames[j], bytes);
    std::memcpy(ws.frame_feat.data() + slot * stride, out + size_t(j) * F, size_t(F) * sizeof(float));
    ws.frame_seen[slot] = 1;
  }
}

}  // namespace nfp::rt
