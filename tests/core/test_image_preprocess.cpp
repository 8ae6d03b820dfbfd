// Image resize and crops (nfp/image_preprocess.hpp): exact values on small known images, crop windows (centre,
// random: in bounds, deterministic, covering every offset), H[,W] parsing and its errors, and prepare_image as
// the runner uses it (old checkpoints: the image as is; resize + centre crop otherwise).
#include <gtest/gtest.h>

#include <set>

#include "nfp/error.hpp"
#include "nfp/image_preprocess.hpp"

namespace nfp {
namespace {

std::vector<uint8_t> resized(const std::vector<uint8_t>& src, ImageSize from, ImageSize to, int64_t C = 1) {
  std::vector<uint8_t> out(size_t(to.height * to.width * C));
  resize_image(src.data(), from, C, out.data(), to);
  return out;
}

std::string error_of(const std::string& text) {
  try {
    parse_image_size(text, "--crop");
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// An RGB image whose pixel (y, x) is (y, x, 7): a crop's first pixel tells where the window is.
Image coordinates(int h, int w) {
  Image im{h, w, {}};
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) im.pixels.insert(im.pixels.end(), {uint8_t(y), uint8_t(x), 7});
  return im;
}

TEST(ImagePreprocess, ShrinkingAveragesTheFootprint) {
  // 4 x 4 -> 2 x 2: each output pixel is the mean of a 2 x 2 block (exactly; .5 rounds up)
  const std::vector<uint8_t> src = {0,  10, 20, 30,   //
                                    40, 50, 60, 70,   //
                                    1,  2,  100, 200,  //
                                    3,  5,  0,   1};
  EXPECT_EQ(resized(src, {4, 4}, {2, 2}), (std::vector<uint8_t>{25, 45, 3, 75}));  // 2.75 -> 3, 75.25 -> 75
  // 3 -> 2 along a row: footprints [0, 1.5) and [1.5, 3) weigh the middle pixel by its overlap
  EXPECT_EQ(resized({0, 30, 60}, {1, 3}, {1, 2}), (std::vector<uint8_t>{10, 50}));
  // channels are resampled separately
  EXPECT_EQ(resized({0, 200, 100, 0}, {1, 2}, {1, 1}, 2), (std::vector<uint8_t>{50, 100}));
  // a constant image stays constant through uneven footprints (480 x 640 -> 96 x 128 and 84 -> 76 alike)
  const std::vector<uint8_t> grey(7 * 9, 173);
  for (uint8_t v : resized(grey, {7, 9}, {3, 4})) ASSERT_EQ(v, 173);
}

TEST(ImagePreprocess, GrowingInterpolatesBilinearlyAndTheSameSizeCopies) {
  // 1 x 2 -> 1 x 4 with half-pixel centres (torch's align_corners=false): 0, 25, 75, 100
  EXPECT_EQ(resized({0, 100}, {1, 2}, {1, 4}), (std::vector<uint8_t>{0, 25, 75, 100}));
  const std::vector<uint8_t> src = {1, 2, 3, 4, 5, 6};
  EXPECT_EQ(resized(src, {2, 3}, {2, 3}), src);
  // Image and frame-array forms agree with the pointer form
  Image im{2, 2, {0, 0, 0, 40, 40, 40, 80, 80, 80, 120, 120, 120}};
  EXPECT_EQ(resize_image(im, {1, 1}).pixels, (std::vector<uint8_t>{60, 60, 60}));
  Array<uint8_t> frames{{2, 2, 2, 3}, {}};
  frames.data = im.pixels;
  frames.data.insert(frames.data.end(), 12, 9);
  const Array<uint8_t> small = resize_frames(frames, {1, 1});
  EXPECT_EQ(small.shape, (std::vector<int64_t>{2, 1, 1, 3}));
  EXPECT_EQ(small.data, (std::vector<uint8_t>{60, 60, 60, 9, 9, 9}));
}

TEST(ImagePreprocess, CentreCropTakesTheMiddleWindow) {
  EXPECT_EQ(center_crop({84, 84}, {76, 76}).top, 4);
  const CropWindow odd = center_crop({5, 8}, {2, 3});  // margins 3 and 5: the extra pixel goes bottom / right
  EXPECT_EQ(odd.top, 1);
  EXPECT_EQ(odd.left, 2);
  const Image c = crop_image(coordinates(5, 8), odd, {2, 3});
  ASSERT_EQ(c.height, 2);
  ASSERT_EQ(c.width, 3);
  EXPECT_EQ(c.pixels[0], 1);                   // row of the first pixel
  EXPECT_EQ(c.pixels[1], 2);                   // its column
  EXPECT_EQ(c.pixels[(1 * 3 + 2) * 3 + 1], 4);  // last pixel: (2, 4)
  EXPECT_THROW(center_crop({4, 4}, {5, 4}), Error);
}

TEST(ImagePreprocess, RandomCropsStayInsideAreDeterministicAndReachEveryOffset) {
  const ImageSize from{10, 12}, to{7, 8};
  std::set<std::pair<int64_t, int64_t>> seen;
  for (uint64_t i = 0; i < 2000; ++i) {
    const CropWindow w = random_crop(from, to, 42, i);
    ASSERT_GE(w.top, 0);
    ASSERT_GE(w.left, 0);
    ASSERT_LE(w.top + to.height, from.height);
    ASSERT_LE(w.left + to.width, from.width);
    const CropWindow again = random_crop(from, to, 42, i);
    ASSERT_EQ(w.top, again.top);
    ASSERT_EQ(w.left, again.left);
    seen.insert({w.top, w.left});
  }
  EXPECT_EQ(seen.size(), 4u * 5u);  // every one of the (10-7+1) x (12-8+1) windows
  int differ = 0;  // another draw (epoch, batch) moves most windows
  for (uint64_t i = 0; i < 100; ++i) {
    const CropWindow a = random_crop(from, to, 42, i), b = random_crop(from, to, 43, i);
    differ += a.top != b.top || a.left != b.left;
  }
  EXPECT_GT(differ, 80);
  EXPECT_EQ(random_crop({5, 5}, {5, 5}, 9, 9).top, 0);  // a crop of the whole image has one window
  EXPECT_THROW(random_crop({5, 5}, {6, 5}, 0, 0), Error);
}

TEST(ImagePreprocess, ParsesHeightAndWidthAndRejectsBadValues) {
  EXPECT_EQ(parse_image_size("96", "--image-size"), (ImageSize{96, 96}));
  EXPECT_EQ(parse_image_size("96,128", "--image-size"), (ImageSize{96, 128}));
  for (const char* bad : {"0", "96,0", "-4", "abc", "96,", ",96", "1,2,3", "12.5", "", "99999", " 96"})
    EXPECT_EQ(error_of(bad), std::string("--crop: expected H or H,W in pixels (whole numbers from 1 to 16384), got '") +
                                 bad + "'");
}

TEST(ImagePreprocess, PrepareImageResizesThenCentreCropsAsInTraining) {
  // a checkpoint without either step: the image as it is, and only at the training size
  const Image im = coordinates(6, 6);
  EXPECT_EQ(prepare_image(im, {}, {6, 6}, "top_image").pixels, im.pixels);
  try {
    prepare_image(coordinates(8, 8), {}, {6, 6}, "top_image");
    FAIL() << "accepted an 8 x 8 image for a 6 x 6 policy";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "policy: camera image 'top_image' must be (6 x 6 x 3) uint8, as in training");
  }
  // crop only: the data's size, centre window
  ImagePreprocess crop;
  crop.crop = {4, 4};
  crop.crop_from = {6, 6};
  EXPECT_EQ(prepare_image(im, crop, {4, 4}, "top_image").pixels, crop_image(im, {1, 1}, {4, 4}).pixels);
  EXPECT_THROW(prepare_image(coordinates(5, 5), crop, {4, 4}, "top_image"), Error);
  // resize + crop: any size is resized first; the training size is used as is
  ImagePreprocess both = crop;
  both.resize = {6, 6};
  both.source = {{12, 12}};
  const Image big = resize_image(coordinates(6, 6), {12, 12});
  const Image expected = crop_image(resize_image(big, {6, 6}), {1, 1}, {4, 4});
  EXPECT_EQ(prepare_image(big, both, {4, 4}, "top_image").pixels, expected.pixels);
  EXPECT_EQ(prepare_image(im, both, {4, 4}, "top_image").pixels, crop_image(im, {1, 1}, {4, 4}).pixels);
  EXPECT_EQ(prepare_image(coordinates(9, 30), both, {4, 4}, "top_image").height, 4);
  // what a simulator renders for the policy: the cameras' recorded size
  EXPECT_EQ(camera_size(both, {4, 4}), (ImageSize{12, 12}));
  EXPECT_EQ(camera_size(crop, {4, 4}), (ImageSize{6, 6}));
  EXPECT_EQ(camera_size({}, {4, 4}), (ImageSize{4, 4}));
}

}  // namespace
}  // namespace nfp
