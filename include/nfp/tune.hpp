// Inference tuning: NF-P tunes the sampling std sigma per task, and the re-planning interval and the number of
// SBS candidates matter as much on precise tasks. tune_inference evaluates every combination of a grid on the
// same episodes and picks the best; apply_inference writes it into a checkpoint's config.json so that `nfp eval`
// and a loaded policy's act() use it by default.
//   best = highest mean success (on language-conditioned tasks: the mean over goals, each goal run `episodes`
//          times), ties broken by the higher worst-goal success, then by the lower chunk latency p50.
// Tune on seeds apart from both the collection seeds and the seeds you report on (the docs collect on 0..,
// tune on 200000.. and report on 100000..): a setting picked on the reporting seeds overstates its success.
#pragma once
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "nfp/json_io.hpp"
#include "nfp/policy.hpp"

namespace nfp {

// An empty list keeps the checkpoint's value. `candidates` only varies the sbs strategy.
struct TuneGrid {
  std::vector<std::string> strategies;
  std::vector<double> sigmas;
  std::vector<int64_t> candidates;
  std::vector<int64_t> n_action_steps;
};

struct TuneOptions {
  std::string task;
  int64_t episodes = 20;   // per goal on language-conditioned tasks
  uint64_t seed = 200000;  // episode i uses seed + i (each goal the same seeds)
  TuneGrid grid;
  bool progress = true;
  // after each cell
  std::function<void(const json& cell, size_t index, size_t cells)> on_cell;
};

// Checks the whole grid against the policy (strategies known and supported by its head, sigma >= 0,
// candidates >= 1, 1 <= n_action_steps <= horizon) before any episode runs; throws nfp::Error naming the value.
// Returns {"task", "seed", "episodes", "goals", "cells": [{strategy, sigma, candidates (sbs only),
// n_action_steps, pc_success, worst_goal_pc_success, per_goal?, chunk_latency_ms_p50}], "best": index}.
// Cells not on the grid keep `base`'s values (the checkpoint's defaults: policy->default_options()); the policy
// itself is never changed.
json tune_inference(const Policy& policy, const RunnerOptions& base, const TuneOptions& options);

// `base` with one cell of tune_inference's result (strategy, sigma, candidates, n_action_steps).
RunnerOptions cell_options(RunnerOptions base, const json& cell);

// Rewrites `checkpoint`'s config.json (a run directory or its checkpoint/) with the cell's settings, atomically;
// the weights and statistics are untouched.
void apply_inference(const std::filesystem::path& checkpoint, const json& cell);

}  // namespace nfp
