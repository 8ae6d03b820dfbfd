#include "nfp/window_dataset.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include "nfp/error.hpp"

namespace nfp {

WindowDataset::WindowDataset(std::shared_ptr<const EpisodeStore> store, WindowSpec spec, Normalizer normalizer,
                             BatchCrop crop)
    : store_(std::move(store)), spec_(spec), normalizer_(std::move(normalizer)), crop_(crop) {
  validate(spec_);
  require(store_ && !store_->episodes.empty(), "window dataset: the episode store is empty");
  for (size_t c = 0; c < store_->cameras.size() && !crop_.size.empty(); ++c) {
    const auto& hwc = store_->camera_shapes[c];
    require(crop_.size.height <= hwc[0] && crop_.size.width <= hwc[1],
            "--crop " + to_string(crop_.size) + " is larger than camera '" + store_->cameras[c] + "' (" +
                std::to_string(hwc[0]) + " x " + std::to_string(hwc[1]) + "); pick a crop that fits the images");
  }
  require(normalizer_.at(Normalizer::kActionKey).dim() == store_->action_dim,
          "stats.json action dimension " + std::to_string(normalizer_.at(Normalizer::kActionKey).dim()) +
              " does not match the dataset's " + std::to_string(store_->action_dim));
  for (const auto& k : store_->obs_keys) normalizer_.at(k);  // fails early, naming the key
  std::vector<int64_t> lengths;
  for (const auto& e : store_->episodes) lengths.push_back(e.length());
  windows_ = enumerate_windows(lengths);
}

namespace {

// uint8 HWC frame -> float CHW in [0, 1]. (Training-time random shifts are the image encoder's, on the batch.)
void convert_frame(const uint8_t* src, int64_t H, int64_t W, int64_t C, float* dst) {
  static const auto lut = [] {
    std::array<float, 256> t{};
    for (int i = 0; i < 256; ++i) t[i] = float(i) / 255.0f;
    return t;
  }();
  // Channel-outer so every write is sequential.
  const int64_t plane = H * W;
  for (int64_t c = 0; c < C; ++c) {
    float* out = dst + c * plane;
    for (int64_t i = 0; i < plane; ++i) out[i] = lut[src[i * C + c]];
  }
}

}  // namespace

Batch WindowDataset::make_batch(const std::vector<int64_t>& indices, bool flat_actions, uint64_t draw) const {
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
    batch.lowdim[k] = torch::empty({B, m, d});
    obs_ptr.push_back(batch.lowdim[k].data_ptr<float>());
  }
  std::vector<float*> img_ptr;
  for (size_t c = 0; c < st.cameras.size(); ++c) {
    const auto& hwc = st.camera_shapes[c];
    const int64_t h = crop_.size.empty() ? hwc[0] : crop_.size.height, w = crop_.size.empty() ? hwc[1] : crop_.size.width;
    batch.images[st.cameras[c]] = torch::empty({B, m, hwc[2], h, w});
    img_ptr.push_back(batch.images[st.cameras[c]].data_ptr<float>());
  }
  std::vector<uint8_t> frames_buf, crop_buf;
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
      if (crop_.size.empty()) {
        for (int64_t i = 0; i < m; ++i)
          convert_frame(frames_src + frame_pos[i] * frame, H, W, C, img_ptr[c] + (b * m + i) * frame);
        continue;
      }
      // each image its own window (Diffusion Policy crops every frame of the history independently)
      const ImageSize from{H, W}, to = crop_.size;
      const int64_t cropped = to.height * to.width * C;
      crop_buf.resize(size_t(cropped));
      for (int64_t i = 0; i < m; ++i) {
        const uint64_t image = uint64_t((b * int64_t(st.cameras.size()) + int64_t(c)) * m + i);
        const CropWindow at = crop_.random ? random_crop(from, to, draw, image) : center_crop(from, to);
        crop_image(frames_src + frame_pos[i] * frame, from, C, at, to, crop_buf.data());
        convert_frame(crop_buf.data(), to.height, to.width, C, img_ptr[c] + (b * m + i) * cropped);
      }
    }
    batch.instructions.push_back(e.instruction);
  }
  if (flat_actions) batch.actions = batch.actions.reshape({B, n * A});
  return batch;
}

}  // namespace nfp
