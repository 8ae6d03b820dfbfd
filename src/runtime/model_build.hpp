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

void build_model(Model& m, const JsonValue& config, WeightSource& weights);

}  // namespace nfp::rt
