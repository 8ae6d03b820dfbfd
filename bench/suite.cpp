// The train + evaluate matrix (see bench/bench_suite.hpp).
#include <algorithm>
#include <fstream>

#include "bench_cell.hpp"
#include "bench_suite.hpp"
#include "nfp/svg_chart.hpp"
#include "bench_table.hpp"
#include "machine_load.hpp"
#include "nfp/action_head.hpp"
#include "nfp/atomic_file.hpp"
#include "nfp/device.hpp"
#include "nfp/error.hpp"
#include "nfp/head_registry.hpp"
#include "nfp/progress.hpp"
#include "nfp/sim_env.hpp"

namespace fs = std::filesystem;

namespace nfp::bench {

namespace {

void write_reports(const SuiteOptions& o, const SuiteProfile& p, const nlohmann::json& rows, const std::string& started,
                   const std::string& load_start) {
  ReportTable t;
  t.columns = {"task", "head", "strategy", "success_pc", "episodes", "params", "chunk_p50_ms", "chunk_p99_ms",
               "train_steps", "train_wall_s", "train_cpu_s", "eval_wall_s", "demos"};
  ScatterPlot plot{"Success vs closed-loop chunk latency (" + p.name + " profile)", "chunk latency p50, ms (log)",
                   "success %", {}, true};
  for (const auto& r : rows) {
    t.add({r["task"], r["head"], r["strategy"], cell(r["success_pc"]), std::to_string(r["episodes"].get<int64_t>()),
           std::to_string(r["params"].get<int64_t>()), cell(r["chunk_p50_ms"], 2), cell(r["chunk_p99_ms"], 2),
           std::to_string(r["train_steps"].get<int64_t>()), cell(r["train_wall_s"], 0), cell(r["train_cpu_s"], 0),
           cell(r["eval_wall_s"], 0), std::to_string(r["demos"].get<int>())});
    plot.points.push_back({r["task"].get<std::string>() + " " + r["head"].get<std::string>(),
                           r["chunk_p50_ms"].get<double>(), r["pc_success"].get<double>()});
  }
  write_file_atomic(o.out / "results.csv", t.csv());
  std::string md = "# nfp bench suite (" + p.name + " profile)\n\n";
  md += "Command: `" + o.command + "`  \nStarted " + started + "; load average (1/5/15 min) at start " + load_start +
        ", when this table was written " + load_average() + "; " + std::to_string(o.threads) +
        " torch thread(s).  \nBudget: " + p.budget + "  \n";
  md += "Success: % of evaluation episodes (seeds 100000..); flow heads with SBS (N = 128), others sampled. Chunk "
        "latency: closed loop, encoder + head + strategy, batch 1. Train CPU: process CPU seconds (not inflated "
        "by load).\n\n";
  md += t.markdown();
  write_file_atomic(o.out / "results.md", md);
  if (!plot.points.empty()) write_file_atomic(o.out / "latency_vs_success.svg", svg_scatter(plot));
}

}  // namespace

SuiteProfile suite_profile(const std::string& name) {
  SuiteProfile p;
  p.name = name;
  if (name == "quick") {
    p.tasks = {"push-two-goals"};
    p.heads = {"nfp-spline", "nina-mlp", "flow-matching", "diffusion", "regression"};
    p.demos = 100;
    p.eval_episodes = 20;
    p.steps = {{"nfp-spline", 800}, {"nina-mlp", 800}, {"flow-matching", 800}, {"diffusion", 800}, {"regression", 1500}};
    // MLP denoisers: the UNet does not train in this budget on 2 cores
    p.policy = {{"flow-matching", {{"head", {{"denoiser", "mlp"}}}}}, {"diffusion", {{"head", {{"denoiser", "mlp"}}}}}};
    p.budget = "1 task x 5 heads, 100 demos, 800 steps (regression 1500), 20 episodes each: ~15 CPU-minutes.";
  } else if (name == "full") {
    p.tasks = {"push-two-goals", "lift", "handover"};
    p.heads = head_names();
    p.demos = 200;
    p.eval_episodes = 50;
    p.budget = "3 tasks x 6 heads, 200 demos, default configs and steps, 50 episodes each: several CPU-hours.";
  } else {
    throw Error("unknown suite profile '" + name + "'; known: quick, full");
  }
  return p;
}

nlohmann::json run_suite(const SuiteOptions& o) {
  SuiteProfile p = suite_profile(o.profile);
  require(!o.out.empty(), "bench suite: --out is required");
  resolve_device(o.device);  // a missing GPU fails before anything is collected or written
  if (!o.tasks.empty()) p.tasks = o.tasks;
  if (!o.heads.empty()) p.heads = o.heads;
  if (o.demos > 0) p.demos = o.demos;
  if (o.episodes > 0) p.eval_episodes = o.episodes;
  for (const auto& t : p.tasks) sim::task_spec(t);  // unknown tasks fail before any work
  for (const auto& h : p.heads) default_head_config(h);
  fs::create_directories(o.out);
  const std::string started = utc_minute_now(), load_start = load_average();
  auto log = [&](const std::string& s) {
    if (o.log) o.log(s);
  };
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& task : p.tasks) {
    const fs::path data = ensure_demos(o.out / "data", task, p.demos);
    for (const auto& head : p.heads) {
      CellTraining tr;
      tr.head = head;
      tr.data = data;
      tr.task = task;
      tr.threads = o.threads;
      tr.device = o.device;
      if (p.policy.count(head)) tr.policy = p.policy.at(head);
      const int64_t steps = o.steps > 0 ? o.steps : p.steps.count(head) ? p.steps.at(head) : 0;
      if (steps > 0) tr.train = {{"steps", steps}, {"checkpoint_every", steps}};
      const fs::path run = o.out / "runs" / task / head;
      const auto trained = train_cell(tr, run);
      log(task + " " + head + ": trained " + std::to_string(trained["steps"].get<int64_t>()) + " steps, " +
          cell(trained["train_wall_s"], 0) + " s");
      CellEval ev;
      ev.task = task;
      ev.episodes = p.eval_episodes;
      ev.threads = o.threads;
      ev.device = o.device;
      ev.inference.strategy = head_traits(head).has_likelihood ? "sbs" : "sample";
      const auto e = eval_cell(run, ev, o.out / "evals" / task / (head + ".json"));
      log(task + " " + head + ": success " + cell(e["pc_success"]) + "% over " + std::to_string(p.eval_episodes) +
          " episodes, chunk p50 " + cell(e["chunk_p50_ms"], 2) + " ms");
      rows.push_back({{"task", task},
                      {"head", head},
                      {"strategy", e["strategy"]},
                      {"success_pc", e["pc_success"]},
                      {"pc_success", e["pc_success"]},
                      {"episodes", e["episodes"]},
                      {"params", trained["params"]},
                      {"chunk_p50_ms", e["chunk_p50_ms"]},
                      {"chunk_p99_ms", e["chunk_p99_ms"]},
                      {"train_steps", trained["steps"]},
                      {"train_wall_s", trained["train_wall_s"]},
                      {"train_cpu_s", trained["train_cpu_s"]},
                      {"eval_wall_s", e["eval_wall_s"]},
                      {"demos", p.demos}});
      write_reports(o, p, rows, started, load_start);
    }
  }
  return {{"profile", p.name}, {"out", o.out.string()}, {"rows", rows}};
}

}  // namespace nfp::bench
