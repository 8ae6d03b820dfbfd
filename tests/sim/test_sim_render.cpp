// Cameras (EGL, surfaceless Mesa) and the MP4 writer.
#include <gtest/gtest.h>

extern "C" {
#include <libavformat/avformat.h>
}

#include <cmath>
#include <filesystem>

#include "nfp/error.hpp"
#include "nfp/video_writer.hpp"
#include "sim_test_util.hpp"

using namespace nfp::sim;

namespace {

double pixel_std(const Image& img) {
  double sum = 0, sq = 0;
  for (uint8_t p : img.pixels) sum += p, sq += double(p) * p;
  double n = img.pixels.size(), mean = sum / n;
  return std::sqrt(sq / n - mean * mean);
}

double mean_abs_diff(const Image& a, const Image& b) {
  double s = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) s += std::abs(int(a.pixels[i]) - int(b.pixels[i]));
  return s / a.pixels.size();
}

}  // namespace

TEST(SimRender, ImagesAreNonBlankAndDifferBetweenCameras) {
  for (const auto& name : task_names()) {
    SCOPED_TRACE(name);
    EnvOptions o;
    o.images = true;
    auto env = make_env(name, o);
    Observation obs = env->reset(0);
    TaskSpec s = env->spec();
    ASSERT_EQ(obs.images.size(), s.cameras.size());
    std::vector<const Image*> imgs;
    for (const auto& cam : s.cameras) {
      ASSERT_TRUE(obs.images.count(cam + "_image")) << cam;
      const Image& img = obs.images.at(cam + "_image");
      EXPECT_EQ(img.height, 96);
      EXPECT_EQ(img.width, 96);
      ASSERT_EQ(img.pixels.size(), 96u * 96 * 3);
      // A blank (single-colour) frame has std 0; a scene with a table, objects and sky has tens of levels.
      EXPECT_GT(pixel_std(img), 10.0) << cam;
      imgs.push_back(&img);
    }
    for (size_t i = 0; i < imgs.size(); ++i)
      for (size_t j = i + 1; j < imgs.size(); ++j)
        EXPECT_GT(mean_abs_diff(*imgs[i], *imgs[j]), 5.0) << s.cameras[i] << " vs " << s.cameras[j];
  }
}

TEST(SimRender, ImagesFollowTheStateAndTheRequestedSize) {
  EnvOptions o;
  o.images = true;
  o.cameras = {"top"};
  o.image_size = 64;
  auto env = make_env("push-two-goals", o);
  Observation first = env->reset(0);
  ASSERT_EQ(first.images.size(), 1u);
  EXPECT_EQ(first.images.at("top_image").width, 64);
  auto expert = make_expert(*env, 0, true);
  StepResult r;
  do r = env->step(expert->act(*env));
  while (!r.done);
  // The block and pusher moved by ~25 cm across the table: the top view must change visibly.
  EXPECT_GT(mean_abs_diff(first.images.at("top_image"), r.obs.images.at("top_image")), 1.0);
}

TEST(SimRender, UnknownCameraIsAnError) {
  EnvOptions o;
  o.images = true;
  o.cameras = {"side"};
  EXPECT_THROW(make_env("lift", o), nfp::Error);
}

TEST(VideoWriter, WritesAnMp4WithEveryFrame) {
  auto path = std::filesystem::temp_directory_path() / "nfp_test_video.mp4";
  std::filesystem::remove(path);
  {
    nfp::VideoWriter video(path, 64, 48, 10);
    std::vector<uint8_t> rgb(64 * 48 * 3);
    for (int f = 0; f < 15; ++f) {
      for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<uint8_t>(i * 7 + f * 20);
      video.write(rgb.data());
    }
    EXPECT_FALSE(std::filesystem::exists(path)) << "the file appears only when closed";
    video.close();
  }
  ASSERT_TRUE(std::filesystem::exists(path));
  AVFormatContext* fmt = nullptr;
  ASSERT_EQ(avformat_open_input(&fmt, path.c_str(), nullptr, nullptr), 0);
  ASSERT_GE(avformat_find_stream_info(fmt, nullptr), 0);
  ASSERT_EQ(fmt->nb_streams, 1u);
  EXPECT_EQ(fmt->streams[0]->codecpar->width, 64);
  EXPECT_EQ(fmt->streams[0]->codecpar->height, 48);
  AVPacket* pkt = av_packet_alloc();
  int packets = 0;
  while (av_read_frame(fmt, pkt) >= 0) ++packets, av_packet_unref(pkt);
  av_packet_free(&pkt);
  avformat_close_input(&fmt);
  EXPECT_EQ(packets, 15);
  std::filesystem::remove(path);
}

TEST(VideoWriter, AnUnclosedVideoLeavesNoFile) {
  auto path = std::filesystem::temp_directory_path() / "nfp_test_video_unclosed.mp4";
  {
    nfp::VideoWriter video(path, 32, 32, 10);
    std::vector<uint8_t> rgb(32 * 32 * 3, 128);
    video.write(rgb.data());
  }
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(path.string() + ".tmp"));
}
