#include "nfp/episode_store.hpp"

#include <glob.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "nfp/error.hpp"

namespace fs = std::filesystem;

namespace nfp {

int64_t EpisodeStore::total_frames() const {
  int64_t n = 0;
  for (const auto& e : episodes) n += e.length();
  return n;
}

void EpisodeStore::copy_frames(size_t episode, size_t camera, const std::vector<int64_t>& frames,
                               uint8_t* out) const {
  const std::string& cam = cameras.at(camera);
  if (!lazy_images) {
    const Array<uint8_t>& im = episodes.at(episode).images.at(cam);
    const int64_t row = im.row_size();
    for (size_t i = 0; i < frames.size(); ++i)
      std::memcpy(out + i * row, im.data.data() + frames[i] * row, row);
    return;
  }
  const Episode& e = episodes.at(episode);
  const DatasetInfo& info = files.at(file_of.at(episode));
  const Array<uint8_t> a = reader->read(info.path, e.attrs.at("source_group").get<std::string>(),
                                        info.image_paths.at(cam), frames);
  if (image_size.empty()) {
    std::memcpy(out, a.data.data(), a.data.size());
  } else {
    const Array<uint8_t> r = resize_frames(a, image_size);
    std::memcpy(out, r.data.data(), r.data.size());
  }
}

static bool is_dataset_file(const fs::path& p) {
  const std::string ext = p.extension().string();
  return ext == ".hdf5" || ext == ".h5" || ext == ".hdf";
}

std::vector<fs::path> resolve_dataset_paths(const std::string& spec) {
  std::vector<fs::path> paths;
  std::error_code ec;
  if (fs::is_directory(spec, ec)) {
    for (const auto& entry : fs::directory_iterator(spec, ec))
      if (entry.is_regular_file() && is_dataset_file(entry.path())) paths.push_back(entry.path());
    require(!paths.empty(), "'" + spec + "': directory holds no .hdf5/.h5 files");
  } else if (spec.find_first_of("*?[") != std::string::npos) {
    glob_t g;
    std::memset(&g, 0, sizeof(g));
    if (::glob(spec.c_str(), 0, nullptr, &g) == 0)
      for (size_t i = 0; i < g.gl_pathc; ++i) paths.emplace_back(g.gl_pathv[i]);
    ::globfree(&g);
    require(!paths.empty(), "'" + spec + "': the pattern matches no file");
  } else {
    require(fs::exists(spec, ec), "'" + spec + "': no such file or directory (check the dataset path)");
    paths.emplace_back(spec);
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

namespace {

// An episode as read from `file` holds the store's action width, finite actions, and every low-dim key at the
// first episode's width with one row per action step: a demo that lacks a key or holds a NaN action (a crafted or
// damaged file) is named here, instead of failing later as `map::at`, reading past a row, or training on NaN.
// (Observation values are not checked here: a dataset may carry keys no policy reads.)
void check_episode(const Episode& e, const EpisodeStore& store, const fs::path& file) {
  const std::string who = "'" + file.string() + "' " + truncate_for_message(e.name, 60);
  auto finite = [&](const std::vector<float>& v, const std::string& key) {
    for (size_t i = 0; i < v.size(); ++i)
      require(std::isfinite(v[i]), who + ": '" + key + "' holds a non-finite value (NaN or Inf) at element " +
                                       std::to_string(i) + "; fix or drop that episode");
  };
  require(e.actions.row_size() == store.action_dim && e.actions.rows() >= 1,
          who + ": its actions are not (T x " + std::to_string(store.action_dim) + ") with T >= 1, as in the first file");
  finite(e.actions.data, store.action_key);
  for (const auto& key : store.obs_keys) {
    const auto it = e.obs.find(key);
    require(it != e.obs.end(), who + " has no observation '" + key + "' (the first episode has it); select common keys "
                                     "with --obs-keys or drop that episode");
    require(it->second.rows() == e.actions.rows(), who + ": '" + key + "' has " + std::to_string(it->second.rows()) +
                                                       " rows but there are " + std::to_string(e.actions.rows()) +
                                                       " actions");
    const int64_t width = store.episodes.empty() ? it->second.row_size() : store.episodes.front().obs.at(key).row_size();
    require(it->second.row_size() == width, who + ": '" + key + "' has " + std::to_string(it->second.row_size()) +
                                                " values per step, the first episode " + std::to_string(width));
  }
}

}  // namespace

EpisodeStore open_episode_store(const std::string& spec, const StoreOptions& options) {
  EpisodeStore store;
  const std::vector<fs::path> paths = resolve_dataset_paths(spec);
  // First pass: shapes only, to decide whether the decoded images fit the budget.
  for (const auto& p : paths) store.files.push_back(read_dataset_info(p, options.read));
  // Key names and shapes come from the first file that has demos (a filter may leave some files empty).
  const auto with_demos = std::find_if(store.files.begin(), store.files.end(),
                                       [](const DatasetInfo& i) { return !i.demos.empty(); });
  require(with_demos != store.files.end(), "'" + spec + "': no episodes (empty file or filter '" +
                                               options.read.filter + "')");
  const DatasetInfo& first = *with_demos;
  store.layout = first.layout;
  store.action_key = first.keys.at(0).key;
  store.action_dim = first.keys.at(0).frame_shape.at(0);
  for (size_t i = 1; i < first.keys.size(); ++i) {  // keys[0] is the action
    const KeyInfo& k = first.keys[i];
    if (k.is_image) {
      store.cameras.push_back(k.key);
      store.camera_source_shapes.push_back(k.frame_shape);
      std::vector<int64_t> shape = k.frame_shape;  // (H x W x C)
      if (!options.read.image_size.empty() && shape.size() == 3) shape = {options.read.image_size.height,
                                                                          options.read.image_size.width, shape[2]};
      store.camera_shapes.push_back(shape);
    } else {
      store.obs_keys.push_back(k.key);
    }
  }
  for (const auto& info : store.files) {
    const std::string who = "'" + info.path.string() + "'";
    require(info.layout == store.layout, who + " has layout " + layout_name(info.layout) + " but '" +
                                             first.path.string() + "' has " + layout_name(store.layout) +
                                             "; datasets must not mix layouts");
    if (info.demos.empty()) continue;
    require(info.keys.size() == first.keys.size(), who + " has different observation keys than '" +
                                                       first.path.string() + "' (select common ones with --obs-keys)");
    for (size_t i = 0; i < info.keys.size(); ++i)
      require(info.keys[i].key == first.keys[i].key && info.keys[i].frame_shape == first.keys[i].frame_shape,
              who + ": key '" + info.keys[i].key + "' differs in name or shape from '" + first.path.string() + "'");
    int64_t frame_bytes = 0;
    for (const auto& shape : store.camera_shapes) {  // resized: the bytes the store will hold
      int64_t n = 1;
      for (int64_t s : shape) n *= s;
      frame_bytes += n;
    }
    for (int64_t len : info.lengths) store.image_bytes += len * frame_bytes;
  }
  store.image_size = options.read.image_size;
  for (const auto& shape : store.camera_source_shapes)
    require(store.image_size.empty() || shape.size() == 3,
            "'" + spec + "': --image-size needs camera images of (H x W x C); a camera is stored otherwise");
  store.lazy_images = store.image_bytes > options.image_memory_budget;
  if (store.lazy_images) store.reader = std::make_shared<ImageFrameReader>();
  ReadOptions ro = options.read;
  ro.layout = store.layout;
  ro.load_images = !store.lazy_images;
  for (size_t f = 0; f < paths.size(); ++f) {
    for (auto& e : read_episodes(paths[f], ro)) {
      check_episode(e, store, paths[f]);
      store.episodes.push_back(std::move(e));
      store.file_of.push_back(f);
    }
  }
  require(!store.episodes.empty(), "'" + spec + "': no episodes (empty file or filter '" + ro.filter + "')");
  return store;
}

std::pair<EpisodeStore, EpisodeStore> split_episodes(EpisodeStore all, double valid_fraction, uint64_t seed) {
  require(valid_fraction >= 0.0 && valid_fraction < 1.0, "valid fraction must be in [0, 1)");
  const size_t n = all.episodes.size();
  size_t n_valid = static_cast<size_t>(std::llround(valid_fraction * double(n)));
  if (valid_fraction > 0.0 && n >= 2) n_valid = std::clamp<size_t>(n_valid, 1, n - 1);
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::mt19937_64 rng(seed);
  for (size_t i = n; i > 1; --i) std::swap(order[i - 1], order[rng() % i]);
  std::vector<bool> is_valid(n, false);
  for (size_t i = 0; i < n_valid; ++i) is_valid[order[i]] = true;
  std::vector<Episode> episodes = std::move(all.episodes);
  const std::vector<size_t> file_of = std::move(all.file_of);
  all.episodes.clear();
  all.file_of.clear();
  EpisodeStore train = all, valid = all;  // metadata only: the episodes (and their images) are moved
  for (size_t i = 0; i < n; ++i) {
    EpisodeStore& to = is_valid[i] ? valid : train;
    to.episodes.push_back(std::move(episodes[i]));
    to.file_of.push_back(file_of[i]);
  }
  return {std::move(train), std::move(valid)};
}

}  // namespace nfp
