#include "nfp/optim.hpp"

#include <cmath>

#include "nfp/error.hpp"

namespace nfp {

AdamW::AdamW(std::vector<std::pair<std::string, torch::Tensor>> params, AdamWOptions o) : params_(std::move(params)), o_(o) {
  for (auto& [name, p] : params_) {
    m_.push_back(torch::zeros_like(p));
    v_.push_back(torch::zeros_like(p));
  }
}

void AdamW::zero_grad() {
  for (auto& [name, p] : params_)
    if (p.grad().defined()) p.mutable_grad().zero_();
}

void AdamW::step(double lr) {
  torch::NoGradGuard ng;
  ++step_;
  const double c1 = 1 - std::pow(o_.beta1, double(step_)), c2 = 1 - std::pow(o_.beta2, double(step_));
  for (size_t i = 0; i < params_.size(); ++i) {
    auto& p = params_[i].second;
    if (!p.grad().defined()) continue;
    const auto& g = p.grad();
    if (p.dim() >= 2 && o_.weight_decay > 0) p.mul_(1 - lr * o_.weight_decay);
    m_[i].mul_(o_.beta1).add_(g, 1 - o_.beta1);
    v_[i].mul_(o_.beta2).addcmul_(g, g, 1 - o_.beta2);
    auto denom = (v_[i] / c2).sqrt_().add_(o_.eps);
    p.addcdiv_(m_[i], denom, -lr / c1);
  }
}

std::map<std::string, torch::Tensor> AdamW::state() const {
  std::map<std::string, torch::Tensor> s;
  for (size_t i = 0; i < params_.size(); ++i) {
    s["adam_m/" + params_[i].first] = m_[i];
    s["adam_v/" + params_[i].first] = v_[i];
  }
  return s;
}

void AdamW::load_state(const std::map<std::string, torch::Tensor>& s, int64_t steps) {
  torch::NoGradGuard ng;
  for (size_t i = 0; i < params_.size(); ++i) {
    for (auto [prefix, dst] : {std::pair{"adam_m/", &m_[i]}, std::pair{"adam_v/", &v_[i]}}) {
      auto it = s.find(prefix + params_[i].first);
      require(it != s.end() && it->second.sizes() == dst->sizes(),
              std::string("train state: optimizer entry ") + prefix + params_[i].first + " is missing or has the wrong shape");
      dst->copy_(it->second);
    }
  }
  step_ = steps;
}

std::vector<std::string> schedule_names() { return {"cosine", "tri-stage", "constant"}; }

double learning_rate(const ScheduleOptions& s, double peak, int64_t step, int64_t total) {
  const double warm = std::max(1.0, s.warmup * double(total));
  if (double(step) < warm) return peak * double(step + 1) / warm;
  if (s.kind == "constant") return peak;
  double start = warm;
  if (s.kind == "tri-stage") {
    start = warm + s.hold * double(total);
    if (double(step) < start) return peak;
  } else {
    require(s.kind == "cosine", "unknown lr schedule " + quoted_value(s.kind) + "; known: cosine, tri-stage, constant");
  }
  const double p = std::min(1.0, (double(step) - start) / std::max(1.0, double(total) - start));
  return peak * (s.final_ratio + (1 - s.final_ratio) * 0.5 * (1 + std::cos(M_PI * p)));
}

void ema_update(torch::nn::Module& ema, const torch::nn::Module& model, double decay, int64_t step) {
  torch::NoGradGuard ng;
  const double d = std::min(decay, (1.0 + double(step)) / (10.0 + double(step)));
  auto e = ema.parameters();
  auto m = model.parameters();
  for (size_t i = 0; i < e.size(); ++i) e[i].mul_(d).add_(m[i].detach(), 1 - d);
}

void copy_weights(torch::nn::Module& dst, const torch::nn::Module& src) {
  torch::NoGradGuard ng;
  auto d = dst.parameters();
  auto s = src.parameters();
  for (size_t i = 0; i < d.size(); ++i) d[i].copy_(s[i]);
  auto db = dst.buffers();
  auto sb = src.buffers();
  for (size_t i = 0; i < db.size(); ++i) db[i].copy_(sb[i]);
}

}  // namespace nfp
