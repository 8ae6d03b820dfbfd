// From the runtime config (JSON) and a source of named weights to a Model (private to src/runtime).
#pragma once
#include <string>
#include <vector>

#include "runtime/json_lite.hpp"
#include "runtime/model.hpp"

namespace nfp::rt {

struct WeightSource {
  virtual ~WeightSource() = default;
  // Throws LoadError when the name is missing or its shape differs.
  virtual std::vector<float> floats(const std::string& name, std::vector<int64_t> shape) = 0;
  virtual std::vector<int> indices(const std::string& name, int n) = 0;
  virtual bool has(const std::string& name) const = 0;
  virtual void touch(const std::string& name) = 0;  // present but not needed by the runtime
};

// A coupling's conditioner as a layer entry describes it ("conditioner": {...}).
struct ConditionerSpec {
  std::string type = "mlp";  // "mlp" | "transformer"
  int hidden = 256, depth = 2;
  int heads = 4, token_dim = 0;  // transformer: attention heads, A features per token
  bool positional = false, feedforward = false;
};

// Reads the networks' weights by name (model_nets.cpp); names are `prefix + name`.
struct NetBuilder {
  WeightSource& w;
  std::string prefix;

  Linear linear(const std::string& name, int out, int in);
  LayerNorm norm(const std::string& name, int dim);
  // torch::nn::Sequential numbering: Linear 3i, LayerNorm 3i+1, GELU 3i+2 (no weights), final Linear 3L.
  MlpNet encoder(int in, int hidden, int layers, int out);
  // A coupling's conditioner under `name`: x_cond (B x Dc), ctx (C) -> (B x Dt x P); `groups` output heads.
  Net net(const std::string& name, const ConditionerSpec& c, int Dc, int Dt, int P, int C, int groups);

 private:
  MlpNet mlp(const std::string& n, int Dc, int C, int hidden, int depth, int out);
  Attention attention(const std::string& n, int H, int heads);
  TransformerNet transformer(const std::string& n, const ConditionerSpec& c, int Dc, int Dt, int P, int C, int groups);
};

// A Linear from torch's weight (out x in, row-major) and bias (out; empty = zeros).
Linear make_linear(const std::vector<float>& w, std::vector<float> b, int out, int in);

// A policy's camera / instruction encoders and the layout of the state MLP's input (model_encoders.cpp), from the
// config's "encoder" section; state_floats = the caller's state vector (obs_dim). Returns the MLP input width.
int read_policy_input(PolicyInput& in, const JsonValue& encoder, int state_floats, int history, int action_dim,
                      int context_dim, WeightSource& weights);

// The config's format and version (this runtime reads format 3); throws LoadError with a re-export hint for
// older files. build_model calls it first; the loader too, before it verifies the checksum.
void check_format(const JsonValue& config);
void build_model(Model& m, const JsonValue& config, WeightSource& weights);

}  // namespace nfp::rt
