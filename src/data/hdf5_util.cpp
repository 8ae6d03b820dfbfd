#include "hdf5_util.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

#include "nfp/atomic_file.hpp"

namespace fs = std::filesystem;

namespace nfp::h5 {

void silence_errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

Handle& Handle::operator=(Handle&& o) noexcept {
  if (this != &o) {
    reset();
    id_ = o.id_;
    close_ = o.close_;
    o.id_ = H5I_INVALID_HID;
  }
  return *this;
}

void Handle::reset() {
  if (id_ >= 0 && close_) close_(id_);
  id_ = H5I_INVALID_HID;
}

std::string where(const File& f, const std::string& key) {
  return "'" + f.path.string() + "': " + quoted_value(key, 200);  // a name from the file: cut, escaped (one line)
}

File open_file(const fs::path& path) {
  silence_errors();
  std::error_code ec;
  require(fs::exists(path, ec), "'" + path.string() + "': no such file (check the dataset path)");
  require(fs::is_regular_file(path, ec), "'" + path.string() + "': not a regular file");
  const htri_t is_h5 = H5Fis_hdf5(path.c_str());
  require(is_h5 > 0, "'" + path.string() +
                         "': not a readable HDF5 file (truncated or corrupt?); re-create or re-download it");
  check_structure(path);
  const hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  require(id >= 0, "'" + path.string() + "': cannot open HDF5 file (truncated or corrupt?)");
  return File{path, Handle(id, H5Fclose)};
}

File create_file(const fs::path& path) {
  silence_errors();
  const hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  require(id >= 0, "'" + path.string() + "': cannot create HDF5 file (directory missing or not writable?)");
  return File{path, Handle(id, H5Fclose)};
}

File create_memory_file(const fs::path& path) {
  silence_errors();
  const std::string where = "'" + path.string() + "': ";
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  require(fapl.valid() && H5Pset_fapl_core(fapl.get(), size_t(4) << 20, 0) >= 0,
          where + "cannot set up an in-memory HDF5 file");
  // The name only identifies the file inside libhdf5 (nothing is written under it): unique, so it never meets an open
  // file of the same path.
  const hid_t id = H5Fcreate(temp_sibling(path, "mem").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get());
  require(id >= 0, where + "cannot create an in-memory HDF5 file (out of memory?)");
  return File{path, Handle(id, H5Fclose)};
}

std::string file_image(const File& f) {
  const std::string where = "'" + f.path.string() + "': ";
  require(H5Fflush(f.handle.get(), H5F_SCOPE_GLOBAL) >= 0, where + "cannot flush the in-memory HDF5 file");
  const ssize_t size = H5Fget_file_image(f.handle.get(), nullptr, 0);
  require(size > 0, where + "cannot get the in-memory HDF5 file's size");
  std::string bytes(size_t(size), '\0');
  require(H5Fget_file_image(f.handle.get(), bytes.data(), bytes.size()) == size,
          where + "cannot copy the in-memory HDF5 file");
  return bytes;
}

bool exists(hid_t loc, const std::string& path) {
  // H5Lexists fails (rather than returning false) when an intermediate group is missing: check each prefix.
  size_t pos = 0;
  while (true) {
    pos = path.find('/', pos + 1);
    const std::string prefix = path.substr(0, pos);
    if (!prefix.empty() && prefix != "/" && H5Lexists(loc, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (pos == std::string::npos) break;
  }
  return H5Oexists_by_name(loc, path.c_str(), H5P_DEFAULT) > 0;
}

static H5O_type_t object_type(hid_t loc, const std::string& path) {
  if (!exists(loc, path)) return H5O_TYPE_UNKNOWN;
  H5O_info_t info;
  if (H5Oget_info_by_name(loc, path.c_str(), &info, H5P_DEFAULT) < 0) return H5O_TYPE_UNKNOWN;
  return info.type;
}

bool is_group(hid_t loc, const std::string& path) { return object_type(loc, path) == H5O_TYPE_GROUP; }
bool is_dataset(hid_t loc, const std::string& path) { return object_type(loc, path) == H5O_TYPE_DATASET; }

Handle open_group(const File& f, const std::string& path) {
  require(is_group(f.handle.get(), path), where(f, path) + ": group not found");
  const hid_t id = H5Gopen2(f.handle.get(), path.c_str(), H5P_DEFAULT);
  require(id >= 0, where(f, path) + ": cannot open group (corrupt file?)");
  return Handle(id, H5Gclose);
}

Handle open_dataset(const File& f, const std::string& path) {
  require(is_dataset(f.handle.get(), path),
          where(f, path) + ": dataset not found (check --obs-keys / --action-key / --layout)");
  const hid_t id = H5Dopen2(f.handle.get(), path.c_str(), H5P_DEFAULT);
  require(id >= 0, where(f, path) + ": cannot open dataset (corrupt file?)");
  return Handle(id, H5Dclose);
}

Handle create_group(const File& f, const std::string& path) {
  if (is_group(f.handle.get(), path)) return open_group(f, path);
  Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  const hid_t id = H5Gcreate2(f.handle.get(), path.c_str(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT);
  require(id >= 0, where(f, path) + ": cannot create group");
  return Handle(id, H5Gclose);
}

static herr_t collect_name(hid_t, const char* name, const H5L_info_t*, void* out) {
  static_cast<std::vector<std::string>*>(out)->push_back(name);
  return 0;
}

std::vector<std::string> children(const File& f, const std::string& group) {
  Handle g = open_group(f, group);
  std::vector<std::string> names;
  hsize_t idx = 0;
  require(H5Literate(g.get(), H5_INDEX_NAME, H5_ITER_INC, &idx, collect_name, &names) >= 0,
          where(f, group) + ": cannot list group (corrupt file?)");
  return names;
}

std::string DatasetDesc::dtype() const {
  switch (type_class) {
    case H5T_FLOAT: return "float" + std::to_string(8 * type_size);
    case H5T_INTEGER: return std::string(is_signed ? "int" : "uint") + std::to_string(8 * type_size);
    case H5T_STRING: return "bytes";
    case H5T_ENUM: return "bool";
    default: return "other";
  }
}

static DatasetDesc describe_handle(const File& f, const std::string& path, hid_t ds) {
  DatasetDesc d;
  Handle space(H5Dget_space(ds), H5Sclose);
  Handle type(H5Dget_type(ds), H5Tclose);
  require(space.valid() && type.valid(), where(f, path) + ": cannot read dataset header (corrupt file?)");
  const int rank = H5Sget_simple_extent_ndims(space.get());
  require(rank >= 0, where(f, path) + ": cannot read dataset shape (corrupt file?)");
  std::vector<hsize_t> dims(rank);
  require(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) == rank,
          where(f, path) + ": cannot read dataset shape (corrupt file?)");
  for (hsize_t n : dims)
    require(n <= hsize_t(std::numeric_limits<int64_t>::max()),
            where(f, path) + ": dimension " + std::to_string(n) + " is implausible (corrupt file?)");
  d.shape.assign(dims.begin(), dims.end());
  d.type_class = H5Tget_class(type.get());
  d.type_size = H5Tget_size(type.get());
  d.is_signed = d.type_class == H5T_INTEGER && H5Tget_sign(type.get()) == H5T_SGN_2;
  return d;
}

// Elements of dataset `ds` (shape `shape`), checked before anything is allocated for them: the product must not
// overflow, and the bytes it implies must be backed by the file. A corrupt header can claim 2^60 elements; the
// bytes actually stored bound a real dataset, expanded at most ~1032x by gzip (its limit) plus fill-value chunks
// never written (allowed up to 64 MiB).
static size_t checked_elements(const File& f, const std::string& path, hid_t ds, const std::vector<int64_t>& shape,
                               size_t type_size) {
  const uint64_t limit = uint64_t(H5Dget_storage_size(ds)) * 1100 + (uint64_t(64) << 20);
  uint64_t n = 1;
  for (int64_t s : shape) {
    require(s >= 0 && (s == 0 || n <= limit / uint64_t(s)),
            where(f, path) + ": its shape claims more data than the file holds (corrupt file?)");
    n *= uint64_t(s);
  }
  require(n <= limit / std::max<size_t>(type_size, 1),
          where(f, path) + ": its shape claims more data than the file holds (corrupt file?)");
  return size_t(n);
}

DatasetDesc describe(const File& f, const std::string& path) {
  Handle ds = open_dataset(f, path);
  return describe_handle(f, path, ds.get());
}

template <typename T>
static Array<T> read_numeric(const File& f, const std::string& path, hid_t mem_type, bool as_rows) {
  Handle ds = open_dataset(f, path);
  const DatasetDesc d = describe_handle(f, path, ds.get());
  require(d.type_class == H5T_INTEGER || d.type_class == H5T_FLOAT,
          where(f, path) + ": expected a numeric array, found " + d.dtype());
  Array<T> a;
  a.shape = d.shape;
  if (as_rows && a.shape.size() == 1) a.shape.push_back(1);
  if (a.shape.empty()) a.shape = {1};
  const size_t n = checked_elements(f, path, ds.get(), a.shape, d.type_size);
  a.data.resize(n);
  if (n > 0)
    require(H5Dread(ds.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, a.data.data()) >= 0,
            where(f, path) + ": cannot read data (file truncated or corrupt?)");
  return a;
}

Array<float> read_float(const File& f, const std::string& path, bool as_rows) {
  return read_numeric<float>(f, path, H5T_NATIVE_FLOAT, as_rows);
}
Array<double> read_double(const File& f, const std::string& path, bool as_rows) {
  return read_numeric<double>(f, path, H5T_NATIVE_DOUBLE, as_rows);
}

static void require_uint8(const File& f, const std::string& path, const DatasetDesc& d) {
  require(d.type_class == H5T_INTEGER && d.type_size == 1,
          where(f, path) + ": expected uint8 images (T x H x W x 3), found " + d.dtype() +
              " (compressed/encoded images are not supported; store decoded frames)");
}

Array<uint8_t> read_uint8(const File& f, const std::string& path) {
  Handle ds = open_dataset(f, path);
  require_uint8(f, path, describe_handle(f, path, ds.get()));
  return read_numeric<uint8_t>(f, path, H5T_NATIVE_UINT8, false);
}

Array<uint8_t> read_uint8_rows(const File& f, const std::string& path, const std::vector<int64_t>& frames) {
  Handle ds = open_dataset(f, path);
  const DatasetDesc d = describe_handle(f, path, ds.get());
  require_uint8(f, path, d);
  require(!d.shape.empty(), where(f, path) + ": expected an array with a time dimension");
  checked_elements(f, path, ds.get(), d.shape, d.type_size);
  Array<uint8_t> a;
  a.shape = d.shape;
  a.shape[0] = static_cast<int64_t>(frames.size());
  const int64_t row = a.row_size();
  a.data.resize(frames.size() * row);
  Handle file_space(H5Dget_space(ds.get()), H5Sclose);
  std::vector<hsize_t> start(d.shape.size(), 0), count(d.shape.begin(), d.shape.end());
  count[0] = 1;
  const hsize_t mem_dims[1] = {static_cast<hsize_t>(row)};
  Handle mem_space(H5Screate_simple(1, mem_dims, nullptr), H5Sclose);
  for (size_t i = 0; i < frames.size(); ++i) {
    require(frames[i] >= 0 && frames[i] < d.shape[0],
            where(f, path) + ": frame " + std::to_string(frames[i]) + " out of range");
    start[0] = static_cast<hsize_t>(frames[i]);
    H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr);
    require(H5Dread(ds.get(), H5T_NATIVE_UINT8, mem_space.get(), file_space.get(), H5P_DEFAULT,
                    a.data.data() + i * row) >= 0,
            where(f, path) + ": cannot read frame (file truncated or corrupt?)");
  }
  return a;
}

// Reads a string-typed dataset or attribute (`is_attr`) with `n` elements.
static std::vector<std::string> read_string_values(hid_t obj, hid_t type, size_t n, bool is_attr,
                                                   const std::string& what) {
  std::vector<std::string> out;
  if (n == 0) return out;
  if (H5Tis_variable_str(type) > 0) {
    Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.get(), H5T_VARIABLE);
    H5Tset_cset(mem.get(), H5Tget_cset(type));  // HDF5 will not convert between ASCII and UTF-8
    std::vector<char*> buf(n, nullptr);
    const herr_t st = is_attr ? H5Aread(obj, mem.get(), buf.data())
                              : H5Dread(obj, mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data());
    require(st >= 0, what + ": cannot read strings (corrupt file?)");
    for (char* s : buf) out.emplace_back(s ? s : "");
    Handle space(is_attr ? H5Aget_space(obj) : H5Dget_space(obj), H5Sclose);
    H5Dvlen_reclaim(mem.get(), space.get(), H5P_DEFAULT, buf.data());
    return out;
  }
  const size_t len = H5Tget_size(type);
  require(len > 0 && n <= (size_t(256) << 20) / len, what + ": implausible string size (corrupt file?)");
  Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(mem.get(), len);
  H5Tset_strpad(mem.get(), H5T_STR_NULLPAD);
  H5Tset_cset(mem.get(), H5Tget_cset(type));
  std::vector<char> buf(n * len, '\0');
  const herr_t st = is_attr ? H5Aread(obj, mem.get(), buf.data())
                            : H5Dread(obj, mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data());
  require(st >= 0, what + ": cannot read strings (corrupt file?)");
  for (size_t i = 0; i < n; ++i) {
    std::string s(buf.data() + i * len, len);
    s.erase(std::find(s.begin(), s.end(), '\0'), s.end());
    out.push_back(s);
  }
  return out;
}

std::vector<std::string> read_strings(const File& f, const std::string& path) {
  Handle ds = open_dataset(f, path);
  const DatasetDesc d = describe_handle(f, path, ds.get());
  require(d.type_class == H5T_STRING, where(f, path) + ": expected an array of strings, found " + d.dtype());
  const size_t n = checked_elements(f, path, ds.get(), d.shape, d.type_size);
  Handle type(H5Dget_type(ds.get()), H5Tclose);
  return read_string_values(ds.get(), type.get(), n, false, where(f, path));
}

static herr_t collect_attr(hid_t, const char* name, const H5A_info_t*, void* out) {
  static_cast<std::vector<std::string>*>(out)->push_back(name);
  return 0;
}

std::vector<std::string> attr_names(const File& f, const std::string& obj) {
  std::vector<std::string> names;
  hsize_t idx = 0;
  require(H5Aiterate_by_name(f.handle.get(), obj.c_str(), H5_INDEX_NAME, H5_ITER_INC, &idx, collect_attr,
                             &names, H5P_DEFAULT) >= 0,
          where(f, obj) + ": cannot list attributes (corrupt file?)");
  return names;
}

std::optional<nlohmann::json> read_attr(const File& f, const std::string& obj, const std::string& name) {
  if (obj != "/" && !exists(f.handle.get(), obj)) return std::nullopt;
  if (H5Aexists_by_name(f.handle.get(), obj.c_str(), name.c_str(), H5P_DEFAULT) <= 0) return std::nullopt;
  const std::string what = where(f, obj) + " attribute " + quoted_value(name);
  Handle attr(H5Aopen_by_name(f.handle.get(), obj.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  require(attr.valid(), what + ": cannot open (corrupt file?)");
  Handle type(H5Aget_type(attr.get()), H5Tclose);
  Handle space(H5Aget_space(attr.get()), H5Sclose);
  require(type.valid() && space.valid(), what + ": cannot read header (corrupt file?)");
  const hssize_t npoints = H5Sget_simple_extent_npoints(space.get());
  const bool scalar = H5Sget_simple_extent_ndims(space.get()) == 0;
  require(npoints >= 0 && npoints <= (1 << 20), what + ": implausible number of values (corrupt file?)");
  const size_t n = static_cast<size_t>(npoints);
  nlohmann::json values = nlohmann::json::array();
  switch (H5Tget_class(type.get())) {
    case H5T_STRING:
      for (auto& s : read_string_values(attr.get(), type.get(), n, true, what)) values.push_back(s);
      break;
    case H5T_INTEGER: {
      std::vector<int64_t> buf(n);
      require(n == 0 || H5Aread(attr.get(), H5T_NATIVE_INT64, buf.data()) >= 0, what + ": cannot read");
      for (int64_t v : buf) values.push_back(v);
      break;
    }
    case H5T_FLOAT: {
      std::vector<double> buf(n);
      require(n == 0 || H5Aread(attr.get(), H5T_NATIVE_DOUBLE, buf.data()) >= 0, what + ": cannot read");
      for (double v : buf) values.push_back(v);
      break;
    }
    case H5T_ENUM: {  // h5py stores numpy bools as a 1-byte enum {FALSE, TRUE}
      require(H5Tget_size(type.get()) == 1, what + ": unsupported enum attribute");
      std::vector<uint8_t> buf(n);
      require(n == 0 || H5Aread(attr.get(), type.get(), buf.data()) >= 0, what + ": cannot read");
      for (uint8_t v : buf) values.push_back(v != 0);
      break;
    }
    default:
      return nlohmann::json(nullptr);  // compound/opaque attributes carry nothing nfp uses
  }
  if (scalar && values.size() == 1) return values[0];
  return values;
}

void write_array(const File& f, const std::string& path, const std::vector<int64_t>& shape, const void* data,
                 hid_t mem_type, hid_t file_type, int gzip_level) {
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  int64_t total = 1;
  for (int64_t s : shape) total *= s;
  if (gzip_level > 0 && total > 0 && !dims.empty()) {
    // Chunks of whole frames, ~1 MiB each, so a lazy reader decompresses little beyond the frames it needs.
    std::vector<hsize_t> chunk = dims;
    const hsize_t row = dims[0] ? static_cast<hsize_t>(total) / dims[0] : 1;
    chunk[0] = std::max<hsize_t>(1, std::min<hsize_t>(dims[0], (1u << 20) / std::max<hsize_t>(row, 1)));
    H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data());
    H5Pset_deflate(dcpl.get(), static_cast<unsigned>(gzip_level));
  }
  Handle ds(H5Dcreate2(f.handle.get(), path.c_str(), file_type, space.get(), lcpl.get(), dcpl.get(), H5P_DEFAULT),
            H5Dclose);
  require(ds.valid(), where(f, path) + ": cannot create dataset");
  if (total > 0)
    require(H5Dwrite(ds.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0,
            where(f, path) + ": cannot write (out of memory, or disk full?)");
}

void write_strings(const File& f, const std::string& path, const std::vector<std::string>& values) {
  // Fixed-length, null-padded byte strings: what h5py writes for np.array(names, dtype="S").
  size_t len = 1;
  for (const auto& v : values) len = std::max(len, v.size());
  std::vector<char> buf(values.size() * len, '\0');
  for (size_t i = 0; i < values.size(); ++i) std::memcpy(buf.data() + i * len, values[i].data(), values[i].size());
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), len);
  H5Tset_strpad(type.get(), H5T_STR_NULLPAD);
  write_array(f, path, {static_cast<int64_t>(values.size())}, buf.data(), type.get(), type.get(), 0);
}

void write_attr(const File& f, const std::string& obj, const std::string& name, const nlohmann::json& value) {
  const std::string what = where(f, obj) + " attribute " + quoted_value(name);
  const hid_t loc = f.handle.get();
  if (H5Aexists_by_name(loc, obj.c_str(), name.c_str(), H5P_DEFAULT) > 0)
    H5Adelete_by_name(loc, obj.c_str(), name.c_str(), H5P_DEFAULT);
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  auto create = [&](hid_t type) {
    Handle a(H5Acreate_by_name(loc, obj.c_str(), name.c_str(), type, space.get(), H5P_DEFAULT, H5P_DEFAULT,
                               H5P_DEFAULT),
             H5Aclose);
    require(a.valid(), what + ": cannot create");
    return a;
  };
  herr_t st = 0;
  if (value.is_number_integer() || value.is_boolean()) {
    const int64_t v = value.is_boolean() ? int64_t(value.get<bool>()) : value.get<int64_t>();
    st = H5Awrite(create(H5T_STD_I64LE).get(), H5T_NATIVE_INT64, &v);
  } else if (value.is_number()) {
    const double v = value.get<double>();
    st = H5Awrite(create(H5T_IEEE_F64LE).get(), H5T_NATIVE_DOUBLE, &v);
  } else {
    // Variable-length UTF-8 string, as h5py writes a Python str; non-strings are stored as JSON text.
    const std::string s = value.is_string() ? value.get<std::string>() : value.dump();
    Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(type.get(), H5T_VARIABLE);
    H5Tset_cset(type.get(), H5T_CSET_UTF8);
    const char* p = s.c_str();
    st = H5Awrite(create(type.get()).get(), type.get(), &p);
  }
  require(st >= 0, what + ": cannot write");
}

}  // namespace nfp::h5
