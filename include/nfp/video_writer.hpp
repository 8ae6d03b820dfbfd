// MP4 video from RGB frames (libavcodec: H.264 through libx264 when available, else MPEG-4 part 2).
// The file is written to a temporary name and renamed by close(): a failed run leaves nothing half-written.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>

namespace nfp {

class VideoWriter {
 public:
  // Frames are `width` x `height` (even numbers) RGB, shown at `fps` frames per second.
  VideoWriter(const std::filesystem::path& path, int width, int height, int fps);
  ~VideoWriter();  // without close(): discards the partial file
  VideoWriter(const VideoWriter&) = delete;
  VideoWriter& operator=(const VideoWriter&) = delete;

  // Appends one frame: rgb (height x width x 3), row 0 at the top.
  void write(const uint8_t* rgb);
  // Flushes the encoder and moves the file into place.
  void close();
  int64_t frames() const { return frames_; }
  std::string codec() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int64_t frames_ = 0;
};

}  // namespace nfp
