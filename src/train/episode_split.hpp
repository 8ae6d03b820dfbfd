// Which episodes train and which validate. robomimic and LIBERO files carry the split their authors meant
// (mask/train, mask/valid: lists of demo names); training honours it, as robomimic's own trainer does, and
// falls back to a seeded random split of whole episodes where a dataset has none (ACT, `nfp collect`).
#pragma once
#include <string>

#include "nfp/episode_store.hpp"
#include "nfp/trainer.hpp"

namespace nfp {

struct EpisodeSplit {
  EpisodeStore train, valid;
  std::string filter, valid_filter;  // resolved: a mask name or "none" (valid: also "fraction")
  std::string description;           // one line for the user: where each side's episodes come from
};

// Resolves TrainConfig::filter / valid_filter against the files of `data` (see trainer.hpp) and reads the
// episodes, camera images resized to `image_size` (--image-size; empty: as stored). A named mask that some file
// lacks is an nfp::Error naming the file and the masks it has.
EpisodeSplit split_for_training(const std::string& data, const TrainConfig& config, ImageSize image_size = {});

}  // namespace nfp
