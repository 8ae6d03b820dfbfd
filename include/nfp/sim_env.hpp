// The embedded MuJoCo task suite: environments, their specs and their scripted experts.
//
// An environment follows MuJoCo's split: the compiled model (mjModel) is immutable and shared by every
// environment of a task; each environment owns its per-episode data (mjData). The evaluator's loop is
//   auto env = nfp::sim::make_env("lift");
//   Observation obs = env->reset(seed);
//   while (true) { StepResult r = env->step(policy(obs)); obs = r.obs; if (r.done) break; }
//   bool ok = env->success();
// Torch-free: links MuJoCo (and EGL for cameras) only.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nfp/observation.hpp"

struct mjModel_;
struct mjData_;

namespace nfp::sim {

// What an action means: `dim` values, each within [low[i], high[i]], named by `names[i]`.
struct ActionSpec {
  int dim = 0;
  std::vector<float> low, high;     // (dim)
  std::vector<std::string> names;   // (dim) "left/waist", "left/gripper", "pusher_x", ...
  std::string meaning;              // one sentence: absolute joint targets, gripper command, ...
};

// The facts of a task that a learner, a dataset or `nfp tasks` needs.
struct TaskSpec {
  std::string name;                   // "lift"
  std::string description;            // one line
  ActionSpec action;
  double control_hz = 10;             // policy steps per simulated second
  int max_steps = 100;                // episode step limit (done = success or max_steps)
  std::map<std::string, int> obs_dims;  // low-dim observation keys -> width: "state", "object_state"
  std::vector<std::string> cameras;   // named cameras: "top", "wrist" or "left_wrist", "right_wrist"
  int num_arms = 0;                   // 0 for the planar pusher
  std::vector<std::string> instructions;  // the task's instructions (one unless language-conditioned)
};

struct EnvOptions {
  bool images = false;                // render camera images in observations (needs EGL)
  std::vector<std::string> cameras;   // which cameras; empty = all of the task's; "wrist" = every wrist
  int image_size = 96;                // images are image_size x image_size
  int goal = -1;                      // multi-task: fixed goal index; -1 = drawn from the reset seed
};

// The observation is the one every layer shares (nfp/observation.hpp): low-dim keys such as "state" (arm joints
// + gripper openings) and "object_state", camera images under "<camera>_image" (when EnvOptions::images), and
// the natural-language goal.
using Image = nfp::Image;
using Observation = nfp::Observation;

struct StepResult {
  Observation obs;
  double reward = 0;   // 1 on success, else 0 (sparse)
  bool done = false;   // success or step limit reached
  bool success = false;
};

class Env {
 public:
  virtual ~Env() = default;
  virtual const TaskSpec& spec() const = 0;
  // Starts an episode whose initial state (objects, goal, instruction) is a function of `seed` only.
  virtual Observation reset(uint64_t seed) = 0;
  // Applies `action` (spec().action.dim values) for one control period. Throws nfp::Error, leaving the
  // episode untouched, if the action has the wrong size or a non-finite value, or the episode is over.
  virtual StepResult step(const std::vector<float>& action) = 0;
  virtual Observation observe() = 0;
  virtual bool success() const = 0;
  virtual int steps() const = 0;       // control steps taken in this episode
  virtual uint64_t seed() const = 0;   // the last reset seed
  // The episode's goal index for language-conditioned tasks (multi-task), -1 for single-goal tasks. Recorded
  // episodes store it (attribute "goal") so that a replay uses the goal the episode had.
  virtual int goal() const { return -1; }
  // Full simulator state (time, qpos, qvel, ctrl, mocap positions), enough to restore a step exactly:
  // (1 + nq + nv + nu + 3 nmocap).
  virtual std::vector<double> get_state() const = 0;
  // Restores a state from get_state() of the same task and episode (call reset(seed) first so that the
  // episode's goal and instruction match).
  virtual void set_state(const std::vector<double>& state) = 0;
  virtual const mjModel_* model() const = 0;
  virtual const mjData_* data() const = 0;
  // Renders one camera of the current state (needs EGL); size from EnvOptions::image_size.
  virtual Image render(const std::string& camera) = 0;
};

// Task names in a fixed order.
std::vector<std::string> task_names();
// The spec of a task; an unknown name throws nfp::Error listing the names.
TaskSpec task_spec(const std::string& task);
std::unique_ptr<Env> make_env(const std::string& task, const EnvOptions& options = {});
// env_args JSON for datasets: task, control rate, step limit, action spec, observation keys.
nlohmann::json env_args_json(const TaskSpec& spec);

// A scripted expert for the episode that `env` is in (create it right after env.reset). `clean` = false
// adds human-like jitter and short pauses; the expert's randomness comes from `seed`.
class Expert {
 public:
  virtual ~Expert() = default;
  // The next action for the env's current state: (spec().action.dim)
  virtual std::vector<float> act(const Env& env) = 0;
};
std::unique_ptr<Expert> make_expert(const Env& env, uint64_t seed, bool clean);

}  // namespace nfp::sim
