#include "nfp/windows.hpp"

#include <algorithm>
#include <string>

#include "nfp/error.hpp"

namespace nfp {

void validate(const WindowSpec& spec) {
  require(spec.history >= 1 && spec.horizon >= 1 && spec.stride >= 1,
          "window history, horizon and stride must be >= 1 (got m=" + std::to_string(spec.history) +
              ", n=" + std::to_string(spec.horizon) + ", s=" + std::to_string(spec.stride) + ")");
}

std::vector<int64_t> observation_frames(const WindowSpec& spec, int64_t t, int64_t T) {
  std::vector<int64_t> frames(spec.history);
  for (int64_t i = 0; i < spec.history; ++i)
    frames[i] = std::clamp<int64_t>(t - (spec.history - 1 - i) * spec.stride, 0, T - 1);
  return frames;
}

std::vector<int64_t> action_frames(const WindowSpec& spec, int64_t t, int64_t T) {
  std::vector<int64_t> frames(spec.horizon);
  for (int64_t i = 0; i < spec.horizon; ++i) frames[i] = std::clamp<int64_t>(t + i * spec.stride, 0, T - 1);
  return frames;
}

int64_t previous_action_frame(const WindowSpec& spec, int64_t t) { return t >= spec.stride ? t - spec.stride : -1; }

std::vector<WindowRef> enumerate_windows(const std::vector<int64_t>& episode_lengths) {
  std::vector<WindowRef> refs;
  for (size_t e = 0; e < episode_lengths.size(); ++e)
    for (int64_t t = 0; t < episode_lengths[e]; ++t) refs.push_back({int32_t(e), int32_t(t)});
  return refs;
}

}  // namespace nfp
