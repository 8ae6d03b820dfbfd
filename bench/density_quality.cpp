#include <cmath>

#include "bench_flow.hpp"
#include "nfp/density_model.hpp"
#include "nfp/progress.hpp"
#include "nfp/toy_densities.hpp"

namespace nfp::bench {

nlohmann::json density_quality(const DensityQualityOptions& o) {
  nlohmann::json out = {{"steps", o.steps}, {"batch", o.batch}, {"samples", o.samples}, {"results", nlohmann::json::array()}};
  for (const auto& toy : o.toys) {
    const auto& d = toy_density(toy);
    const double entropy = toy_entropy(d);
    Table train, test;
    train.columns = test.columns = {"x", "y"};
    train.values = d.sample(o.samples, o.seed);
    test.values = d.sample(10000, o.seed + 1000003);  // the same held-out set as `nfp density fit --toy`
    for (const auto& flow : o.flows) {
      FlowConfig f;  // the `nfp density fit` defaults
      f.coupling = flow;
      f.layers = flow == "spline" ? 6 : 10;
      f.conditioner.hidden = 128;
      f.conditioner.zero_init = flow == "spline";
      f.permutation = "reverse";
      f.spline.bound = 4.0;
      DensityFitOptions fo;
      fo.steps = o.steps;
      fo.batch = o.batch;
      fo.seed = o.seed;
      Progress bar(toy + " " + flow, o.steps);
      auto m = DensityModel::fit(train, {"x", "y"}, {}, f, fo, [&](int64_t s, double l, double) { bar.update(s, {{"nll", l}}); });
      bar.finish();
      double nll = 0;
      for (double v : m.log_prob(test, toy)) nll -= v;
      nll /= double(test.rows());
      out["results"].push_back({{"toy", toy}, {"flow", flow}, {"params", count_parameters(*m.flow())},
                                {"test_nll", nll}, {"entropy", entropy}, {"gap", nll - entropy},
                                {"seconds", bar.elapsed_s()}});
    }
  }
  return out;
}

}  // namespace nfp::bench
