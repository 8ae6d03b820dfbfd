#include "nfp/density_model.hpp"

#include <cmath>

#include "nfp/atomic_file.hpp"
#include "nfp/error.hpp"
#include "nfp/json_io.hpp"
#include "nfp/tensor_io.hpp"

namespace nfp {
namespace {

void column_stats(const Table& t, const std::vector<std::string>& cols, std::vector<double>& mean,
                  std::vector<double>& std) {
  mean.assign(cols.size(), 0.0);
  std.assign(cols.size(), 1.0);
  for (size_t c = 0; c < cols.size(); ++c) {
    const size_t k = t.column_index(cols[c], "the training data");
    double s = 0, s2 = 0;
    for (int64_t r = 0; r < t.rows(); ++r) s += t.at(r, k);
    const double m = s / double(t.rows());
    for (int64_t r = 0; r < t.rows(); ++r) s2 += (t.at(r, k) - m) * (t.at(r, k) - m);
    mean[c] = m;
    const double sd = std::sqrt(s2 / double(std::max<int64_t>(1, t.rows() - 1)));
    // Values near +-1e308 overflow the sums: a model with an Inf / NaN statistic would be saved and never load.
    require(std::isfinite(m) && std::isfinite(sd),
            "column " + quoted_value(cols[c]) + " cannot be standardized: its values are too large for double precision "
            "(the mean or std overflows, e.g. values near +-1e308); rescale that column");
    std[c] = sd > 1e-12 ? sd : 1.0;  // a constant column stays as is
  }
}

void require_finite_stats(const std::vector<double>& v, const char* name, bool positive) {
  for (double x : v)
    require(std::isfinite(x) && (!positive || x > 0),
            std::string("density config.json: normalization.") + name + " holds " +
                (positive ? "a value that is not finite and > 0" : "a non-finite value") + "; refit the model");
}

double cosine_lr(double base, int64_t step, int64_t total) {
  const int64_t warm = std::max<int64_t>(1, total / 50);
  if (step < warm) return base * double(step + 1) / double(warm);
  const double p = double(step - warm) / double(std::max<int64_t>(1, total - warm));
  return base * (0.01 + 0.99 * 0.5 * (1 + std::cos(M_PI * p)));
}

}  // namespace

void to_json(json& j, const DensityModelConfig& c) {
  j = json{{"type", "density"},
           {"flow", c.flow},
           {"columns", c.columns},
           {"context_columns", c.context_columns},
           {"normalization",
            {{"mean", c.mean}, {"std", c.std}, {"context_mean", c.context_mean}, {"context_std", c.context_std}}}};
}

void from_json(const json& j, DensityModelConfig& c) {
  require(j.is_object() && json_get<std::string>(j, "type", "", "density config.json") == "density",
          "config.json is not a density model (type must be \"density\"); was it written by `nfp density fit`?");
  try {
    c.flow = j.at("flow").get<FlowConfig>();
    c.columns = j.at("columns").get<std::vector<std::string>>();
    c.context_columns = j.at("context_columns").get<std::vector<std::string>>();
    const auto& n = j.at("normalization");
    c.mean = n.at("mean").get<std::vector<double>>();
    c.std = n.at("std").get<std::vector<double>>();
    c.context_mean = n.at("context_mean").get<std::vector<double>>();
    c.context_std = n.at("context_std").get<std::vector<double>>();
  } catch (const json::exception& e) {
    throw Error(std::string("density config.json is incomplete or malformed (") + e.what() + ")");
  }
  require(c.mean.size() == c.columns.size() && c.std.size() == c.columns.size() &&
              c.context_mean.size() == c.context_columns.size() && c.context_std.size() == c.context_columns.size() &&
              int64_t(c.columns.size()) == c.flow.dim && int64_t(c.context_columns.size()) == c.flow.context_dim,
          "density config.json: columns, normalization and flow sizes disagree");
  require_finite_stats(c.mean, "mean", false);
  require_finite_stats(c.std, "std", true);
  require_finite_stats(c.context_mean, "context_mean", false);
  require_finite_stats(c.context_std, "context_std", true);
}

DensityModel::DensityModel(const DensityModelConfig& config) : config_(config), flow_(config.flow) {}

torch::Tensor DensityModel::standardize(const Table& t, const std::vector<std::string>& cols,
                                        const std::vector<double>& mean, const std::vector<double>& std,
                                        const std::string& source) const {
  const Table s = t.select(cols, source);
  return standardize(torch::tensor(s.values, torch::kFloat64).view({s.rows(), int64_t(cols.size())}), mean, std);
}

torch::Tensor DensityModel::standardize(const torch::Tensor& x, const std::vector<double>& mean,
                                        const std::vector<double>& std) {
  const auto x64 = x.to(torch::kFloat64);
  return ((x64 - torch::tensor(mean, torch::kFloat64)) / torch::tensor(std, torch::kFloat64)).to(torch::kFloat32);
}

DensityModel DensityModel::fit(const Table& train, const std::vector<std::string>& columns,
                               const std::vector<std::string>& context_columns, FlowConfig flow,
                               const DensityFitOptions& o, const std::function<void(int64_t, double, double)>& on_step) {
  require(!columns.empty(), "no data columns to model; pass --columns");
  require(columns.size() >= 2, "a flow needs at least 2 data columns (got " + std::to_string(columns.size()) + ")");
  require(o.steps >= 1 && o.batch >= 1 && o.lr > 0, "steps, batch and lr must be positive");
  require(o.noise >= 0 && std::isfinite(o.noise), "noise must be a finite value >= 0");
  DensityModelConfig c;
  c.columns = columns;
  c.context_columns = context_columns;
  column_stats(train, columns, c.mean, c.std);
  column_stats(train, context_columns, c.context_mean, c.context_std);
  flow.dim = int64_t(columns.size());
  flow.context_dim = int64_t(context_columns.size());
  c.flow = flow;
  torch::manual_seed(o.seed);
  DensityModel m(c);
  auto x = m.standardize(train, columns, c.mean, c.std, "the training data");
  torch::Tensor ctx;
  if (!context_columns.empty()) ctx = m.standardize(train, context_columns, c.context_mean, c.context_std, "the training data");
  const double log_std_sum = [&] {
    double s = 0;
    for (double v : c.std) s += std::log(v);
    return s;
  }();

  std::vector<torch::Tensor> decay, no_decay;  // no weight decay on biases and norms (1-D tensors)
  for (auto& p : m.flow_->parameters()) (p.dim() <= 1 ? no_decay : decay).push_back(p);
  torch::optim::AdamW opt({torch::optim::OptimizerParamGroup(decay), torch::optim::OptimizerParamGroup(no_decay)},
                          torch::optim::AdamWOptions(o.lr).weight_decay(o.weight_decay));
  static_cast<torch::optim::AdamWOptions&>(opt.param_groups()[1].options()).weight_decay(0.0);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(o.seed + 1);
  const int64_t n = x.size(0), batch = std::min(o.batch, n);
  m.flow_->train();
  for (int64_t step = 0; step < o.steps; ++step) {
    const double lr = cosine_lr(o.lr, step, o.steps);
    for (auto& g : opt.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
    auto idx = at::randint(n, {batch}, gen, torch::kLong);
    auto xb = x.index_select(0, idx);
    if (o.noise > 0) xb = xb + o.noise * at::randn(xb.sizes(), gen, xb.options());
    auto loss = -m.flow_->log_prob(xb, ctx.defined() ? ctx.index_select(0, idx) : ctx).mean();
    require(std::isfinite(loss.item<double>()),
            "training diverged at step " + std::to_string(step) + " (loss is not finite); try a smaller --lr");
    opt.zero_grad();
    loss.backward();
    torch::nn::utils::clip_grad_norm_(m.flow_->parameters(), o.clip_grad);
    opt.step();
    if (on_step) on_step(step + 1, loss.item<double>() + log_std_sum, lr);
  }
  m.flow_->eval();
  return m;
}

std::vector<double> DensityModel::log_prob(const Table& data, const std::string& source) {
  const Table x = data.select(config_.columns, source);
  auto xt = torch::tensor(x.values, torch::kFloat64).view({x.rows(), int64_t(config_.columns.size())});
  torch::Tensor ctx;
  if (!config_.context_columns.empty()) {
    const Table c = data.select(config_.context_columns, source);
    ctx = torch::tensor(c.values, torch::kFloat64).view({c.rows(), int64_t(config_.context_columns.size())});
  }
  std::vector<double> out;
  out.reserve(size_t(xt.size(0)));
  for (int64_t b = 0; b < xt.size(0); b += 8192) {  // bounded memory on large files
    const int64_t len = std::min<int64_t>(8192, xt.size(0) - b);
    const auto lp = log_prob(xt.narrow(0, b, len), ctx.defined() ? ctx.narrow(0, b, len) : ctx).contiguous();
    const double* p = lp.data_ptr<double>();
    for (int64_t i = 0; i < len; ++i) {
      // Never a NaN result: a row so far out that float32 overflows has no usable log-likelihood.
      require(std::isfinite(p[i]), "'" + source + "' data row " + std::to_string(b + i + 1) +
                                       ": its log-likelihood is not finite (the row lies far outside the data the model "
                                       "was fit on, or overflows float32 once standardized)");
      out.push_back(p[i]);
    }
  }
  return out;
}

torch::Tensor DensityModel::log_prob(const torch::Tensor& x, const torch::Tensor& context) {
  require(x.dim() == 2 && x.size(1) == int64_t(config_.columns.size()),
          "density: expected rows of " + std::to_string(config_.columns.size()) + " values");
  require(config_.context_columns.empty() == !context.defined(), "density: the context does not match the model");
  torch::NoGradGuard ng;
  flow_->eval();
  const auto xs = standardize(x, config_.mean, config_.std);
  const auto cs = context.defined() ? standardize(context, config_.context_mean, config_.context_std) : context;
  double log_std_sum = 0;
  for (double v : config_.std) log_std_sum += std::log(v);
  return flow_->log_prob(xs, cs).to(torch::kFloat64) - log_std_sum;
}

Table DensityModel::sample(int64_t n, const std::vector<double>& context, double sigma, uint64_t seed) {
  require(context.size() == config_.context_columns.size(),
          "this model needs " + std::to_string(config_.context_columns.size()) + " context values, got " +
              std::to_string(context.size()));
  torch::NoGradGuard ng;
  flow_->eval();
  torch::Tensor ctx;
  if (!context.empty()) {
    auto c = torch::tensor(context, torch::kFloat64);
    ctx = ((c - torch::tensor(config_.context_mean, torch::kFloat64)) / torch::tensor(config_.context_std, torch::kFloat64))
              .to(torch::kFloat32)
              .unsqueeze(0);
  }
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto s = flow_->sample(ctx, n, sigma, gen).x.to(torch::kFloat64);
  s = s * torch::tensor(config_.std, torch::kFloat64) + torch::tensor(config_.mean, torch::kFloat64);
  Table t;
  t.columns = config_.columns;
  auto c = s.contiguous();
  t.values.assign(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
  for (size_t i = 0; i < t.values.size(); ++i)
    require(std::isfinite(t.values[i]), "sample " + std::to_string(i / config_.columns.size() + 1) +
                                            " is not finite (the flow overflowed float32; a smaller --sigma, or a "
                                            "context closer to the training data, keeps it in range)");
  return t;
}

void DensityModel::save(const std::filesystem::path& dir) const {
  write_json_file(dir / "config.json", json(config_));
  save_module(*flow_, dir / "model.safetensors", {{"format", "nfp-density"}});
}

DensityModel DensityModel::load(const std::filesystem::path& dir) {
  recover_staged_dir(dir);  // a `density fit --force` killed while replacing it
  require(std::filesystem::is_directory(dir),
          quoted(dir.string()) + " is not a model directory; pass the --out directory of `nfp density fit`");
  DensityModel m(read_json_file(dir / "config.json").get<DensityModelConfig>());
  load_module(*m.flow_, dir / "model.safetensors");
  m.flow_->eval();
  return m;
}

}  // namespace nfp
