// `nfp data info PATH`: what a demonstration dataset holds (layout, episodes, frames, keys, action
// statistics, instructions), read without decoding any image.
#include <cstdio>

#include "command.hpp"
#include "nfp/episode_store.hpp"
#include "nfp/error.hpp"
#include "nfp/normalizer.hpp"

namespace {

struct InfoArgs {
  std::string path, layout = "auto", obs_keys, action_key, filter;
  bool json = false;
};

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s;
  for (int64_t v : shape) s += (s.empty() ? "" : "x") + std::to_string(v);
  return "(" + s + ")";
}

void run_info(const InfoArgs& a) {
  nfp::StoreOptions so;
  so.read.layout = nfp::parse_layout(a.layout);
  so.read.obs_keys = nfp::cli::split_commas(a.obs_keys);
  so.read.action_key = a.action_key;
  so.read.filter = a.filter;
  so.image_memory_budget = 0;  // shapes and low-dim data only: images stay on disk
  const nfp::EpisodeStore st = nfp::open_episode_store(a.path, so);

  std::vector<const std::vector<float>*> actions;
  std::vector<int64_t> lengths;
  std::map<std::string, int64_t> instructions;
  for (const auto& e : st.episodes) {
    actions.push_back(&e.actions.data);
    lengths.push_back(e.length());
    if (!e.instruction.empty()) ++instructions[e.instruction];
  }
  const nfp::KeyStats stats = nfp::compute_key_stats(actions, st.action_dim, nfp::NormMode::min_max);
  const auto& first = st.files.front();

  std::printf("dataset   %s\nlayout    %s (%zu file%s)\n", a.path.c_str(), nfp::layout_name(st.layout).c_str(),
              st.files.size(), st.files.size() == 1 ? "" : "s");
  const int64_t frames = st.total_frames();
  std::printf("episodes  %zu%s\nframes    %lld (per episode: min %lld, mean %.1f, max %lld)\n", st.episodes.size(),
              a.filter.empty() ? "" : (" (filter " + a.filter + ")").c_str(), (long long)frames,
              (long long)*std::min_element(lengths.begin(), lengths.end()), double(frames) / lengths.size(),
              (long long)*std::max_element(lengths.begin(), lengths.end()));
  std::printf("keys\n");
  nlohmann::json keys = nlohmann::json::object();
  for (size_t i = 0; i < first.keys.size(); ++i) {
    const auto& k = first.keys[i];
    const std::string kind = i == 0 ? "action" : k.is_image ? "image" : "low_dim";
    std::printf("  %-24s %-16s %-8s %s\n", k.key.c_str(), shape_text(k.frame_shape).c_str(), k.dtype.c_str(),
                kind.c_str());
    keys[k.key] = {{"shape", k.frame_shape}, {"dtype", k.dtype}, {"kind", kind}};
  }
  nlohmann::json masks = nlohmann::json::object();
  for (const auto& [name, demos] : first.masks) masks[name] = demos.size();
  if (!masks.empty()) {
    std::printf("masks    ");
    for (const auto& [name, n] : masks.items()) std::printf(" %s (%d)", name.c_str(), n.get<int>());
    std::printf("\n");
  }
  std::printf("action    %-5s %12s %12s %12s %12s\n", "dim", "min", "max", "mean", "std");
  for (int64_t j = 0; j < stats.dim(); ++j)
    std::printf("          %-5lld %12.5g %12.5g %12.5g %12.5g\n", (long long)j, stats.min[j], stats.max[j],
                stats.mean[j], stats.std[j]);
  std::printf("instructions%s\n", instructions.empty() ? " (none)" : "");
  for (const auto& [text, n] : instructions) std::printf("  %5lld  %s\n", (long long)n, text.c_str());

  if (a.json) {
    nlohmann::json instr = nlohmann::json::array();
    for (const auto& [text, n] : instructions) instr.push_back({{"instruction", text}, {"episodes", n}});
    std::vector<std::string> files;
    for (const auto& f : st.files) files.push_back(f.path.string());
    nfp::cli::print_json_line(nlohmann::json{{"path", a.path},
                                             {"layout", nfp::layout_name(st.layout)},
                                             {"files", files},
                                             {"episodes", st.episodes.size()},
                                             {"frames", frames},
                                             {"keys", keys},
                                             {"masks", masks},
                                             {"action", {{"min", stats.min},
                                                         {"max", stats.max},
                                                         {"mean", stats.mean},
                                                         {"std", stats.std}}},
                                             {"instructions", instr},
                                             {"image_bytes", st.image_bytes}}
                                  .dump());
  }
}

void setup_data(CLI::App& root) {
  CLI::App* data = root.add_subcommand("data", "Demonstration datasets (robomimic, LIBERO, ACT/ALOHA HDF5)");
  data->require_subcommand(1);
  auto a = std::make_shared<InfoArgs>();
  CLI::App* info = data->add_subcommand("info", "Layout, episodes, frames, per-key shapes and dtypes, action "
                                                "statistics and instructions of a dataset");
  info->add_option("path", a->path, "An HDF5 file, a directory of them, or a quoted glob ('demos/*.hdf5')")
      ->required();
  info->add_option("--layout", a->layout, "auto, robomimic, libero or act (default: detected)");
  info->add_option("--obs-keys", a->obs_keys, "Comma-separated observation keys (default: all)");
  info->add_option("--action-key", a->action_key, "Action dataset (default: actions, or action for ACT)");
  info->add_option("--filter", a->filter, "Only the demos of mask/<filter>, e.g. train or valid");
  info->add_flag("--json", a->json, "Print one JSON object as the last line");
  info->callback([a] { run_info(*a); });
}

}  // namespace

NFP_COMMAND("data", setup_data);
