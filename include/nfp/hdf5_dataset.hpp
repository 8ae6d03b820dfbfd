// Demonstration files in HDF5: the robomimic layout (nfp's native format, written by `nfp collect`) and
// readers for the robomimic, LIBERO and ACT/ALOHA layouts. Torch-free (library nfp_hdf5).
//
//   robomimic  data/demo_i/{actions (T x A), obs/<key>, rewards (T), dones (T), states (T x S)},
//              demo attrs num_samples; data attrs total, env_args (JSON); mask/<filter> = demo names.
//   LIBERO     robomimic plus data attrs problem_info (JSON with language_instruction), env_name,
//              bddl_file_name; obs keys agentview_rgb, eye_in_hand_rgb, joint_states, ee_pos, ...
//   ACT        one episode per file: /action (T x 14), /observations/{qpos, qvel} (T x 14),
//              /observations/images/<camera> (T x H x W x 3 uint8).
// Every error is an nfp::Error naming the file and the key; corrupt input never crashes.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nfp/episode.hpp"
#include "nfp/image_preprocess.hpp"

namespace nfp {

enum class DatasetLayout { automatic, robomimic, libero, act };
std::string layout_name(DatasetLayout layout);           // "robomimic", "libero", "act", "auto"
DatasetLayout parse_layout(const std::string& name);     // Error listing the names if unknown

struct WriteOptions {
  nlohmann::json data_attrs = nlohmann::json::object();  // extra `data` attributes (env_name, problem_info...)
  std::map<std::string, std::vector<std::string>> masks;  // mask/<name> -> demo names (train/valid filters)
  int gzip_level = 0;                                     // 0: uncompressed (fastest to read)
};

// Writes `episodes` as data/demo_0..demo_{N-1} (Episode::name is ignored so names are always dense).
// Atomic: written to a temporary file in the same directory, then renamed over `path`.
// Images go to obs/<camera> as uint8 (T x H x W x 3), low-dim obs to obs/<key> float32, actions float32,
// states float64; demo attrs num_samples, instruction (if not empty) and every entry of Episode::attrs;
// data attrs total and env_args (JSON string).
void write_robomimic(const std::filesystem::path& path, const std::vector<Episode>& episodes,
                     const nlohmann::json& env_args, const WriteOptions& options = {});

// Writes one episode in the ACT/ALOHA layout: /action, /observations/<key> for every low-dim obs,
// /observations/images/<camera>; root attrs sim (true) and instruction (if not empty). Atomic.
void write_act_episode(const std::filesystem::path& path, const Episode& episode);

struct ReadOptions {
  DatasetLayout layout = DatasetLayout::automatic;
  std::vector<std::string> obs_keys;  // empty: every key under obs/ (or observations/ and its images/)
  std::string action_key;             // empty: "actions" (robomimic, LIBERO) or "action" (ACT)
  std::string filter;                 // mask/<filter> (e.g. "train", "valid"); empty: every demo
  bool load_images = true;            // false: Episode::images left empty (read later with ImageFrameReader)
  ImageSize image_size;               // camera images resized to this as each demo is read (--image-size); empty:
                                      // as stored. DatasetInfo keeps the stored shapes.
};

// Shape (per frame) and dtype of one key as stored, e.g. {"obs/agentview_rgb", {128,128,3}, "uint8"}.
struct KeyInfo {
  std::string key;
  std::vector<int64_t> frame_shape;
  std::string dtype;
  bool is_image = false;
  std::string path;  // inside a demo group: "actions", "obs/agentview_rgb", "observations/images/top"
};

// What a file holds, without the arrays.
struct DatasetInfo {
  std::filesystem::path path;
  DatasetLayout layout = DatasetLayout::robomimic;
  std::vector<std::string> demos;     // in numeric order (demo_2 before demo_10), after the filter
  std::vector<int64_t> lengths;       // frames per demo
  nlohmann::json data_attrs = nlohmann::json::object();  // JSON strings (env_args, problem_info) parsed
  std::map<std::string, std::vector<std::string>> masks;
  std::vector<KeyInfo> keys;          // action first, then observations (of the first demo)
  std::string instruction;            // file-level instruction (problem_info / env_args), may be empty
  std::map<std::string, std::string> image_paths;  // camera -> dataset path inside a demo group
};

// Looks at the file's groups and attributes; Error if it matches no layout.
DatasetLayout detect_layout(const std::filesystem::path& path);
DatasetInfo read_dataset_info(const std::filesystem::path& path, const ReadOptions& options = {});
// Every (filtered) demo of the file; Error naming file and key on a missing key, mismatched lengths or
// unreadable data. Episode::attrs gets "source_file" and "source_group" for lazy image reads.
std::vector<Episode> read_episodes(const std::filesystem::path& path, const ReadOptions& options = {},
                                   DatasetInfo* info = nullptr);
// Reads frames of one camera lazily (datasets too large to keep in memory). Keeps the files it has opened
// open; thread-safe (one reader may serve several loader threads).
class ImageFrameReader {
 public:
  ImageFrameReader();
  ~ImageFrameReader();
  ImageFrameReader(const ImageFrameReader&) = delete;
  ImageFrameReader& operator=(const ImageFrameReader&) = delete;
  // Frames `frames` of dataset `group`/`image_path` of file `path`: (len(frames) x H x W x 3) uint8.
  // `group` is the demo's group ("data/demo_3", or "/" for ACT); `image_path` a value of
  // DatasetInfo::image_paths ("obs/agentview_rgb").
  Array<uint8_t> read(const std::filesystem::path& path, const std::string& group, const std::string& image_path,
                      const std::vector<int64_t>& frames);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nfp
