#include "sim/task_env.hpp"

#include <cmath>
#include <cstring>
#include <map>
#include <mutex>

#include "nfp/error.hpp"
#include "sim/renderer.hpp"

namespace nfp::sim {

mjModel* compile_xml(const std::string& xml) {
  // MuJoCo 2.2 loads XML from files only; a virtual file system keeps it in memory.
  auto vfs = std::make_unique<mjVFS>();
  mj_defaultVFS(vfs.get());
  const char* name = "nfp_task.xml";
  require(mj_makeEmptyFileVFS(vfs.get(), name, static_cast<int>(xml.size())) == 0, "MuJoCo VFS is full");
  int index = mj_findFileVFS(vfs.get(), name);
  std::memcpy(vfs->filedata[index], xml.data(), xml.size());
  char error[1000] = "";
  mjModel* m = mj_loadXML(name, vfs.get(), error, sizeof(error));
  mj_deleteVFS(vfs.get());
  require(m != nullptr, std::string("MuJoCo could not compile the task model: ") + error);
  return m;
}

std::shared_ptr<const mjModel> shared_model(const std::string& key, const std::string& xml) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const mjModel>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  std::shared_ptr<const mjModel> model(compile_xml(xml), [](const mjModel* m) { mj_deleteModel(const_cast<mjModel*>(m)); });
  cache[key] = model;
  return model;
}

int require_id(const mjModel* m, int type, const std::string& name) {
  int id = mj_name2id(m, type, name.c_str());
  require(id >= 0, "task model has no object named '" + name + "' (a bug in the task's XML)");
  return id;
}

double uniform(std::mt19937_64& rng, double lo, double hi) {
  return std::uniform_real_distribution<double>(lo, hi)(rng);
}

void set_free_pose(const mjModel* m, mjData* d, int joint, double x, double y, double z, double yaw) {
  mjtNum* q = d->qpos + m->jnt_qposadr[joint];
  q[0] = x, q[1] = y, q[2] = z;
  q[3] = std::cos(yaw / 2), q[4] = 0, q[5] = 0, q[6] = std::sin(yaw / 2);
}

double body_yaw(const mjData* d, int body) {
  const mjtNum* R = d->xmat + 9 * body;  // row-major; column 0 is the body's x axis
  return std::atan2(R[3], R[0]);
}

TaskEnv::TaskEnv(std::shared_ptr<const mjModel> model, TaskSpec spec, EnvOptions options, int substeps)
    : data_(mj_makeData(model.get())), m_(model.get()), d_(data_.get()), spec_(std::move(spec)), options_(std::move(options)),
      model_(std::move(model)), substeps_(substeps) {
  const int goals = static_cast<int>(spec_.instructions.size());
  require(options_.goal < goals, "task '" + spec_.name + "' has goals 0.." + std::to_string(goals - 1) +
                                     " (one per instruction), got goal " + std::to_string(options_.goal));
  require(options_.image_size >= 8 && options_.image_size <= 1024,
          "image size " + std::to_string(options_.image_size) + " is out of range; use 8..1024");
  if (options_.images) {
    std::vector<std::string> wanted = options_.cameras.empty() ? spec_.cameras : options_.cameras;
    for (const auto& c : wanted) {
      bool found = false;
      for (const auto& have : spec_.cameras) {
        // "wrist" names every wrist camera of a bimanual task.
        bool wrist = have.size() >= 5 && have.compare(have.size() - 5, 5, "wrist") == 0;
        if (have == c || (c == "wrist" && wrist)) cameras_.push_back(have), found = true;
      }
      std::string names;
      for (const auto& have : spec_.cameras) names += (names.empty() ? "" : ", ") + have;
      require(found, "task '" + spec_.name + "' has no camera '" + c + "'; its cameras are: " + names);
    }
  }
}

TaskEnv::~TaskEnv() = default;

Observation TaskEnv::reset(uint64_t seed) {
  seed_ = seed;
  steps_ = 0;
  mj_resetData(m_, d_);
  std::mt19937_64 rng(seed);
  init_episode(rng);
  mj_forward(m_, d_);
  // Through set_state(), so that an episode restored from its first state steps bit-identically.
  set_state(get_state());
  return observe();
}

StepResult TaskEnv::step(const std::vector<float>& action) {
  const ActionSpec& a = spec_.action;
  require(static_cast<int>(action.size()) == a.dim,
          "task '" + spec_.name + "' takes actions of " + std::to_string(a.dim) + " values, got " +
              std::to_string(action.size()) + "; see `nfp tasks` for the action spec");
  for (int i = 0; i < a.dim; ++i)
    require(std::isfinite(action[i]), "action value " + std::to_string(i) + " (" + a.names[i] +
                                          ") is not finite; the episode was not advanced");
  require(steps_ < spec_.max_steps && !check_success(),
          "episode of task '" + spec_.name + "' is over (done); call reset(seed) before stepping again");
  std::vector<float> clipped(a.dim);
  for (int i = 0; i < a.dim; ++i) clipped[i] = std::min(std::max(action[i], a.low[i]), a.high[i]);
  apply_action(clipped.data());
  auto resets = [this] {
    return d_->warning[mjWARN_BADQPOS].number + d_->warning[mjWARN_BADQVEL].number +
           d_->warning[mjWARN_BADQACC].number;
  };
  const double t_before = d_->time;
  const int resets_before = resets();
  for (int s = 0; s < substeps_; ++s) {
    before_substep();
    mj_step(m_, d_);
  }
  ++steps_;
  // When positions, velocities or accelerations blow up, MuJoCo warns and resets the state to the model's
  // default (time 0): the episode's physics are gone, so it ends here as a failure instead of going on from a
  // teleported scene. The reset shows as a new warning count or as simulated time short of the time stepped
  // (a reset clears the counters, so either alone can miss one).
  const bool diverged = resets() > resets_before || d_->time < t_before + 0.5 * substeps_ * m_->opt.timestep;
  if (diverged) steps_ = spec_.max_steps;
  StepResult r;
  r.success = !diverged && check_success();
  r.reward = r.success ? 1.0 : 0.0;
  r.done = r.success || steps_ >= spec_.max_steps;
  r.obs = observe();
  return r;
}

Observation TaskEnv::observe() {
  Observation obs;
  lowdim(obs);
  obs.instruction = instruction();
  for (const auto& c : cameras_) obs.images[camera_key(c)] = render(c);
  return obs;
}

Image TaskEnv::render(const std::string& camera) {
  if (!renderer_) renderer_ = std::make_unique<Renderer>(m_, options_.image_size, options_.image_size);
  return renderer_->render(d_, camera);
}

std::vector<double> TaskEnv::get_state() const {
  std::vector<double> s;
  s.reserve(1 + m_->nq + m_->nv + m_->nu + 3 * m_->nmocap);
  s.push_back(d_->time);
  s.insert(s.end(), d_->qpos, d_->qpos + m_->nq);
  s.insert(s.end(), d_->qvel, d_->qvel + m_->nv);
  s.insert(s.end(), d_->ctrl, d_->ctrl + m_->nu);
  s.insert(s.end(), d_->mocap_pos, d_->mocap_pos + 3 * m_->nmocap);
  return s;
}

void TaskEnv::set_state(const std::vector<double>& s) {
  size_t want = 1 + m_->nq + m_->nv + m_->nu + 3 * m_->nmocap;
  require(s.size() == want, "state of " + std::to_string(s.size()) + " values does not fit task '" + spec_.name +
                                "' (" + std::to_string(want) + "); was it recorded with another task?");
  // Same path as reset(): fresh data (zero warm start), so that a restored state steps identically.
  mj_resetData(m_, d_);
  d_->time = s[0];
  std::copy(s.begin() + 1, s.begin() + 1 + m_->nq, d_->qpos);
  std::copy(s.begin() + 1 + m_->nq, s.begin() + 1 + m_->nq + m_->nv, d_->qvel);
  auto ctrl = s.begin() + 1 + m_->nq + m_->nv;
  std::copy(ctrl, ctrl + m_->nu, d_->ctrl);
  std::copy(ctrl + m_->nu, s.end(), d_->mocap_pos);
  // mj_resetData keeps qacc_warmstart, and mj_forward warm-starts the constraint solver from it.
  mju_zero(d_->qacc_warmstart, m_->nv);
  mj_forward(m_, d_);
  // mj_forward renormalizes quaternions in qpos in place, which can change their last bits; keep the
  // stored ones so that the next step starts from exactly the recorded state.
  std::copy(s.begin() + 1, s.begin() + 1 + m_->nq, d_->qpos);
  steps_ = static_cast<int>(std::lround(d_->time * spec_.control_hz));
}

}  // namespace nfp::sim
