// The task table: each task file provides its spec, its environment and its expert. Internal to src/sim.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nfp/sim_env.hpp"

namespace nfp::sim {

struct TaskEntry {
  std::string name;
  std::function<TaskSpec()> spec;
  std::function<std::unique_ptr<Env>(const EnvOptions&)> make_env;
  std::function<std::unique_ptr<Expert>(const Env&, uint64_t seed, bool clean)> make_expert;
};

TaskEntry push_two_goals_task();
TaskEntry lift_task();
TaskEntry stack_task();
TaskEntry handover_task();
TaskEntry insertion_task();
TaskEntry multi_task_task();

}  // namespace nfp::sim
