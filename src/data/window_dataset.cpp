#include "nfp/window_dataset.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <random>

#include "nfp/error.hpp"

namespace nfp {

Augment parse_augment(const std::string& name) {
  if (name == "none") return Augment::none;
  if (name == "random_shift" || name == "shift") return Augment::random_shift;
  if (name == "random_crop" || name == "crop") return Augment::random_crop;
  throw Error("unknown image augmentation '" + name + "'; use one of: none, random_shift, random_crop");
}

WindowDataset::WindowDataset(std::shared_ptr<const EpisodeStore> store, WindowSpec spec, Normalizer normalizer)
    : store_(std::move(store)), spec_(spec), normalizer_(std::move(normalizer)) {
  validate(spec_);
  require(store_ && !store_->episodes.empty(), "window dataset: the episode store is empty");
  require(normalizer_.at(Normalizer::kActionKey).dim() == store_->action_dim,
          "stats.json action dimension " + std::to_string(normalizer_.at(Normalizer::kActionKey).dim()) +
              " does not match the dataset's " + std::to_string(store_->action_dim));
  for (const auto& k : store_->obs_keys) normalizer_.at(k);  // fails early, naming the key
  std::vector<int64_t> lengths;
  for (const auto& e : store_->episodes) lengths.push_back(e.length());
  windows_ = enumerate_windows(lengths);
}

namespace {

struct CropBox {
  int64_t h, w;  // output size
};

CropBox crop_box(const std::vector<int64_t>& hwc, const AugmentOptions& aug) {
  const int64_t H = hwc.at(0), W = hwc.at(1);
  if (aug.kind != Augment::random_crop) return {H, W};
  const int64_t ch = aug.crop_h > 0 ? aug.crop_h : H * 7 / 8;
  const int64_t cw = aug.crop_w > 0 ? aug.crop_w : W * 7 / 8;
  require(ch <= H && cw <= W, "random_crop " + std::to_string(ch) + "x" + std::to_string(cw) +
                                  " is larger than the images (" + std::to_string(H) + "x" + std::to_string(W) + ")");
  return {ch, cw};
}

// uint8 HWC frame -> float CHW in [0, 1], reading source pixel (y + dy, x + dx) clamped to the image (edge
// pixels repeat, which is what padding with "replicate" and cropping back gives).
void convert_frame(const uint8_t* src, int64_t H, int64_t W, int64_t C, int64_t dy, int64_t dx, int64_t oh,
                   int64_t ow, float* dst) {
  static const auto lut = [] {
    std::array<float, 256> t{};
    for (int i = 0; i < 256; ++i) t[i] = float(i) / 255.0f;
    return t;
  }();
  // Channel-outer so every write is sequential; source columns are looked up once per frame.
  const int64_t plane = oh * ow;
  std::vector<int64_t> sx(ow);
  for (int64_t x = 0; x < ow; ++x) sx[x] = std::clamp<int64_t>(x + dx, 0, W - 1) * C;
  for (int64_t c = 0; c < C; ++c) {
    float* out = dst + c * plane;
    for (int64_t y = 0; y < oh; ++y) {
      const uint8_t* row = src + std::clamp<int64_t>(y + dy, 0, H - 1) * W * C + c;
      float* o = out + y * ow;
      for (int64_t x = 0; x < ow; ++x) o[x] = lut[row[sx[x]]];
    }
  }
}

}  // namespace

std::vector<int64_t> WindowDataset::image_shape(size_t camera, const AugmentOptions& aug) const {
  const auto& hwc = store_->camera_shapes.at(camera);
  const CropBox box = crop_box(hwc, aug);
  return {hwc.at(2), box.h, box.w};
}

Batch WindowDataset::make_batch(const std::vector<int64_t>& indices, const AugmentOptions& aug, uint64_t aug_seed,
                                bool flat_actions) const {
  const EpisodeStore& st = *store_;
  const int64_t B = static_cast<int64_t>(indices.size());
  const int64_t m = spec_.history, n = spec_.horizon, A = st.action_dim;
  Batch batch;
  batch.actions = torch::empty({B, n, A});
  batch.action_pad = torch::empty({B, n}, torch::kBool);
  batch.prev_action = torch::zeros({B, A});
  float* pa = batch.actions.data_ptr<float>();
  bool* pad = batch.action_pad.data_ptr<bool>();
  float* prev = batch.prev_action.data_ptr<float>();
  std::vector<float*> obs_ptr;
  for (const auto& k : st.obs_keys) {
    const int64_t d = st.episodes[0].obs.at(k).row_size();
    batch.obs[k] = torch::empty({B, m, d});
    obs_ptr.push_back(batch.obs[k].data_ptr<float>());
  }
  std::vector<CropBox> boxes;
  std::vector<float*> img_ptr;
  for (size_t c = 0; c < st.cameras.size(); ++c) {
    const auto& hwc = st.camera_shapes[c];
    boxes.push_back(crop_box(hwc, aug));
    batch.images[st.cameras[c]] = torch::empty({B, m, hwc[2], boxes.back().h, boxes.back().w});
    img_ptr.push_back(batch.images[st.cameras[c]].data_ptr<float>());
  }
  std::mt19937_64 rng(aug_seed);
  std::vector<uint8_t> frames_buf;
  for (int64_t b = 0; b < B; ++b) {
    const WindowRef ref = windows_.at(indices[b]);
    batch.windows.push_back(ref);
    const Episode& e = st.episodes[ref.episode];
    const int64_t T = e.length();
    const std::vector<int64_t> af = action_frames(spec_, ref.t, T);
    for (int64_t i = 0; i < n; ++i) {
      std::memcpy(pa + (b * n + i) * A, e.actions.data.data() + af[i] * A, A * sizeof(float));
      pad[b * n + i] = ref.t + i * spec_.stride > T - 1;
    }
    normalizer_.normalize_rows(Normalizer::kActionKey, pa + b * n * A, n);
    const int64_t pf = previous_action_frame(spec_, ref.t);
    if (pf >= 0) {
      std::memcpy(prev + b * A, e.actions.data.data() + pf * A, A * sizeof(float));
      normalizer_.normalize_rows(Normalizer::kActionKey, prev + b * A, 1);
    }
    const std::vector<int64_t> of = observation_frames(spec_, ref.t, T);
    for (size_t k = 0; k < st.obs_keys.size(); ++k) {
      const Array<float>& a = e.obs.at(st.obs_keys[k]);
      const int64_t d = a.row_size();
      float* dst = obs_ptr[k] + b * m * d;
      for (int64_t i = 0; i < m; ++i) std::memcpy(dst + i * d, a.data.data() + of[i] * d, d * sizeof(float));
      normalizer_.normalize_rows(st.obs_keys[k], dst, m);
    }
    for (size_t c = 0; c < st.cameras.size(); ++c) {
      const auto& hwc = st.camera_shapes[c];
      const int64_t H = hwc[0], W = hwc[1], C = hwc[2], frame = H * W * C;
      // In memory the frames are read in place; lazily they are first gathered from the file.
      const uint8_t* frames_src = nullptr;
      std::vector<int64_t> frame_pos(of);
      if (st.lazy_images) {
        frames_buf.resize(m * frame);
        st.copy_frames(ref.episode, c, of, frames_buf.data());
        frames_src = frames_buf.data();
        for (int64_t i = 0; i < m; ++i) frame_pos[i] = i;
      } else {
        frames_src = e.images.at(st.cameras[c]).data.data();
      }
      // One offset per window and camera: every history frame is shifted alike, so motion stays visible.
      int64_t dy = 0, dx = 0;
      if (aug.kind == Augment::random_shift && aug.train) {
        std::uniform_int_distribution<int64_t> u(-aug.shift_pad, aug.shift_pad);
        dy = u(rng);
        dx = u(rng);
      } else if (aug.kind == Augment::random_crop) {
        if (aug.train) {
          dy = std::uniform_int_distribution<int64_t>(0, H - boxes[c].h)(rng);
          dx = std::uniform_int_distribution<int64_t>(0, W - boxes[c].w)(rng);
        } else {
          dy = (H - boxes[c].h) / 2;
          dx = (W - boxes[c].w) / 2;
        }
      }
      const int64_t out_frame = C * boxes[c].h * boxes[c].w;
      for (int64_t i = 0; i < m; ++i)
        convert_frame(frames_src + frame_pos[i] * frame, H, W, C, dy, dx, boxes[c].h, boxes[c].w,
                      img_ptr[c] + (b * m + i) * out_frame);
    }
    batch.instructions.push_back(e.instruction);
  }
  if (flat_actions) batch.actions = batch.actions.reshape({B, n * A});
  return batch;
}

}  // namespace nfp
