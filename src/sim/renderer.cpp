#include "sim/renderer.hpp"

#include <EGL/egl.h>
#include <EGL/eglext.h>

#include <cstdlib>
#include <cstring>
#include <mutex>

#include "nfp/error.hpp"

namespace nfp::sim {

namespace {

// One EGL display per process (initialised once; contexts are per renderer).
EGLDisplay egl_display() {
  static std::once_flag once;
  static EGLDisplay display = EGL_NO_DISPLAY;
  std::call_once(once, [] {
    setenv("EGL_PLATFORM", "surfaceless", 0);
    auto get_platform_display =
        reinterpret_cast<PFNEGLGETPLATFORMDISPLAYEXTPROC>(eglGetProcAddress("eglGetPlatformDisplayEXT"));
    if (get_platform_display) display = get_platform_display(EGL_PLATFORM_SURFACELESS_MESA, EGL_DEFAULT_DISPLAY, nullptr);
    if (display == EGL_NO_DISPLAY) display = eglGetDisplay(EGL_DEFAULT_DISPLAY);
    EGLint major = 0, minor = 0;
    if (display != EGL_NO_DISPLAY && !eglInitialize(display, &major, &minor)) display = EGL_NO_DISPLAY;
  });
  require(display != EGL_NO_DISPLAY,
          "could not open an EGL display for headless rendering; install libegl-mesa0 (scripts/install-deps.sh)");
  return display;
}

}  // namespace

struct Renderer::Impl {
  const mjModel* model;
  int width, height;
  EGLDisplay display = EGL_NO_DISPLAY;
  EGLContext context = EGL_NO_CONTEXT;
  mjvScene scene;
  mjvCamera camera;
  mjvOption option;
  mjrContext con;
  std::vector<unsigned char> rgb;  // (height x width x 3), row 0 at the bottom (OpenGL)
};

Renderer::Renderer(const mjModel* model, int width, int height) : impl_(new Impl) {
  Impl& r = *impl_;
  r.model = model, r.width = width, r.height = height;
  require(width <= model->vis.global.offwidth && height <= model->vis.global.offheight,
          "image size " + std::to_string(width) + "x" + std::to_string(height) +
              " exceeds the model's offscreen buffer (" + std::to_string(model->vis.global.offwidth) + "x" +
              std::to_string(model->vis.global.offheight) + ")");
  r.display = egl_display();
  const EGLint config_attribs[] = {EGL_SURFACE_TYPE, EGL_PBUFFER_BIT, EGL_RED_SIZE, 8, EGL_GREEN_SIZE, 8, EGL_BLUE_SIZE, 8, EGL_DEPTH_SIZE, 24,
                                   EGL_RENDERABLE_TYPE, EGL_OPENGL_BIT, EGL_NONE};
  EGLConfig config;
  EGLint n = 0;
  // EGL_SURFACE_TYPE defaults to EGL_WINDOW_BIT, which surfaceless Mesa does not offer.
  if (!eglChooseConfig(r.display, config_attribs, &config, 1, &n) || n < 1) {
    delete impl_;
    throw Error("EGL offers no OpenGL configuration for headless rendering (is Mesa's libegl-mesa0 installed?)");
  }
  eglBindAPI(EGL_OPENGL_API);
  r.context = eglCreateContext(r.display, config, EGL_NO_CONTEXT, nullptr);
  if (r.context == EGL_NO_CONTEXT || !eglMakeCurrent(r.display, EGL_NO_SURFACE, EGL_NO_SURFACE, r.context)) {
    delete impl_;
    throw Error("could not create a surfaceless OpenGL context through EGL (EGL error " +
                std::to_string(eglGetError()) + ")");
  }
  mjv_defaultCamera(&r.camera);
  mjv_defaultOption(&r.option);
  mjv_defaultScene(&r.scene);
  mjr_defaultContext(&r.con);
  mjv_makeScene(model, &r.scene, 2000);
  mjr_makeContext(model, &r.con, mjFONTSCALE_100);
  mjr_setBuffer(mjFB_OFFSCREEN, &r.con);
  r.rgb.resize(static_cast<size_t>(width) * height * 3);
}

Renderer::~Renderer() {
  Impl& r = *impl_;
  eglMakeCurrent(r.display, EGL_NO_SURFACE, EGL_NO_SURFACE, r.context);
  mjr_freeContext(&r.con);
  mjv_freeScene(&r.scene);
  eglMakeCurrent(r.display, EGL_NO_SURFACE, EGL_NO_SURFACE, EGL_NO_CONTEXT);
  eglDestroyContext(r.display, r.context);
  delete impl_;
}

Image Renderer::render(mjData* data, const std::string& camera) {
  Impl& r = *impl_;
  int id = mj_name2id(r.model, mjOBJ_CAMERA, camera.c_str());
  require(id >= 0, "the model has no camera named '" + camera + "'");
  // The context may have been current on another renderer of this thread.
  eglMakeCurrent(r.display, EGL_NO_SURFACE, EGL_NO_SURFACE, r.context);
  r.camera.type = mjCAMERA_FIXED;
  r.camera.fixedcamid = id;
  mjv_updateScene(r.model, data, &r.option, nullptr, &r.camera, mjCAT_ALL, &r.scene);
  mjrRect viewport = {0, 0, r.width, r.height};
  mjr_setBuffer(mjFB_OFFSCREEN, &r.con);
  mjr_render(viewport, &r.scene, &r.con);
  mjr_readPixels(r.rgb.data(), nullptr, viewport, &r.con);
  Image img;
  img.height = r.height, img.width = r.width;
  img.pixels.resize(r.rgb.size());
  size_t row = static_cast<size_t>(r.width) * 3;
  for (int y = 0; y < r.height; ++y)  // flip: OpenGL's row 0 is the bottom
    std::memcpy(img.pixels.data() + y * row, r.rgb.data() + (r.height - 1 - y) * row, row);
  return img;
}

}  // namespace nfp::sim
