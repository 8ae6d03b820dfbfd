// TaskEnv: what every MuJoCo task shares (episode bookkeeping, action checks, control substeps, state
// save/restore, cameras). A task supplies its model XML, spec and a few hooks. Internal to src/sim.
#pragma once
#include <mujoco/mujoco.h>

#include <array>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "nfp/sim_env.hpp"

namespace nfp::sim {

class Renderer;

// Compiles an MJCF string once per `key` and shares the immutable model between environments.
std::shared_ptr<const mjModel> shared_model(const std::string& key, const std::string& xml);
// Compiles an MJCF string (throws nfp::Error with MuJoCo's message). Caller owns the result.
mjModel* compile_xml(const std::string& xml);

class TaskEnv : public Env {
 public:
  TaskEnv(std::shared_ptr<const mjModel> model, TaskSpec spec, EnvOptions options, int substeps);
  ~TaskEnv() override;

  const TaskSpec& spec() const override { return spec_; }
  Observation reset(uint64_t seed) override;
  StepResult step(const std::vector<float>& action) override;
  Observation observe() override;
  bool success() const override { return check_success(); }
  int steps() const override { return steps_; }
  uint64_t seed() const override { return seed_; }
  std::vector<double> get_state() const override;
  void set_state(const std::vector<double>& state) override;
  const mjModel_* model() const override { return model_.get(); }
  const mjData_* data() const override { return d_; }
  Image render(const std::string& camera) override;

 protected:
  // Sets the episode's initial qpos/ctrl (d_ was just reset to the model's defaults).
  virtual void init_episode(std::mt19937_64& rng) = 0;
  // Writes a checked, clipped action (spec().action.dim) into d_->ctrl.
  virtual void apply_action(const float* action) = 0;
  // Called before every physics substep (gravity compensation of the arms).
  virtual void before_substep() {}
  // Fills obs.lowdim ("state", "object_state").
  virtual void lowdim(Observation& obs) const = 0;
  virtual bool check_success() const = 0;
  virtual std::string instruction() const { return spec_.instructions.empty() ? "" : spec_.instructions[0]; }

 private:
  struct DeleteData {
    void operator()(mjData* d) const { mj_deleteData(d); }
  };
  // Owns d_; declared first, so it is made first and freed last, also when a task's constructor throws after it
  // (an out-of-range goal leaked the episode's data).
  std::unique_ptr<mjData, DeleteData> data_;

 protected:
  const mjModel* m_;  // immutable, shared
  mjData* d_;         // this episode's data
  TaskSpec spec_;
  EnvOptions options_;

 private:
  std::shared_ptr<const mjModel> model_;
  int substeps_;
  int steps_ = 0;
  uint64_t seed_ = 0;
  std::vector<std::string> cameras_;  // cameras rendered into observations
  std::unique_ptr<Renderer> renderer_;
};

// Helpers for tasks.
int require_id(const mjModel* m, int type, const std::string& name);  // mj_name2id or nfp::Error
double uniform(std::mt19937_64& rng, double lo, double hi);
// Sets a free joint's position and yaw (rotation about z).
void set_free_pose(const mjModel* m, mjData* d, int joint, double x, double y, double z, double yaw);
// Yaw of a body's orientation (rotation about world z of its x axis).
double body_yaw(const mjData* d, int body);

}  // namespace nfp::sim
