// Diffusion Policy's ConditionalUnet1D (Chi et al. 2023): a 1-D convolutional UNet over the chunk's time
// axis whose residual blocks are FiLM-conditioned (per-channel scale and bias) on cat(time embedding, ctx).
// Levels: down_dims[0..L-1]; each level two residual blocks, then a stride-2 conv except at the last level;
// two middle blocks; the mirror path with skip connections and transposed-conv upsampling.
#include "denoisers.hpp"
#include "nfp/error.hpp"

namespace nfp {
namespace {

namespace nn = torch::nn;

// Conv1d -> GroupNorm(8) -> Mish
nn::Sequential conv_block(int64_t in, int64_t out, int64_t k) {
  return nn::Sequential(nn::Conv1d(nn::Conv1dOptions(in, out, k).padding(k / 2)),
                        nn::GroupNorm(nn::GroupNormOptions(std::min<int64_t>(8, out), out)), nn::Mish());
}

class ResBlockImpl : public nn::Module {
 public:
  ResBlockImpl(int64_t in, int64_t out, int64_t cond_dim, int64_t k) : out_(out) {
    block0_ = register_module("block0", conv_block(in, out, k));
    block1_ = register_module("block1", conv_block(out, out, k));
    film_ = register_module("film", nn::Linear(cond_dim, 2 * out));
    if (in != out) residual_ = register_module("residual", nn::Conv1d(nn::Conv1dOptions(in, out, 1)));
  }
  // x (B x in x T), cond (B x cond_dim) -> (B x out x T)
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cond) {
    auto h = block0_->forward(x);
    auto sb = film_->forward(torch::mish(cond)).unsqueeze(2);  // (B x 2out x 1)
    h = sb.narrow(1, 0, out_) * h + sb.narrow(1, out_, out_);
    h = block1_->forward(h);
    return h + (residual_ ? residual_->forward(x) : x);
  }

 private:
  int64_t out_;
  nn::Sequential block0_{nullptr}, block1_{nullptr};
  nn::Linear film_{nullptr};
  nn::Conv1d residual_{nullptr};
};
TORCH_MODULE(ResBlock);

class ConvUnetImpl : public DenoiserImpl {
 public:
  explicit ConvUnetImpl(const HeadConfig& c) : c_(c) {  // c passed check_denoiser
    const int64_t tdim = c.down_dims.front(), cond = tdim + c.context_dim, k = c.kernel;
    time_mlp_ = register_module("time_mlp", nn::Sequential(nn::Linear(tdim, 4 * tdim), nn::Mish(), nn::Linear(4 * tdim, tdim)));
    const int64_t L = int64_t(c.down_dims.size());
    int64_t in = c.action_dim;
    for (int64_t i = 0; i < L; ++i) {
      const int64_t out = c.down_dims[i];
      down_.push_back(register_module("down" + std::to_string(i) + "a", ResBlock(in, out, cond, k)));
      down_.push_back(register_module("down" + std::to_string(i) + "b", ResBlock(out, out, cond, k)));
      if (i < L - 1)
        downsample_.push_back(register_module("downsample" + std::to_string(i), nn::Conv1d(nn::Conv1dOptions(out, out, 3).stride(2).padding(1))));
      in = out;
    }
    mid_.push_back(register_module("mid0", ResBlock(in, in, cond, k)));
    mid_.push_back(register_module("mid1", ResBlock(in, in, cond, k)));
    for (int64_t i = L - 1; i >= 1; --i) {
      const int64_t out = c.down_dims[i - 1], skip = c.down_dims[i];
      up_.push_back(register_module("up" + std::to_string(i) + "a", ResBlock(in + skip, out, cond, k)));
      up_.push_back(register_module("up" + std::to_string(i) + "b", ResBlock(out, out, cond, k)));
      upsample_.push_back(register_module("upsample" + std::to_string(i), nn::ConvTranspose1d(nn::ConvTranspose1dOptions(out, out, 4).stride(2).padding(1))));
      in = out;
    }
    final_block_ = register_module("final_block", conv_block(in, in, k));
    final_conv_ = register_module("final_conv", nn::Conv1d(nn::Conv1dOptions(in, c.action_dim, 1)));
  }

  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& ctx) override {
    const int64_t T = x.size(1);
    auto cond = torch::cat({time_mlp_->forward(sinusoidal_embedding(t, c_.down_dims.front())), ctx}, 1);
    auto h = x.transpose(1, 2);  // (B x A x T)
    std::vector<torch::Tensor> skips;
    const size_t L = c_.down_dims.size();
    for (size_t i = 0; i < L; ++i) {
      h = down_[2 * i]->forward(h, cond);
      h = down_[2 * i + 1]->forward(h, cond);
      skips.push_back(h);
      if (i + 1 < L) h = downsample_[i]->forward(h);
    }
    h = mid_[1]->forward(mid_[0]->forward(h, cond), cond);
    for (size_t j = 0; j + 1 < L; ++j) {
      auto skip = skips[L - 1 - j];
      if (h.size(2) != skip.size(2)) h = h.narrow(2, 0, skip.size(2));  // odd lengths: trim the upsampled side
      h = up_[2 * j]->forward(torch::cat({h, skip}, 1), cond);
      h = up_[2 * j + 1]->forward(h, cond);
      h = upsample_[j]->forward(h);
    }
    h = final_conv_->forward(final_block_->forward(h.narrow(2, 0, T)));
    return h.transpose(1, 2).contiguous();
  }

 private:
  HeadConfig c_;
  nn::Sequential time_mlp_{nullptr}, final_block_{nullptr};
  nn::Conv1d final_conv_{nullptr};
  std::vector<ResBlock> down_, mid_, up_;
  std::vector<nn::Conv1d> downsample_;
  std::vector<nn::ConvTranspose1d> upsample_;
};

}  // namespace

Denoiser make_conv_unet(const HeadConfig& c) { return std::make_shared<ConvUnetImpl>(c); }

}  // namespace nfp
