// Offscreen MuJoCo rendering through EGL (surfaceless Mesa: no display, no GPU needed).
// One Renderer per thread: it owns a GL context that it makes current on its thread.
#pragma once
#include <mujoco/mujoco.h>

#include <string>

#include "nfp/sim_env.hpp"

namespace nfp::sim {

class Renderer {
 public:
  // Renders `width` x `height` images of `model` (which must outlive the renderer).
  Renderer(const mjModel* model, int width, int height);
  ~Renderer();
  Renderer(const Renderer&) = delete;
  Renderer& operator=(const Renderer&) = delete;

  // Renders camera `camera` (a name in the model) for the state in `data`; row 0 is the top.
  Image render(mjData* data, const std::string& camera);

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace nfp::sim
