// Readers for the robomimic, LIBERO and ACT/ALOHA layouts, with layout detection.
#include <algorithm>
#include <mutex>

#include "hdf5_util.hpp"
#include "nfp/hdf5_dataset.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace nfp {

std::string layout_name(DatasetLayout layout) {
  switch (layout) {
    case DatasetLayout::automatic: return "auto";
    case DatasetLayout::robomimic: return "robomimic";
    case DatasetLayout::libero: return "libero";
    case DatasetLayout::act: return "act";
  }
  return "auto";
}

DatasetLayout parse_layout(const std::string& name) {
  if (name == "auto" || name.empty()) return DatasetLayout::automatic;
  if (name == "robomimic") return DatasetLayout::robomimic;
  if (name == "libero") return DatasetLayout::libero;
  if (name == "act" || name == "aloha") return DatasetLayout::act;
  throw Error("unknown dataset layout " + quoted_value(name) + "; use one of: auto, robomimic, libero, act");
}

namespace {

// demo_2 before demo_10 (robomimic names are not zero-padded).
bool natural_less(const std::string& a, const std::string& b) {
  auto split = [](const std::string& s) {
    size_t i = s.size();
    while (i > 0 && std::isdigit(static_cast<unsigned char>(s[i - 1]))) --i;
    const long long n = i < s.size() ? std::stoll(s.substr(i, 18)) : -1;
    return std::make_pair(s.substr(0, i), n);
  };
  return split(a) < split(b);
}

// JSON text stored in a string attribute (env_args, problem_info) is parsed; anything else is kept.
json parse_if_json(const json& v) {
  if (!v.is_string()) return v;
  const std::string& s = v.get_ref<const std::string&>();
  if (s.empty() || (s.front() != '{' && s.front() != '[')) return v;
  json parsed = json::parse(s, nullptr, false);
  return parsed.is_discarded() ? v : parsed;
}

json read_all_attrs(const h5::File& f, const std::string& obj) {
  json out = json::object();
  for (const auto& name : h5::attr_names(f, obj)) {
    const auto v = h5::read_attr(f, obj, name);
    require(v.has_value(), h5::where(f, obj) + " attribute " + quoted_value(name) + ": listed but cannot be opened (corrupt file?)");
    out[name] = parse_if_json(*v);
  }
  return out;
}

std::string instruction_from(const json& attrs) {
  for (const char* k : {"instruction", "language_instruction", "lang"})
    if (attrs.contains(k) && attrs[k].is_string()) return attrs[k].get<std::string>();
  if (attrs.contains("problem_info") && attrs["problem_info"].is_object())
    return instruction_from(attrs["problem_info"]);
  if (attrs.contains("env_args") && attrs["env_args"].is_object()) {
    const json& ea = attrs["env_args"];
    std::string s = instruction_from(ea);
    if (s.empty() && ea.contains("env_kwargs") && ea["env_kwargs"].is_object()) s = instruction_from(ea["env_kwargs"]);
    return s;
  }
  return "";
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s.empty() ? "(none)" : truncate_for_message(s, 400);  // names from the file: cut, escaped (one line)
}

std::string child(const std::string& group, const std::string& name) {
  return group == "/" ? name : group + "/" + name;
}

// Observation datasets of one demo group: key -> path relative to the group.
std::map<std::string, std::string> observation_paths(const h5::File& f, const std::string& g, DatasetLayout layout,
                                                     const std::vector<std::string>& wanted) {
  std::map<std::string, std::string> found;
  const hid_t loc = f.handle.get();
  const std::vector<std::string> groups = layout == DatasetLayout::act
                                              ? std::vector<std::string>{"observations", "observations/images"}
                                              : std::vector<std::string>{"obs"};
  for (const auto& sub : groups) {
    const std::string full = child(g, sub);
    if (!h5::is_group(loc, full)) continue;
    for (const auto& name : h5::children(f, full))
      if (h5::is_dataset(loc, child(full, name))) found.emplace(name, child(sub, name));
  }
  if (wanted.empty()) return found;
  std::map<std::string, std::string> chosen;
  for (const auto& k : wanted) {
    auto it = found.find(k);
    std::vector<std::string> names;
    for (const auto& [n, p] : found) names.push_back(n);
    require(it != found.end(), h5::where(f, child(g, groups[0] + "/" + k)) +
                                   ": observation key not found; available: " + join(names) + " (fix --obs-keys)");
    chosen.insert(*it);
  }
  return chosen;
}

bool is_image(const h5::DatasetDesc& d) {
  return d.type_class == H5T_INTEGER && d.type_size == 1 && d.shape.size() == 4;
}

DatasetInfo read_info(const h5::File& f, const ReadOptions& options) {
  const hid_t loc = f.handle.get();
  DatasetInfo info;
  info.path = f.path;
  info.layout = options.layout;
  if (info.layout == DatasetLayout::automatic) {
    if (h5::is_group(loc, "data")) {
      info.layout = DatasetLayout::robomimic;
      for (const char* k : {"problem_info", "bddl_file_name"})
        if (H5Aexists_by_name(loc, "data", k, H5P_DEFAULT) > 0) info.layout = DatasetLayout::libero;
    } else if (h5::is_dataset(loc, "action") && h5::is_group(loc, "observations")) {
      info.layout = DatasetLayout::act;
    } else {
      throw Error("'" + f.path.string() +
                  "': unknown dataset layout (no group 'data' as in robomimic/LIBERO, no '/action' + "
                  "'/observations' as in ACT); pass --layout");
    }
  }
  const bool act = info.layout == DatasetLayout::act;
  const std::string action_key = options.action_key.empty() ? (act ? "action" : "actions") : options.action_key;
  if (act) {
    info.data_attrs = read_all_attrs(f, "/");
    info.demos = {"/"};
    require(options.filter.empty(), "'" + f.path.string() + "': ACT files hold one episode and no masks; filter '" +
                                        options.filter + "' cannot apply (split by files instead)");
  } else {
    require(h5::is_group(loc, "data"), h5::where(f, "data") + ": group not found (not a " +
                                           layout_name(info.layout) + " file? check --layout)");
    info.data_attrs = read_all_attrs(f, "data");
    if (h5::is_group(loc, "mask"))
      for (const auto& m : h5::children(f, "mask")) info.masks[m] = h5::read_strings(f, "mask/" + m);
    for (const auto& name : h5::children(f, "data"))
      if (h5::is_group(loc, "data/" + name)) info.demos.push_back(name);
    std::sort(info.demos.begin(), info.demos.end(), natural_less);
    if (!options.filter.empty()) {
      auto it = info.masks.find(options.filter);
      std::vector<std::string> names;
      for (const auto& [n, d] : info.masks) names.push_back(n);
      require(it != info.masks.end(), h5::where(f, "mask/" + options.filter) + ": filter not found; masks: " +
                                          join(names));
      for (const auto& d : it->second)
        require(std::binary_search(info.demos.begin(), info.demos.end(), d, natural_less),
                h5::where(f, "mask/" + options.filter) + ": lists " + quoted_value(d) + ", which is not a demo in 'data'");
      std::vector<std::string> kept;
      for (const auto& d : info.demos)
        if (std::find(it->second.begin(), it->second.end(), d) != it->second.end()) kept.push_back(d);
      info.demos = kept;
    }
    for (auto& d : info.demos) d = "data/" + d;
  }
  info.instruction = instruction_from(info.data_attrs);
  for (const auto& g : info.demos) {
    const std::string ap = child(g, action_key);
    const h5::DatasetDesc d = h5::describe(f, ap);
    require(!d.shape.empty() && d.shape.size() <= 2, h5::where(f, ap) + ": actions must be (T x A)");
    info.lengths.push_back(d.shape[0]);
    if (info.keys.empty()) {
      info.keys.push_back({action_key, {d.shape.size() == 2 ? d.shape[1] : 1}, d.dtype(), false, action_key});
      for (const auto& [k, p] : observation_paths(f, g, info.layout, options.obs_keys)) {
        const h5::DatasetDesc od = h5::describe(f, child(g, p));
        KeyInfo ki{k, std::vector<int64_t>(od.shape.begin() + (od.shape.empty() ? 0 : 1), od.shape.end()),
                   od.dtype(), is_image(od), p};
        if (ki.is_image) info.image_paths[k] = p;
        info.keys.push_back(ki);
      }
    }
  }
  return info;
}

void check_rows(const h5::File& f, const std::string& path, int64_t rows, const std::string& action_path, int64_t T) {
  require(rows == T, h5::where(f, path) + " has " + std::to_string(rows) + " frames but '" + action_path + "' has " +
                         std::to_string(T) + " (mismatched lengths; the file is inconsistent)");
}

Episode read_demo(const h5::File& f, const DatasetInfo& info, const std::string& g, const ReadOptions& options) {
  const hid_t loc = f.handle.get();
  const bool act = info.layout == DatasetLayout::act;
  Episode e;
  e.name = act ? f.path.stem().string() : g.substr(g.rfind('/') + 1);
  const std::string ap = child(g, info.keys.at(0).key);
  e.actions = h5::read_float(f, ap);
  require(e.actions.shape.size() == 2, h5::where(f, ap) + ": actions must be (T x A)");
  const int64_t T = e.actions.rows();
  json attrs = read_all_attrs(f, g);
  if (!act && attrs.contains("num_samples") && attrs["num_samples"].is_number_integer())
    require(attrs["num_samples"].get<int64_t>() == T,
            h5::where(f, g) + " attribute 'num_samples' is " + attrs["num_samples"].dump() + " but '" + ap + "' has " +
                std::to_string(T) + " frames (mismatched lengths)");
  require(e.actions.shape[1] == info.keys[0].frame_shape[0],
          h5::where(f, ap) + ": " + std::to_string(e.actions.shape[1]) + " action dimensions, but the first demo has " +
              std::to_string(info.keys[0].frame_shape[0]));
  // Every demo must hold the keys of the first one, with the same per-frame shape: batches are built from
  // fixed-size rows.
  for (size_t i = 1; i < info.keys.size(); ++i) {
    const KeyInfo& key = info.keys[i];
    const std::string path = child(g, key.path);
    const h5::DatasetDesc d = h5::describe(f, path);
    check_rows(f, path, d.shape.empty() ? 0 : d.shape[0], ap, T);
    const std::vector<int64_t> frame(d.shape.begin() + (d.shape.empty() ? 0 : 1), d.shape.end());
    require(frame == key.frame_shape && is_image(d) == key.is_image,
            h5::where(f, path) + ": per-frame shape or type differs from the first demo's '" + key.key + "'");
    if (key.is_image) {
      if (options.load_images) {
        Array<uint8_t> frames = h5::read_uint8(f, path);
        e.images[key.key] = options.image_size.empty() ? std::move(frames) : resize_frames(frames, options.image_size);
      }
    } else {
      Array<float> a = h5::read_float(f, path);
      a.shape = {T, a.row_size()};  // (T x d): a (T x 3 x 3) matrix observation becomes (T x 9)
      e.obs[key.key] = std::move(a);
    }
  }
  if (h5::is_dataset(loc, child(g, "states"))) {
    e.states = h5::read_double(f, child(g, "states"));
    check_rows(f, child(g, "states"), e.states.rows(), ap, T);
  }
  if (h5::is_dataset(loc, child(g, "rewards"))) {
    const Array<float> r = h5::read_float(f, child(g, "rewards"));
    check_rows(f, child(g, "rewards"), r.rows(), ap, T);
    e.rewards = r.data;
  }
  if (h5::is_dataset(loc, child(g, "dones"))) {
    const Array<float> d = h5::read_float(f, child(g, "dones"));
    check_rows(f, child(g, "dones"), d.rows(), ap, T);
    for (float v : d.data) e.dones.push_back(v != 0.0f);
  }
  e.instruction = instruction_from(attrs);
  if (e.instruction.empty()) e.instruction = info.instruction;
  for (const char* k : {"num_samples", "instruction", "language_instruction"}) attrs.erase(k);
  if (act) attrs = json::object();  // ACT root attrs (sim, compress) describe the file, not the episode
  attrs["source_file"] = f.path.string();
  attrs["source_group"] = g;
  e.attrs = std::move(attrs);
  return e;
}

}  // namespace

DatasetLayout detect_layout(const fs::path& path) { return read_dataset_info(path).layout; }

DatasetInfo read_dataset_info(const fs::path& path, const ReadOptions& options) {
  const h5::File f = h5::open_file(path);
  return read_info(f, options);
}

std::vector<Episode> read_episodes(const fs::path& path, const ReadOptions& options, DatasetInfo* info_out) {
  const h5::File f = h5::open_file(path);
  DatasetInfo info = read_info(f, options);
  std::vector<Episode> episodes;
  episodes.reserve(info.demos.size());
  for (const auto& g : info.demos) episodes.push_back(read_demo(f, info, g, options));
  if (info_out) *info_out = std::move(info);
  return episodes;
}

struct ImageFrameReader::Impl {
  std::mutex mutex;
  std::map<std::string, h5::File> files;
};

ImageFrameReader::ImageFrameReader() : impl_(std::make_unique<Impl>()) {}
ImageFrameReader::~ImageFrameReader() = default;

Array<uint8_t> ImageFrameReader::read(const fs::path& path, const std::string& group, const std::string& image_path,
                                      const std::vector<int64_t>& frames) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  h5::silence_errors();
  auto it = impl_->files.find(path.string());
  if (it == impl_->files.end()) it = impl_->files.emplace(path.string(), h5::open_file(path)).first;
  return h5::read_uint8_rows(it->second, child(group, image_path), frames);
}

}  // namespace nfp
