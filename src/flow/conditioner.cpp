// Conditioner factory, context pooling and config JSON.
#include "nfp/conditioner.hpp"
#include "nfp/error.hpp"
#include "flow/conditioners.hpp"

namespace nfp {

torch::Tensor pool_context(const torch::Tensor& ctx) {
  require(ctx.defined(), "this flow is conditional but no context was given");
  return ctx.dim() == 3 ? ctx.mean(1) : ctx;
}

Conditioner make_conditioner(const ConditionerConfig& config, const ConditionerShape& shape) {
  if (config.type == "mlp") return std::make_shared<MlpConditionerImpl>(config, shape);
  if (config.type == "transformer") return std::make_shared<TransformerConditionerImpl>(config, shape);
  throw Error("unknown conditioner " + quoted_value(config.type) + "; known: mlp, transformer");
}

void to_json(json& j, const ConditionerConfig& c) {
  j = json{{"type", c.type},       {"hidden", c.hidden},   {"depth", c.depth},
           {"zero_init", c.zero_init}, {"dropout", c.dropout}, {"heads", c.heads},
           {"positional", c.positional}, {"feedforward", c.feedforward}};
}

void from_json(const json& j, ConditionerConfig& c) {
  const ConditionerConfig d;
  const std::string w = "conditioner config";
  c.type = json_get(j, "type", d.type, w);
  c.hidden = json_get(j, "hidden", d.hidden, w);
  c.depth = json_get(j, "depth", d.depth, w);
  c.zero_init = json_get(j, "zero_init", d.zero_init, w);
  c.dropout = json_get(j, "dropout", d.dropout, w);
  c.heads = json_get(j, "heads", d.heads, w);
  c.positional = json_get(j, "positional", d.positional, w);
  c.feedforward = json_get(j, "feedforward", d.feedforward, w);
}

}  // namespace nfp
