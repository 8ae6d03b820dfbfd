#include "train/episode_split.hpp"

#include <tuple>

#include "nfp/error.hpp"

namespace nfp {
namespace {

bool every_file_has(const std::vector<std::filesystem::path>& paths, const std::string& mask) {
  for (const auto& p : paths)
    if (!read_dataset_info(p).masks.count(mask)) return false;
  return true;
}

EpisodeStore read_store(const std::string& data, const std::string& mask) {
  StoreOptions so;
  so.read.filter = mask == "none" ? "" : mask;
  return open_episode_store(data, so);
}

}  // namespace

EpisodeSplit split_for_training(const std::string& data, const TrainConfig& c) {
  require(!c.filter.empty() && !c.valid_filter.empty(),
          "train: --filter / --valid-filter must name a mask, or be auto or none (--valid-filter also: fraction)");
  const auto paths = resolve_dataset_paths(data);
  EpisodeSplit s;
  s.filter = c.filter == "auto" ? (every_file_has(paths, "train") ? "train" : "none") : c.filter;
  s.valid_filter = c.valid_filter;
  if (s.valid_filter == "auto")
    s.valid_filter = s.filter != "none" && every_file_has(paths, "valid") ? "valid" : "fraction";
  require(s.valid_filter != s.filter || s.filter == "none",
          "train: --valid-filter '" + s.valid_filter + "' is the training filter too; validation needs other episodes");
  EpisodeStore all = read_store(data, s.filter);
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
    s.valid = read_store(data, s.valid_filter);
    s.description = "training on " + std::to_string(s.train.episodes.size()) + " episodes (" + from +
                    "), validating on " + std::to_string(s.valid.episodes.size()) + " (mask/" + s.valid_filter + ")";
  }
  return s;
}

}  // namespace nfp
