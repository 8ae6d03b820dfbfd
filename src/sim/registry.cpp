#include "nfp/error.hpp"
#include "sim/tasks.hpp"

namespace nfp::sim {

namespace {

// An explicit table (not static self-registration, which a static library's linker may drop).
const std::vector<TaskEntry>& table() {
  static const std::vector<TaskEntry> entries = {push_two_goals_task(), lift_task(),         stack_task(),
                                                 handover_task(),       insertion_task(),    multi_task_task()};
  return entries;
}

const TaskEntry& entry(const std::string& name) {
  for (const auto& e : table())
    if (e.name == name) return e;
  std::string names;
  for (const auto& e : table()) names += (names.empty() ? "" : ", ") + e.name;
  throw Error("unknown task " + quoted_value(name) + "; the tasks are: " + names);
}

}  // namespace

std::vector<std::string> task_names() {
  std::vector<std::string> names;
  for (const auto& e : table()) names.push_back(e.name);
  return names;
}

TaskSpec task_spec(const std::string& task) { return entry(task).spec(); }

std::unique_ptr<Env> make_env(const std::string& task, const EnvOptions& options) {
  return entry(task).make_env(options);
}

std::unique_ptr<Expert> make_expert(const Env& env, uint64_t seed, bool clean) {
  return entry(env.spec().name).make_expert(env, seed, clean);
}

nlohmann::json env_args_json(const TaskSpec& s) {
  nlohmann::json obs = nlohmann::json::object();
  for (const auto& [k, v] : s.obs_dims) obs[k] = v;
  return {{"env_name", s.name},
          {"type", "nfp_sim"},
          {"env_kwargs",
           {{"control_hz", s.control_hz},
            {"max_steps", s.max_steps},
            {"num_arms", s.num_arms},
            {"cameras", s.cameras},
            {"obs_dims", obs},
            {"instructions", s.instructions},
            {"action_spec",
             {{"dim", s.action.dim},
              {"low", s.action.low},
              {"high", s.action.high},
              {"names", s.action.names},
              {"meaning", s.action.meaning}}}}}};
}

}  // namespace nfp::sim
