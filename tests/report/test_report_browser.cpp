// `nfp report`'s page in a real headless browser (chromium.hpp; run through with_chromium.sh, which skips without
// one): every run is on the page with the numbers of its eval_info.json, every chart and video the page names loads
// and decodes, and the rendered page is not blank. The checks themselves are tested against pages that must fail
// them (a missing image, a corrupt video, a blank page), so a browser that shows nothing cannot pass.
// To screenshot any page (the README's pictures): NFP_SCREENSHOT_PAGE=report/index.html
// NFP_SCREENSHOT_OUT=docs/x.png [NFP_SCREENSHOT_WIDTH=1280 NFP_SCREENSHOT_SCALE=0.5]
//   tests/report/with_chromium.sh build/tests/report/test_report_browser --gtest_filter='*Screenshot*'
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libavutil/pixdesc.h>
}

#include "chromium.hpp"
#include "nfp/atomic_file.hpp"
#include "nfp/json_io.hpp"
#include "nfp/report.hpp"
#include "nfp/svg_chart.hpp"
#include "nfp/video_writer.hpp"
#include "report_fixtures.hpp"

namespace fs = std::filesystem;

namespace nfp {
namespace {

// A decoded PNG: its size and the fraction of pixels that differ visibly (> 24 in some channel) from the most common
// colour, the page's background. A blank page has ~0; the report's tables, charts and videos make it several %.
struct PngStats {
  int width = 0, height = 0;
  double ink = 0;
};

PngStats png_stats(const std::vector<uint8_t>& png) {
  const AVCodec* codec = avcodec_find_decoder(AV_CODEC_ID_PNG);
  if (!codec) throw std::runtime_error("libavcodec has no PNG decoder");
  AVCodecContext* ctx = avcodec_alloc_context3(codec);
  AVPacket* pkt = av_packet_alloc();
  AVFrame* frame = av_frame_alloc();
  PngStats s;
  try {
    if (avcodec_open2(ctx, codec, nullptr) < 0) throw std::runtime_error("cannot open the PNG decoder");
    std::vector<uint8_t> data(png);
    data.resize(png.size() + AV_INPUT_BUFFER_PADDING_SIZE, 0);
    pkt->data = data.data();
    pkt->size = int(png.size());
    if (avcodec_send_packet(ctx, pkt) < 0 || avcodec_receive_frame(ctx, frame) < 0)
      throw std::runtime_error("the screenshot is not a PNG libavcodec can decode");
    const auto fmt = AVPixelFormat(frame->format);
    const int channels = fmt == AV_PIX_FMT_RGBA ? 4 : fmt == AV_PIX_FMT_RGB24 ? 3 : 0;
    if (!channels) throw std::runtime_error(std::string("unexpected PNG pixel format ") + av_get_pix_fmt_name(fmt));
    s.width = frame->width, s.height = frame->height;
    std::map<uint32_t, int64_t> histogram;
    auto px = [&](int x, int y) { return frame->data[0] + int64_t(y) * frame->linesize[0] + int64_t(x) * channels; };
    for (int y = 0; y < s.height; y += 2)
      for (int x = 0; x < s.width; x += 2) {
        const uint8_t* p = px(x, y);
        ++histogram[uint32_t(p[0]) << 16 | uint32_t(p[1]) << 8 | p[2]];
      }
    uint32_t bg = 0;
    int64_t best = -1;
    for (const auto& [c, n] : histogram)
      if (n > best) best = n, bg = c;
    int64_t ink = 0, total = 0;
    for (int y = 0; y < s.height; y += 2)
      for (int x = 0; x < s.width; x += 2, ++total) {
        const uint8_t* p = px(x, y);
        ink += std::abs(int(p[0]) - int(bg >> 16 & 255)) > 24 || std::abs(int(p[1]) - int(bg >> 8 & 255)) > 24 ||
               std::abs(int(p[2]) - int(bg & 255)) > 24;
      }
    s.ink = total ? double(ink) / double(total) : 0;
  } catch (...) {
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&ctx);
    throw;
  }
  av_frame_free(&frame);
  av_packet_free(&pkt);
  avcodec_free_context(&ctx);
  return s;
}

// A short H.264 (or MPEG-4) episode: a square moving across a coloured floor, as `nfp eval --video` writes them.
void write_episode_video(const fs::path& path, int seed) {
  const int w = 96, h = 64;
  fs::create_directories(path.parent_path());
  VideoWriter v(path, w, h, 10);
  std::vector<uint8_t> rgb(size_t(w) * h * 3);
  for (int t = 0; t < 12; ++t) {
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        uint8_t* p = &rgb[(size_t(y) * w + x) * 3];
        const bool box = std::abs(x - 8 - 6 * t) < 8 && std::abs(y - h / 2) < 8;
        p[0] = box ? 230 : uint8_t(40 + 30 * seed);
        p[1] = box ? 60 : 90;
        p[2] = box ? 40 : 140;
      }
    v.write(rgb.data());
  }
  v.close();
}

const char* chromium() { return std::getenv("NFP_CHROMIUM"); }

#define REQUIRE_BROWSER() \
  if (!chromium()) GTEST_SKIP() << "NFP_CHROMIUM not set: run through tests/report/with_chromium.sh (CTest does)"

class ReportInBrowser : public ::testing::Test {
 protected:
  fs::path dir;
  void SetUp() override {
    dir = fs::temp_directory_path() / ("nfp_report_browser_" + unique_suffix());
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }

  json media(test::HeadlessChromium& b, const fs::path& page) {
    b.open(test::file_url(page));
    return test::check_media(b, 30);
  }
};

// The checks can fail: a missing image, a corrupt video and a blank page are caught.
TEST_F(ReportInBrowser, ChecksCatchMissingImagesCorruptVideosAndBlankPages) {
  REQUIRE_BROWSER();
  test::HeadlessChromium b(chromium());
  LineChart c;
  c.title = "ok";
  c.series.push_back({"s", {0, 1, 2}, {1, 0.5, 0.2}});
  test::write_text(dir / "ok.svg", svg_line_chart(c));
  write_episode_video(dir / "ok.mp4", 0);
  test::write_text(dir / "corrupt.mp4", std::string(4096, '\x17'));
  test::write_text(dir / "page.html",
                   "<!DOCTYPE html><html><body><img src=\"ok.svg\"><img src=\"missing.svg\">"
                   "<video muted src=\"ok.mp4\"></video><video muted src=\"corrupt.mp4\"></video></body></html>");
  const json m = media(b, dir / "page.html");
  ASSERT_EQ(m.size(), 4u) << m.dump();
  EXPECT_TRUE(m[0]["ok"].get<bool>()) << m[0].dump();
  EXPECT_FALSE(m[1]["ok"].get<bool>()) << m[1].dump();
  EXPECT_TRUE(m[2]["ok"].get<bool>()) << "the browser cannot play the VideoWriter's MP4: " << m[2].dump();
  EXPECT_FALSE(m[3]["ok"].get<bool>()) << m[3].dump();

  test::write_text(dir / "blank.html", "<!DOCTYPE html><html><body></body></html>");
  b.open(test::file_url(dir / "blank.html"));
  const auto blank = png_stats(b.screenshot_png(false));
  EXPECT_EQ(blank.width, 1280);
  EXPECT_LT(blank.ink, 0.001);

  EXPECT_THROW(b.evaluate("(() => { throw new Error('boom'); })()"), std::runtime_error);
  EXPECT_EQ(b.evaluate("1 + 2").get<int>(), 3);
}

// Two runs, each with an evaluation and real episode videos, and a benchmark directory: in the browser, every run
// and benchmark has its section, the success shown is the eval_info.json's, every chart and video decodes, and the
// page has content.
TEST_F(ReportInBrowser, EveryRunItsNumbersAndItsMediaAreOnThePage) {
  REQUIRE_BROWSER();
  const std::map<std::string, std::vector<bool>> outcomes = {{"flow", {true, false, true, true}},
                                                             {"regression", {false, true, false}}};
  for (const auto& [name, success] : outcomes) {
    const fs::path run = dir / "demo" / name;
    test::make_run(run, 12);
    for (size_t i = 0; i < success.size(); ++i)
      write_episode_video(dir / "demo" / ("videos_" + name) / ("episode_" + std::to_string(i) + ".mp4"), int(i));
    write_json_file(dir / "demo" / ("eval_" + name + ".json"),
                    test::make_eval(run.string(), success, success.size(), dir / "demo" / ("videos_" + name)));
  }
  test::write_text(dir / "suite" / "results.csv", "task,head,success_pc\npush-two-goals,nfp-spline,85\n");
  LineChart c;
  c.title = "latency against success";
  c.series.push_back({"nfp", {1, 2, 3}, {40, 60, 85}});
  test::write_text(dir / "suite" / "latency_vs_success.svg", svg_line_chart(c));

  ReportOptions o;
  o.inputs = {dir / "demo", dir / "suite"};
  o.out = dir / "report";
  o.title = "browser test";
  const auto sum = write_report(o);
  ASSERT_EQ(sum.runs, 2);
  ASSERT_EQ(sum.videos, 7);

  test::HeadlessChromium b(chromium());
  const json m = media(b, sum.index);
  int64_t imgs = 0, videos = 0;
  for (const auto& e : m) {
    EXPECT_TRUE(e["ok"].get<bool>()) << e.dump();
    (e["tag"] == "img" ? imgs : videos) += 1;
  }
  EXPECT_EQ(videos, sum.videos);
  EXPECT_GE(imgs, 2 * 2 + 1 + 1);  // loss and lr per run, success against latency, the benchmark's chart

  const json runs = b.evaluate(R"JS([...document.querySelectorAll('section.run')].map((s) => ({
      name: s.dataset.run,
      visible: s.getBoundingClientRect().height > 0,
      pc: [...s.querySelectorAll('td.success')].map((td) => parseFloat(td.dataset.pc)),
      trials: [...s.querySelectorAll('td.success')].map((td) => parseInt(td.dataset.trials)),
      text: [...s.querySelectorAll('td.success')].map((td) => td.innerText)})))JS");
  ASSERT_EQ(runs.size(), outcomes.size()) << runs.dump();
  for (const auto& r : runs) {
    const auto& success = outcomes.at(r["name"].get<std::string>());
    const double k = double(std::count(success.begin(), success.end(), true)), n = double(success.size());
    EXPECT_TRUE(r["visible"].get<bool>());
    ASSERT_EQ(r["pc"].size(), 1u) << r.dump();
    EXPECT_NEAR(r["pc"][0].get<double>(), 100 * k / n, 1e-3) << r.dump();
    EXPECT_EQ(r["trials"][0].get<double>(), n);
    const auto ci = wilson_interval(int64_t(k), int64_t(n));
    char shown[96];
    std::snprintf(shown, sizeof shown, "%.1f%% [%.1f, %.1f] (%d / %d)", 100 * k / n, ci.lo, ci.hi, int(k), int(n));
    EXPECT_EQ(r["text"][0].get<std::string>(), shown);
  }
  EXPECT_EQ(b.evaluate("document.querySelectorAll('section.bench').length").get<int>(), 1);
  EXPECT_EQ(b.evaluate("document.querySelectorAll('table.comparison tr').length").get<int>(), 3);  // header + 2

  const auto shot = png_stats(b.screenshot_png(true));
  EXPECT_EQ(shot.width, 1280);
  EXPECT_GT(shot.height, 900);  // the whole document, longer than the viewport
  EXPECT_GT(shot.ink, 0.03) << "the rendered report is (nearly) blank";
}

// Not a check: writes a PNG of NFP_SCREENSHOT_PAGE to NFP_SCREENSHOT_OUT (the README's pictures).
TEST(Screenshot, OfAGivenPage) {
  const char* page = std::getenv("NFP_SCREENSHOT_PAGE");
  const char* out = std::getenv("NFP_SCREENSHOT_OUT");
  if (!chromium() || !page || !out) GTEST_SKIP() << "set NFP_SCREENSHOT_PAGE and NFP_SCREENSHOT_OUT to take one";
  const int width = std::getenv("NFP_SCREENSHOT_WIDTH") ? std::atoi(std::getenv("NFP_SCREENSHOT_WIDTH")) : 1280;
  test::HeadlessChromium b(chromium(), width, 900);
  b.open(test::file_url(page));
  const json m = test::check_media(b, 30);  // videos show a frame, not a black box
  for (const auto& e : m) EXPECT_TRUE(e["ok"].get<bool>()) << e.dump();
  const double scale = std::getenv("NFP_SCREENSHOT_SCALE") ? std::atof(std::getenv("NFP_SCREENSHOT_SCALE")) : 1.0;
  const auto png = b.screenshot_png(true, 30, scale);
  write_file_atomic(out, std::string(png.begin(), png.end()));
  const auto s = png_stats(png);
  std::printf("%s: %dx%d, %.1f%% ink\n", out, s.width, s.height, 100 * s.ink);
}

}  // namespace
}  // namespace nfp
