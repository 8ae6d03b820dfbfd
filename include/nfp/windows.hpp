// Training windows as in NF-P (Figure 2): at time step t an episode of length T gives the observation
// history t-(m-1)s, ..., t-s, t (m frames, oldest first) and the action chunk t, t+s, ..., t+(n-1)s
// (n frames), with stride s applied to both. One window per time step (shift 1); at the episode edges the
// first / last frame repeats. Index arithmetic only (torch-free); batches are in nfp/window_dataset.hpp.
#pragma once
#include <cstdint>
#include <vector>

namespace nfp {

struct WindowSpec {
  int64_t history = 1;  // m: observation frames
  int64_t horizon = 1;  // n: action frames per chunk
  int64_t stride = 1;   // s: time steps between consecutive frames of a window
};

// Checks m, n, s >= 1 (Error otherwise).
void validate(const WindowSpec& spec);

// (m) frame indices of the observation history at t, oldest first, clamped to [0, T-1].
std::vector<int64_t> observation_frames(const WindowSpec& spec, int64_t t, int64_t T);
// (n) frame indices of the action chunk at t, clamped to [0, T-1].
std::vector<int64_t> action_frames(const WindowSpec& spec, int64_t t, int64_t T);
// Frame of the action executed just before the window (t - s), or -1 when t < s (no action yet).
int64_t previous_action_frame(const WindowSpec& spec, int64_t t);

struct WindowRef {
  int32_t episode = 0;
  int32_t t = 0;
};
// One window per time step of every episode, in episode order then time order.
std::vector<WindowRef> enumerate_windows(const std::vector<int64_t>& episode_lengths);

}  // namespace nfp
