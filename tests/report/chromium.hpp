// A real headless browser for tests of static pages (`nfp report`'s index.html): Debian's chromium driven over the
// Chrome DevTools Protocol (CDP) on a loopback WebSocket. A page that only *looks* right in the HTML text can still
// show a broken image or a video the browser cannot decode; this checks what a browser actually does.
//   nfp::test::HeadlessChromium browser(std::getenv("NFP_CHROMIUM"));
//   browser.open(nfp::test::file_url(dir / "index.html"));
//   for (const auto& m : nfp::test::check_media(browser)) EXPECT_TRUE(m["ok"].get<bool>()) << m.dump();
// Compiled as C++17 (websocketpp 0.8 does not build as C++20); the header is plain C++17 for either side.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace nfp::test {

// One browser process (and its own fresh profile in a temporary directory) for the object's lifetime. Every wait is
// bounded and throws std::runtime_error saying what did not happen (with the tail of chromium's log where it
// helps); the destructor kills chromium's whole process group and removes the profile.
class HeadlessChromium {
 public:
  // `exe`: the browser (/usr/bin/chromium); width x height: the viewport, in CSS pixels.
  explicit HeadlessChromium(const std::filesystem::path& exe, int width = 1280, int height = 900,
                            double startup_timeout_s = 30);
  ~HeadlessChromium();
  HeadlessChromium(const HeadlessChromium&) = delete;
  HeadlessChromium& operator=(const HeadlessChromium&) = delete;

  // Navigates the page to `url` and waits for its load event (images loaded; videos may still be fetching).
  // Throws when the navigation fails (e.g. net::ERR_FILE_NOT_FOUND) or the load event does not come in time.
  void open(const std::string& url, double timeout_s = 30);
  // Evaluates a JavaScript expression in the page (a Promise is awaited) and returns its value as JSON (null for
  // undefined). Throws with the JavaScript exception's text when it throws or the Promise rejects.
  nlohmann::json evaluate(const std::string& js_expression, double timeout_s = 30);
  // The page as PNG bytes: the whole document when `full_page`, else the viewport; `scale` < 1 shrinks the image
  // (the whole document only).
  std::vector<uint8_t> screenshot_png(bool full_page = true, double timeout_s = 30, double scale = 1);
  // Any CDP command on the page's session (e.g. "Emulation.setDeviceMetricsOverride"); returns its "result".
  nlohmann::json call(const std::string& method, const nlohmann::json& params = nlohmann::json::object(),
                      double timeout_s = 30);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Checks every <img> and <video> of the current page in document order, waiting up to `timeout_s` in all:
// an <img> is ok when it loaded and decoded (complete && naturalWidth > 0); a <video> when a frame decoded
// (readyState >= 2 && videoWidth > 0), not ok on an error event, MEDIA_ERR_*, no playable source, or the timeout.
// Returns [{"tag": "img"|"video", "src": "...", "ok": bool, "error": "" or why}, ...].
nlohmann::json check_media(HeadlessChromium& browser, double timeout_s = 30);

// file:///abs/path with the characters a URL cannot hold percent-encoded (the path is made absolute).
std::string file_url(const std::filesystem::path& path);

}  // namespace nfp::test
