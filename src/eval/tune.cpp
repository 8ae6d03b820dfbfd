// Inference tuning over a grid of strategies, sigma, SBS candidates and re-planning intervals (nfp/tune.hpp).
#include "nfp/tune.hpp"

#include <algorithm>
#include <cmath>

#include "nfp/checkpoint.hpp"
#include "nfp/error.hpp"
#include "nfp/evaluator.hpp"
#include "nfp/sim_env.hpp"

namespace nfp {

namespace {

template <typename T>
std::vector<T> or_default(const std::vector<T>& values, const T& fallback) {
  return values.empty() ? std::vector<T>{fallback} : values;
}

void check_grid(const Policy& policy, const TuneGrid& g) {
  const auto& pc = policy->config();
  for (const auto& s : g.strategies) check_strategy(s, *policy->head());
  for (double s : g.sigmas)
    require(std::isfinite(s) && s >= 0, "tune: sigma must be >= 0, got " + std::to_string(s));
  for (int64_t n : g.candidates) require(n >= 1, "tune: candidates must be >= 1, got " + std::to_string(n));
  for (int64_t n : g.n_action_steps)
    require(n >= 1 && n <= pc.horizon, "tune: n_action_steps must be in 1.." + std::to_string(pc.horizon) +
                                           " (the horizon), got " + std::to_string(n));
}

// The grid's cells in a fixed order; candidates vary only for sbs (other strategies get one cell each).
std::vector<json> grid_cells(const PolicyConfig& pc, const RunnerOptions& base, const TuneGrid& g) {
  const auto& inf = base.inference;
  std::vector<json> cells;
  for (const auto& strategy : or_default(g.strategies, inf.strategy))
    for (double sigma : or_default(g.sigmas, inf.sigma >= 0 ? inf.sigma : pc.head.sigma))
      for (int64_t n : strategy == "sbs" ? or_default(g.candidates, inf.candidates) : std::vector<int64_t>{0})
        for (int64_t steps : or_default(g.n_action_steps, base.n_action_steps)) {
          json c = {{"strategy", strategy}, {"sigma", sigma}, {"n_action_steps", steps}};
          if (strategy == "sbs") c["candidates"] = n;
          cells.push_back(c);
        }
  return cells;
}

// Orders cells: success, then the worst goal, then the faster.
bool better(const json& a, const json& b) {
  const double sa = a["pc_success"], sb = b["pc_success"];
  if (sa != sb) return sa > sb;
  const double wa = a["worst_goal_pc_success"], wb = b["worst_goal_pc_success"];
  if (wa != wb) return wa > wb;
  return a["chunk_latency_ms_p50"].get<double>() < b["chunk_latency_ms_p50"].get<double>();
}

}  // namespace

RunnerOptions cell_options(RunnerOptions base, const json& cell) {
  base.inference.strategy = cell.at("strategy").get<std::string>();
  base.inference.sigma = cell.at("sigma").get<double>();
  if (cell.contains("candidates")) base.inference.candidates = cell["candidates"].get<int64_t>();
  base.n_action_steps = cell.at("n_action_steps").get<int64_t>();
  return base;
}

json tune_inference(const Policy& policy, const RunnerOptions& base, const TuneOptions& o) {
  require(o.episodes >= 1, "tune: --episodes must be >= 1");
  check_grid(policy, o.grid);
  const int goals = int(sim::task_spec(o.task).instructions.size());
  auto cells = grid_cells(policy->config(), base, o.grid);
  size_t best = 0;
  for (size_t i = 0; i < cells.size(); ++i) {
    json& cell = cells[i];
    const RunnerOptions run = cell_options(base, cell);
    EvalOptions e;
    e.task = o.task;
    e.episodes = o.episodes;
    e.seed = o.seed;
    e.progress = o.progress;
    // Language-conditioned tasks: every goal on the same seeds (the same scenes), so goals weigh equally.
    std::vector<double> success, latency;
    json per_goal = json::array();
    for (int g = 0; g < std::max(goals, 1); ++g) {
      e.goal = goals > 1 ? g : -1;
      const json agg = evaluate_policy(policy, run, e)["aggregated"];
      success.push_back(agg["pc_success"].get<double>());
      latency.push_back(agg["chunk_latency_ms_p50"].get<double>());
      if (goals > 1) per_goal.push_back(agg.at("per_goal").at(0));  // the one goal this run had
    }
    double mean = 0;
    for (double s : success) mean += s / double(success.size());
    cell["pc_success"] = mean;
    cell["worst_goal_pc_success"] = *std::min_element(success.begin(), success.end());
    cell["chunk_latency_ms_p50"] = percentile(latency, 50);
    if (goals > 1) cell["per_goal"] = per_goal;
    if (i > 0 && better(cell, cells[best])) best = i;
    if (o.on_cell) o.on_cell(cell, i, cells.size());
  }
  return {{"task", o.task}, {"seed", o.seed}, {"episodes", o.episodes}, {"goals", std::max(goals, 1)},
          {"cells", cells}, {"best", best}};
}

void apply_inference(const std::filesystem::path& checkpoint, const json& cell) {
  PolicyConfig c = read_policy_config(checkpoint);
  const RunnerOptions best = cell_options({c.inference, c.n_action_steps}, cell);
  c.inference = best.inference;
  c.n_action_steps = best.n_action_steps;
  write_policy_config(checkpoint, c);
}

}  // namespace nfp
