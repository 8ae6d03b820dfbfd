// One run's section of the report: what it was (config), how it trained (curves), how it did (every evaluation
// found for it: success with its interval, per goal, latency, monitor) and how it failed (videos, first failure and
// first success first). What is missing or damaged is said where it would have been.
#include <algorithm>
#include <cmath>

#include "nfp/report.hpp"
#include "report_charts.hpp"
#include "report_html.hpp"

namespace fs = std::filesystem;

namespace nfp::report {
namespace {

constexpr size_t kMaxConfigRows = 48;

std::string problems_html(const std::vector<std::string>& lines) {
  if (lines.empty()) return "";
  std::string s = "<ul class=\"problems\">";
  for (const auto& l : lines) s += "<li>" + esc(l) + "</li>";
  return s + "</ul>\n";
}

// A config as "key.path = value" rows: scalars as they are, arrays by length when long.
void flatten(const json& j, const std::string& prefix, std::vector<std::pair<std::string, std::string>>& rows) {
  if (rows.size() >= kMaxConfigRows) return;
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) flatten(v, prefix.empty() ? k : prefix + "." + k, rows);
  } else if (j.is_array() && (j.size() > 8 || std::any_of(j.begin(), j.end(), [](const json& v) { return v.is_structured(); }))) {
    rows.emplace_back(prefix, "[" + std::to_string(j.size()) + " items]");
  } else {
    rows.emplace_back(prefix, j.is_string() ? j.get<std::string>() : j.dump());
  }
}

std::string config_table(const RunEntry& r) {
  std::vector<std::pair<std::string, std::string>> rows;
  if (r.policy_config.is_object()) flatten(r.policy_config, "policy", rows);
  if (r.train_config.is_object()) flatten(r.train_config, "train", rows);
  if (rows.empty()) return "";
  std::string s = "<details class=\"config\"><summary>Configuration (" + std::to_string(rows.size()) +
                  (rows.size() >= kMaxConfigRows ? "+" : "") + " keys)</summary><table>";
  for (const auto& [k, v] : rows) s += "<tr><th>" + esc(k) + "</th><td>" + esc(v) + "</td></tr>";
  return s + "</table></details>\n";
}

// The policy in one line: head type, observations, horizon (what a reader compares runs by).
std::string policy_line(const RunEntry& r) {
  const json& p = r.policy_config;
  if (!p.is_object()) return "";
  std::string s = p.value("type", std::string());
  if (p.contains("head") && p["head"].is_object() && p["head"].contains("type")) s += " / " + p["head"]["type"].dump();
  for (const char* k : {"horizon", "n_action_steps"})
    if (p.contains(k)) s += std::string(", ") + k + " " + p[k].dump();
  return s;
}

fs::path resolve_video(const std::string& recorded, const fs::path& eval_file) {
  const fs::path p = recorded;
  if (fs::exists(p)) return p;
  for (const fs::path& c : {eval_file.parent_path() / p, eval_file.parent_path() / p.filename()})
    if (fs::exists(c)) return c;
  return {};
}

std::string videos_html(const RunEntry& r, const EvalEntry& e, size_t run_ix, size_t eval_ix, Assets& assets,
                        int64_t max_videos, std::vector<std::string>& problems) {
  const json& info = e.info;
  if (!info.contains("video_paths") || !info["video_paths"].is_array() || info["video_paths"].empty()) return "";
  const json& eps = info["per_episode"];
  const size_t n = info["video_paths"].size();
  auto success = [&](size_t i) { return i < eps.size() && eps[i].is_object() && eps[i].value("success", false); };
  // first failure, first success, then the other failures (how it fails is what a reader looks for), then the
  // other successes, each in episode order
  std::vector<size_t> order;
  for (bool want : {false, true})
    for (size_t i = 0; i < n; ++i)
      if (success(i) == want) {
        order.push_back(i);
        break;
      }
  for (bool want : {false, true})
    for (size_t i = 0; i < n; ++i)
      if (success(i) == want && std::find(order.begin(), order.end(), i) == order.end()) order.push_back(i);
  std::string s = "<div class=\"videos\">";
  int64_t shown = 0;
  for (size_t i : order) {
    if (shown >= max_videos) break;
    const json& v = info["video_paths"][i];
    const std::string label = "episode " + std::to_string(i) + (success(i) ? " (success)" : " (failure)");
    const fs::path src = v.is_string() ? resolve_video(v.get<std::string>(), e.file) : fs::path();
    if (src.empty()) {
      const std::string line = "video of " + label + " is missing (" + (v.is_string() ? v.get<std::string>() : v.dump()) + ")";
      problems.push_back(r.name + ": " + line);
      s += "<figure class=\"missing\"><p class=\"problem\">" + esc(line) + "</p></figure>";
      continue;
    }
    const std::string rel = assets.copy(src, "run" + std::to_string(run_ix) + "_eval" + std::to_string(eval_ix) +
                                                 "_episode_" + std::to_string(i) + ".mp4");
    ++assets.videos, ++shown;
    s += "<figure><video controls muted loop preload=\"auto\" src=\"" + esc(rel) + "\"></video><figcaption>" +
         esc(label) + "</figcaption></figure>";
  }
  if (int64_t(order.size()) > shown) s += "<p class=\"note\">" + std::to_string(int64_t(order.size()) - shown) + " more not shown</p>";
  return s + "</div>\n";
}

std::string monitor_html(const RunEntry& r, const EvalEntry& e, const std::string& id, Assets& assets) {
  const json& m = member(member(e.info, "aggregated"), "monitor");
  if (!m.is_object()) return "";
  auto num = [&](const char* k, int d) { return fixed(number_at(m, k), d); };  // "n/a" when absent
  std::string s = "<p class=\"monitor\">Monitor <b>" + esc(m.value("score", std::string("?"))) + "</b> (alpha " +
                  num("alpha", 2) + "): alarms in " + num("alarms", 0) + " episodes; false-alarm rate " +
                  num("false_alarm_rate", 3) + ", failures caught " + num("tpr", 3) + ", mean lead " +
                  num("mean_lead_steps", 1) + " steps, AUROC " + num("auroc", 3) + "</p>\n";
  return s + assets.chart(id + "_monitor", monitor_chart(e.info, r.monitor), "monitor score traces");
}

std::string eval_html(const RunEntry& r, const EvalEntry& e, size_t run_ix, size_t eval_ix, Assets& assets,
                      int64_t max_videos, std::vector<std::string>& problems) {
  std::string s = "<div class=\"eval\" data-eval-file=\"" + esc(e.file.string()) + "\">\n<h3>Evaluation " +
                  esc(e.file.filename().string());
  if (!e.info.is_object()) {
    problems.push_back(r.name + ": " + e.file.string() + " " + e.problem);
    return s + "</h3><p class=\"problem\">" + esc(e.file.string() + " " + e.problem) + "</p></div>\n";
  }
  const json& i = e.info;
  const json& g = member(i, "aggregated");
  s += " — " + esc(i.value("task", std::string("?"))) + "</h3>\n";
  const Success ok = success_of(i);
  auto agg = [&](const char* k, int d) { return fixed(number_at(g, k), d); };  // "n/a" when absent
  s += "<table class=\"eval-summary\"><tr><th>success</th><td class=\"success\" data-pc=\"" + fixed(ok.pc, 4) +
       "\" data-trials=\"" + std::to_string(ok.trials) + "\">" + success_html(ok) + "</td></tr>";
  s += "<tr><th>chunk latency p50 / p99</th><td><span class=\"latency-p50\">" + agg("chunk_latency_ms_p50", 2) +
       "</span> / <span class=\"latency-p99\">" + agg("chunk_latency_ms_p99", 2) + "</span> ms</td></tr>";
  s += "<tr><th>reward (mean max / mean sum)</th><td>" + agg("avg_max_reward", 3) + " / " + agg("avg_sum_reward", 2) + "</td></tr>";
  s += "<tr><th>inference</th><td>" + esc(i.contains("inference") ? i["inference"].dump() : std::string("n/a")) +
       (i.contains("backend") ? " on " + esc(i["backend"].dump()) : std::string()) + "</td></tr>";
  if (i.contains("parameters")) s += "<tr><th>parameters</th><td>" + esc(i["parameters"].dump()) + "</td></tr>";
  s += "<tr><th>evaluation time</th><td>" + agg("eval_s", 1) + " s (seeds from " + esc(i.value("seed", json()).dump()) + ")</td></tr>";
  if (g.contains("perturbation"))
    s += "<tr><th>perturbation</th><td>" + esc(g["perturbation"].dump()) + "</td></tr>";
  s += "</table>\n";
  if (g.contains("per_goal") && g["per_goal"].is_array() && !g["per_goal"].empty()) {
    s += "<table class=\"per-goal\"><tr><th>goal</th><th>instruction</th><th>success</th></tr>";
    for (const auto& pg : g["per_goal"]) {
      Success sg;
      sg.trials = pg.value("episodes", int64_t(0));
      sg.pc = pg.value("pc_success", 0.0);
      sg.successes = std::llround(sg.pc / 100 * double(sg.trials));
      const auto ci = wilson_interval(sg.successes, sg.trials);
      sg.lo = ci.lo, sg.hi = ci.hi;
      s += "<tr><td>" + esc(pg.value("goal", json()).dump()) + "</td><td>" + esc(pg.value("instruction", std::string())) +
           "</td><td>" + success_html(sg) + "</td></tr>";
    }
    s += "</table>\n";
  }
  const std::string id = "run" + std::to_string(run_ix) + "_eval" + std::to_string(eval_ix);
  s += monitor_html(r, e, id, assets);
  s += videos_html(r, e, run_ix, eval_ix, assets, max_videos, problems);
  return s + "</div>\n";
}

}  // namespace

std::string run_section(const RunEntry& r, size_t index, Assets& assets, int64_t max_videos,
                        std::vector<std::string>& problems) {
  std::string s = "<section class=\"run\" id=\"run-" + std::to_string(index) + "\" data-run=\"" + esc(r.name) +
                  "\">\n<h2>" + esc(r.name) + "</h2>\n";
  if (!r.dir.empty()) s += "<p class=\"path\">" + esc(r.dir.string()) + (policy_line(r).empty() ? "" : " — " + esc(policy_line(r))) + "</p>\n";
  for (const auto& p : r.problems) problems.push_back(r.name + ": " + p);
  s += problems_html(r.problems);
  s += config_table(r);
  const std::string id = "run" + std::to_string(index);
  const std::string curves = assets.chart(id + "_loss", loss_chart(r.metrics), "training loss and validation NLL") +
                             assets.chart(id + "_lr", lr_chart(r.metrics), "learning rate");
  if (!curves.empty()) s += "<div class=\"charts\">" + curves + "</div>\n";
  for (size_t k = 0; k < r.evals.size(); ++k) s += eval_html(r, r.evals[k], index, k, assets, max_videos, problems);
  return s + "</section>\n";
}

}  // namespace nfp::report
