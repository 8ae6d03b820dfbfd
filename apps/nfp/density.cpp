// `nfp density {fit,logprob,sample}`: a normalizing-flow density tool over CSV columns.
#include <chrono>
#include <cmath>
#include <iostream>
#include <optional>

#include "command.hpp"
#include "nfp/atomic_file.hpp"
#include "nfp/density_model.hpp"
#include "nfp/error.hpp"
#include "nfp/progress.hpp"
#include "nfp/runtime_setup.hpp"
#include "nfp/toy_densities.hpp"

namespace nfp::cli {
namespace {

struct FitArgs {
  std::string data, test, toy, columns, context_columns, flow = "spline", out;
  int64_t toy_samples = 20000, layers = 0, hidden = 0, bins = 8;
  int threads = kDefaultThreads;
  double bound = 4.0;
  bool plu = false, json_out = false, force = false;
  DensityFitOptions fit;
};

Table toy_table(const ToyDensity& d, int64_t n, uint64_t seed) {
  Table t;
  t.columns = {"x", "y"};
  t.values = d.sample(n, seed);
  return t;
}

FlowConfig flow_config(const FitArgs& a) {
  FlowConfig f;
  f.coupling = a.flow;
  require(a.flow == "affine" || a.flow == "spline", "--flow must be affine or spline (got '" + a.flow + "')");
  f.layers = a.layers > 0 ? a.layers : (a.flow == "spline" ? 6 : 10);
  f.conditioner.hidden = a.hidden > 0 ? a.hidden : 128;
  f.conditioner.zero_init = a.flow == "spline";  // start at the identity: stable spline training
  f.permutation = "reverse";  // alternate halves; a random permutation of few columns may repeat a split
  f.plu = a.plu;
  f.spline.bins = a.bins;
  f.spline.bound = a.bound;  // data are standardized, so +-4 holds all but the far tails
  f.seed = a.fit.seed;
  return f;
}

double mean_nll(const std::vector<double>& lp) {
  double s = 0;
  for (double v : lp) s -= v;
  return s / double(lp.size());
}

void run_fit(const FitArgs& a) {
  require(a.data.empty() != a.toy.empty(), "pass exactly one of --data FILE.csv or --toy NAME");
  refuse_existing_output(a.out, a.force);  // before reading or fitting anything
  configure_threads(a.threads);
  Table train, test;
  double entropy = NAN;
  std::vector<std::string> columns = split_names(a.columns), context = split_names(a.context_columns);
  if (!a.toy.empty()) {
    const auto& d = toy_density(a.toy);
    require(context.empty(), "--context-columns does not apply to --toy data (toy densities are unconditional)");
    train = toy_table(d, a.toy_samples, a.fit.seed);
    test = toy_table(d, 10000, a.fit.seed + 1000003);
    entropy = toy_entropy(d);
  } else {
    train = read_csv(a.data);
    if (!a.test.empty()) test = read_csv(a.test);
  }
  const std::string source = a.toy.empty() ? a.data : "--toy " + a.toy;
  for (const auto& c : context) train.column_index(c, source);
  if (columns.empty()) {
    for (const auto& c : train.columns)
      if (std::find(context.begin(), context.end(), c) == context.end()) columns.push_back(c);
  }
  for (const auto& c : columns) train.column_index(c, source);

  StagedDir out(a.out);  // nothing appears at --out unless the whole fit succeeds
  const auto t0 = std::chrono::steady_clock::now();
  std::optional<Progress> bar;  // started by the first step: bad data fails with its one line, no progress line
  double last_loss = NAN;
  auto model = DensityModel::fit(train, columns, context, flow_config(a), a.fit, [&](int64_t step, double loss, double lr) {
    if (!bar) bar.emplace("fit", a.fit.steps, true);
    last_loss = loss;
    bar->update(step, {{"nll", loss}, {"lr", lr}});
  });
  if (bar) bar->finish();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  json result = {{"out", a.out}, {"flow", a.flow}, {"steps", a.fit.steps}, {"seconds", seconds},
                 {"params", count_parameters(*model.flow())}, {"train_nll", mean_nll(model.log_prob(train, source))}};
  if (test.rows() > 0) result["test_nll"] = mean_nll(model.log_prob(test, a.test.empty() ? source : a.test));
  if (std::isfinite(entropy)) result["entropy"] = entropy;
  model.save(out.path());
  write_json_file(out.path() / "metrics.json", result);
  out.commit();
  std::cout << "saved " << a.out << " (" << result["params"] << " parameters, " << format_duration(seconds) << ")\n";
  std::cout << "train NLL " << result["train_nll"].get<double>() << " nats/sample";
  if (result.contains("test_nll")) std::cout << ", test NLL " << result["test_nll"].get<double>();
  if (result.contains("entropy")) std::cout << ", true entropy " << entropy;
  std::cout << "\n";
  if (a.json_out) print_json_line(result.dump());
}

void setup_fit(CLI::App& parent) {
  auto a = std::make_shared<FitArgs>();
  auto* c = parent.add_subcommand("fit", "Fit a normalizing flow to CSV columns (or a toy density)");
  c->add_option("--data", a->data, "training CSV (header row, numeric cells)");
  c->add_option("--toy", a->toy, "a built-in 2-D density instead of --data: two-moons, 8-gaussians, checkerboard, rings");
  c->add_option("--toy-samples", a->toy_samples, "training samples drawn from --toy")->capture_default_str()
      ->check(whole(2, 100000000));
  c->add_option("--test", a->test, "held-out CSV: its NLL is reported");
  c->add_option("--columns", a->columns, "data columns, comma-separated, a name holding a comma in double quotes as in the CSV (default: all but the context columns)");
  c->add_option("--context-columns", a->context_columns, "columns to condition on (a conditional density p(x | c))");
  c->add_option("--flow", a->flow, "coupling: affine (NinA) or spline (NF-P)")->capture_default_str();
  c->add_option("--layers", a->layers, "coupling layers (default 6 spline, 10 affine)")->check(whole(1, 256));
  c->add_option("--hidden", a->hidden, "conditioner width (default 128)")->check(whole(1, 65536));
  c->add_option("--bins", a->bins, "spline bins")->capture_default_str()->check(whole(2, 64));
  c->add_option("--bound", a->bound, "spline bound in standardized units")->capture_default_str()
      ->check(positive_real(1e6));
  c->add_flag("--plu", a->plu, "add an invertible PLU linear layer after each coupling");
  c->add_option("--steps", a->fit.steps, "optimizer steps")->capture_default_str()->check(whole(1, 1000000000));
  c->add_option("--batch", a->fit.batch, "batch size")->capture_default_str()->check(whole(1, 10000000));
  c->add_option("--lr", a->fit.lr, "peak learning rate (AdamW, cosine)")->capture_default_str()
      ->check(positive_real(10));
  c->add_option("--seed", a->fit.seed, "seed for data order, initialisation and toy samples")->capture_default_str()
      ->check(seed_value());
  add_threads_option(*c, a->threads);
  c->add_option("--out", a->out, "output directory (config.json, model.safetensors, metrics.json)")->required();
  add_force_flag(*c, a->force);
  c->add_flag("--json", a->json_out, "print one JSON result object as the last line");
  c->callback([a] { run_fit(*a); });
}

void setup_logprob(CLI::App& parent) {
  struct Args {
    std::string model, data, out;
    int threads = kDefaultThreads;
    bool json_out = false;
  };
  auto a = std::make_shared<Args>();
  auto* c = parent.add_subcommand("logprob", "Log-likelihood of CSV rows under a fitted model");
  c->add_option("--model", a->model, "directory written by `nfp density fit`")->required();
  c->add_option("--data", a->data, "CSV with the model's columns")->required();
  c->add_option("--out", a->out, "write per-row log_prob to this CSV");
  add_threads_option(*c, a->threads);
  c->add_flag("--json", a->json_out, "print one JSON result object ({\"nll\": ...}) as the last line");
  c->callback([a] {
    configure_threads(a->threads);
    auto model = DensityModel::load(a->model);
    const auto lp = model.log_prob(read_csv(a->data), a->data);
    if (!a->out.empty()) {
      Table t;
      t.columns = {"log_prob"};
      t.values = lp;
      write_csv(a->out, t);
    }
    const double nll = mean_nll(lp);
    std::cout << "mean NLL " << nll << " nats/sample over " << lp.size() << " rows\n";
    if (a->json_out) print_json_line(json{{"nll", nll}, {"rows", lp.size()}}.dump());
  });
}

void setup_sample(CLI::App& parent) {
  struct Args {
    std::string model, out;
    int64_t n = 1000;
    double sigma = 1.0;
    uint64_t seed = 0;
    int threads = kDefaultThreads;
    std::vector<std::string> context;
    bool json_out = false;
  };
  auto a = std::make_shared<Args>();
  auto* c = parent.add_subcommand("sample", "Draw samples from a fitted model");
  c->add_option("--model", a->model, "directory written by `nfp density fit`")->required();
  c->add_option("-n,--num", a->n, "number of samples")->capture_default_str()->check(whole(1, 100000000));
  c->add_option("--context", a->context, "context values as name=value (one per context column)");
  c->add_option("--sigma", a->sigma, "std of the base Gaussian (1 = the model; < 1 = more typical samples)")
      ->capture_default_str()->check(non_negative_real(100));
  c->add_option("--seed", a->seed, "sampling seed")->capture_default_str()->check(seed_value());
  add_threads_option(*c, a->threads);
  c->add_option("--out", a->out, "output CSV (header = the model's columns)")->required();
  c->add_flag("--json", a->json_out, "print one JSON result object as the last line");
  c->callback([a] {
    require(a->n >= 1, "-n must be >= 1");
    configure_threads(a->threads);
    auto model = DensityModel::load(a->model);
    const auto& names = model.config().context_columns;
    std::vector<double> ctx(names.size(), NAN);
    for (const auto& kv : a->context) {
      const auto eq = kv.find('=');
      require(eq != std::string::npos, "--context expects name=value, got '" + kv + "'");
      const std::string name = kv.substr(0, eq);
      const auto it = std::find(names.begin(), names.end(), name);
      std::string known;
      for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
      require(it != names.end(), "unknown context column '" + name + "'; this model's context columns: " +
                                     (known.empty() ? "(none: the model is unconditional)" : known));
      char* end = nullptr;
      const double v = std::strtod(kv.c_str() + eq + 1, &end);
      require(*end == '\0' && eq + 1 < kv.size() && std::isfinite(v), "--context " + name + ": not a finite number");
      ctx[size_t(it - names.begin())] = v;
    }
    for (size_t i = 0; i < ctx.size(); ++i)
      require(std::isfinite(ctx[i]), "missing --context " + names[i] + "=VALUE (the model is conditional)");
    write_csv(a->out, model.sample(a->n, ctx, a->sigma, a->seed));
    std::cout << "wrote " << a->n << " samples to " << a->out << "\n";
    if (a->json_out) print_json_line(json{{"out", a->out}, {"n", a->n}}.dump());
  });
}

void setup_density(CLI::App& root) {
  auto* d = root.add_subcommand("density", "Normalizing-flow density estimation on CSV data (fit, logprob, sample)");
  d->require_subcommand(1);
  setup_fit(*d);
  setup_logprob(*d);
  setup_sample(*d);
}

}  // namespace

NFP_COMMAND("density", setup_density);

}  // namespace nfp::cli
