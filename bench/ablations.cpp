// The ablation axes of NF-P and NinA, and data scaling (see bench/bench_ablations.hpp).
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>

#include "bench_ablations.hpp"
#include "bench_cell.hpp"
#include "nfp/svg_chart.hpp"
#include "bench_table.hpp"
#include "machine_load.hpp"
#include "nfp/atomic_file.hpp"
#include "nfp/device.hpp"
#include "nfp/error.hpp"
#include "nfp/json_io.hpp"
#include "nfp/sim_env.hpp"
#include "nfp/trainer.hpp"

namespace fs = std::filesystem;

namespace nfp::bench {

namespace {

struct Variant {
  std::string axis, value, head;
  double x = 0;                                      // for the data-scaling chart
  nlohmann::json policy = nlohmann::json::object();  // PolicyConfig overrides
  int demos = 0;
  InferenceOptions inference;
};

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}

std::vector<Variant> variants(const std::string& axis, const AblationOptions& o) {
  std::vector<Variant> v;
  auto add = [&](std::string value, std::string head, nlohmann::json policy, std::string strategy, double sigma = -1,
                 int demos = 0, double x = 0) {
    Variant var{axis, std::move(value), std::move(head), x, std::move(policy), demos > 0 ? demos : o.demos, {}};
    var.inference.strategy = std::move(strategy);
    var.inference.sigma = sigma;
    v.push_back(std::move(var));
  };
  const nlohmann::json none = nlohmann::json::object();
  if (axis == "stride") {
    for (int s : {1, 2, 4, 8}) add("s=" + std::to_string(s), "nfp-spline", {{"stride", s}}, "sbs");
  } else if (axis == "sigma") {
    for (double s : {0.25, 0.5, 0.75, 1.0}) add("sigma=" + num(s), "nfp-spline", none, "sample", s);
  } else if (axis == "strategy") {
    for (const char* s : {"sample", "sbs", "gr"}) add(s, "nfp-spline", none, s);
  } else if (axis == "chunk") {
    add("single action (H=1)", "nfp-spline", {{"horizon", 1}, {"n_action_steps", 1}}, "sbs");
    add("chunk (H=16)", "nfp-spline", none, "sbs");
  } else if (axis == "noise") {
    for (double a : {0.0, 0.05, 0.1}) add("noise=" + num(a), "nina-mlp", {{"head", {{"action_noise", a}}}}, "sample");
  } else if (axis == "plu") {
    for (bool p : {true, false}) add(p ? "PLU on" : "PLU off", "nina-mlp", {{"head", {{"plu", p}}}}, "sample");
  } else if (axis == "layers") {
    for (int l : {2, 6, 12}) add("layers=" + std::to_string(l), "nina-mlp", {{"head", {{"layers", l}}}}, "sample");
  } else if (axis == "data") {
    for (int n : {10, 25, 50, 100, 200}) {
      add("demos=" + std::to_string(n), "nfp-spline", none, "sbs", -1, n, n);
      add("demos=" + std::to_string(n), "diffusion", {{"head", {{"denoiser", "mlp"}}}}, "sample", -1, n, n);
    }
  } else {
    throw Error("unknown ablation axis '" + axis + "'; known: stride, sigma, strategy, chunk, noise, plu, layers, data");
  }
  return v;
}

// FNV-1a: a stable name for a training setting, so that a rerun finds its model again.
std::string stable_hash(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  char b[20];
  std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(h));
  return b;
}

std::string file_safe(std::string s) {
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '=') c = '_';
  return s;
}

}  // namespace

std::vector<std::string> ablation_axes() { return {"stride", "sigma", "strategy", "chunk", "noise", "plu", "layers", "data"}; }

nlohmann::json run_ablations(const AblationOptions& o) {
  require(!o.out.empty(), "bench ablations: --out is required");
  resolve_device(o.device);  // a missing GPU fails before anything is collected or written
  require(o.demos >= 1 && o.steps >= 1 && o.episodes >= 1 && o.eval_seeds >= 1 && o.train_seeds >= 1,
          "bench ablations: demos, steps, episodes, eval_seeds and train_seeds must be >= 1");
  sim::task_spec(o.task);
  std::vector<Variant> all;
  for (const auto& axis : o.axes) {  // every axis is checked before any work starts
    auto v = variants(axis, o);
    all.insert(all.end(), v.begin(), v.end());
  }
  if (!o.base_run.empty()) {
    const auto cfg = read_json_file(o.base_run / "checkpoint" / "config.json");
    require(cfg.value("type", std::string()) == "nfp-spline" && cfg.value("task", std::string()) == o.task,
            "bench ablations: --base-run must be an nfp-spline run on " + o.task);
  }
  fs::create_directories(o.out);
  auto log = [&](const std::string& s) {
    if (o.log) o.log(s);
  };
  const std::string load_start = load_average();
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& v : all) {
    for (int t = 0; t < o.train_seeds; ++t) {
      fs::path run;
      nlohmann::json trained;
      PolicyConfig resolved = default_policy_config(v.head);  // the same settings reached by two axes share a model
      if (!v.policy.empty()) from_json(v.policy, resolved);
      const bool base_variant = v.head == "nfp-spline" && json(resolved) == json(default_policy_config(v.head)) &&
                                v.demos == o.demos && t == 0;
      if (base_variant && !o.base_run.empty()) {
        run = o.base_run;
        trained = fs::exists(run / "cell.json") ? read_json_file(run / "cell.json") : nlohmann::json{{"train_cpu_s", NAN}};
      } else {
        CellTraining tr;
        tr.head = v.head;
        tr.data = ensure_demos(o.out / "data", o.task, v.demos);
        tr.policy = v.policy;
        tr.train = {{"steps", o.steps}, {"checkpoint_every", o.steps}, {"seed", t}};
        tr.task = o.task;
        tr.threads = o.threads;
        tr.device = o.device;
        const nlohmann::json key = {{"policy", resolved}, {"demos", v.demos}, {"train", tr.train}};
        run = o.out / "models" / (v.head + "-" + stable_hash(key.dump()));
        trained = train_cell(tr, run);
      }
      for (int e = 0; e < o.eval_seeds; ++e) {
        CellEval ev;
        ev.task = o.task;
        ev.inference = v.inference;
        ev.episodes = o.episodes;
        ev.seed = 100000 + 1000 * uint64_t(e);
        ev.threads = o.threads;
        ev.device = o.device;
        const auto r = eval_cell(run, ev, o.out / "evals" / v.axis /
                                              (file_safe(v.value) + "_" + v.head + "_t" + std::to_string(t) + "_e" +
                                               std::to_string(e) + ".json"));
        log(v.axis + " " + v.value + " " + v.head + " train seed " + std::to_string(t) + " eval block " +
            std::to_string(e) + ": " + cell(r["pc_success"]) + "%");
        rows.push_back({{"axis", v.axis}, {"value", v.value}, {"head", v.head}, {"x", v.x}, {"train_seed", t},
                        {"eval_seed", ev.seed}, {"success_pc", r["pc_success"]}, {"episodes", o.episodes},
                        {"strategy", r["strategy"]}, {"sigma", r["sigma"]}, {"chunk_p50_ms", r["chunk_p50_ms"]},
                        {"train_cpu_s", trained.value("train_cpu_s", NAN)}, {"model", run.string()}});
      }
    }
  }
  // Summary per (axis, value, head), in the order run.
  nlohmann::json summary = nlohmann::json::array();
  std::map<std::string, size_t> at;
  std::vector<std::vector<double>> samples;
  for (const auto& r : rows) {
    const std::string k = r["axis"].get<std::string>() + "\n" + r["value"].get<std::string>() + "\n" + r["head"].get<std::string>();
    if (!at.count(k)) {
      at[k] = summary.size();
      summary.push_back({{"axis", r["axis"]}, {"value", r["value"]}, {"head", r["head"]}, {"x", r["x"]},
                         {"strategy", r["strategy"]}});
      samples.emplace_back();
    }
    samples[at[k]].push_back(r["success_pc"].get<double>());
  }
  for (size_t i = 0; i < summary.size(); ++i) {
    const auto& s = samples[i];
    double mean = 0, var = 0;
    for (double x : s) mean += x / double(s.size());
    for (double x : s) var += (x - mean) * (x - mean) / std::max<double>(1, double(s.size()) - 1);
    summary[i]["mean"] = mean;
    summary[i]["std"] = std::sqrt(var);
    summary[i]["n"] = s.size();
    summary[i]["min"] = *std::min_element(s.begin(), s.end());
    summary[i]["max"] = *std::max_element(s.begin(), s.end());
  }
  // Reports: results.csv (every evaluation), results.md (summary per axis), one chart per axis.
  ReportTable csv;
  csv.columns = {"axis", "value", "head", "strategy", "sigma", "train_seed", "eval_seed", "success_pc", "episodes",
                 "chunk_p50_ms", "train_cpu_s", "model"};
  for (const auto& r : rows)
    csv.add({r["axis"], r["value"], r["head"], r["strategy"], cell(r["sigma"].get<double>(), 2),
             std::to_string(r["train_seed"].get<int>()), std::to_string(r["eval_seed"].get<uint64_t>()),
             cell(r["success_pc"]), std::to_string(o.episodes), cell(r["chunk_p50_ms"], 2), cell(r["train_cpu_s"], 0),
             r["model"]});
  write_file_atomic(o.out / "results.csv", csv.csv());
  std::string md = "# nfp bench ablations\n\nCommand: `" + o.command + "`  \nTask " + o.task + ", " +
                   std::to_string(o.demos) + " demos (data axis varies it), " + std::to_string(o.steps) +
                   " training steps per model, " + std::to_string(o.train_seeds) + " training seed(s) x " +
                   std::to_string(o.eval_seeds) + " evaluation blocks of " + std::to_string(o.episodes) +
                   " episodes (seeds 100000 + 1000 k ..). Load average at start " + load_start + ", at end " +
                   load_average() + ".\n";
  for (const auto& axis : o.axes) {
    ReportTable t;
    t.columns = {"value", "head", "strategy", "success % (mean)", "std", "n", "min", "max"};
    BarChart bars{"Ablation: " + axis + " (" + o.task + ")", "success % (mean, bar = std)", {}, false, {}};
    LineChart lines{"Data scaling (" + o.task + ")", "demonstrations", "success % (mean; bar = min..max)", {}, true};
    std::map<std::string, size_t> series;
    for (const auto& s : summary) {
      if (s["axis"] != axis) continue;
      t.add({s["value"], s["head"], s["strategy"], cell(s["mean"]), cell(s["std"]), std::to_string(s["n"].get<size_t>()),
             cell(s["min"]), cell(s["max"])});
      std::string label = s["value"].get<std::string>();  // appended in place: GCC 12 gives a false
      if (axis == "data") label.append(" ").append(s["head"].get<std::string>());  // -Wstringop-overflow on " " + str
      bars.bars.push_back({label, s["mean"].get<double>()});
      bars.errors.push_back(s["std"].get<double>());
      const std::string head = s["head"];
      if (!series.count(head)) {
        series[head] = lines.series.size();
        lines.series.push_back({head, {}, {}, {}, {}});
      }
      lines.series[series[head]].x.push_back(s["x"].get<double>());
      lines.series[series[head]].y.push_back(s["mean"].get<double>());
      lines.series[series[head]].lo.push_back(s["min"].get<double>());  // whisker: min..max over seeds and blocks
      lines.series[series[head]].hi.push_back(s["max"].get<double>());
    }
    md += "\n## " + axis + "\n\n" + t.markdown();
    if (bars.bars.empty()) continue;
    if (axis == "data")
      write_file_atomic(o.out / "data_scaling.svg", svg_line_chart(lines));
    else
      write_file_atomic(o.out / ("ablation_" + axis + ".svg"), svg_bar_chart(bars));
  }
  write_file_atomic(o.out / "results.md", md);
  return {{"rows", rows}, {"summary", summary}};
}

}  // namespace nfp::bench
