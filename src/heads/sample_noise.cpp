// The noise every sampling head draws, per context row when a server batches several clients (SampleOptions).
#include "nfp/action_head.hpp"
#include "nfp/error.hpp"

namespace nfp {

torch::Tensor sample_noise(int64_t B, int64_t n, at::IntArrayRef sample_shape, const SampleOptions& options,
                           at::Generator& gen, const torch::TensorOptions& tensor_options) {
  auto shape = [&](int64_t rows) {
    std::vector<int64_t> s{rows};
    s.insert(s.end(), sample_shape.begin(), sample_shape.end());
    return s;
  };
  const auto opts = tensor_options.requires_grad(false);
  if (options.row_generators.empty()) return at::randn(shape(B * n), gen, opts);
  require(int64_t(options.row_generators.size()) == B,
          "sample: " + std::to_string(options.row_generators.size()) + " row generators for " + std::to_string(B) +
              " context rows");
  if (B == 1) return at::randn(shape(n), options.row_generators[0], opts);
  std::vector<torch::Tensor> blocks;
  blocks.reserve(size_t(B));
  for (auto g : options.row_generators) blocks.push_back(at::randn(shape(n), g, opts));
  return torch::cat(blocks, 0);
}

}  // namespace nfp
