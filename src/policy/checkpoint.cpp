// Checkpoint directories: config.json + model.safetensors + stats.json (+ train_state.safetensors), atomic.
#include "nfp/checkpoint.hpp"

#include <algorithm>

#include "nfp/atomic_file.hpp"
#include "nfp/error.hpp"
#include "nfp/tensor_io.hpp"

namespace nfp {

namespace fs = std::filesystem;

fs::path checkpoint_dir(const fs::path& dir) {
  if (fs::exists(dir / "config.json")) return dir;
  if (fs::exists(dir / "checkpoint" / "config.json")) return dir / "checkpoint";
  // A checkpoint commit killed between its renames: move its directory back, then look again.
  if (recover_staged_dir(dir / "checkpoint") || recover_staged_dir(dir)) return checkpoint_dir(dir);
  throw Error(quoted(dir.string()) + " is not a checkpoint (no config.json); pass the --out directory of `nfp train`");
}

PolicyConfig read_policy_config(const fs::path& dir) {
  return read_json_file(checkpoint_dir(dir) / "config.json").get<PolicyConfig>();
}

void write_policy_config(const fs::path& dir, const PolicyConfig& config) {
  write_json_file(checkpoint_dir(dir) / "config.json", json(config));
}

Policy load_policy(const fs::path& dir_in, torch::Device device) {
  const auto dir = checkpoint_dir(dir_in);
  Policy p = make_policy(read_policy_config(dir), Normalizer::load(dir / "stats.json"));
  load_module(*p, dir / "model.safetensors");
  if (!device.is_cpu()) p->to(device);
  p->eval();
  return p;
}

void save_checkpoint(const PolicyImpl& policy, const fs::path& dir, const TrainState* state) {
  StagedDir staged(dir);
  write_json_file(staged.path() / "config.json", json(policy.config()));
  save_module(policy, staged.path() / "model.safetensors", {{"format", "nfp-policy"}, {"type", policy.config().head.type}});
  policy.normalizer().save(staged.path() / "stats.json");
  if (state) {
    SafeTensorsFile st;
    for (const auto& [name, t] : state->tensors) st.tensors[name] = to_safetensor(t);
    st.metadata = state->metadata;
    write_safetensors(staged.path() / "train_state.safetensors", st);
  }
  staged.commit();
}

TrainState load_train_state(const fs::path& dir) {
  auto st = read_safetensors(checkpoint_dir(dir) / "train_state.safetensors");
  TrainState out;
  for (const auto& [name, t] : st.tensors) out.tensors[name] = from_safetensor(t);
  out.metadata = st.metadata;
  return out;
}

std::vector<int64_t> history_steps(const fs::path& history) {
  std::vector<int64_t> steps;
  if (!fs::is_directory(history)) return steps;
  for (const auto& e : fs::directory_iterator(history)) {
    const std::string name = e.path().filename().string();
    if (!e.is_directory() || e.is_symlink() || name.empty() ||
        name.find_first_not_of("0123456789") != std::string::npos || name.size() > 18)
      continue;  // "last", staging directories, anything else
    steps.push_back(std::stoll(name));
  }
  std::sort(steps.begin(), steps.end());
  return steps;
}

void add_to_history(const fs::path& checkpoint, const fs::path& history, int64_t step, int64_t keep) {
  if (keep <= 0) return;
  fs::create_directories(history);
  {
    StagedDir staged(history / std::to_string(step));
    for (const auto& e : fs::directory_iterator(checkpoint)) {
      std::error_code ec;
      fs::create_hard_link(e.path(), staged.path() / e.path().filename(), ec);  // the files are never rewritten
      if (ec) fs::copy_file(e.path(), staged.path() / e.path().filename());    // in place: sharing them is safe
    }
    staged.commit();
  }
  const fs::path tmp = history / ".last.tmp";
  fs::remove(tmp);
  fs::create_directory_symlink(std::to_string(step), tmp);
  commit_rename_point();
  fs::rename(tmp, history / "last");
  const auto steps = history_steps(history);
  for (size_t i = 0; i + size_t(keep) < steps.size(); ++i) fs::remove_all(history / std::to_string(steps[i]));
}

}  // namespace nfp
