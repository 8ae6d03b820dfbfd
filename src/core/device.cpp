// Devices and their random streams (nfp/device.hpp).
#include "nfp/device.hpp"

#include <ATen/CPUGeneratorImpl.h>

#include <mutex>

#include "nfp/error.hpp"

namespace nfp {

const char* device_help() {
  return "cpu (default) | cuda | cuda:N: where models, batches and sampling run (CUDA needs nfp built against a CUDA "
         "libtorch; checkpoints are saved from CPU copies and load anywhere)";
}

torch::Device parse_device(const std::string& text) {
  const std::string usage = "--device: expected cpu, cuda or cuda:N (N a GPU index), got " + quoted(text);
  if (text == "cpu") return torch::kCPU;
  if (text == "cuda") return torch::Device(torch::kCUDA);
  const std::string prefix = "cuda:";
  require(text.rfind(prefix, 0) == 0, usage);
  const std::string index = text.substr(prefix.size());
  require(!index.empty() && index.size() <= 2 && index.find_first_not_of("0123456789") == std::string::npos, usage);
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(std::stoi(index)));
}

torch::Device resolve_device(const std::string& text) {
  const torch::Device d = parse_device(text);
  if (d.is_cpu()) return d;
  require(torch::cuda::is_available(),
          "--device " + text + ": this nfp was built against a CPU-only libtorch; rebuild against CUDA libtorch "
          "(README, GPUs)");
  const int64_t n = int64_t(torch::cuda::device_count());
  require(!d.has_index() || d.index() < n, "--device " + text + ": this machine has " + std::to_string(n) +
                                               " GPU(s), cuda:0 to cuda:" + std::to_string(n - 1));
  return d;
}

at::Generator make_generator(torch::Device device, uint64_t seed) {
  if (device.is_cpu()) return at::make_generator<at::CPUGeneratorImpl>(seed);
  at::Generator g = at::globalContext().defaultGenerator(device).clone();  // an independent stream of that GPU
  g.set_current_seed(seed);
  return g;
}

at::Generator generator_on(torch::Device device, at::Generator& cpu) {
  if (device.is_cpu()) return cpu;
  uint64_t seed = 0;
  {
    std::lock_guard<std::mutex> lock(cpu.mutex());
    seed = cpu.get<at::CPUGeneratorImpl>()->random64();
  }
  return make_generator(device, seed);
}

torch::Device module_device(const torch::nn::Module& module) {
  for (const auto& p : module.parameters()) return p.device();
  for (const auto& b : module.buffers()) return b.device();
  return torch::kCPU;
}

}  // namespace nfp
