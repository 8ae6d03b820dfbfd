// Where models, batches, encoders and inference strategies run: `--device cpu` (the default) | `cuda` | `cuda:N`
// on nfp train, eval, tune and bench. Checkpoints hold CPU tensors whatever the device (saving copies to the CPU,
// loading reads onto the CPU and then moves), so a checkpoint trained on a GPU loads anywhere. On the CPU every
// random stream is the one nfp used before devices existed, so results stay bit for bit the same.
//   torch::Device d = nfp::resolve_device("cuda:1");   // nfp::Error on a CPU-only libtorch
//   policy->to(d);
#pragma once
#include <torch/torch.h>

#include <string>

namespace nfp {

// "cpu" | "cuda" | "cuda:N" -> the device; an nfp::Error naming the accepted forms otherwise.
torch::Device parse_device(const std::string& text);
// parse_device, then checked against this build and machine: CUDA on a CPU-only libtorch, or a GPU index past
// the GPUs present, is an nfp::Error saying what to do.
torch::Device resolve_device(const std::string& text);
// The --device help text every command shows.
const char* device_help();

// A random stream on `device` seeded with `seed`: on the CPU exactly at::make_generator<CPUGeneratorImpl>(seed);
// on a GPU a CUDA generator (CUDA sampling needs one).
at::Generator make_generator(torch::Device device, uint64_t seed);
// The stream to sample with on `device`, from a CPU stream `cpu` (a runner's): `cpu` itself on the CPU; on a GPU a
// CUDA generator seeded with one draw of `cpu`, so an episode's draws still follow from its seed.
at::Generator generator_on(torch::Device device, at::Generator& cpu);

// The device of a module's first parameter (then buffer); the CPU when it has neither.
torch::Device module_device(const torch::nn::Module& module);

}  // namespace nfp
