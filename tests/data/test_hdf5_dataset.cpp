// Episode files: write/read round trips in the robomimic, LIBERO and ACT layouts, layout detection, masks,
// key selection, and clear errors (naming file and key) on corrupt, truncated or inconsistent files.
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>

#include "data/hdf5_util.hpp"
#include "data_fixtures.hpp"
#include "nfp/hdf5_dataset.hpp"

namespace nfp {
namespace {

using test::make_episode;
using test::TempDir;

// Expects `fn` to throw nfp::Error whose message contains every string in `parts`.
template <typename Fn>
void expect_error(Fn fn, const std::vector<std::string>& parts) {
  try {
    fn();
    FAIL() << "expected nfp::Error";
  } catch (const Error& e) {
    for (const auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

TEST(Hdf5Dataset, RobomimicRoundTripKeepsEveryArrayAndAttribute) {
  TempDir dir;
  std::vector<Episode> eps;
  for (int i = 0; i < 11; ++i) eps.push_back(make_episode(i, 3 + i % 4));
  eps[2].instruction = "lift the cube";
  eps[2].attrs["seed"] = 1234;
  eps[2].attrs["model_file"] = "<mujoco/>";
  const nlohmann::json env_args = {{"env_name", "Lift"}, {"type", 1}, {"env_kwargs", {{"horizon", 400}}}};
  const auto path = dir / "demos.hdf5";
  write_robomimic(path, eps, env_args);

  EXPECT_EQ(detect_layout(path), DatasetLayout::robomimic);
  DatasetInfo info;
  const auto back = read_episodes(path, {}, &info);
  ASSERT_EQ(back.size(), eps.size());
  EXPECT_EQ(info.demos[2], "data/demo_2");  // numeric order: demo_2 before demo_10
  EXPECT_EQ(info.demos[10], "data/demo_10");
  EXPECT_EQ(info.data_attrs["env_args"], env_args);  // stored as a JSON string, parsed back
  int64_t total = 0;
  for (const auto& e : eps) total += e.length();
  EXPECT_EQ(info.data_attrs["total"], total);
  for (size_t i = 0; i < eps.size(); ++i) {
    EXPECT_EQ(back[i].name, "demo_" + std::to_string(i));
    EXPECT_EQ(back[i].actions.shape, eps[i].actions.shape);
    EXPECT_EQ(back[i].actions.data, eps[i].actions.data);
    EXPECT_EQ(back[i].obs.at("state").data, eps[i].obs.at("state").data);
    EXPECT_EQ(back[i].images.at("agentview_image").shape, eps[i].images.at("agentview_image").shape);
    EXPECT_EQ(back[i].images.at("agentview_image").data, eps[i].images.at("agentview_image").data);
    EXPECT_EQ(back[i].states.data, eps[i].states.data);
    EXPECT_EQ(back[i].rewards, eps[i].rewards);
    EXPECT_EQ(back[i].dones, eps[i].dones);
  }
  EXPECT_EQ(back[2].instruction, "lift the cube");
  EXPECT_EQ(back[2].attrs["seed"], 1234);
  EXPECT_EQ(back[2].attrs["model_file"], "<mujoco/>");
  EXPECT_EQ(back[2].attrs["source_group"], "data/demo_2");
  // Key table: action first, then observations with their per-frame shapes and dtypes.
  ASSERT_EQ(info.keys.size(), 3u);
  EXPECT_EQ(info.keys[0].key, "actions");
  EXPECT_EQ(info.keys[0].frame_shape, std::vector<int64_t>{3});
  EXPECT_EQ(info.keys[1].key, "agentview_image");
  EXPECT_TRUE(info.keys[1].is_image);
  EXPECT_EQ(info.keys[1].dtype, "uint8");
  EXPECT_EQ(info.keys[2].dtype, "float32");
}

TEST(Hdf5Dataset, MasksFilterTrainAndValidDemos) {
  TempDir dir;
  std::vector<Episode> eps;
  for (int i = 0; i < 5; ++i) eps.push_back(make_episode(i, 4, 2, ""));
  WriteOptions opt;
  opt.masks["train"] = {"demo_0", "demo_1", "demo_3"};
  opt.masks["valid"] = {"demo_2", "demo_4"};
  const auto path = dir / "masked.hdf5";
  write_robomimic(path, eps, nlohmann::json::object(), opt);
  ReadOptions ro;
  ro.filter = "valid";
  const auto valid = read_episodes(path, ro);
  ASSERT_EQ(valid.size(), 2u);
  EXPECT_EQ(valid[0].name, "demo_2");
  EXPECT_EQ(valid[1].name, "demo_4");
  EXPECT_EQ(valid[1].actions.data[0], 400.0f);
  ro.filter = "train";
  EXPECT_EQ(read_episodes(path, ro).size(), 3u);
  ro.filter = "20_percent";
  expect_error([&] { read_episodes(path, ro); }, {"masked.hdf5", "mask/20_percent", "train", "valid"});
}

TEST(Hdf5Dataset, LiberoLayoutIsDetectedAndGivesTheInstruction) {
  TempDir dir;
  std::vector<Episode> eps;
  for (int i = 0; i < 2; ++i) {
    Episode e = make_episode(i, 5, 7, "agentview_rgb", 128, 128);
    e.images["eye_in_hand_rgb"] = e.images["agentview_rgb"];
    e.obs.clear();
    e.obs["joint_states"] = {{5, 7}, std::vector<float>(35, 0.1f)};
    e.obs["gripper_states"] = {{5, 2}, std::vector<float>(10, 0.2f)};
    e.obs["ee_pos"] = {{5, 3}, std::vector<float>(15, 0.3f)};
    eps.push_back(e);
  }
  WriteOptions opt;
  opt.data_attrs["problem_info"] =
      R"({"problem_name": "libero_tabletop_manipulation", "domain_name": "robosuite", "language_instruction": "put the bowl on the plate"})";
  opt.data_attrs["env_name"] = "Libero_Tabletop_Manipulation";
  opt.data_attrs["bddl_file_name"] = "libero_spatial/put_the_bowl_on_the_plate.bddl";
  opt.data_attrs["num_demos"] = 2;
  const auto path = dir / "put_the_bowl_on_the_plate_demo.hdf5";
  write_robomimic(path, eps, {{"type", 1}, {"env_name", "Libero_Tabletop_Manipulation"}}, opt);

  EXPECT_EQ(detect_layout(path), DatasetLayout::libero);
  DatasetInfo info;
  const auto back = read_episodes(path, {}, &info);
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(info.instruction, "put the bowl on the plate");
  EXPECT_EQ(back[1].instruction, "put the bowl on the plate");
  EXPECT_EQ(back[0].images.size(), 2u);
  EXPECT_EQ(back[0].images.at("eye_in_hand_rgb").shape, (std::vector<int64_t>{5, 128, 128, 3}));
  EXPECT_EQ(back[0].obs.at("joint_states").shape, (std::vector<int64_t>{5, 7}));
  EXPECT_EQ(info.image_paths.at("agentview_rgb"), "obs/agentview_rgb");
  // The layout can be forced; robomimic reads the same file.
  ReadOptions ro;
  ro.layout = DatasetLayout::robomimic;
  ro.obs_keys = {"ee_pos", "agentview_rgb"};
  const auto sel = read_episodes(path, ro);
  EXPECT_EQ(sel[0].obs.size(), 1u);
  EXPECT_EQ(sel[0].images.size(), 1u);
  EXPECT_EQ(sel[0].images.count("agentview_rgb"), 1u);
}

TEST(Hdf5Dataset, ActLayoutReadsOneEpisodePerFile) {
  TempDir dir;
  for (int i = 0; i < 2; ++i) {
    Episode e = make_episode(i, 6, 14, "top", 12, 16);
    e.images["angle"] = e.images["top"];
    e.obs.clear();
    e.obs["qpos"] = {{6, 14}, std::vector<float>(6 * 14, float(i))};
    e.obs["qvel"] = {{6, 14}, std::vector<float>(6 * 14, 0.0f)};
    write_act_episode(dir / ("episode_" + std::to_string(i) + ".hdf5"), e);
  }
  const auto path = dir / "episode_1.hdf5";
  EXPECT_EQ(detect_layout(path), DatasetLayout::act);
  DatasetInfo info;
  const auto eps = read_episodes(path, {}, &info);
  ASSERT_EQ(eps.size(), 1u);
  EXPECT_EQ(eps[0].name, "episode_1");
  EXPECT_EQ(info.keys[0].key, "action");
  EXPECT_EQ(eps[0].actions.shape, (std::vector<int64_t>{6, 14}));
  EXPECT_EQ(eps[0].actions.data[14], 101.0f);  // episode 1, t = 1, j = 0
  EXPECT_EQ(eps[0].obs.at("qpos").data[0], 1.0f);
  EXPECT_EQ(eps[0].images.at("angle").shape, (std::vector<int64_t>{6, 12, 16, 3}));
  EXPECT_EQ(info.image_paths.at("top"), "observations/images/top");
  // h5py writes `root.attrs["sim"] = True` as a 1-byte enum {FALSE = 0, TRUE = 1}; ACT files carry it.
  {
    h5::silence_errors();
    h5::Handle file(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
    h5::Handle type(H5Tenum_create(H5T_NATIVE_INT8), H5Tclose);
    int8_t no = 0, yes = 1;
    H5Tenum_insert(type.get(), "FALSE", &no);
    H5Tenum_insert(type.get(), "TRUE", &yes);
    h5::Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    H5Adelete(file.get(), "sim");
    h5::Handle attr(H5Acreate2(file.get(), "sim", type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    ASSERT_GE(H5Awrite(attr.get(), type.get(), &yes), 0);
  }
  EXPECT_EQ(read_dataset_info(path).data_attrs["sim"], true);
  ReadOptions ro;
  ro.obs_keys = {"qpos", "top"};
  const auto sel = read_episodes(path, ro);
  EXPECT_EQ(sel[0].obs.size(), 1u);
  EXPECT_EQ(sel[0].images.size(), 1u);
}

TEST(Hdf5Dataset, LazyFrameReaderReturnsTheRequestedFrames) {
  TempDir dir;
  const auto path = dir / "lazy.hdf5";
  write_robomimic(path, {make_episode(0, 4), make_episode(1, 6)}, nlohmann::json::object());
  ReadOptions ro;
  ro.load_images = false;
  const auto eps = read_episodes(path, ro);
  EXPECT_TRUE(eps[1].images.empty());
  ImageFrameReader reader;
  const auto frames = reader.read(path, "data/demo_1", "obs/agentview_image", {5, 0, 5});
  EXPECT_EQ(frames.shape, (std::vector<int64_t>{3, 8, 8, 3}));
  EXPECT_EQ(frames.data[0], 6);  // (t + index) = 5 + 1
  EXPECT_EQ(frames.data[frames.row_size()], 1);
  EXPECT_EQ(frames.data[2 * frames.row_size()], 6);
  expect_error([&] { reader.read(path, "data/demo_1", "obs/agentview_image", {6}); }, {"lazy.hdf5", "out of range"});
}

TEST(Hdf5Dataset, MissingKeysNameTheFileAndTheKey) {
  TempDir dir;
  const auto path = dir / "keys.hdf5";
  write_robomimic(path, {make_episode(0, 4)}, nlohmann::json::object());
  ReadOptions ro;
  ro.obs_keys = {"robot0_eef_pos"};
  expect_error([&] { read_episodes(path, ro); }, {"keys.hdf5", "robot0_eef_pos", "available", "state"});
  ro = {};
  ro.action_key = "actions_abs";
  expect_error([&] { read_episodes(path, ro); }, {"keys.hdf5", "data/demo_0/actions_abs", "not found"});
  ro = {};
  ro.layout = DatasetLayout::act;
  expect_error([&] { read_episodes(path, ro); }, {"keys.hdf5", "action"});
}

TEST(Hdf5Dataset, MismatchedLengthsAreReportedWithBothKeys) {
  TempDir dir;
  const auto path = dir / "mismatch.hdf5";
  {
    h5::File f = h5::create_file(path);
    std::vector<float> a(10 * 3, 0.0f), s(9 * 2, 0.0f);
    h5::write_array(f, "data/demo_0/actions", {10, 3}, a.data(), H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 0);
    h5::write_array(f, "data/demo_0/obs/state", {9, 2}, s.data(), H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 0);
  }
  expect_error([&] { read_episodes(path); }, {"mismatch.hdf5", "data/demo_0/obs/state", "9", "10", "mismatched"});

  const auto path2 = dir / "num_samples.hdf5";
  {
    h5::File f = h5::create_file(path2);
    std::vector<float> a(10 * 3, 0.0f);
    h5::write_array(f, "data/demo_0/actions", {10, 3}, a.data(), H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 0);
    h5::write_attr(f, "data/demo_0", "num_samples", 12);
  }
  expect_error([&] { read_episodes(path2); }, {"num_samples.hdf5", "num_samples", "12"});
}

TEST(Hdf5Dataset, EveryDemoMustHoldTheFirstDemosKeysAndShapes) {
  TempDir dir;
  std::vector<float> a(4 * 3, 0.0f), s(4 * 2, 0.0f);
  std::vector<uint8_t> im(4 * 6 * 6 * 3, 0), im2(4 * 5 * 6 * 3, 0);
  const auto missing = dir / "missing_in_demo_1.hdf5";
  {
    h5::File f = h5::create_file(missing);
    for (const char* g : {"data/demo_0", "data/demo_1"})
      h5::write_array(f, std::string(g) + "/actions", {4, 3}, a.data(), H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 0);
    h5::write_array(f, "data/demo_0/obs/state", {4, 2}, s.data(), H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 0);
  }
  expect_error([&] { read_episodes(missing); }, {"missing_in_demo_1.hdf5", "data/demo_1/obs/state", "not found"});
  const auto reshaped = dir / "reshaped.hdf5";
  {
    h5::File f = h5::create_file(reshaped);
    for (const char* g : {"data/demo_0", "data/demo_1"})
      h5::write_array(f, std::string(g) + "/actions", {4, 3}, a.data(), H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 0);
    h5::write_array(f, "data/demo_0/obs/cam", {4, 6, 6, 3}, im.data(), H5T_NATIVE_UINT8, H5T_STD_U8LE, 0);
    h5::write_array(f, "data/demo_1/obs/cam", {4, 5, 6, 3}, im2.data(), H5T_NATIVE_UINT8, H5T_STD_U8LE, 0);
  }
  expect_error([&] { read_episodes(reshaped); }, {"reshaped.hdf5", "data/demo_1/obs/cam", "shape"});
}

TEST(Hdf5Dataset, CorruptTruncatedAndForeignFilesGiveOneClearError) {
  TempDir dir;
  const auto garbage = dir / "garbage.hdf5";
  std::ofstream(garbage) << "this is not an HDF5 file at all";
  expect_error([&] { read_episodes(garbage); }, {"garbage.hdf5", "not a readable HDF5 file"});
  expect_error([&] { read_episodes(dir / "absent.hdf5"); }, {"absent.hdf5", "no such file"});

  // A file cut short (a killed copy): half of a valid file.
  const auto good = dir / "good.hdf5";
  write_robomimic(good, {make_episode(0, 20), make_episode(1, 20)}, nlohmann::json::object());
  const auto bytes = std::filesystem::file_size(good);
  const auto truncated = dir / "truncated.hdf5";
  std::filesystem::copy_file(good, truncated);
  std::filesystem::resize_file(truncated, bytes / 2);
  expect_error([&] { read_episodes(truncated); }, {"truncated.hdf5"});

  // Valid HDF5 in no known layout.
  const auto foreign = dir / "foreign.hdf5";
  {
    h5::File f = h5::create_file(foreign);
    h5::create_group(f, "something_else");
  }
  expect_error([&] { read_episodes(foreign); }, {"foreign.hdf5", "unknown dataset layout", "--layout"});
}

TEST(Hdf5Dataset, GarbledBytesAnywhereGiveAnErrorOrDataNeverACrash) {
  // 16 random bytes written over the file at every 61st offset (headers, B-trees, attributes, data). Where
  // the damage hits raw data, values change silently (HDF5 has no checksums there); everywhere else the
  // reader must throw nfp::Error naming the file. A crash or another exception type fails the test.
  TempDir dir;
  const auto good = dir / "good.hdf5";
  write_robomimic(good, {make_episode(0, 20), make_episode(1, 20)}, {{"env_name", "Lift"}});
  std::string bytes;
  {
    std::ifstream in(good, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::mt19937 rng(1);
  int errors = 0;
  for (size_t off = 0; off < bytes.size(); off += 61) {
    std::string b = bytes;
    for (size_t i = 0; i < 16 && off + i < b.size(); ++i) b[off + i] = char(rng());
    const auto bad = dir / "garbled.hdf5";
    std::ofstream(bad, std::ios::binary) << b;
    try {
      read_episodes(bad);
    } catch (const Error& e) {
      ++errors;
      EXPECT_NE(std::string(e.what()).find("garbled.hdf5"), std::string::npos) << e.what();
    }
  }
  EXPECT_GT(errors, 0);  // some damage must be detected, or this test exercises nothing
}

TEST(Hdf5Dataset, WriterIsAtomicAndRefusesInconsistentEpisodes) {
  TempDir dir;
  const auto path = dir / "demos.hdf5";
  write_robomimic(path, {make_episode(0, 4)}, nlohmann::json::object());
  Episode bad = make_episode(1, 5);
  bad.obs["state"].shape[0] = 4;
  bad.obs["state"].data.resize(8);
  expect_error([&] { write_robomimic(path, {make_episode(0, 6), bad}, nlohmann::json::object()); },
               {"episode 1", "state", "mismatched"});
  // The earlier file is intact and no temporary file is left behind.
  EXPECT_EQ(read_episodes(path).at(0).length(), 4);
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) files += entry.is_regular_file();
  EXPECT_EQ(files, 1);
}

// A write that fails for lack of space (a file-size limit: write() fails with EFBIG as with ENOSPC) is one Error naming
// the file, leaves nothing behind, and leaves libhdf5 usable: the next write in the same process succeeds and the
// process exits cleanly. libhdf5 1.10, writing the file itself, crashed in its shutdown at exit after such a failure
// (a failed close frees the file but keeps its ID). In a child process, so the exit is observed.
TEST(Hdf5Dataset, AFailedWriteOnAFullDiskIsOneErrorAndTheLibraryStaysUsable) {
  TempDir dir;
  const auto path = dir / "demos.hdf5";
  const std::vector<Episode> episodes = {make_episode(0, 40), make_episode(1, 40)};
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::signal(SIGXFSZ, SIG_IGN);  // the write fails instead of the signal killing the process
    rlimit saved{};
    ::getrlimit(RLIMIT_FSIZE, &saved);
    rlimit limited = saved;
    limited.rlim_cur = 4096;
    ::setrlimit(RLIMIT_FSIZE, &limited);
    int code = 0;
    try {
      write_robomimic(path, episodes, nlohmann::json::object());
      code = 10;  // a write past the limit succeeded: the limit did not apply
    } catch (const Error& e) {
      const std::string m = e.what();
      std::fprintf(stderr, "the error: %s\n", m.c_str());
      if (m.find("'" + path.string() + "'") == std::string::npos || m.find('\n') != std::string::npos) code = 11;
    }
    if (std::filesystem::exists(path) || !std::filesystem::is_empty(dir.path())) code = 12;  // nothing left behind
    ::setrlimit(RLIMIT_FSIZE, &saved);
    try {
      write_robomimic(path, episodes, nlohmann::json::object());
      if (read_episodes(path).size() != 2) code = 13;
    } catch (const Error& e) {
      std::fprintf(stderr, "the write after the failure: %s\n", e.what());
      code = 14;
    }
    std::exit(code);  // exit, not _exit: libhdf5's shutdown runs (its atexit handler), as at the end of `nfp collect`
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "the child was killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10: no error, 11: not one line naming the file, 12: something left behind, "
                                       "13 / 14: the next write failed";
}

}  // namespace
}  // namespace nfp
