// The learning-curve arithmetic of `nfp bench curves` (bench/bench_curves.hpp): curve names, the plateau rule, the
// summary of a curve. Pure functions over evaluations, tested without training anything.
#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "bench_curves.hpp"
#include "nfp/error.hpp"
#include "nfp/head_registry.hpp"
#include "nfp/report.hpp"

namespace nfp::bench {

namespace {

constexpr const char* kForms =
    "HEAD or HEAD:SAMPLING, SAMPLING one of sample, sbs-N, gr-K (flow heads), ddim-N, ddpm-N (diffusion), euler-N "
    "(flow-matching)";

// "sbs-128" with prefix "sbs" -> 128 (a whole number >= 1); "sbs" alone -> fallback; anything else -> -1.
int64_t count_after(const std::string& s, const std::string& prefix, int64_t fallback) {
  if (s == prefix) return fallback;
  if (s.rfind(prefix + "-", 0) != 0) return -1;
  const std::string n = s.substr(prefix.size() + 1);
  if (n.empty() || n.size() > 6 || n[0] == '0' || !std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return -1;
  return std::stoll(n);
}

struct Pooled {
  int64_t successes = 0, episodes = 0;
};
Pooled pool(const std::vector<CurvePoint>& p, size_t from, size_t to) {
  Pooled r;
  for (size_t i = from; i < to; ++i) r.successes += p[i].successes, r.episodes += p[i].episodes;
  return r;
}

}  // namespace

CurveSpec parse_curve_spec(const std::string& text) {
  CurveSpec c;
  c.name = text;
  const auto colon = text.find(':');
  c.head = text.substr(0, colon);
  if (colon != std::string::npos) c.sampling = text.substr(colon + 1);
  require(is_head_name(c.head), "curve '" + truncate_for_message(text) + "': unknown head '" +
                                    truncate_for_message(c.head) + "' (heads: " + [] {
                                      std::string s;
                                      for (const auto& h : head_names()) s += (s.empty() ? "" : ", ") + h;
                                      return s;
                                    }() + "); a curve is " + kForms);
  if (colon == std::string::npos) return c;
  const auto& traits = head_traits(c.head);
  const std::string& s = c.sampling;
  const auto bad = [&](const std::string& why) {
    return Error("curve '" + truncate_for_message(text) + "': " + why + "; a curve is " + kForms);
  };
  int64_t n = -1;
  if (s == "sample") {
    c.strategy = "sample";
  } else if ((n = count_after(s, "sbs", 128)) >= 0) {
    if (!traits.has_likelihood) throw bad("SBS needs a flow head's likelihood, '" + c.head + "' has none");
    c.strategy = "sbs", c.candidates = n;
  } else if ((n = count_after(s, "gr", 10)) >= 0) {
    if (!traits.has_likelihood) throw bad("gradient refinement needs a flow head's likelihood, '" + c.head + "' has none");
    c.strategy = "gr", c.gr_steps = n;
  } else if ((n = count_after(s, "ddim", 0)) >= 0 || (n = count_after(s, "ddpm", 0)) >= 0) {
    if (c.head != "diffusion") throw bad("DDIM / DDPM sample the diffusion head, not '" + c.head + "'");
    c.strategy = "sample", c.sampler = s.substr(0, 4), c.steps = n;  // "ddpm": the configured steps
  } else if ((n = count_after(s, "euler", 0)) >= 0) {
    if (c.head != "flow-matching") throw bad("Euler steps integrate the flow-matching head, not '" + c.head + "'");
    c.strategy = "sample", c.steps = n;
  } else {
    throw bad("unknown sampling '" + truncate_for_message(s) + "'");
  }
  return c;
}

void apply_curve_sampling(const CurveSpec& c, InferenceOptions& o) {
  if (!c.strategy.empty()) o.strategy = c.strategy;
  if (!c.sampler.empty()) o.sampler = c.sampler;
  if (c.candidates > 0) o.candidates = c.candidates;
  if (c.gr_steps >= 0) o.gr_steps = c.gr_steps;
  if (c.steps > 0) o.steps = c.steps;
}

bool plateaued(const std::vector<CurvePoint>& p, int window) {
  const size_t w = size_t(std::max(1, window));
  if (p.size() < 2 * w) return false;
  const Pooled last = pool(p, p.size() - w, p.size()), before = pool(p, p.size() - 2 * w, p.size() - w);
  if (last.episodes == 0 || before.episodes == 0) return false;
  const double last_pc = 100.0 * double(last.successes) / double(last.episodes);
  // below kMinPlateauPc the head has not started learning, which is no plateau; it trains on to the cap. Near zero
  // the interval is too narrow to see a start: diffusion sat at 0-4% on handover for 6,000 steps (one success in
  // 150 episodes "plateaued" it), and took 1,500 steps to leave 10% on lift.
  if (last_pc < kMinPlateauPc) return false;
  return last_pc <= wilson_interval(before.successes, before.episodes).hi;
}

CurveSummary summarize_curve(const std::vector<CurvePoint>& p, int window) {
  CurveSummary s;
  if (p.empty()) return s;
  const size_t w = std::min(p.size(), size_t(std::max(1, window)));
  const Pooled last = pool(p, p.size() - w, p.size());
  s.last_step = p.back().step;
  s.plateau_reached = plateaued(p, window);
  if (last.episodes > 0) {
    s.plateau_pc = 100.0 * double(last.successes) / double(last.episodes);
    const auto ci = wilson_interval(last.successes, last.episodes);
    s.plateau_lo = ci.lo, s.plateau_hi = ci.hi;
  }
  for (const auto& q : p)
    if (q.episodes > 0 && 100.0 * double(q.successes) / double(q.episodes) >= 0.9 * s.plateau_pc - 1e-9) {
      s.at_90pc = q;
      break;
    }
  return s;
}

}  // namespace nfp::bench
