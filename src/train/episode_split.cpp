#include "train/episode_split.hpp"

#include <algorithm>
#include <iterator>
#include <set>
#include <tuple>

#include "nfp/error.hpp"

namespace nfp {
namespace {

// The masks every file of the dataset has (each file's header read once).
std::set<std::string> common_masks(const std::string& data) {
  std::set<std::string> common;
  bool first = true;
  for (const auto& p : resolve_dataset_paths(data)) {
    std::set<std::string> masks;
    for (const auto& [name, demos] : read_dataset_info(p).masks) masks.insert(name);
    if (first) {
      common = std::move(masks);
      first = false;
      continue;
    }
    std::set<std::string> both;
    std::set_intersection(common.begin(), common.end(), masks.begin(), masks.end(), std::inserter(both, both.end()));
    common = std::move(both);
  }
  return common;
}

EpisodeStore read_store(const std::string& data, const std::string& mask, ImageSize image_size) {
  StoreOptions so;
  so.read.filter = mask == "none" ? "" : mask;
  so.read.image_size = image_size;
  return open_episode_store(data, so);
}

}  // namespace

EpisodeSplit split_for_training(const std::string& data, const TrainConfig& c, ImageSize image_size) {
  require(!c.filter.empty() && !c.valid_filter.empty(),
          "train: --filter / --valid-filter must name a mask, or be auto or none (--valid-filter also: fraction)");
  const std::set<std::string> masks =
      c.filter == "auto" || c.valid_filter == "auto" ? common_masks(data) : std::set<std::string>{};
  EpisodeSplit s;
  s.filter = c.filter == "auto" ? (masks.count("train") ? "train" : "none") : c.filter;
  s.valid_filter = c.valid_filter;
  if (s.valid_filter == "auto") s.valid_filter = s.filter != "none" && masks.count("valid") ? "valid" : "fraction";
  require(s.valid_filter != s.filter || s.filter == "none",
          "train: --valid-filter '" + s.valid_filter + "' is the training filter too; validation needs other episodes");
  EpisodeStore all = read_store(data, s.filter, image_size);
  const std::string from = s.filter == "none" ? "every episode" : "mask/" + s.filter;
  if (s.valid_filter == "fraction") {
    std::tie(s.train, s.valid) = split_episodes(std::move(all), c.valid_fraction, c.seed);
    s.description = "training on " + std::to_string(s.train.episodes.size()) + " episodes (" + from +
                    "), validating on a seeded " + std::to_string(s.valid.episodes.size()) + " of them held out";
  } else if (s.valid_filter == "none") {
    std::tie(s.train, s.valid) = split_episodes(std::move(all), 0.0, c.seed);
    s.description = "training on " + std::to_string(s.train.episodes.size()) + " episodes (" + from +
                    "), no validation episodes";
  } else {
    s.train = std::move(all);
    s.valid = read_store(data, s.valid_filter, image_size);
    s.description = "training on " + std::to_string(s.train.episodes.size()) + " episodes (" + from +
                    "), validating on " + std::to_string(s.valid.episodes.size()) + " (mask/" + s.valid_filter + ")";
  }
  return s;
}

}  // namespace nfp
