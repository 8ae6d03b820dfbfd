// TrainConfig <-> JSON and the default configs per head.
#include "nfp/error.hpp"
#include "nfp/head_registry.hpp"
#include "nfp/trainer.hpp"

namespace nfp {

void to_json(json& j, const TrainConfig& c) {
  j = json{{"steps", c.steps},
           {"batch", c.batch},
           {"lr", c.lr},
           {"beta1", c.adamw.beta1},
           {"beta2", c.adamw.beta2},
           {"weight_decay", c.adamw.weight_decay},
           {"schedule", c.schedule.kind},
           {"warmup", c.schedule.warmup},
           {"hold", c.schedule.hold},
           {"final_lr_ratio", c.schedule.final_ratio},
           {"ema", c.ema},
           {"clip_grad", c.clip_grad},
           {"checkpoint_every", c.checkpoint_every},
           {"keep_checkpoints", c.keep_checkpoints},
           {"validate_every", c.validate_every},
           {"log_every", c.log_every},
           {"filter", c.filter},
           {"valid_filter", c.valid_filter},
           {"valid_fraction", c.valid_fraction},
           {"seed", c.seed},
           {"deterministic", c.deterministic},
           {"threads", c.threads}};
}

void from_json(const json& j, TrainConfig& c) {
  const std::string w = "train config";
  require_known_keys(j, json_keys(json(c)), w);
  c.steps = json_get(j, "steps", c.steps, w);
  c.batch = json_get(j, "batch", c.batch, w);
  c.lr = json_get(j, "lr", c.lr, w);
  c.adamw.beta1 = json_get(j, "beta1", c.adamw.beta1, w);
  c.adamw.beta2 = json_get(j, "beta2", c.adamw.beta2, w);
  c.adamw.weight_decay = json_get(j, "weight_decay", c.adamw.weight_decay, w);
  c.schedule.kind = json_get(j, "schedule", c.schedule.kind, w);
  c.schedule.warmup = json_get(j, "warmup", c.schedule.warmup, w);
  c.schedule.hold = json_get(j, "hold", c.schedule.hold, w);
  c.schedule.final_ratio = json_get(j, "final_lr_ratio", c.schedule.final_ratio, w);
  c.ema = json_get(j, "ema", c.ema, w);
  c.clip_grad = json_get(j, "clip_grad", c.clip_grad, w);
  c.checkpoint_every = json_get(j, "checkpoint_every", c.checkpoint_every, w);
  c.keep_checkpoints = json_get(j, "keep_checkpoints", c.keep_checkpoints, w);
  c.validate_every = json_get(j, "validate_every", c.validate_every, w);
  c.log_every = json_get(j, "log_every", c.log_every, w);
  c.filter = json_get(j, "filter", c.filter, w);
  c.valid_filter = json_get(j, "valid_filter", c.valid_filter, w);
  c.valid_fraction = json_get(j, "valid_fraction", c.valid_fraction, w);
  c.seed = json_get(j, "seed", c.seed, w);
  c.deterministic = json_get(j, "deterministic", c.deterministic, w);
  c.threads = json_get(j, "threads", c.threads, w);
}

TrainConfig default_train_config(const std::string& type) {
  TrainConfig c;
  // The head's registry entry carries its changes to the defaults as TrainConfig JSON keys (unknown heads
  // fail there, listing the heads); e.g. the NinA heads' tri-stage schedule, lr 5e-4, AdamW beta2 0.95.
  from_json(head_train_defaults(type), c);
  return c;
}

PolicyConfig default_policy_config(const std::string& type) {
  PolicyConfig p;
  p.head = default_head_config(type, p.horizon, 0, p.context_dim);
  p.instruction_tokens = head_traits(type).reads_context_tokens;  // used only with "instruction" in obs
  return p;
}

}  // namespace nfp
