#include "nfp/sim_record.hpp"

#include <algorithm>
#include <cmath>

#include "nfp/error.hpp"
#include "nfp/video_writer.hpp"

namespace nfp::sim {

namespace {

template <typename T>
void append_row(Array<T>& a, const std::vector<int64_t>& row_shape, const T* row, size_t n) {
  if (a.shape.empty()) {
    a.shape = {0};
    a.shape.insert(a.shape.end(), row_shape.begin(), row_shape.end());
  }
  a.shape[0] += 1;
  a.data.insert(a.data.end(), row, row + n);
}

}  // namespace

Episode record_expert_episode(Env& env, uint64_t seed, bool clean) {
  Episode e;
  Observation obs = env.reset(seed);
  auto expert = make_expert(env, seed, clean);
  e.instruction = obs.instruction;
  StepResult r;
  do {
    for (const auto& [key, v] : obs.lowdim) append_row(e.obs[key], {static_cast<int64_t>(v.size())}, v.data(), v.size());
    for (const auto& [key, img] : obs.images)
      append_row(e.images[key], {img.height, img.width, 3}, img.pixels.data(), img.pixels.size());
    auto s = env.get_state();
    append_row(e.states, {static_cast<int64_t>(s.size())}, s.data(), s.size());
    std::vector<float> a = expert->act(env);
    append_row(e.actions, {static_cast<int64_t>(a.size())}, a.data(), a.size());
    r = env.step(a);
    e.rewards.push_back(static_cast<float>(r.reward));
    e.dones.push_back(r.done ? 1 : 0);
    obs = std::move(r.obs);
  } while (!r.done);
  e.attrs = {{"seed", seed}, {"success", r.success}, {"task", env.spec().name}, {"clean", clean}};
  if (env.goal() >= 0) e.attrs["goal"] = env.goal();
  return e;
}

CollectResult collect_demos(const CollectOptions& o, const std::function<void(int, int)>& progress) {
  require(o.episodes > 0, "--episodes must be positive");
  auto env = make_env(o.task, o.env);
  const int max_attempts = o.max_attempts > 0 ? o.max_attempts : 2 * o.episodes + 20;
  CollectResult result;
  double total_length = 0;
  while (static_cast<int>(result.episodes.size()) < o.episodes) {
    require(result.attempts < max_attempts,
            "the '" + o.task + "' expert failed " + std::to_string(result.discarded) + " of " +
                std::to_string(result.attempts) + " episodes; this is a bug in its script (seeds from " +
                std::to_string(o.seed) + ")");
    Episode e = record_expert_episode(*env, o.seed + result.attempts, o.clean);
    ++result.attempts;
    if (e.attrs["success"] == true) {
      e.name = "demo_" + std::to_string(result.episodes.size());
      total_length += e.length();
      result.episodes.push_back(std::move(e));
    } else {
      ++result.discarded;
    }
    if (progress) progress(static_cast<int>(result.episodes.size()), result.attempts);
  }
  result.mean_length = total_length / result.episodes.size();
  result.env_args = env_args_json(env->spec());
  auto& kw = result.env_args["env_kwargs"];
  kw["images"] = o.env.images;
  kw["image_size"] = o.env.image_size;
  kw["recorded_cameras"] = o.env.cameras;
  kw["clean"] = o.clean;
  kw["seed"] = o.seed;
  kw["goal"] = o.env.goal;  // -1: each episode's goal was drawn from its seed (see the demo attrs "goal")
  return result;
}

ReplayResult replay_episode(const Episode& e, const std::string& task, VideoWriter* video, const std::string& camera,
                            int image_size) {
  EnvOptions opt;
  opt.image_size = image_size;
  // The recorded goal (multi-task): an episode collected with a fixed goal is not the seed's goal.
  if (e.attrs.contains("goal") && e.attrs["goal"].is_number()) opt.goal = e.attrs["goal"].get<int>();
  auto env = make_env(task, opt);
  const TaskSpec& spec = env->spec();
  require(e.length() > 0, "episode '" + e.name + "' has no actions to replay");
  require(e.actions.row_size() == spec.action.dim,
          "episode '" + e.name + "' has actions of " + std::to_string(e.actions.row_size()) + " values but task '" +
              task + "' takes " + std::to_string(spec.action.dim));
  require(e.states.rows() > 0, "episode '" + e.name + "' has no stored states; replay needs its initial state");
  uint64_t seed = e.attrs.contains("seed") && e.attrs["seed"].is_number() ? e.attrs["seed"].get<uint64_t>() : 0;
  env->reset(seed);  // goal and instruction of the episode
  const int64_t S = e.states.row_size();
  env->set_state(std::vector<double>(e.states.data.begin(), e.states.data.begin() + S));
  auto frame = [&] {
    if (video) video->write(env->render(camera).pixels.data());
  };
  frame();
  ReplayResult r;
  if (e.attrs.contains("success")) {  // a bool, or 0/1 as some HDF5 writers store it
    const auto& v = e.attrs["success"];
    r.recorded_success = v.is_boolean() ? v.get<bool>() : v.is_number() ? v.get<double>() != 0 : true;
  } else {
    r.recorded_success = true;
  }
  const int64_t A = spec.action.dim;
  for (int64_t t = 0; t < e.length(); ++t) {
    if (t > 0 && t < e.states.rows()) {
      auto s = env->get_state();
      for (int64_t i = 0; i < S; ++i) r.max_state_error = std::max(r.max_state_error, std::abs(s[i] - e.states.data[t * S + i]));
    }
    std::vector<float> a(e.actions.data.begin() + t * A, e.actions.data.begin() + (t + 1) * A);
    StepResult s = env->step(a);
    ++r.steps;
    frame();
    r.success = s.success;
    if (s.done) break;
  }
  return r;
}

}  // namespace nfp::sim
