// The headless browser of chromium.hpp: chromium started with its DevTools endpoint on a loopback port of its own
// choosing (read back from DevToolsActivePort in its profile), one page target attached in flat mode, and CDP
// commands as JSON text frames over the policy client's blocking WebSocket connection (serve/ws_transport.hpp).
#include "chromium.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "serve/ws_transport.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace nfp::test {
namespace {

std::vector<uint8_t> base64_decode(const std::string& s) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::vector<uint8_t> out;
  out.reserve(s.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    const int v = value(c);
    if (v < 0) continue;  // padding, line breaks
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(uint8_t(acc >> bits));
    }
  }
  return out;
}

std::string tail_of(const fs::path& file, size_t n = 1500) {
  std::ifstream f(file, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string s = ss.str();
  return s.size() > n ? s.substr(s.size() - n) : s;
}

}  // namespace

struct HeadlessChromium::Impl {
  pid_t pid = -1;
  fs::path profile;
  std::unique_ptr<ws::Connection> connection;
  std::string session;  // the page's flat-mode session id
  int64_t next_id = 1;
  std::vector<json> events;  // events of the page session seen while waiting for replies

  fs::path log() const { return profile / "chromium.log"; }

  // Also runs when the constructor throws: no browser or profile outlives the object.
  ~Impl() {
    connection.reset();
    if (pid > 0) {
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      int status = 0;
      waitpid(pid, &status, 0);
    }
    std::error_code ec;
    if (!profile.empty()) fs::remove_all(profile, ec);
  }

  // Sends a command (on the page session unless `browser_level`) and waits for its reply; events that arrive
  // meanwhile are kept in `events`.
  json call(const std::string& method, const json& params, double timeout_s, bool browser_level = false) {
    const int64_t id = next_id++;
    json msg = {{"id", id}, {"method", method}, {"params", params}};
    if (!browser_level) msg["sessionId"] = session;
    connection->send(msg.dump(), true);
    const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
    while (Clock::now() < deadline) {
      json reply = json::parse(connection->next().second);
      if (reply.contains("id") && reply["id"] == id) {
        if (reply.contains("error"))
          throw std::runtime_error("chromium: " + method + " failed: " + reply["error"].dump());
        return reply.value("result", json::object());
      }
      if (reply.contains("method")) events.push_back(std::move(reply));
    }
    throw std::runtime_error("chromium: no reply to " + method + " within " + std::to_string(timeout_s) + " s");
  }

  // Waits for an event `method` of the page session (already seen or still to come).
  void wait_event(const std::string& method, double timeout_s) {
    const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
    for (;;) {
      for (auto it = events.begin(); it != events.end(); ++it)
        if ((*it)["method"] == method) {
          events.erase(events.begin(), it + 1);
          return;
        }
      if (Clock::now() >= deadline) break;
      json e = json::parse(connection->next().second);
      if (e.contains("method")) events.push_back(std::move(e));
    }
    throw std::runtime_error("chromium: no " + method + " within " + std::to_string(timeout_s) + " s");
  }
};

HeadlessChromium::HeadlessChromium(const fs::path& exe, int width, int height, double startup_timeout_s)
    : impl_(std::make_unique<Impl>()) {
  auto& d = *impl_;
  if (!fs::exists(exe)) throw std::runtime_error("chromium: no browser at " + exe.string());
  std::string templ = (fs::temp_directory_path() / "nfp_chromium_XXXXXX").string();
  if (!mkdtemp(templ.data())) throw std::runtime_error("chromium: cannot create a profile directory");
  d.profile = templ;
  const std::vector<std::string> args = {exe.string(),
                                         "--headless",
                                         "--no-sandbox",
                                         "--disable-gpu",
                                         "--no-first-run",
                                         "--no-default-browser-check",
                                         "--disable-extensions",
                                         "--disable-background-networking",
                                         "--mute-audio",
                                         "--hide-scrollbars",
                                         "--autoplay-policy=no-user-gesture-required",
                                         "--remote-debugging-address=127.0.0.1",
                                         "--remote-debugging-port=0",
                                         "--remote-allow-origins=*",
                                         "--user-data-dir=" + d.profile.string(),
                                         "--window-size=" + std::to_string(width) + "," + std::to_string(height),
                                         "about:blank"};
  const std::string log = d.log().string();
  d.pid = fork();
  if (d.pid < 0) throw std::runtime_error("chromium: fork failed");
  if (d.pid == 0) {
    setpgid(0, 0);  // its own process group: the destructor kills the renderer and GPU helpers too
    FILE* out = freopen(log.c_str(), "w", stderr);
    if (out) dup2(fileno(stderr), STDOUT_FILENO);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  setpgid(d.pid, d.pid);
  // chromium writes "PORT\n/devtools/browser/ID" once its endpoint listens
  const auto deadline = Clock::now() + std::chrono::duration<double>(startup_timeout_s);
  std::string port, path;
  for (;;) {
    std::ifstream f(d.profile / "DevToolsActivePort");
    if (f && std::getline(f, port) && std::getline(f, path) && !port.empty() && !path.empty()) break;
    int status = 0;
    if (waitpid(d.pid, &status, WNOHANG) == d.pid) {
      d.pid = -1;
      throw std::runtime_error("chromium exited at start-up: " + tail_of(d.log()));
    }
    if (Clock::now() >= deadline) {
      const std::string t = tail_of(d.log());
      throw std::runtime_error("chromium: no DevTools endpoint within " + std::to_string(startup_timeout_s) + " s: " + t);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  d.connection = std::make_unique<ws::Connection>("ws://127.0.0.1:" + port + path, "", 60.0);
  const auto target = d.call("Target.createTarget", {{"url", "about:blank"}}, 30, true);
  const auto attached =
      d.call("Target.attachToTarget", {{"targetId", target.at("targetId")}, {"flatten", true}}, 30, true);
  d.session = attached.at("sessionId").get<std::string>();
  d.call("Page.enable", json::object(), 30);
  d.call("Runtime.enable", json::object(), 30);
  d.call("Emulation.setDeviceMetricsOverride",
         {{"width", width}, {"height", height}, {"deviceScaleFactor", 1}, {"mobile", false}}, 30);
}

HeadlessChromium::~HeadlessChromium() = default;

void HeadlessChromium::open(const std::string& url, double timeout_s) {
  auto& d = *impl_;
  d.events.clear();
  const auto r = d.call("Page.navigate", {{"url", url}}, timeout_s);
  if (r.contains("errorText") && !r["errorText"].get<std::string>().empty())
    throw std::runtime_error("chromium: cannot open " + url + ": " + r["errorText"].get<std::string>());
  d.wait_event("Page.loadEventFired", timeout_s);
}

json HeadlessChromium::evaluate(const std::string& js, double timeout_s) {
  const auto r = impl_->call("Runtime.evaluate", {{"expression", js}, {"awaitPromise", true}, {"returnByValue", true}},
                             timeout_s);
  if (r.contains("exceptionDetails")) {
    const auto& e = r["exceptionDetails"];
    std::string what = e.value("text", std::string("exception"));
    if (e.contains("exception") && e["exception"].contains("description"))
      what += ": " + e["exception"]["description"].get<std::string>();
    throw std::runtime_error("chromium: the page's script failed: " + what);
  }
  const auto& v = r.at("result");
  return v.contains("value") ? v["value"] : json(nullptr);
}

std::vector<uint8_t> HeadlessChromium::screenshot_png(bool full_page, double timeout_s, double scale) {
  json params = {{"format", "png"}};
  if (full_page) {
    const auto m = call("Page.getLayoutMetrics", json::object(), timeout_s);
    const auto& size = m.contains("cssContentSize") ? m["cssContentSize"] : m.at("contentSize");
    params["clip"] = {{"x", 0}, {"y", 0}, {"width", size.at("width")}, {"height", size.at("height")}, {"scale", scale}};
    params["captureBeyondViewport"] = true;
  }
  return base64_decode(call("Page.captureScreenshot", params, timeout_s).at("data").get<std::string>());
}

json HeadlessChromium::call(const std::string& method, const json& params, double timeout_s) {
  return impl_->call(method, params, timeout_s);
}

json check_media(HeadlessChromium& browser, double timeout_s) {
  const int ms = int(timeout_s * 1000);
  const std::string js = R"JS((async () => {
  const deadline = Date.now() + )JS" + std::to_string(ms) + R"JS(;
  const check = (el) => new Promise((resolve) => {
    const tag = el.tagName.toLowerCase(), src = el.currentSrc || el.src || '';
    const done = (ok, error) => resolve({tag, src, ok, error});
    const left = () => Math.max(0, deadline - Date.now());
    if (tag === 'img') {
      const judge = () => done(el.complete && el.naturalWidth > 0, el.naturalWidth > 0 ? '' : 'did not load or decode');
      if (el.complete) return judge();
      el.addEventListener('load', judge, {once: true});
      el.addEventListener('error', judge, {once: true});
      setTimeout(() => done(false, 'timed out loading'), left());
      return;
    }
    const judge = () => {
      if (el.error) return done(false, 'MEDIA_ERR ' + el.error.code + (el.error.message ? ': ' + el.error.message : ''));
      if (el.readyState >= 2 && el.videoWidth > 0) return done(true, '');
      return false;
    };
    if (judge() !== false) return;
    el.addEventListener('loadeddata', judge);
    el.addEventListener('canplay', judge);
    el.addEventListener('error', judge);
    el.querySelectorAll('source').forEach((s) => s.addEventListener('error', () => done(false, 'no playable source')));
    if (el.networkState === 3) return done(false, 'no playable source');
    el.preload = 'auto';
    if (el.readyState === 0) el.load();
    setTimeout(() => done(false, 'timed out (readyState ' + el.readyState + ', networkState ' + el.networkState + ')'), left());
  });
  return Promise.all([...document.querySelectorAll('img, video')].map(check));
})())JS";
  return browser.evaluate(js, timeout_s + 10);
}

std::string file_url(const fs::path& path) {
  const std::string p = fs::absolute(path).lexically_normal().string();
  static const char* hex = "0123456789ABCDEF";
  std::string url = "file://";
  for (unsigned char c : p) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '_' || c == '.' || c == '~') url += char(c);
    else url += {'%', hex[c >> 4], hex[c & 15]};
  }
  return url;
}

}  // namespace nfp::test
