// Small RAII layer over the HDF5 C API: handles that close themselves, typed array and attribute I/O, and
// errors turned into nfp::Error naming the file and the key (HDF5's own error stack printing is silenced).
// Internal to src/data; the public API is nfp/hdf5_dataset.hpp.
#pragma once
#include <hdf5.h>

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "nfp/episode.hpp"
#include "nfp/error.hpp"

namespace nfp::h5 {

// Turns off HDF5's automatic error printing for the calling thread (the error stack is per thread in a
// thread-safe build, so every entry point calls this).
void silence_errors();

// An owned hid_t, closed with the matching H5?close on destruction.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer close) : id_(id), close_(close) {}
  Handle(Handle&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& o) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { reset(); }
  void reset();
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer close_ = nullptr;
};

// A location in an open file plus the names needed for error messages.
struct File {
  std::filesystem::path path;
  Handle handle;
};

// Read-only; Error if absent, truncated or not HDF5, or if check_structure refuses it.
File open_file(const std::filesystem::path& path);

// Walks the whole file (every link, attribute value, dataset header and, up to 64 MiB each, dataset contents)
// with the readers' own functions in a forked child first (hdf5_guard.cpp): libhdf5 1.10 crashes on some corrupt
// structures, and a child killed by a signal, or still walking after 120 s, becomes one nfp::Error
// "'FILE': corrupt HDF5 (...)". A file walked once (same path, size, time, first and last MiB) is not walked again:
// the verdict, safe or refused, is remembered.
// NFP_HDF5_NO_ISOLATION=1 turns it off (debugging libhdf5 itself in one process); NFP_HDF5_WALK_SECONDS=N sets the
// time limit.
void check_structure(const std::filesystem::path& path);
File create_file(const std::filesystem::path& path);  // truncates; on disk (tests write malformed files with it)
// A new file held in memory (HDF5's core driver, no backing store), whose bytes file_image() returns; errors name
// `path`. nfp's writers build files this way and write the bytes themselves (write_file_atomic), so libhdf5 never
// meets a failing write: in libhdf5 1.10 a close that fails (a full disk) frees the file but leaves its ID behind,
// and the library's shutdown at exit then crashes on it (H5F__close_cb), after nfp's clean error line.
File create_memory_file(const std::filesystem::path& path);
std::string file_image(const File& f);  // flushes first

std::string where(const File& f, const std::string& key);  // "'file.hdf5': 'data/demo_0/actions'"

bool exists(hid_t loc, const std::string& path);  // every component of a/b/c exists
bool is_group(hid_t loc, const std::string& path);
bool is_dataset(hid_t loc, const std::string& path);
Handle open_group(const File& f, const std::string& path);
Handle open_dataset(const File& f, const std::string& path);
Handle create_group(const File& f, const std::string& path);
std::vector<std::string> children(const File& f, const std::string& group);  // names in creation/name order

struct DatasetDesc {
  std::vector<int64_t> shape;
  H5T_class_t type_class = H5T_NO_CLASS;
  size_t type_size = 0;
  bool is_signed = false;
  std::string dtype() const;  // numpy-style: "float32", "uint8", "int64", "bytes", ...
};
DatasetDesc describe(const File& f, const std::string& path);

// Reads a whole numeric dataset converted to T (HDF5 converts between numeric types). 1-D becomes (N x 1)
// when `as_rows` is set, so that every per-frame array is (T x d).
Array<float> read_float(const File& f, const std::string& path, bool as_rows = true);
Array<double> read_double(const File& f, const std::string& path, bool as_rows = true);
Array<uint8_t> read_uint8(const File& f, const std::string& path);
// Reads rows `frames` (first dimension) of a uint8 dataset: (len(frames) x rest...).
Array<uint8_t> read_uint8_rows(const File& f, const std::string& path, const std::vector<int64_t>& frames);
// A dataset of fixed- or variable-length strings (h5py's byte-string arrays, robomimic masks).
std::vector<std::string> read_strings(const File& f, const std::string& path);

// Attributes. Numeric scalars/arrays and strings become JSON; nullopt when absent.
std::vector<std::string> attr_names(const File& f, const std::string& obj);
std::optional<nlohmann::json> read_attr(const File& f, const std::string& obj, const std::string& name);

// Writers (errors name the file and key).
void write_array(const File& f, const std::string& path, const std::vector<int64_t>& shape, const void* data,
                 hid_t mem_type, hid_t file_type, int gzip_level);
void write_strings(const File& f, const std::string& path, const std::vector<std::string>& values);
// JSON scalars become typed attributes (int64, float64, string); arrays/objects are stored as JSON strings.
void write_attr(const File& f, const std::string& obj, const std::string& name, const nlohmann::json& value);

}  // namespace nfp::h5
