#include "nfp/tensor_io.hpp"

#include <cstring>
#include <set>
#include <sstream>

#include "nfp/error.hpp"

namespace nfp {
namespace {

struct DtypeName {
  torch::ScalarType type;
  const char* name;
};
constexpr DtypeName kDtypes[] = {
    {torch::kFloat32, "F32"}, {torch::kFloat64, "F64"}, {torch::kFloat16, "F16"}, {torch::kBFloat16, "BF16"},
    {torch::kInt64, "I64"},   {torch::kInt32, "I32"},   {torch::kInt16, "I16"},   {torch::kInt8, "I8"},
    {torch::kUInt8, "U8"},    {torch::kBool, "BOOL"}};

std::string shape_str(c10::IntArrayRef s) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  return o.str() + "]";
}

}  // namespace

SafeTensor to_safetensor(const torch::Tensor& t) {
  SafeTensor out;
  const auto type = t.scalar_type();
  for (const auto& d : kDtypes)
    if (d.type == type) out.dtype = d.name;
  require(!out.dtype.empty(), std::string("cannot save a tensor of dtype ") + c10::toString(type));
  const torch::Tensor c = t.detach().to(torch::kCPU).contiguous();
  out.shape.assign(c.sizes().begin(), c.sizes().end());
  const size_t bytes = size_t(c.numel()) * c.element_size();
  out.data.resize(bytes);
  if (bytes) std::memcpy(out.data.data(), c.data_ptr(), bytes);
  return out;
}

torch::Tensor from_safetensor(const SafeTensor& t) {
  for (const auto& d : kDtypes) {
    if (t.dtype == d.name) {
      torch::Tensor out = torch::empty(t.shape, torch::TensorOptions().dtype(d.type));
      if (!t.data.empty()) std::memcpy(out.data_ptr(), t.data.data(), t.data.size());
      return out;
    }
  }
  throw Error("safetensors dtype '" + t.dtype + "' is not supported by nfp");
}

void save_module(const torch::nn::Module& module, const std::filesystem::path& path,
                 const std::map<std::string, std::string>& metadata) {
  SafeTensorsFile file;
  file.metadata = metadata;
  for (const auto& p : module.named_parameters(true)) file.tensors[p.key()] = to_safetensor(p.value());
  for (const auto& b : module.named_buffers(true)) file.tensors[b.key()] = to_safetensor(b.value());
  write_safetensors(path, file);
}

void load_module(torch::nn::Module& module, const SafeTensorsFile& file, const std::string& source) {
  std::set<std::string> expected;
  torch::NoGradGuard no_grad;
  auto assign = [&](const std::string& name, torch::Tensor& target) {
    expected.insert(name);
    const auto it = file.tensors.find(name);
    require(it != file.tensors.end(),
            "'" + source + "' lacks the weight '" + name + "' (was it saved by a model with another config?)");
    const torch::Tensor value = from_safetensor(it->second);
    require(value.sizes() == target.sizes(), "'" + source + "': weight '" + name + "' has shape " +
                                                 shape_str(value.sizes()) + " but the model expects " +
                                                 shape_str(target.sizes()));
    target.copy_(value.to(target.options()));
  };
  for (auto& p : module.named_parameters(true)) assign(p.key(), p.value());
  for (auto& b : module.named_buffers(true)) assign(b.key(), b.value());
  for (const auto& [name, t] : file.tensors) {
    require(expected.count(name) == 1,
            "'" + source + "' holds the weight '" + name + "' that the model does not have (another config?)");
  }
}

void load_module(torch::nn::Module& module, const std::filesystem::path& path) {
  load_module(module, read_safetensors(path), path.string());
}

}  // namespace nfp
