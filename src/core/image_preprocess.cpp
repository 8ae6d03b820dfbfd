// Image resize and crops, shared by training and inference (nfp/image_preprocess.hpp). Written by hand: a few
// loops, and the torch-free layers (datasets, runner input) must not need OpenCV or libswscale for them.
#include "nfp/image_preprocess.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "nfp/error.hpp"

namespace nfp {
namespace {

constexpr int64_t kMaxSide = 16384;

// One input pixel's share of an output pixel along an axis.
struct Tap {
  int64_t index;
  float weight;
};

// For each of `out` output positions, the input positions it reads and their weights (summing to 1).
std::vector<std::vector<Tap>> axis_taps(int64_t in, int64_t out) {
  std::vector<std::vector<Tap>> taps(static_cast<size_t>(out));
  const double scale = double(in) / double(out);
  for (int64_t o = 0; o < out; ++o) {
    auto& t = taps[size_t(o)];
    if (out <= in) {  // shrink: the footprint [o*s, (o+1)*s) averaged, partial pixels by their overlap
      const double lo = double(o) * scale, hi = double(o + 1) * scale;
      for (int64_t i = int64_t(std::floor(lo)); i < std::min<int64_t>(in, int64_t(std::ceil(hi))); ++i) {
        const double overlap = std::min(hi, double(i + 1)) - std::max(lo, double(i));
        if (overlap > 1e-9) t.push_back({i, float(overlap / scale)});
      }
    } else {  // grow: bilinear between the two nearest input centres (half-pixel centres, edges clamped)
      const double x = std::clamp((double(o) + 0.5) * scale - 0.5, 0.0, double(in - 1));
      const int64_t i0 = int64_t(std::floor(x)), i1 = std::min(i0 + 1, in - 1);
      const float f = float(x - double(i0));
      t.push_back({i0, 1.0f - f});
      if (f > 0.0f) t.push_back({i1, f});
    }
  }
  return taps;
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

void check_window(ImageSize from, ImageSize to, const char* what) {
  require(to.height >= 1 && to.width >= 1 && to.height <= from.height && to.width <= from.width,
          std::string(what) + ": a " + to_string(to) + " window does not fit a " + to_string(from) + " image");
}

}  // namespace

std::string to_string(ImageSize s) { return std::to_string(s.height) + " x " + std::to_string(s.width); }

ImageSize parse_image_size(const std::string& text, const std::string& flag) {
  const std::string usage = (flag.empty() ? "" : flag + ": ") + "expected H or H,W in pixels (whole numbers from 1 to " +
                            std::to_string(kMaxSide) + "), got " + quoted(text);
  std::vector<int64_t> v;
  size_t pos = 0;
  while (true) {
    const size_t comma = text.find(',', pos);
    const std::string part = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    require(!part.empty() && part.size() <= 5 && part.find_first_not_of("0123456789") == std::string::npos, usage);
    v.push_back(std::stoll(part));
    require(v.back() >= 1 && v.back() <= kMaxSide, usage);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  require(v.size() <= 2, usage);
  return {v[0], v.size() == 2 ? v[1] : v[0]};
}

void resize_image(const uint8_t* src, ImageSize from, int64_t C, uint8_t* dst, ImageSize to) {
  require(from.height >= 1 && from.width >= 1 && to.height >= 1 && to.width >= 1 && C >= 1,
          "resize: image sizes must be positive (" + to_string(from) + " -> " + to_string(to) + ")");
  if (from == to) {
    std::memcpy(dst, src, size_t(from.height * from.width * C));
    return;
  }
  const auto xs = axis_taps(from.width, to.width), ys = axis_taps(from.height, to.height);
  // horizontal pass: (H x w x C) floats
  std::vector<float> rows(size_t(from.height * to.width * C), 0.0f);
  for (int64_t y = 0; y < from.height; ++y) {
    const uint8_t* in = src + y * from.width * C;
    float* out = rows.data() + y * to.width * C;
    for (int64_t ox = 0; ox < to.width; ++ox)
      for (const Tap& t : xs[size_t(ox)])
        for (int64_t c = 0; c < C; ++c) out[ox * C + c] += t.weight * float(in[t.index * C + c]);
  }
  // vertical pass, rounded to the nearest integer
  std::vector<float> acc(size_t(to.width * C));
  for (int64_t oy = 0; oy < to.height; ++oy) {
    std::fill(acc.begin(), acc.end(), 0.0f);
    for (const Tap& t : ys[size_t(oy)]) {
      const float* in = rows.data() + t.index * to.width * C;
      for (size_t k = 0; k < acc.size(); ++k) acc[k] += t.weight * in[k];
    }
    uint8_t* out = dst + oy * to.width * C;
    for (size_t k = 0; k < acc.size(); ++k) out[k] = uint8_t(std::clamp(std::floor(acc[k] + 0.5f), 0.0f, 255.0f));
  }
}

Image resize_image(const Image& image, ImageSize to) {
  require(image.pixels.size() == size_t(image.height) * size_t(image.width) * 3,
          "resize: the image holds " + std::to_string(image.pixels.size()) + " bytes, not " +
              std::to_string(image.height) + " x " + std::to_string(image.width) + " x 3");
  Image out{int(to.height), int(to.width), std::vector<uint8_t>(size_t(to.height * to.width * 3))};
  resize_image(image.pixels.data(), {image.height, image.width}, 3, out.pixels.data(), to);
  return out;
}

Array<uint8_t> resize_frames(const Array<uint8_t>& frames, ImageSize to) {
  require(frames.shape.size() == 4, "resize: expected frames (T x H x W x C)");
  const ImageSize from{frames.shape[1], frames.shape[2]};
  const int64_t T = frames.shape[0], C = frames.shape[3];
  Array<uint8_t> out;
  out.shape = {T, to.height, to.width, C};
  out.data.resize(size_t(T * to.height * to.width * C));
  for (int64_t t = 0; t < T; ++t)
    resize_image(frames.data.data() + t * frames.row_size(), from, C, out.data.data() + t * out.row_size(), to);
  return out;
}

CropWindow center_crop(ImageSize from, ImageSize to) {
  check_window(from, to, "center crop");
  return {(from.height - to.height) / 2, (from.width - to.width) / 2};
}

CropWindow random_crop(ImageSize from, ImageSize to, uint64_t draw, uint64_t index) {
  check_window(from, to, "random crop");
  const uint64_t a = splitmix64(draw ^ splitmix64(index)), b = splitmix64(a);
  return {int64_t(a % uint64_t(from.height - to.height + 1)), int64_t(b % uint64_t(from.width - to.width + 1))};
}

void crop_image(const uint8_t* src, ImageSize from, int64_t C, CropWindow at, ImageSize to, uint8_t* dst) {
  require(at.top >= 0 && at.left >= 0 && at.top + to.height <= from.height && at.left + to.width <= from.width,
          "crop: the window leaves the " + to_string(from) + " image");
  for (int64_t y = 0; y < to.height; ++y)
    std::memcpy(dst + y * to.width * C, src + ((at.top + y) * from.width + at.left) * C, size_t(to.width * C));
}

Image crop_image(const Image& image, CropWindow at, ImageSize to) {
  Image out{int(to.height), int(to.width), std::vector<uint8_t>(size_t(to.height * to.width * 3))};
  crop_image(image.pixels.data(), {image.height, image.width}, 3, at, to, out.pixels.data());
  return out;
}

ImageSize camera_size(const ImagePreprocess& p, ImageSize encoder_input) {
  if (!p.resize.empty()) {
    const bool shared = !p.source.empty() && std::all_of(p.source.begin(), p.source.end(),
                                                         [&](ImageSize s) { return s == p.source.front(); });
    return shared ? p.source.front() : p.resize;
  }
  return p.crop.empty() ? encoder_input : p.crop_from;
}

Image prepare_image(const Image& image, const ImagePreprocess& p, ImageSize encoder_input, const std::string& key) {
  const ImageSize in{image.height, image.width};
  require(image.height >= 1 && image.width >= 1 && image.pixels.size() == size_t(image.height) * size_t(image.width) * 3,
          "policy: camera image '" + key + "' must be (H x W x 3) uint8 with H, W >= 1");
  const ImageSize before_crop = p.crop.empty() ? encoder_input : p.crop_from;
  if (p.resize.empty())
    require(in == before_crop, "policy: camera image '" + key + "' must be (" + std::to_string(before_crop.height) +
                                   " x " + std::to_string(before_crop.width) + " x 3) uint8, as in training");
  if (p.resize.empty() || in == p.resize) {
    if (p.crop.empty()) return image;
    return crop_image(image, center_crop(before_crop, p.crop), p.crop);
  }
  const Image resized = resize_image(image, p.resize);
  if (p.crop.empty()) return resized;
  return crop_image(resized, center_crop(p.resize, p.crop), p.crop);
}

}  // namespace nfp
