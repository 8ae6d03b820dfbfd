// A policy's camera and instruction encoders from the config's "encoder" section and their named weights
// (model_encoders.hpp; the exporter is src/export/export_encoders.cpp). Every size is bounded before use.
#include "runtime/model_encoders.hpp"

#include <algorithm>
#include <cmath>

#include "runtime/model_build.hpp"

namespace nfp::rt {
namespace {

// torch's GroupNorm as src/nets builds it: the largest divisor of `channels` not above `groups`.
int group_count(int channels, int groups) {
  int g = std::max(1, std::min(groups, channels));
  while (channels % g) --g;
  return g;
}

int conv_out(int n, int k, int stride, int pad) { return (n + 2 * pad - k) / stride + 1; }

// The weight (cout x cin x k x k) repacked for channels-last im2col rows: B[(ky*k + kx)*cin + ci][co].
Conv2d conv(WeightSource& w, const std::string& name, int cin, int cout, int k, int stride, bool bias) {
  Conv2d c;
  c.cin = cin;
  c.cout = cout;
  c.k = k;
  c.stride = stride;
  c.pad = k / 2;
  const auto t = w.floats(name + ".weight", {cout, cin, k, k});
  std::vector<float> b(size_t(k) * k * cin * cout);
  for (int co = 0; co < cout; ++co)
    for (int ci = 0; ci < cin; ++ci)
      for (int y = 0; y < k; ++y)
        for (int x = 0; x < k; ++x)
          b[(size_t(y * k + x) * cin + ci) * cout + co] = t[((size_t(co) * cin + ci) * k + y) * k + x];
  c.w = pack_matrix(b.data(), k * k * cin, cout, cout);
  if (bias) c.bias = w.floats(name + ".bias", {cout});
  return c;
}

GroupNorm group_norm(WeightSource& w, const std::string& name, int channels, int groups) {
  return {group_count(channels, groups), w.floats(name + ".weight", {channels}), w.floats(name + ".bias", {channels})};
}

// Tracks the map sizes through the trunk, for the workspace.
struct Sizes {
  ImageNet& net;
  int h, w;
  void conv(const Conv2d& c) {
    net.max_cols = std::max(net.max_cols, size_t(conv_out(h, c.k, c.stride, c.pad)) * conv_out(w, c.k, c.stride, c.pad) *
                                              c.k * c.k * c.cin);
    h = conv_out(h, c.k, c.stride, c.pad);
    w = conv_out(w, c.k, c.stride, c.pad);
    net.max_map = std::max(net.max_map, size_t(h) * w * c.cout);
  }
};

ImageNet image_net(WeightSource& w, const JsonValue& j, int in_h, int in_w, const std::string& where) {
  j.check_keys({"name", "type", "channels", "pool", "feature_dim", "groups", "imagenet_norm"}, where);
  ImageNet n;
  n.in_h = in_h;
  n.in_w = in_w;
  const std::string name = j.at("name", where).string(where + ".name");
  const std::string type = j.at("type", where).string(where + ".type");
  const std::string pool = j.at("pool", where).string(where + ".pool");
  const int groups = j.at("groups", where).int_in(1, 4096, where + ".groups");
  n.feature_dim = j.at("feature_dim", where).int_in(1, 65536, where + ".feature_dim");
  n.imagenet_norm = j.get_bool("imagenet_norm", false, where);
  const JsonValue& ch = j.at("channels", where);
  std::vector<int> c;
  if (ch.kind == JsonValue::Array)
    for (const auto& v : ch.arr) c.push_back(v.int_in(1, 8192, where + ".channels"));
  if (pool == "flatten") n.pool = ImagePool::Flatten;
  else if (pool == "spatial_softmax") n.pool = ImagePool::SpatialSoftmax;
  else if (pool == "avg") n.pool = ImagePool::Average;
  else throw LoadError(where + ".pool: unknown '" + clip_for_message(pool) + "'; this runtime knows flatten, spatial_softmax, avg");
  Sizes s{n, in_h, in_w};
  n.max_map = size_t(in_h) * in_w * 3;
  if (type == "conv") {  // src/nets/image_encoder.cpp small_conv: Sequential [conv, GroupNorm, ReLU] x 4
    if (c.size() != 4) throw LoadError(where + ".channels: a conv trunk lists its 4 layers' channels");
    const int stride[] = {2, 2, 2, 1};
    int cin = 3;
    for (int i = 0; i < 4; ++i) {
      const std::string p = name + ".trunk." + std::to_string(3 * i);
      ConvUnit u{conv(w, p, cin, c[size_t(i)], 3, stride[i], true),
                 group_norm(w, name + ".trunk." + std::to_string(3 * i + 1), c[size_t(i)], groups)};
      s.conv(u.conv);
      n.convs.push_back(std::move(u));
      cin = c[size_t(i)];
    }
  } else if (type == "resnet18") {  // src/nets/resnet.cpp, torchvision's names
    n.trunk = ImageTrunk::ResNet18;
    if (c.size() != 4) throw LoadError(where + ".channels: a resnet18 trunk lists its 4 stages' channels");
    const std::string t = name + ".trunk.";
    n.stem = {conv(w, t + "conv1", 3, c[0], 7, 2, false), group_norm(w, t + "bn1", c[0], groups)};
    s.conv(n.stem.conv);
    s.h = (s.h - 1) / 2 + 1;  // max pool 3 / 2 / pad 1
    s.w = (s.w - 1) / 2 + 1;
    int cin = c[0];
    for (int stage = 0; stage < 4; ++stage)
      for (int b = 0; b < 2; ++b) {
        const int cout = c[size_t(stage)], stride = stage > 0 && b == 0 ? 2 : 1;
        const std::string p = t + "layer" + std::to_string(stage + 1) + "." + std::to_string(b) + ".";
        ResBlock r;
        r.a = {conv(w, p + "conv1", cin, cout, 3, stride, false), group_norm(w, p + "bn1", cout, groups)};
        r.b = {conv(w, p + "conv2", cout, cout, 3, 1, false), group_norm(w, p + "bn2", cout, groups)};
        r.downsample = stride != 1 || cin != cout;
        if (r.downsample) {
          r.down = {conv(w, p + "downsample.0", cin, cout, 1, stride, false), group_norm(w, p + "downsample.1", cout, groups)};
          Sizes d = s;
          d.conv(r.down.conv);
        }
        s.conv(r.a.conv);
        s.conv(r.b.conv);
        n.blocks.push_back(std::move(r));
        cin = cout;
      }
  } else {
    throw LoadError(where + ".type: '" + clip_for_message(type) + "' has no runtime implementation (conv, resnet18; a "
                    "TorchScript encoder runs under libtorch only)");
  }
  n.out_c = n.trunk == ImageTrunk::Conv ? n.convs.back().conv.cout : n.blocks.back().b.conv.cout;
  n.out_h = s.h;
  n.out_w = s.w;
  const int hw = n.out_h * n.out_w;
  n.pooled = n.pool == ImagePool::Flatten ? hw * n.out_c : n.pool == ImagePool::SpatialSoftmax ? 2 * n.out_c : n.out_c;
  auto pw = w.floats(name + ".proj.weight", {n.feature_dim, n.pooled});
  auto pb = w.floats(name + ".proj.bias", {n.feature_dim});
  if (n.pool == ImagePool::Flatten) {  // torch flattens (c, y, x); the map here is (y, x, c)
    std::vector<float> q(pw.size());
    for (int o = 0; o < n.feature_dim; ++o)
      for (int ch2 = 0; ch2 < n.out_c; ++ch2)
        for (int p = 0; p < hw; ++p)
          q[size_t(o) * n.pooled + size_t(p) * n.out_c + ch2] = pw[size_t(o) * n.pooled + size_t(ch2) * hw + p];
    pw = std::move(q);
  }
  n.proj = make_linear(pw, std::move(pb), n.feature_dim, n.pooled);
  return n;
}

// nfp::resize_image's taps (src/core/image_preprocess.cpp; tests/runtime checks both give the same pixels).
std::vector<std::vector<ImageInput::Tap>> axis_taps(int in, int out) {
  std::vector<std::vector<ImageInput::Tap>> taps(static_cast<size_t>(out));
  const double scale = double(in) / double(out);
  for (int o = 0; o < out; ++o) {
    auto& t = taps[size_t(o)];
    if (out <= in) {
      const double lo = double(o) * scale, hi = double(o + 1) * scale;
      for (int i = int(std::floor(lo)); i < std::min(in, int(std::ceil(hi))); ++i) {
        const double overlap = std::min(hi, double(i + 1)) - std::max(lo, double(i));
        if (overlap > 1e-9) t.push_back({i, float(overlap / scale)});
      }
    } else {
      const double x = std::clamp((double(o) + 0.5) * scale - 0.5, 0.0, double(in - 1));
      const int i0 = int(std::floor(x)), i1 = std::min(i0 + 1, in - 1);
      const float f = float(x - double(i0));
      t.push_back({i0, 1.0f - f});
      if (f > 0.0f) t.push_back({i1, f});
    }
  }
  return taps;
}

std::pair<int, int> hw(const JsonValue& j, const std::string& key, const std::string& where) {
  const JsonValue& v = j.at(key, where);
  if (v.kind != JsonValue::Array || v.arr.size() != 2) throw LoadError(where + "." + key + " must be [height, width]");
  return {v.arr[0].int_in(1, 16384, where + "." + key), v.arr[1].int_in(1, 16384, where + "." + key)};
}

ImageInput image_input(WeightSource& w, const JsonValue& j, const std::string& where) {
  j.check_keys({"cameras", "camera_hw", "resize_hw", "input_hw", "encoders", "camera_encoder"}, where);
  ImageInput in;
  const JsonValue& cams = j.at("cameras", where);
  const JsonValue& of = j.at("camera_encoder", where);
  const JsonValue& encs = j.at("encoders", where);
  if (cams.kind != JsonValue::Array || cams.arr.empty() || cams.arr.size() > 64 || of.kind != JsonValue::Array ||
      of.arr.size() != cams.arr.size() || encs.kind != JsonValue::Array || encs.arr.empty() || encs.arr.size() > cams.arr.size())
    throw LoadError(where + ": cameras (1..64), camera_encoder (one per camera) and encoders (1..cameras) disagree");
  std::tie(in.camera_h, in.camera_w) = hw(j, "camera_hw", where);
  const auto [ih, iw] = hw(j, "input_hw", where);
  int fh = in.camera_h, fw = in.camera_w;  // the size the crop is cut from
  if (j.has("resize_hw")) {
    std::tie(in.resize_h, in.resize_w) = hw(j, "resize_hw", where);
    fh = in.resize_h;
    fw = in.resize_w;
    in.taps_x = axis_taps(in.camera_w, in.resize_w);
    in.taps_y = axis_taps(in.camera_h, in.resize_h);
  }
  if (ih > fh || iw > fw) throw LoadError(where + ".input_hw must fit in the (resized) camera image");
  in.crop_top = (fh - ih) / 2;
  in.crop_left = (fw - iw) / 2;
  for (size_t i = 0; i < encs.arr.size(); ++i)
    in.encoders.push_back(image_net(w, encs.arr[i], ih, iw, where + ".encoders[" + std::to_string(i) + "]"));
  for (size_t i = 0; i < cams.arr.size(); ++i) {
    in.cameras.push_back(cams.arr[i].string(where + ".cameras"));
    in.encoder_of.push_back(of.arr[i].int_in(0, int(encs.arr.size()) - 1, where + ".camera_encoder"));
  }
  return in;
}

InstructionNet instruction_net(WeightSource& w, const JsonValue& j, int context_dim, const std::string& where) {
  j.check_keys({"name", "vocabulary", "embed_dim", "max_tokens", "heads", "layers", "pool", "tokens"}, where);
  InstructionNet n;
  n.present = true;
  const std::string name = j.at("name", where).string(where + ".name");
  const JsonValue& v = j.at("vocabulary", where);
  if (v.kind != JsonValue::Array || v.arr.size() < 3 || v.arr.size() > (1u << 22))
    throw LoadError(where + ".vocabulary must list <pad>, <unk>, <none> and the words");
  for (const auto& s : v.arr) n.vocabulary.push_back(s.string(where + ".vocabulary"));
  if (n.vocabulary[0] != "<pad>" || n.vocabulary[1] != "<unk>" || n.vocabulary[2] != "<none>" ||
      !std::is_sorted(n.vocabulary.begin() + 3, n.vocabulary.end()) ||
      std::adjacent_find(n.vocabulary.begin() + 3, n.vocabulary.end()) != n.vocabulary.end())
    throw LoadError(where + ".vocabulary must start with <pad>, <unk>, <none> and then list distinct words, sorted");
  n.dim = j.at("embed_dim", where).int_in(1, 65536, where + ".embed_dim");
  n.max_tokens = j.at("max_tokens", where).int_in(1, 4096, where + ".max_tokens");
  n.heads = j.at("heads", where).int_in(1, n.dim, where + ".heads");
  if (n.dim % n.heads) throw LoadError(where + ": embed_dim must be a multiple of heads");
  const int layers = j.at("layers", where).int_in(0, 64, where + ".layers");
  const std::string pool = j.at("pool", where).string(where + ".pool");
  if (pool != "attention" && pool != "mean") throw LoadError(where + ".pool must be attention or mean");
  n.attention_pool = pool == "attention";
  n.tokens = j.at("tokens", where).boolean(where + ".tokens");
  const int D = n.dim, V = int(n.vocabulary.size());
  n.embed = w.floats(name + ".embed.weight", {V, D});
  n.position = w.floats(name + ".position.weight", {n.max_tokens, D});
  if (n.attention_pool) n.query = w.floats(name + ".query", {D});
  NetBuilder b{w, name + "."};
  for (int i = 0; i < layers; ++i) {
    const std::string p = "block" + std::to_string(i) + "_";
    WordBlock blk;
    blk.ln_attn = b.norm(p + "ln_attn", D);
    blk.ln_ff = b.norm(p + "ln_ff", D);
    blk.in_proj = make_linear(w.floats(name + "." + p + "attn.in_proj_weight", {3 * D, D}),
                              w.floats(name + "." + p + "attn.in_proj_bias", {3 * D}), 3 * D, D);
    blk.out_proj = b.linear(p + "attn.out_proj", D, D);
    blk.ff1 = b.linear(p + "ff.0", 2 * D, D);
    blk.ff2 = b.linear(p + "ff.2", D, 2 * D);
    n.blocks.push_back(std::move(blk));
  }
  if (n.tokens) {
    NetBuilder top{w, ""};
    n.token_proj = top.linear("token_proj", context_dim, D);
  }
  return n;
}

}  // namespace

int read_policy_input(PolicyInput& in, const JsonValue& e, int state_floats, int history, int action_dim,
                      int context_dim, WeightSource& w) {
  const std::string where = "config.encoder";
  in.history = history;
  in.prev_action = e.get_int_in("prev_action_dim", 0, 0, action_dim, where);
  if (in.prev_action != 0 && in.prev_action != action_dim)
    throw LoadError(where + ".prev_action_dim must be 0 or the action dim");
  in.state = state_floats - in.prev_action;
  if (in.state < 0) throw LoadError(where + ": the state vector is shorter than the previous action");
  int width = state_floats;
  if (e.has("images")) {
    in.images = image_input(w, e.at("images", where), where + ".images");
    for (int enc : in.images.encoder_of) width += history * in.images.encoders[size_t(enc)].feature_dim;
  }
  if (e.has("instruction")) {
    in.instruction = instruction_net(w, e.at("instruction", where), context_dim, where + ".instruction");
    width += in.instruction.dim;
  }
  return width;
}

}  // namespace nfp::rt
