// Writes the HDF5 seed corpus of fuzz_hdf5 from a file `nfp collect` wrote, with nfp's own writers: the
// robomimic file cut to its first `keep` episodes (plain, and gzip-chunked), a LIBERO-layout copy (problem_info,
// bddl_file_name, train/valid masks) and an ACT episode file.
//   seed_hdf5 collected.hdf5 OUT_DIR [keep]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "nfp/error.hpp"
#include "nfp/hdf5_dataset.hpp"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: seed_hdf5 collected.hdf5 OUT_DIR [keep]\n");
    return 2;
  }
  try {
    const std::string out = argv[2];
    const size_t keep = argc > 3 ? size_t(std::atoi(argv[3])) : 2;
    nfp::DatasetInfo info;
    std::vector<nfp::Episode> eps = nfp::read_episodes(argv[1], {}, &info);
    if (eps.size() > keep) eps.resize(keep);
    for (auto& e : eps) {  // keep the seeds small: a few frames per episode
      const int64_t T = std::min<int64_t>(e.length(), 6);
      auto cut = [T](auto& a) {
        if (a.shape.empty()) return;
        a.data.resize(size_t(T * a.row_size()));
        a.shape[0] = T;
      };
      cut(e.actions);
      for (auto& [k, a] : e.obs) cut(a);
      for (auto& [k, a] : e.images) cut(a);
      cut(e.states);
      e.rewards.resize(size_t(T));
      e.dones.resize(size_t(T));
      e.attrs.erase("source_file");
      e.attrs.erase("source_group");
    }
    const nlohmann::json env_args = info.data_attrs.value("env_args", nlohmann::json::object());
    nfp::write_robomimic(out + "/robomimic.hdf5", eps, env_args);
    nfp::WriteOptions gz;
    gz.gzip_level = 4;
    nfp::write_robomimic(out + "/robomimic_gzip.hdf5", eps, env_args, gz);
    nfp::WriteOptions libero;
    libero.data_attrs = {{"problem_info", {{"language_instruction", "lift the red cube"}}},
                         {"bddl_file_name", "lift.bddl"},
                         {"env_name", "lift"}};
    libero.masks = {{"train", {"demo_0"}}, {"valid", {"demo_1"}}};
    nfp::write_robomimic(out + "/libero.hdf5", eps, env_args, libero);
    nfp::write_act_episode(out + "/act.hdf5", eps.at(0));
  } catch (const nfp::Error& e) {
    std::fprintf(stderr, "seed_hdf5: %s\n", e.what());
    return 1;
  }
  return 0;
}
