// The episodes of a dataset given as one HDF5 file, a directory of them, or a glob ("demos/*.hdf5"), in one
// of the layouts of nfp/hdf5_dataset.hpp. Images are kept decoded in memory as uint8 unless they exceed a
// memory budget, in which case they stay on disk and are read frame by frame. With ReadOptions::image_size every
// image is resized once, as it is read (nfp/image_preprocess.hpp); lazily read frames are resized as they are
// read, and the budget counts the resized bytes. Torch-free (nfp_hdf5).
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nfp/hdf5_dataset.hpp"

namespace nfp {

struct StoreOptions {
  ReadOptions read;                                 // layout, --obs-keys, --action-key, mask filter
  int64_t image_memory_budget = int64_t(8) << 30;   // bytes of decoded images kept in memory; above: lazy
};

struct EpisodeStore {
  std::vector<Episode> episodes;       // Episode::images empty when lazy_images
  std::vector<DatasetInfo> files;      // one per file, in path order
  std::vector<size_t> file_of;         // episode -> index into files
  DatasetLayout layout = DatasetLayout::robomimic;
  std::string action_key;              // as stored ("actions", "action")
  int64_t action_dim = 0;
  std::vector<std::string> obs_keys;   // low-dim observation keys
  std::vector<std::string> cameras;    // image keys
  std::vector<std::vector<int64_t>> camera_shapes;  // per camera (H x W x C), after the resize
  std::vector<std::vector<int64_t>> camera_source_shapes;  // per camera (H x W x C) as stored in the files
  ImageSize image_size;                // every image resized to this (StoreOptions::read.image_size); empty: as stored
  bool lazy_images = false;
  int64_t image_bytes = 0;             // decoded size of every image of every episode
  std::shared_ptr<ImageFrameReader> reader;

  int64_t total_frames() const;
  // Copies frames `frames` of camera `camera` (index into cameras) of episode `episode` to `out`
  // (len(frames) x H x W x C uint8), from memory or, when lazy, from the file.
  void copy_frames(size_t episode, size_t camera, const std::vector<int64_t>& frames, uint8_t* out) const;
};

// A file, every *.hdf5 / *.h5 / *.hdf file in a directory (sorted), or a glob pattern; Error if none.
std::vector<std::filesystem::path> resolve_dataset_paths(const std::string& spec);

// Reads every file; all must share the layout, the action dimension and the keys (Error naming the file
// that differs). Episodes keep file order, then demo order.
EpisodeStore open_episode_store(const std::string& spec, const StoreOptions& options = {});

// Splits by whole episodes: a seeded random `valid_fraction` of them (at least one when there are two or
// more) go to the second store. For datasets without masks (ACT directories); robomimic/LIBERO files carry
// mask/train and mask/valid, read with ReadOptions::filter.
std::pair<EpisodeStore, EpisodeStore> split_episodes(EpisodeStore all, double valid_fraction, uint64_t seed);

}  // namespace nfp
