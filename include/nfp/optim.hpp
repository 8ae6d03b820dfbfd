// The trainer's optimizer pieces: AdamW (decoupled weight decay, none on biases and norms), learning-rate
// schedules and EMA weights. AdamW is written here (40 lines) rather than taken from torch::optim so that its
// state is plain named tensors that a checkpoint saves and a resume restores bit for bit.
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

namespace nfp {

struct AdamWOptions {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 1e-4;  // applied to tensors of 2+ dimensions only (not to biases, norms, PLU diagonals)
};

class AdamW {
 public:
  // Named parameters of a module (named_parameters()).
  AdamW(std::vector<std::pair<std::string, torch::Tensor>> params, AdamWOptions options);
  void zero_grad();
  void step(double lr);  // one update with the gradients in .grad()
  int64_t steps() const { return step_; }
  // State as named tensors ("adam_m/<name>", "adam_v/<name>") and back.
  std::map<std::string, torch::Tensor> state() const;
  void load_state(const std::map<std::string, torch::Tensor>& state, int64_t steps);

 private:
  std::vector<std::pair<std::string, torch::Tensor>> params_;
  std::vector<torch::Tensor> m_, v_;
  AdamWOptions o_;
  int64_t step_ = 0;
};

struct ScheduleOptions {
  std::string kind = "cosine";  // cosine | tri-stage | constant
  double warmup = 0.05;         // fraction of steps of linear warm-up (all kinds)
  double hold = 0.10;           // tri-stage: fraction held at the peak after warm-up (NinA: 5% / 10% / 85%)
  double final_ratio = 0.01;    // cosine / tri-stage: last lr = peak * final_ratio
};
// Learning rate of step `step` (0-based) of `total`. Error on an unknown kind.
double learning_rate(const ScheduleOptions& s, double peak, int64_t step, int64_t total);
std::vector<std::string> schedule_names();

// Exponential moving average of a module's parameters (buffers are copied), with the usual warm-up
// decay_t = min(decay, (1 + t) / (10 + t)) so a short run's EMA is not dominated by its initialisation.
void ema_update(torch::nn::Module& ema, const torch::nn::Module& model, double decay, int64_t step);
void copy_weights(torch::nn::Module& dst, const torch::nn::Module& src);

}  // namespace nfp
