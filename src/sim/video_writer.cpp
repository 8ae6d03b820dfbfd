#include "nfp/video_writer.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
}

#include <system_error>

#include "nfp/error.hpp"

namespace nfp {

struct VideoWriter::Impl {
  std::filesystem::path path, tmp;
  int width = 0, height = 0;
  AVFormatContext* format = nullptr;
  AVCodecContext* codec = nullptr;
  AVStream* stream = nullptr;
  AVFrame* frame = nullptr;
  AVPacket* packet = nullptr;
  SwsContext* sws = nullptr;
  bool open_file = false, closed = false;

  ~Impl() {
    if (sws) sws_freeContext(sws);
    if (frame) av_frame_free(&frame);
    if (packet) av_packet_free(&packet);
    if (codec) avcodec_free_context(&codec);
    if (format) {
      if (open_file) avio_closep(&format->pb);
      avformat_free_context(format);
    }
    if (!closed) {
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
    }
  }

  // Sends `f` (nullptr = flush) and writes every packet the encoder has ready.
  void encode(AVFrame* f) {
    require(avcodec_send_frame(codec, f) >= 0, "video encoder refused a frame for " + path.string());
    while (true) {
      int ret = avcodec_receive_packet(codec, packet);
      if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return;
      require(ret >= 0, "video encoding failed for " + path.string());
      av_packet_rescale_ts(packet, codec->time_base, stream->time_base);
      packet->stream_index = stream->index;
      require(av_interleaved_write_frame(format, packet) >= 0, "could not write video frames to " + tmp.string());
    }
  }
};

VideoWriter::VideoWriter(const std::filesystem::path& path, int width, int height, int fps) : impl_(new Impl) {
  av_log_set_level(AV_LOG_ERROR);  // libx264 prints statistics at the default level
  Impl& v = *impl_;
  require(width > 0 && height > 0 && width % 2 == 0 && height % 2 == 0,
          "video frames must have even, positive sizes; got " + std::to_string(width) + "x" + std::to_string(height));
  require(fps > 0, "video frame rate must be positive");
  v.path = path, v.width = width, v.height = height;
  v.tmp = path;
  v.tmp += ".tmp";
  require(avformat_alloc_output_context2(&v.format, nullptr, "mp4", v.tmp.c_str()) >= 0 && v.format,
          "libavformat cannot write MP4 files");
  const AVCodec* codec = avcodec_find_encoder_by_name("libx264");
  if (!codec) codec = avcodec_find_encoder(AV_CODEC_ID_MPEG4);
  require(codec != nullptr, "libavcodec has neither an H.264 nor an MPEG-4 encoder");
  v.stream = avformat_new_stream(v.format, nullptr);
  v.codec = avcodec_alloc_context3(codec);
  v.codec->width = width, v.codec->height = height;
  v.codec->time_base = AVRational{1, fps};
  v.codec->framerate = AVRational{fps, 1};
  v.codec->pix_fmt = AV_PIX_FMT_YUV420P;
  v.codec->gop_size = 12;
  if (codec->id == AV_CODEC_ID_MPEG4) v.codec->bit_rate = 2000000;
  if (v.format->oformat->flags & AVFMT_GLOBALHEADER) v.codec->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  if (codec->id == AV_CODEC_ID_H264) {
    av_opt_set(v.codec->priv_data, "preset", "veryfast", 0);
    av_opt_set(v.codec->priv_data, "crf", "20", 0);
  }
  require(avcodec_open2(v.codec, codec, nullptr) >= 0, std::string("could not open video encoder ") + codec->name);
  require(avcodec_parameters_from_context(v.stream->codecpar, v.codec) >= 0, "could not set video stream parameters");
  v.stream->time_base = v.codec->time_base;
  require(avio_open(&v.format->pb, v.tmp.c_str(), AVIO_FLAG_WRITE) >= 0,
          "cannot create " + v.tmp.string() + "; check that the directory exists and is writable");
  v.open_file = true;
  require(avformat_write_header(v.format, nullptr) >= 0, "could not write the MP4 header to " + v.tmp.string());
  v.frame = av_frame_alloc();
  v.frame->format = AV_PIX_FMT_YUV420P, v.frame->width = width, v.frame->height = height;
  require(av_frame_get_buffer(v.frame, 0) >= 0, "out of memory for a video frame");
  v.packet = av_packet_alloc();
  v.sws = sws_getContext(width, height, AV_PIX_FMT_RGB24, width, height, AV_PIX_FMT_YUV420P, SWS_BILINEAR, nullptr,
                         nullptr, nullptr);
  require(v.sws != nullptr, "libswscale cannot convert RGB to YUV");
}

VideoWriter::~VideoWriter() = default;

std::string VideoWriter::codec() const { return impl_->codec->codec->name; }

void VideoWriter::write(const uint8_t* rgb) {
  Impl& v = *impl_;
  require(!v.closed, "video " + v.path.string() + " is already closed");
  require(av_frame_make_writable(v.frame) >= 0, "video frame is not writable");
  const uint8_t* src[1] = {rgb};
  int stride[1] = {3 * v.width};
  sws_scale(v.sws, src, stride, 0, v.height, v.frame->data, v.frame->linesize);
  v.frame->pts = frames_++;
  v.encode(v.frame);
}

void VideoWriter::close() {
  Impl& v = *impl_;
  if (v.closed) return;
  v.encode(nullptr);
  require(av_write_trailer(v.format) >= 0, "could not finish " + v.tmp.string());
  avio_closep(&v.format->pb);
  v.open_file = false;
  std::filesystem::rename(v.tmp, v.path);
  v.closed = true;
}

}  // namespace nfp
