// Camera images resized and cropped the same way in training and at inference (one place for both, torch-free so
// that the dataset layer, the policy runner and a robot's driver share it):
//   --image-size H[,W]  every image is resampled to H x W once, when the dataset is loaded (area averaging where
//                       an axis shrinks, bilinear where it grows), and at inference before anything else; so a
//                       policy trained on ACT's 480 x 640 cameras runs at, say, 96 x 128
//   --crop H[,W]        training batches: a random H x W window of each image (Diffusion Policy's crop_shape, 76 of
//                       84); validation batches and inference: the centre window. The encoder sees H x W.
// A policy records both in config.json ("image_resize", "image_crop"; nfp/policy.hpp), and PolicyRunner applies
// prepare_image to every camera image.
//   nfp::ImageSize s = nfp::parse_image_size("96,128", "--image-size");   // 96 x 128
//   nfp::Image small = nfp::resize_image(camera, s);
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "nfp/episode.hpp"
#include "nfp/observation.hpp"

namespace nfp {

struct ImageSize {
  int64_t height = 0, width = 0;
  bool empty() const { return height == 0 && width == 0; }
  bool operator==(const ImageSize& o) const { return height == o.height && width == o.width; }
  bool operator!=(const ImageSize& o) const { return !(*this == o); }
};
std::string to_string(ImageSize s);  // "96 x 128"

// "96" -> 96 x 96, "96,128" -> 96 x 128. nfp::Error for 0, negatives, non-numbers, > 16384, starting with
// "<flag>: " (nothing when `flag` is empty).
ImageSize parse_image_size(const std::string& text, const std::string& flag);

// Resamples one (from.height x from.width x channels) uint8 image into `dst` (to.height x to.width x channels):
// per axis, area averaging where it shrinks (each output pixel is the overlap-weighted mean of the input pixels
// its footprint covers; 4 -> 2 averages pairs) and bilinear interpolation with half-pixel centres where it grows;
// rounded to the nearest integer. The same size copies.
void resize_image(const uint8_t* src, ImageSize from, int64_t channels, uint8_t* dst, ImageSize to);
Image resize_image(const Image& image, ImageSize to);
// Every frame of (T x H x W x C) `frames` resized: (T x to.height x to.width x C).
Array<uint8_t> resize_frames(const Array<uint8_t>& frames, ImageSize to);

// The top-left corner of a crop window.
struct CropWindow {
  int64_t top = 0, left = 0;
};
// The centre window of size `to` inside `from` (odd margins leave the extra pixel at the bottom / right).
CropWindow center_crop(ImageSize from, ImageSize to);
// A uniformly drawn window of size `to` inside `from`: a pure function of (`draw`, `index`), so that a batch's
// crops do not depend on the thread that builds it and a resumed run draws the same ones. `index` tells apart the
// images of one draw (sample, camera, history frame).
CropWindow random_crop(ImageSize from, ImageSize to, uint64_t draw, uint64_t index);
// Copies the window (`at`, size `to`) of a (from x channels) uint8 image into `dst` (to x channels).
void crop_image(const uint8_t* src, ImageSize from, int64_t channels, CropWindow at, ImageSize to, uint8_t* dst);
Image crop_image(const Image& image, CropWindow at, ImageSize to);

// A policy's image preprocessing, as its config.json records it. Empty sizes: that step is off (checkpoints from
// before these options have neither, and take images of exactly the encoder's size).
struct ImagePreprocess {
  ImageSize resize;               // every image resampled to this (empty: each used at its own size)
  std::vector<ImageSize> source;  // with resize: each camera's size in the training data (a record; at inference
                                  // any size is resized)
  ImageSize crop;                 // random window in training, centre window at inference (empty: none)
  ImageSize crop_from;            // with crop: the size it is cut from (the resize, or the data's own size)
};

// The size a camera delivered in training, before any resize (what a simulator should render for the policy):
// the cameras' recorded size when they share one, else the resize, else the crop's source, else `encoder_input`.
ImageSize camera_size(const ImagePreprocess& p, ImageSize encoder_input);

// A camera image as the policy's encoder saw it in training: resized to p.resize (when set and the image has
// another size), then centre-cropped to p.crop. Without a resize the image must have the training size (else an
// nfp::Error naming camera `key` and that size). Returns (encoder_input.height x encoder_input.width x 3).
Image prepare_image(const Image& image, const ImagePreprocess& p, ImageSize encoder_input, const std::string& key);

}  // namespace nfp
