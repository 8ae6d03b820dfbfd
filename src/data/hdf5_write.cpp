// Writers: the robomimic layout (what `nfp collect` records) and single ACT/ALOHA episodes.
#include <unistd.h>

#include <random>

#include "hdf5_util.hpp"
#include "nfp/atomic_file.hpp"
#include "nfp/hdf5_dataset.hpp"

namespace fs = std::filesystem;

namespace nfp {
namespace {

// Checks that every per-frame array has as many rows as there are actions, before anything is written.
void check_episode(const Episode& e, size_t index) {
  const std::string who = "episode " + std::to_string(index) + (e.name.empty() ? "" : " ('" + e.name + "')");
  const int64_t T = e.length();
  require(e.actions.shape.size() == 2, who + ": actions must be (T x A), got rank " +
                                           std::to_string(e.actions.shape.size()));
  require(static_cast<int64_t>(e.actions.data.size()) == T * e.actions.row_size(),
          who + ": actions data size does not match its shape");
  for (const auto& [k, a] : e.obs) {
    require(a.rows() == T, who + ": obs '" + k + "' has " + std::to_string(a.rows()) + " frames, actions " +
                               std::to_string(T) + " (mismatched lengths)");
    require(static_cast<int64_t>(a.data.size()) == T * a.row_size(), who + ": obs '" + k + "' data size mismatch");
  }
  for (const auto& [k, a] : e.images) {
    require(a.rows() == T && a.shape.size() == 4, who + ": image '" + k + "' must be (T x H x W x 3) with T = " +
                                                      std::to_string(T));
    require(static_cast<int64_t>(a.data.size()) == T * a.row_size(), who + ": image '" + k + "' data size mismatch");
  }
  require(e.states.data.empty() || e.states.rows() == T, who + ": states must have T rows");
  require(e.rewards.empty() || static_cast<int64_t>(e.rewards.size()) == T, who + ": rewards must have T entries");
  require(e.dones.empty() || static_cast<int64_t>(e.dones.size()) == T, who + ": dones must have T entries");
}

// Builds the file in memory, then writes its bytes with write_file_atomic (a temporary sibling, fsync, rename; stale
// temporaries of killed writes removed): a full disk is nfp's own one-line error, never a failing write inside
// libhdf5 (h5::create_memory_file says why). The in-memory file is released before its bytes are written, so a write
// holds the episodes, plus the file twice while its image is copied out.
template <typename Fn>
void write_hdf5(const fs::path& path, Fn build) {
  std::string image;
  {
    h5::File f = h5::create_memory_file(path);
    build(f);
    image = h5::file_image(f);
  }
  write_file_atomic(path, image);
}

void write_episode_arrays(const h5::File& f, const std::string& g, const Episode& e, const std::string& action_key,
                          const std::string& obs_group, const std::string& image_group, int gzip) {
  using h5::write_array;
  write_array(f, g + "/" + action_key, e.actions.shape, e.actions.data.data(), H5T_NATIVE_FLOAT, H5T_IEEE_F32LE,
              gzip);
  for (const auto& [k, a] : e.obs)
    write_array(f, g + "/" + obs_group + "/" + k, a.shape, a.data.data(), H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, gzip);
  for (const auto& [k, a] : e.images)
    write_array(f, g + "/" + image_group + "/" + k, a.shape, a.data.data(), H5T_NATIVE_UINT8, H5T_STD_U8LE, gzip);
}

}  // namespace

void write_robomimic(const fs::path& path, const std::vector<Episode>& episodes, const nlohmann::json& env_args,
                     const WriteOptions& options) {
  for (size_t i = 0; i < episodes.size(); ++i) check_episode(episodes[i], i);
  write_hdf5(path, [&](const h5::File& f) {
    h5::create_group(f, "data");
    int64_t total = 0;
    for (size_t i = 0; i < episodes.size(); ++i) {
      const Episode& e = episodes[i];
      const std::string g = "data/demo_" + std::to_string(i);
      h5::create_group(f, g);
      write_episode_arrays(f, g, e, "actions", "obs", "obs", options.gzip_level);
      if (!e.states.data.empty())
        h5::write_array(f, g + "/states", e.states.shape, e.states.data.data(), H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE,
                        options.gzip_level);
      // robomimic stores rewards as float64 and dones as int64; HDF5 converts on write.
      const std::vector<int64_t> t_shape{e.length()};
      std::vector<float> rewards = e.rewards;
      std::vector<uint8_t> dones = e.dones;
      rewards.resize(e.length(), 0.0f);
      if (dones.empty() && e.length() > 0) {
        dones.assign(e.length(), 0);
        dones.back() = 1;
      }
      h5::write_array(f, g + "/rewards", t_shape, rewards.data(), H5T_NATIVE_FLOAT, H5T_IEEE_F64LE, 0);
      h5::write_array(f, g + "/dones", t_shape, dones.data(), H5T_NATIVE_UINT8, H5T_STD_I64LE, 0);
      h5::write_attr(f, g, "num_samples", e.length());
      if (!e.instruction.empty()) h5::write_attr(f, g, "instruction", e.instruction);
      for (const auto& [k, v] : e.attrs.items())
        if (k != "source_file" && k != "source_group") h5::write_attr(f, g, k, v);
      total += e.length();
    }
    h5::write_attr(f, "data", "total", total);
    h5::write_attr(f, "data", "env_args", env_args.is_string() ? env_args.get<std::string>() : env_args.dump());
    for (const auto& [k, v] : options.data_attrs.items()) h5::write_attr(f, "data", k, v);
    for (const auto& [name, demos] : options.masks) h5::write_strings(f, "mask/" + name, demos);
  });
}

void write_act_episode(const fs::path& path, const Episode& episode) {
  check_episode(episode, 0);
  write_hdf5(path, [&](const h5::File& f) {
    write_episode_arrays(f, "", episode, "action", "observations", "observations/images", 0);
    h5::write_attr(f, "/", "sim", true);
    if (!episode.instruction.empty()) h5::write_attr(f, "/", "instruction", episode.instruction);
  });
}

}  // namespace nfp
