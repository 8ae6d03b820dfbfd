// `nfp bench curves` (see bench/bench_curves.hpp): train each head in segments of --eval-every steps, evaluate every
// segment's checkpoint, stop a head at its plateau or the cap; the reports are rebuilt from OUT after each step.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>

#include "bench_cell.hpp"
#include "bench_curves.hpp"
#include "bench_table.hpp"
#include "machine_load.hpp"
#include "nfp/atomic_file.hpp"
#include "nfp/checkpoint.hpp"
#include "nfp/device.hpp"
#include "nfp/error.hpp"
#include "nfp/json_io.hpp"
#include "nfp/progress.hpp"
#include "nfp/report.hpp"
#include "nfp/sim_env.hpp"
#include "nfp/svg_chart.hpp"
#include "nfp/trainer.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace nfp::bench {

namespace {

// An exclusive flock on `path` for this object's life (wait: until it is free; else only if free now): two processes
// sharing OUT never train one head, nor collect the demonstrations twice.
class FileLock {
 public:
  FileLock(const fs::path& path, bool wait) : fd_(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644)) {
    require(fd_ >= 0, "bench curves: cannot open the lock file " + path.string());
    held_ = ::flock(fd_, wait ? LOCK_EX : LOCK_EX | LOCK_NB) == 0;
  }
  ~FileLock() { ::close(fd_); }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  bool held() const { return held_; }

 private:
  int fd_;
  bool held_ = false;
};

bool has_images(const std::vector<std::string>& obs) { return std::count(obs.begin(), obs.end(), "images") > 0; }

// The step of RUN/checkpoint (0: none yet).
int64_t checkpoint_step(const fs::path& run) {
  if (!fs::exists(run / "checkpoint")) return 0;
  const TrainState st = load_train_state(checkpoint_dir(run));
  const auto it = st.metadata.find("step");
  require(it != st.metadata.end(), "bench curves: " + (run / "checkpoint").string() + " has no step; remove the run");
  return std::stoll(it->second);
}

// The evaluation points: every eval_every steps, and the cap.
std::vector<int64_t> grid(int64_t eval_every, int64_t max_steps) {
  std::vector<int64_t> g;
  for (int64_t s = eval_every; s < max_steps; s += eval_every) g.push_back(s);
  g.push_back(max_steps);
  return g;
}

fs::path eval_path(const fs::path& out, const std::string& curve, int64_t step) {
  return out / "evals" / curve / (std::to_string(step) + ".json");
}

json read_or(const fs::path& f, json fallback) { return fs::exists(f) ? read_json_file(f) : fallback; }

// A curve's evaluations on disk, with the compute of its head's run at each.
std::vector<CurvePoint> curve_points(const fs::path& out, const std::string& curve, const std::string& head) {
  std::vector<CurvePoint> points;
  const fs::path dir = out / "evals" / curve;
  if (!fs::is_directory(dir)) return points;
  const json compute = read_or(out / "runs" / head / "compute.json", json::object());
  const json config = read_or(out / "runs" / head / "train_config.json", json::object());
  const int64_t batch = config.contains("train") ? config["train"].value("batch", int64_t(0)) : 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.size() < 6 || name.find('.') != name.size() - 5 || name.substr(name.size() - 5) != ".json") continue;
    const std::string digits = name.substr(0, name.size() - 5);
    if (digits.empty() || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
    const json r = read_json_file(e.path());
    CurvePoint p;
    p.step = std::stoll(digits);
    p.episodes = r.at("episodes").get<int64_t>();
    p.successes = std::llround(r.at("pc_success").get<double>() * double(p.episodes) / 100.0);
    p.chunk_p50_ms = r.value("chunk_p50_ms", NAN);
    p.samples = p.step * batch;
    if (compute.contains(digits)) {
      p.train_cpu_s = compute[digits].value("cpu_s", NAN);
      p.train_wall_s = compute[digits].value("wall_s", NAN);
    }
    points.push_back(p);
  }
  std::sort(points.begin(), points.end(), [](const CurvePoint& a, const CurvePoint& b) { return a.step < b.step; });
  return points;
}

// Every curve with evaluations in OUT: the ones asked for first (in their order), then any other process's.
std::vector<CurveSpec> curves_on_disk(const fs::path& out, const std::vector<CurveSpec>& asked) {
  std::vector<CurveSpec> all = asked;
  std::vector<std::string> others;
  if (fs::is_directory(out / "evals"))
    for (const auto& e : fs::directory_iterator(out / "evals")) others.push_back(e.path().filename().string());
  std::sort(others.begin(), others.end());
  for (const auto& name : others) {
    const bool known = std::any_of(all.begin(), all.end(), [&](const CurveSpec& c) { return c.name == name; });
    if (known) continue;
    try {
      all.push_back(parse_curve_spec(name));
    } catch (const Error&) {  // not a curve directory of ours
    }
  }
  return all;
}

std::string status_of(const CurveSummary& s, int64_t max_steps) {
  if (s.plateau_reached) return "plateau";
  return s.last_step >= max_steps ? "capped" : "running";
}

double pc_of(const CurvePoint& p) { return p.episodes ? 100.0 * double(p.successes) / double(p.episodes) : NAN; }

json write_reports(const CurvesOptions& o, const std::vector<CurveSpec>& asked, const std::string& started,
                   const std::string& load_start) {
  ReportTable rows, summary;
  rows.columns = {"task", "curve", "head", "step", "samples", "train_cpu_s", "train_wall_s", "success_pc", "successes",
                  "episodes", "ci_lo", "ci_hi", "chunk_p50_ms"};
  summary.columns = {"curve", "status", "evaluations", "last_step", "plateau_pc", "plateau_lo", "plateau_hi",
                     "step_90pc", "samples_90pc", "train_cpu_s_90pc", "chunk_p50_ms_90pc"};
  LineChart by_cpu{"Success vs training compute (" + o.task + ")", "training CPU seconds (log)", "success % (95% interval)", {}};
  LineChart by_step{"Success vs training steps (" + o.task + ")", "training steps", "success % (95% interval)", {}};
  by_cpu.bands = by_step.bands = true;
  by_cpu.log_x = true;  // compute spans decades between heads
  json curves = json::array();
  for (const auto& c : curves_on_disk(o.out, asked)) {
    const auto points = curve_points(o.out, c.name, c.head);
    if (points.empty()) continue;
    LineSeries sc{c.name, {}, {}, {}, {}}, ss = sc;
    json pts = json::array();
    for (const auto& p : points) {
      const auto ci = wilson_interval(p.successes, p.episodes);
      rows.add({o.task, c.name, c.head, std::to_string(p.step), std::to_string(p.samples), cell(p.train_cpu_s, 0),
                cell(p.train_wall_s, 0), cell(pc_of(p)), std::to_string(p.successes), std::to_string(p.episodes),
                cell(ci.lo), cell(ci.hi), cell(p.chunk_p50_ms, 2)});
      for (LineSeries* s : {&sc, &ss}) s->y.push_back(pc_of(p)), s->lo.push_back(ci.lo), s->hi.push_back(ci.hi);
      sc.x.push_back(p.train_cpu_s);
      ss.x.push_back(double(p.step));
      pts.push_back({{"step", p.step}, {"samples", p.samples}, {"train_cpu_s", p.train_cpu_s},
                     {"train_wall_s", p.train_wall_s}, {"successes", p.successes}, {"episodes", p.episodes},
                     {"success_pc", pc_of(p)}, {"chunk_p50_ms", p.chunk_p50_ms}});
    }
    by_cpu.series.push_back(sc);
    by_step.series.push_back(ss);
    const CurveSummary s = summarize_curve(points, o.plateau_window);
    const auto& q = s.at_90pc;
    summary.add({c.name, status_of(s, o.max_steps), std::to_string(points.size()), std::to_string(s.last_step),
                 cell(s.plateau_pc), cell(s.plateau_lo), cell(s.plateau_hi), q ? std::to_string(q->step) : "-",
                 q ? std::to_string(q->samples) : "-", q ? cell(q->train_cpu_s, 0) : "-",
                 q ? cell(q->chunk_p50_ms, 2) : "-"});
    curves.push_back({{"curve", c.name}, {"head", c.head}, {"status", status_of(s, o.max_steps)},
                      {"plateau_pc", s.plateau_pc}, {"plateau_lo", s.plateau_lo}, {"plateau_hi", s.plateau_hi},
                      {"step_90pc", q ? json(q->step) : json(nullptr)},
                      {"train_cpu_s_90pc", q ? json(q->train_cpu_s) : json(nullptr)},
                      {"chunk_p50_ms_90pc", q ? json(q->chunk_p50_ms) : json(nullptr)}, {"points", pts}});
  }
  write_file_atomic(o.out / "results.csv", rows.csv());
  write_file_atomic(o.out / "summary.csv", summary.csv());
  std::string md = "# nfp bench curves: " + o.task + "\n\n";
  md += "Command: `" + o.command + "`  \nStarted " + started + " on " + machine_description() +
        "; load average (1/5/15 min) at start " + load_start + ", when this page was written " + load_average() +
        "; " + std::to_string(o.threads) + " torch thread(s) per process.  \n";
  md += "Every head trains once with its default config (its learning-rate schedule spans the " +
        std::to_string(o.max_steps) + "-step cap) and is evaluated every " + std::to_string(o.eval_every) +
        " steps: EMA weights, " + std::to_string(o.episodes) + " episodes on seeds " + std::to_string(o.eval_seed) +
        ".. (never collected), the same seeds at every point. A head stops when each of its curves has plateaued: "
        "its last " + std::to_string(o.plateau_window) + " evaluations pooled are not above the upper end of the 95% "
        "Wilson interval of the " + std::to_string(o.plateau_window) + " before them, and at least " +
        std::to_string(int(kMinPlateauPc)) + "% success (below that a head has not started learning). Plateau = the "
        "last " + std::to_string(o.plateau_window) + " evaluations pooled, with their interval; \"90%\" = the first "
        "evaluation at or above 90% of the curve's own plateau (its training compute: process CPU seconds of the "
        "training segments, which unlike wall time do not count other processes' share of the cores; its "
        "closed-loop chunk latency p50).\n\n";
  md += summary.markdown() + "\nEvery evaluation: results.csv. Charts: success_vs_cpu.svg, success_vs_steps.svg.\n";
  write_file_atomic(o.out / "results.md", md);
  if (!by_cpu.series.empty()) {
    write_file_atomic(o.out / "success_vs_cpu.svg", svg_line_chart(by_cpu));
    write_file_atomic(o.out / "success_vs_steps.svg", svg_line_chart(by_step));
  }
  return curves;
}

struct Head {
  std::string name;
  std::vector<CurveSpec> curves;
};

}  // namespace

json run_curves(const CurvesOptions& o) {
  require(!o.out.empty(), "bench curves: --out is required");
  require(o.eval_every >= 1 && o.max_steps >= 1 && o.episodes >= 1 && o.plateau_window >= 1,
          "bench curves: --eval-every, --max-steps, --episodes and --plateau-window must be >= 1");
  require(!o.curves.empty(), "bench curves: no heads given (--heads)");
  resolve_device(o.device);  // a missing GPU fails before anything is collected or written
  sim::task_spec(o.task);    // an unknown task too
  std::vector<Head> heads;
  std::vector<CurveSpec> asked;
  for (const auto& text : o.curves) {
    CurveSpec c = parse_curve_spec(text);
    require(std::none_of(asked.begin(), asked.end(), [&](const CurveSpec& a) { return a.name == c.name; }),
            "bench curves: curve '" + c.name + "' is given twice");
    asked.push_back(c);
    auto it = std::find_if(heads.begin(), heads.end(), [&](const Head& h) { return h.name == c.head; });
    if (it == heads.end()) heads.push_back({c.head, {}}), it = heads.end() - 1;
    it->curves.push_back(c);
  }
  require(o.data.empty() || fs::exists(o.data), "bench curves: --data " + o.data.string() + " does not exist");
  fs::create_directories(o.out / "runs");
  const auto log = [&](const std::string& s) {
    if (o.log) o.log(s);
  };
  const std::string started = utc_minute_now();
  const std::string load_start = load_average();

  fs::path data = o.data;
  if (data.empty()) {
    sim::EnvOptions env;
    env.images = has_images(o.obs);
    env.cameras = o.cameras;
    env.image_size = o.image_size;
    const FileLock collecting(o.out / "runs" / "data.lock", true);
    data = ensure_demos(o.out / "data", o.task, o.demos, 0, env);
    log("demonstrations: " + data.string());
  }

  bool interrupted = false;
  for (const auto& head : heads) {
    if (interrupted) break;
    const fs::path run = o.out / "runs" / head.name;
    const FileLock lock(o.out / "runs" / (head.name + ".lock"), false);
    if (!lock.held()) {
      log(head.name + ": another process is training it (" + (o.out / "runs" / (head.name + ".lock")).string() +
          " is locked); next head");
      continue;
    }
    while (true) {
      const int64_t cur = checkpoint_step(run);
      // every finished point not yet evaluated, for each curve of this head
      for (int64_t n : grid(o.eval_every, o.max_steps)) {
        if (n > cur) break;
        for (const auto& c : head.curves) {
          const fs::path out = eval_path(o.out, c.name, n);
          if (fs::exists(out)) continue;
          const fs::path ckpt = n == cur ? run / "checkpoint" : run / "checkpoints" / std::to_string(n);
          if (!fs::exists(ckpt)) {
            log(c.name + ": the step-" + std::to_string(n) + " checkpoint is gone; that point stays unevaluated");
            continue;
          }
          CellEval ev;
          ev.task = o.task;
          ev.episodes = o.episodes;
          ev.seed = o.eval_seed;
          ev.threads = o.threads;
          ev.device = o.device;
          from_json(read_json_file(checkpoint_dir(ckpt) / "config.json").value("inference", json::object()),
                    ev.inference);
          apply_curve_sampling(c, ev.inference);
          const json e = eval_cell(ckpt, ev, out);
          log(c.name + " step " + std::to_string(n) + ": " + cell(e["pc_success"]) + "% of " +
              std::to_string(o.episodes) + " episodes, chunk p50 " + cell(e["chunk_p50_ms"], 2) + " ms");
          write_reports(o, asked, started, load_start);
        }
      }
      // (a head finished in an earlier session keeps its evaluations and compute.json: it needs no checkpoint)
      bool all_flat = true;
      int64_t evaluated = 0;
      for (const auto& c : head.curves) {
        const auto points = curve_points(o.out, c.name, c.head);
        all_flat = all_flat && plateaued(points, o.plateau_window);
        if (!points.empty()) evaluated = std::max(evaluated, points.back().step);
      }
      if (std::max(cur, evaluated) >= o.max_steps || all_flat) {
        log(head.name + ": " + (all_flat ? "plateaued" : "reached the cap") + " at step " +
            std::to_string(std::max(cur, evaluated)));
        break;
      }
      if (o.stop_requested && o.stop_requested()) {
        interrupted = true;
        break;
      }
      // the next segment: from the checkpoint to the next evaluation point
      const int64_t target = std::min((cur / o.eval_every + 1) * o.eval_every, o.max_steps);
      TrainRequest r;
      r.data = data.string();
      r.out = run;
      r.progress = false;
      r.device = o.device;
      if (cur > 0) {
        r.resume = true;
        r.resume_steps = o.max_steps;
      } else {  // a new run (or one killed before its first checkpoint: started over, as nfp train does)
        r.policy = default_policy_config(head.name);
        r.train = default_train_config(head.name);
        if (o.config.contains("policy")) from_json(o.config["policy"], r.policy);
        if (o.config.contains("train")) from_json(o.config["train"], r.train);
        if (!o.obs.empty()) r.policy.obs = o.obs;
        if (!o.cameras.empty()) r.policy.cameras = o.cameras;
        r.policy.task = o.task;
        if (o.batch > 0) r.train.batch = o.batch;
        r.train.steps = o.max_steps;
        r.train.checkpoint_every = o.eval_every;
        r.train.keep_checkpoints = 3;
        r.train.threads = o.threads;
      }
      int64_t at = cur;
      r.on_step = [&](int64_t step, double) { at = step; };
      r.stop_requested = [&] { return at >= target || (o.stop_requested && o.stop_requested()); };
      const json compute = read_or(run / "compute.json", json::object());
      const json base = cur == 0 ? json{{"cpu_s", 0.0}, {"wall_s", 0.0}} : compute.value(std::to_string(cur), json());
      const double c0 = double(std::clock()) / CLOCKS_PER_SEC;
      const auto t0 = std::chrono::steady_clock::now();
      const TrainResult res = train_policy(r);
      const double cpu = double(std::clock()) / CLOCKS_PER_SEC - c0;
      const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      json updated = read_or(run / "compute.json", json::object());
      // cumulative; unknown (null) after a segment whose start was not recorded (a kill between its checkpoint and
      // this file)
      const auto add = [&](const char* key, double v) {
        return base.is_object() && base.contains(key) && base[key].is_number() ? json(base[key].get<double>() + v)
                                                                                 : json(nullptr);
      };
      updated[std::to_string(res.steps)] = {{"cpu_s", add("cpu_s", cpu)}, {"wall_s", add("wall_s", wall)}};
      write_json_file(run / "compute.json", updated);
      log(head.name + ": trained to step " + std::to_string(res.steps) + " (+" + std::to_string(res.steps_run) +
          " steps, " + cell(cpu, 0) + " CPU-s, " + cell(double(res.steps_run) / std::max(wall, 1e-9), 1) +
          " steps/s)");
      if (res.steps < target && res.steps < o.max_steps) {  // stopped by the user, not by this loop
        interrupted = true;
        break;
      }
    }
  }
  json curves = write_reports(o, asked, started, load_start);
  return {{"task", o.task}, {"out", o.out.string()}, {"curves", curves}, {"interrupted", interrupted}};
}

}  // namespace nfp::bench
