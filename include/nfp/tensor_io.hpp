// torch::Tensor <-> safetensors, and whole-module save/load with strict key and shape checks.
#pragma once
#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <string>

#include "nfp/safetensors.hpp"

namespace nfp {

SafeTensor to_safetensor(const torch::Tensor& t);    // contiguous CPU copy
torch::Tensor from_safetensor(const SafeTensor& t);  // owns its memory

// Saves every parameter and buffer of `module` under its dotted name.
void save_module(const torch::nn::Module& module, const std::filesystem::path& path,
                 const std::map<std::string, std::string>& metadata = {});
// Loads into `module`; every parameter and buffer must be present with the same shape, and the file must hold
// nothing else; otherwise nfp::Error names the key. Values are converted to the module's dtype and device.
void load_module(torch::nn::Module& module, const std::filesystem::path& path);
// The same from an in-memory file (`source` names it in errors).
void load_module(torch::nn::Module& module, const SafeTensorsFile& file, const std::string& source);

}  // namespace nfp
