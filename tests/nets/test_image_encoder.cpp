// Image encoders: output shapes across input sizes, widths and pools; random shift keeps shapes, moves pixels
// only in training and is the identity in evaluation.
#include <gtest/gtest.h>

#include "nfp/error.hpp"
#include "nfp/image_encoder.hpp"
#include "nfp/resnet.hpp"

using namespace nfp;

TEST(ImageEncoder, ConvShapesAcrossSizesAndPools) {
  for (int64_t size : {32, 84, 96, 57}) {
    for (const char* pool : {"flatten", "spatial_softmax", "avg"}) {
      ImageEncoderConfig c;
      c.type = "conv";
      c.pool = pool;
      c.feature_dim = 24;
      c.conv_channels = 8;
      ImageEncoder enc(c, size, size + 4);
      enc->eval();
      auto y = enc->forward(torch::rand({3, 3, size, size + 4}));
      EXPECT_EQ(y.sizes(), (std::vector<int64_t>{3, 24})) << size << " " << pool;
      EXPECT_TRUE(torch::isfinite(y).all().item<bool>());
    }
  }
}

// The default encoder must see a few-pixel object (lift's cube covers ~7 of 84 x 84 pixels): moving a 3 x 3
// red patch across a grey image changes the untrained features by a clear fraction of their norm. Measured:
// flatten 0.12, spatial softmax 0.07, average pooling 0.007; bound 0.02. (A lift policy trained with spatial
// softmax ended with features that moved ~1e-3 between episodes and ignored its camera.)
TEST(ImageEncoder, DefaultEncoderSeesASmallObjectMove) {
  torch::manual_seed(0);
  ImageEncoderConfig c;
  ImageEncoder enc(c, 84, 84);
  enc->eval();
  auto image = [](int64_t y, int64_t x) {
    auto im = torch::full({1, 3, 84, 84}, 0.5f);
    im.index_put_({0, 0, torch::indexing::Slice(y, y + 3), torch::indexing::Slice(x, x + 3)}, 0.9f);
    im.index_put_({0, 1, torch::indexing::Slice(y, y + 3), torch::indexing::Slice(x, x + 3)}, 0.1f);
    return im;
  };
  torch::NoGradGuard ng;
  auto a = enc->forward(image(20, 20)), b = enc->forward(image(60, 50));
  const double rel = ((a - b).norm() / a.norm()).item<double>();
  EXPECT_GT(rel, 0.02) << "features barely depend on where the object is";
}

TEST(ImageEncoder, ResNetShapesAcrossWidthsAndSizes) {
  for (double width : {0.125, 0.25, 0.5}) {
    for (int64_t size : {1, 16, 64, 84}) {
      ResNet18 net(ResNetOptions{width, 8});
      const int64_t expect_c = std::max<int64_t>(8, int64_t(std::lround(512 * width)));
      EXPECT_EQ(net->out_channels(), expect_c);
      auto f = net->forward(torch::rand({2, 3, size, size}));
      // stem conv, max pool and stages 2-4 each take n to (n - 1) / 2 + 1 (torchvision's arithmetic)
      int64_t s = size;
      for (int k = 0; k < 5; ++k) s = (s - 1) / 2 + 1;
      EXPECT_EQ(f.sizes(), (std::vector<int64_t>{2, expect_c, s, s})) << width << " " << size;
    }
  }
  ImageEncoderConfig c;
  c.type = "resnet18";
  c.width = 0.125;
  c.feature_dim = 32;
  ImageEncoder enc(c, 84, 84);
  EXPECT_EQ(enc->forward(torch::rand({2, 3, 84, 84})).sizes(), (std::vector<int64_t>{2, 32}));
}

TEST(ImageEncoder, FullWidthResNetHasTorchvisionParameterCount) {
  // torchvision resnet18 has 11,689,512 parameters; without fc (513,000) 11,176,512. GroupNorm has the same
  // affine parameter count as BatchNorm, so a width-1 net must match exactly.
  ResNet18 net(ResNetOptions{1.0, 32});
  int64_t n = 0;
  for (const auto& p : net->parameters()) n += p.numel();
  EXPECT_EQ(n, 11176512);
}

TEST(ImageEncoder, RejectsWrongInputAndUnknownNames) {
  ImageEncoderConfig c;
  ImageEncoder enc(c, 32, 32);
  EXPECT_THROW(enc->forward(torch::rand({1, 3, 31, 32})), Error);
  EXPECT_THROW(enc->forward(torch::rand({1, 1, 32, 32})), Error);
  c.type = "vgg";
  EXPECT_THROW(ImageEncoder(c, 32, 32), Error);
  c.type = "conv";
  c.pool = "max";
  EXPECT_THROW(ImageEncoder(c, 32, 32), Error);
}

TEST(RandomShift, KeepsShapeAndShiftsContent) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  auto x = torch::rand({16, 3, 20, 20});
  auto y = random_shift(x, 4, gen);
  EXPECT_EQ(y.sizes(), x.sizes());
  // with 81 possible offsets per image, 16 images all unshifted has probability 81^-16
  EXPECT_FALSE(torch::equal(x, y));
  // a shifted image is a window of the edge-padded original: its pixel values come from x
  EXPECT_LE(y.max().item<float>(), x.max().item<float>());
  EXPECT_TRUE(torch::equal(random_shift(x, 0, gen), x));
}

TEST(RandomShift, ActiveInTrainingOnly) {
  ImageEncoderConfig c;
  c.conv_channels = 4;
  c.shift_pad = 4;
  ImageEncoder enc(c, 24, 24);
  auto x = torch::rand({4, 3, 24, 24});
  enc->eval();
  auto a = enc->forward(x), b = enc->forward(x);
  EXPECT_TRUE(torch::equal(a, b)) << "evaluation must be deterministic (no shift)";
  enc->train();
  auto t1 = enc->forward(x), t2 = enc->forward(x);
  EXPECT_FALSE(torch::allclose(t1, t2)) << "training applies a random shift";
  enc->eval();
  EXPECT_TRUE(torch::equal(enc->forward(x), a));
}

TEST(SpatialSoftmax, FindsThePeak) {
  auto f = torch::full({1, 1, 5, 7}, -50.0f);
  f[0][0][4][0] = 50.0f;  // bottom-left: x = -1, y = +1
  auto k = spatial_softmax(f);
  EXPECT_NEAR(k[0][0].item<float>(), -1.0f, 1e-4);
  EXPECT_NEAR(k[0][1].item<float>(), 1.0f, 1e-4);
}
