// Checkpoint directories: config.json + model.safetensors + stats.json (+ train_state.safetensors), atomic.
#include "nfp/checkpoint.hpp"

#include "nfp/atomic_file.hpp"
#include "nfp/error.hpp"
#include "nfp/tensor_io.hpp"

namespace nfp {

namespace fs = std::filesystem;

fs::path checkpoint_dir(const fs::path& dir) {
  if (fs::exists(dir / "config.json")) return dir;
  if (fs::exists(dir / "checkpoint" / "config.json")) return dir / "checkpoint";
  throw Error(quoted(dir.string()) + " is not a checkpoint (no config.json); pass the --out directory of `nfp train`");
}

PolicyConfig read_policy_config(const fs::path& dir) {
  return read_json_file(checkpoint_dir(dir) / "config.json").get<PolicyConfig>();
}

void write_policy_config(const fs::path& dir, const PolicyConfig& config) {
  write_json_file(checkpoint_dir(dir) / "config.json", json(config));
}

Policy load_policy(const fs::path& dir_in) {
  const auto dir = checkpoint_dir(dir_in);
  Policy p = make_policy(read_policy_config(dir), Normalizer::load(dir / "stats.json"));
  load_module(*p, dir / "model.safetensors");
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

}  // namespace nfp
