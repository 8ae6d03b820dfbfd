// `nfp data info` on small files in each layout: the --json object and the one-line errors.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "data_fixtures.hpp"
#include "nfp_cli.hpp"

namespace nfp {
namespace {

using test::last_line_json;
using test::NfpRun;
using test::run_nfp;

TEST(DataInfo, JsonSummaryInEachLayout) {
  if (run_nfp("--version").status != 0) GTEST_SKIP() << "nfp binary not built (NFP_BIN)";
  test::TempDir dir;
  WriteOptions opt;
  opt.data_attrs["problem_info"] = R"({"language_instruction": "open the drawer"})";
  opt.data_attrs["bddl_file_name"] = "open_the_drawer.bddl";
  opt.masks["train"] = {"demo_0"};
  write_robomimic(dir / "libero.hdf5", {test::make_episode(0, 4, 7), test::make_episode(1, 6, 7)},
                  nlohmann::json::object(), opt);
  const NfpRun r = run_nfp("data info " + (dir / "libero.hdf5").string() + " --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = last_line_json(r.out);
  EXPECT_EQ(j["layout"], "libero");
  EXPECT_EQ(j["episodes"], 2);
  EXPECT_EQ(j["frames"], 10);
  EXPECT_EQ(j["keys"]["actions"]["shape"], nlohmann::json::array({7}));
  EXPECT_EQ(j["keys"]["agentview_image"]["shape"], nlohmann::json::array({8, 8, 3}));
  EXPECT_EQ(j["keys"]["agentview_image"]["dtype"], "uint8");
  EXPECT_EQ(j["instructions"][0]["instruction"], "open the drawer");
  EXPECT_EQ(j["action"]["max"][0], 105.0);  // episode 1, t = 5
  EXPECT_EQ(j["masks"]["train"], 1);

  for (int i = 0; i < 2; ++i) write_act_episode(dir / ("act/episode_" + std::to_string(i) + ".hdf5"),
                                                test::make_episode(i, 5, 14, "cam_high"));
  const NfpRun a = run_nfp("data info " + (dir / "act").string() + " --json");
  ASSERT_EQ(a.status, 0) << a.out;
  const auto ja = last_line_json(a.out);
  EXPECT_EQ(ja["layout"], "act");
  EXPECT_EQ(ja["episodes"], 2);
  EXPECT_EQ(ja["keys"]["action"]["shape"], nlohmann::json::array({14}));
  EXPECT_EQ(ja["instructions"].size(), 0u);
}

TEST(DataInfo, BadInputIsOneErrorLine) {
  if (run_nfp("--version").status != 0) GTEST_SKIP() << "nfp binary not built (NFP_BIN)";
  test::TempDir dir;
  std::ofstream(dir / "bad.hdf5") << "not hdf5";
  const NfpRun r = run_nfp("data info " + (dir / "bad.hdf5").string());
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(r.out.rfind("nfp: error: ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("bad.hdf5"), std::string::npos);
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << "no HDF5 error stack: " << r.out;
  write_robomimic(dir / "ok.hdf5", {test::make_episode(0, 3)}, nlohmann::json::object());
  const NfpRun k = run_nfp("data info " + (dir / "ok.hdf5").string() + " --obs-keys joint_states");
  EXPECT_NE(k.status, 0);
  EXPECT_NE(k.out.find("joint_states"), std::string::npos) << k.out;
}

TEST(DataInfo, AFileThatCrashesLibhdf5IsOneErrorLine) {
  // A single-byte change to a collected dataset (tests/fuzz/corpus/hdf5): libhdf5 segfaults in H5HG_read on it, and
  // `nfp data info` used to die with exit 139 and no message. Now: one line naming the file, exit 1.
  if (run_nfp("--version").status != 0) GTEST_SKIP() << "nfp binary not built (NFP_BIN)";
  const char* data = std::getenv("NFP_TEST_DATA");
  ASSERT_NE(data, nullptr);
  const auto file = std::filesystem::path(data) / ".." / "fuzz" / "corpus" / "hdf5" /
                    "libhdf5_segv_H5HG_read_vlen_attr_global_heap_size.hdf5";
  ASSERT_TRUE(std::filesystem::exists(file)) << file;
  const NfpRun r = run_nfp("data info " + file.string());
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_EQ(r.out.rfind("nfp: error: ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("libhdf5_segv_H5HG_read"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("corrupt HDF5"), std::string::npos) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
}

}  // namespace
}  // namespace nfp
