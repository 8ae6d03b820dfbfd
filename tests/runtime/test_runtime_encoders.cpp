// Exported policies with camera and instruction encoders against libtorch's nfp::Policy: the same raw observation
// (state history, uint8 camera frames at the cameras' size, an instruction) and the same latents give the same chunk
// and log p within 1e-4 (normalized units), for every encoder kind the runtime runs. The reference context is what
// a PolicyRunner builds from those observations (its image preparation included), encoded by PolicyImpl::encode.
// To add an encoder kind: one EncoderCase in runtime_fixtures.cpp's encoder_cases().
#include <gtest/gtest.h>

#include <torch/script.h>

#include "nfp/image_preprocess.hpp"
#include "nfp/instruction_encoder.hpp"
#include "nfp/monitor.hpp"
#include "nfp/policy_runner.hpp"
#include "nfp/runtime_runner.hpp"
#include "runtime_fixtures.hpp"

namespace nfp {
namespace {

constexpr double kTol = 1e-4;  // the bound, normalized units

const std::vector<std::string> kInstructions = {"Push the RED block, to the left goal!", "lift blue", "",
                                                "put the zzzunknownword on the green pad"};

class RuntimeEncoders : public ::testing::TestWithParam<test::EncoderCase> {};

TEST_P(RuntimeEncoders, ChunksAndLogProbsEqualLibtorch) {
  const test::EncoderCase& e = GetParam();
  Policy p = test::encoder_policy(e);
  const auto& c = p->config();
  const auto path = test::temp_path("encoders_" + e.name + ".nfpr");
  export_policy(*p, path);
  runtime::Model model(path.string());
  const nfp_rt_info& info = model.info();
  const int n = 5, D = int(c.horizon * c.action_dim), A = int(c.action_dim);
  const int64_t cam = e.camera_hw ? e.camera_hw : e.hw;
  ASSERT_EQ(info.cameras, int(e.cameras.size()));
  ASSERT_EQ(info.history, int(c.history));
  ASSERT_EQ(info.instruction, e.instruction ? 1 : 0);
  if (!e.cameras.empty()) {
    EXPECT_EQ(info.image_height, cam);
    EXPECT_EQ(info.image_width, cam);
    EXPECT_EQ(std::string(nfp_rt_model_camera(model.get(), 0)), e.cameras[0]);
  }
  EXPECT_EQ(nfp_rt_model_camera(model.get(), info.cameras), nullptr);
  runtime::Workspace ws(model, n);

  for (size_t trial = 0; trial < (e.instruction ? kInstructions.size() : 2); ++trial) {
    // history frames through a runner (the reference's image preparation), and the runtime's raw inputs
    PolicyRunner runner(p);
    runner.reset(0);
    std::vector<Observation> frames;
    torch::manual_seed(100 + int(trial));
    for (int64_t j = 0; j < c.history; ++j) {
      Observation o;
      if (e.state) {
        o.lowdim["pos"] = {float(j) - 0.5f, 2.0f + float(trial), -1.0f};
        o.lowdim["goal"] = {0.3f * float(j), -0.7f};
      }
      for (size_t k = 0; k < e.cameras.size(); ++k) o.images[e.cameras[k]] = test::random_image(cam, cam, trial * 31 + j * 7 + k);
      if (e.instruction) o.instruction = kInstructions[trial];
      frames.push_back(o);
      runner.observe(o);
    }
    ObservationBatch h = runner.history();
    std::vector<float> state;
    for (size_t k = 0; k < c.obs_keys.size(); ++k)
      for (const auto& f : frames) state.insert(state.end(), f.lowdim.at(c.obs_keys[k]).begin(), f.lowdim.at(c.obs_keys[k]).end());
    if (c.prev_action) {
      std::vector<float> prev = {0.5f, 0.2f, 3.0f + float(trial)};
      state.insert(state.end(), prev.begin(), prev.end());
      h.prev_action = p->normalizer().normalize("action", torch::tensor(prev)).unsqueeze(0);
    }
    ASSERT_EQ(int(state.size()), info.obs_dim);
    std::vector<const uint8_t*> images;
    for (size_t k = 0; k < e.cameras.size(); ++k)
      for (const auto& f : frames) images.push_back(f.images.at(e.cameras[k]).pixels.data());

    torch::NoGradGuard ng;
    auto ctx = p->encode(h);
    ctx = ctx.expand(ctx.dim() == 3 ? std::vector<int64_t>{n, ctx.size(1), ctx.size(2)} : std::vector<int64_t>{n, ctx.size(1)})
              .contiguous();
    std::shared_ptr<FlowImpl> flow;
    for (const auto& m : p->head()->named_children())
      if (m.key() == "flow") flow = std::dynamic_pointer_cast<FlowImpl>(m.value());
    ASSERT_TRUE(flow);
    auto z = torch::randn({n, D});
    auto ref = flow->sample_from(z, ctx);
    auto ref_raw = p->normalizer().unnormalize("action", ref.x.clamp(-1.0, 1.0).view({n, c.horizon, A}));
    auto inv_scale = torch::tensor(p->normalizer().at("action").inv_scale);

    ASSERT_EQ(ws.observe(state, images, e.instruction ? kInstructions[trial].c_str() : nullptr), NFP_RT_OK);
    // The embedding a robot-side monitor reads (nfp_rt_context): the context libtorch computes, every token.
    std::vector<float> rc(size_t(info.context_tokens) * size_t(info.context_dim));
    ASSERT_EQ(ws.context(rc), NFP_RT_OK);
    EXPECT_LE((torch::from_blob(rc.data(), {int64_t(rc.size())}) - ctx[0].reshape({-1})).abs().max().item<double>(), kTol)
        << e.name;
    EXPECT_EQ(ws.context(std::span<float>(rc.data(), rc.size() - 1)), NFP_RT_BAD_ARGUMENT);
    std::vector<float> zv(z.data_ptr<float>(), z.data_ptr<float>() + z.numel()), a(size_t(n) * D);
    std::vector<double> lp(static_cast<size_t>(n));
    ASSERT_EQ(ws.sample_latent({}, zv, n, a, lp.data()), NFP_RT_OK);
    auto got = torch::from_blob(a.data(), {n, c.horizon, A}).clone();
    EXPECT_LE(((got - ref_raw) * inv_scale).abs().max().item<double>(), kTol) << e.name << " trial " << trial;
    EXPECT_LE((torch::tensor(lp, torch::kFloat64) - ref.log_prob.to(torch::kFloat64)).abs().max().item<double>(), kTol)
        << e.name << " trial " << trial << " log p " << ref.log_prob;
    // The held observation serves further calls (log p of the chunk just planned).
    std::vector<double> lp2(static_cast<size_t>(n));
    ASSERT_EQ(ws.log_prob({}, a, n, lp2.data()), NFP_RT_OK);
  }
  std::filesystem::remove(path);
}

// The runtime runner's monitor inputs equal the torch policy's: each chunk's context, and the continuation score
// (log p of the previous chunk's remainder, in data units on the runtime, under the new context).
TEST(RuntimeRunnerMonitor, ContextAndContinuationEqualLibtorch) {
  Policy p = test::random_policy("nfp-spline", true);  // horizon 4, n_action_steps 2, previous action
  const auto path = test::temp_path("runner_continuation.nfpr");
  export_policy(*p, path);
  RuntimeRunnerOptions ro;
  ro.score_continuation = true;
  RuntimeRunner runner(load_runtime_model(path.string()), ro);
  runner.reset(5);
  std::vector<Chunk> chunks;
  for (int i = 0; i < 6; ++i) {
    Observation o;
    o.lowdim = {{"pos", {0.1f * float(i), 2.0f, -1.0f}}, {"goal", {0.3f, -0.2f * float(i)}}};
    const ActStep s = runner.act(o);
    if (s.planned) chunks.push_back(*s.planned);
  }
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_TRUE(std::isnan(chunks[0].continuation_log_prob));
  for (size_t k = 0; k < chunks.size(); ++k) {
    ASSERT_TRUE(chunks[k].context.defined());
    EXPECT_EQ(chunks[k].context.sizes(), (std::vector<int64_t>{1, 10}));
  }
  for (size_t k = 1; k < chunks.size(); ++k) {
    const auto prev = p->normalizer().normalize("action", chunks[k - 1].actions);  // (4 x 3), clamped already
    const auto rest = torch::cat({prev.narrow(0, 2, 2), prev[3].unsqueeze(0).expand({2, 3})}, 0).unsqueeze(0);
    const double want = p->log_prob(chunks[k].context, rest).item<double>();
    EXPECT_NEAR(chunks[k].continuation_log_prob, want, kTol * std::max(1.0, std::abs(want))) << k;
  }
  std::filesystem::remove(path);
}

// The frame cache (exec_image.cpp's camera_features) changes no bit: a workspace that observes a control loop's
// sliding window (one new frame a tick), an episode start padded with one repeated frame, a frame rewritten in
// place in the caller's buffer (same pointer, one byte changed) and a window that jumps back gives, at every tick,
// exactly the context of a fresh workspace that saw only that observation.
TEST_P(RuntimeEncoders, FrameCacheChangesNoBit) {
  const test::EncoderCase& e = GetParam();
  if (e.cameras.empty()) GTEST_SKIP() << "no cameras";
  Policy p = test::encoder_policy(e);
  const auto path = test::temp_path("frame_cache_" + e.name + ".nfpr");
  export_policy(*p, path);
  runtime::Model model(path.string());
  const nfp_rt_info& info = model.info();
  const int H = info.history, cams = info.cameras;
  const int64_t cam = e.camera_hw ? e.camera_hw : e.hw;
  std::vector<Image> stream;  // camera k's frame t: stream[t * cams + k]
  for (int t = 0; t < 8 * cams; ++t) stream.push_back(test::random_image(cam, cam, 500 + uint64_t(t)));
  std::vector<float> state(size_t(info.obs_dim), 0.25f);
  const size_t ctx_n = size_t(info.context_tokens) * size_t(info.context_dim);
  runtime::Workspace live(model, 1);
  auto check = [&](const std::vector<const uint8_t*>& images, const std::string& what) {
    runtime::Workspace fresh(model, 1);
    ASSERT_EQ(live.observe(state, images, e.instruction ? "lift blue" : nullptr), NFP_RT_OK) << what;
    ASSERT_EQ(fresh.observe(state, images, e.instruction ? "lift blue" : nullptr), NFP_RT_OK) << what;
    std::vector<float> a(ctx_n), b(ctx_n);
    ASSERT_EQ(live.context(a), NFP_RT_OK);
    ASSERT_EQ(fresh.context(b), NFP_RT_OK);
    EXPECT_EQ(a, b) << e.name << ": " << what;
  };
  // the window ending at tick t (frames t - H + 1 .. t, the first frame repeated before the episode's start)
  auto window = [&](int t) {
    std::vector<const uint8_t*> images;
    for (int k = 0; k < cams; ++k)
      for (int j = H - 1; j >= 0; --j) images.push_back(stream[size_t(std::max(t - j, 0) * cams + k)].pixels.data());
    return images;
  };
  for (int t = 0; t < 5; ++t) check(window(t), "tick " + std::to_string(t));
  stream[size_t(4 * cams)].pixels[17] ^= 1;  // the newest frame of tick 4, changed in place
  check(window(4), "a frame rewritten in place");
  check(window(1), "a window that jumps back");
  std::filesystem::remove(path);
}

INSTANTIATE_TEST_SUITE_P(Kinds, RuntimeEncoders, ::testing::ValuesIn(test::encoder_cases()),
                         [](const auto& info) { return info.param.name; });

// What a caller can get wrong: a float obs for a camera policy, missing images, NaN state; no stale observation.
TEST(RuntimeEncodersApi, BadObservationsAreRefusedAndNothingStaleIsUsed) {
  test::EncoderCase e = test::encoder_cases().front();
  Policy p = test::encoder_policy(e);
  const auto path = test::temp_path("encoders_api.nfpr");
  export_policy(*p, path);
  runtime::Model model(path.string());
  runtime::Workspace ws(model, 1);
  const auto& info = model.info();
  std::vector<float> state(size_t(info.obs_dim), 0.5f), chunk(size_t(info.dim));
  const Image im = test::random_image(e.hw, e.hw, 3);
  std::vector<const uint8_t*> images(size_t(info.cameras * info.history), im.pixels.data());
  EXPECT_EQ(ws.sample(state, 1.0f, 1, chunk), NFP_RT_BAD_ARGUMENT);  // cameras need observe()
  EXPECT_EQ(ws.sample({}, 1.0f, 1, chunk), NFP_RT_BAD_ARGUMENT);     // nothing observed yet
  EXPECT_EQ(ws.observe(state), NFP_RT_BAD_ARGUMENT);                 // no images
  images.back() = nullptr;
  EXPECT_EQ(ws.observe(state, images), NFP_RT_BAD_ARGUMENT);
  images.back() = im.pixels.data();
  ASSERT_EQ(ws.observe(state, images), NFP_RT_OK);
  ASSERT_EQ(ws.sample({}, 1.0f, 1, chunk), NFP_RT_OK);
  state[0] = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> before = chunk;
  EXPECT_EQ(ws.observe(state, images), NFP_RT_NONFINITE);
  EXPECT_EQ(ws.sample({}, 1.0f, 1, chunk), NFP_RT_BAD_ARGUMENT);  // the failed observation is not planned for
  EXPECT_EQ(chunk, before);
  EXPECT_EQ(nfp_rt_observe(nullptr, nullptr), NFP_RT_BAD_ARGUMENT);
  std::filesystem::remove(path);
}

// The runtime's resize equals nfp::resize_image pixel for pixel (two implementations of one rule), shrinking and
// growing: checked through the features of a policy whose only difference is where the resize happens.
TEST(RuntimeEncodersApi, ResizeMatchesTheTorchSidePixelForPixel) {
  for (int64_t cam : {37, 13}) {  // shrink to 26, grow to 26
    test::EncoderCase e = test::encoder_cases().front();
    e.history = 1;
    e.camera_hw = cam;
    e.resize = 26;
    Policy p = test::encoder_policy(e);
    const auto path = test::temp_path("encoders_resize.nfpr");
    export_policy(*p, path);
    runtime::Model model(path.string());
    ASSERT_EQ(model.info().image_height, cam);
    runtime::Workspace ws(model, 1);
    const Image raw = test::random_image(cam, cam, 11);
    // The same frame, resized by nfp::resize_image and cropped by the torch side, given to a policy without resize.
    test::EncoderCase f = e;
    f.camera_hw = 0;
    f.resize = 0;
    f.hw = 20;
    Policy q = test::encoder_policy(f);
    {
      torch::NoGradGuard ng;  // the same weights: only where the resize happens differs
      auto from = p->parameters(), to = q->parameters();
      ASSERT_EQ(from.size(), to.size());
      for (size_t i = 0; i < from.size(); ++i) to[i].copy_(from[i]);
    }
    const auto qpath = test::temp_path("encoders_noresize.nfpr");
    export_policy(*q, qpath);
    runtime::Model qm(qpath.string());
    runtime::Workspace qws(qm, 1);
    const Image resized = resize_image(raw, {26, 26});
    const Image cropped = crop_image(resized, center_crop({26, 26}, {20, 20}), {20, 20});
    std::vector<float> state(size_t(model.info().obs_dim), 0.25f), a(size_t(model.info().dim)), b(a.size());
    std::vector<const uint8_t*> ia = {raw.pixels.data()}, ib = {cropped.pixels.data()};
    ASSERT_EQ(ws.observe(state, ia), NFP_RT_OK);
    ASSERT_EQ(qws.observe(state, ib), NFP_RT_OK);
    ASSERT_EQ(ws.sample({}, 0.5f, 7, a), NFP_RT_OK);
    ASSERT_EQ(qws.sample({}, 0.5f, 7, b), NFP_RT_OK);
    EXPECT_EQ(a, b) << "camera " << cam;  // same weights, same pixels: bit-identical
    std::filesystem::remove(path);
    std::filesystem::remove(qpath);
  }
}

// A TorchScript encoder runs under libtorch only: the export says so in one line and writes nothing.
TEST(RuntimeEncodersApi, TorchScriptEncodersAreRefusedClearly) {
  const auto module_path = test::temp_path("encoder_ts.pt");
  torch::jit::Module m("Encoder");
  m.define("def forward(self, x):\n  return x.mean(dim=[2, 3])\n");
  m.save(module_path.string());
  test::EncoderCase e = test::encoder_cases().front();
  Policy p = test::encoder_policy(e);
  PolicyConfig c = p->config();
  c.image_encoder.type = "torchscript:" + module_path.string();
  Policy q = make_policy(c, p->normalizer());
  q->eval();
  const auto out = test::temp_path("encoders_ts.nfpr");
  try {
    export_policy(*q, out);
    ADD_FAILURE() << "a TorchScript encoder was exported";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("libtorch only"), std::string::npos) << err.what();
  }
  EXPECT_FALSE(std::filesystem::exists(out));
  std::filesystem::remove(module_path);
}

}  // namespace
}  // namespace nfp

namespace nfp {
namespace {

// A policy exported with its monitor calibration: nfp_rt_monitor gives the torch side's standardized score and
// alarm for every chunk index (past the band's end too), alarms on a non-finite log p, and a policy without one
// answers NFP_RT_UNSUPPORTED.
TEST(RuntimeMonitor, VerdictsEqualTheCalibration) {
  Policy p = test::random_policy("nfp-spline", true);
  std::vector<ScoreTrace> traces;
  for (int e = 0; e < 40; ++e) {
    ScoreTrace t;
    for (int i = 0; i < 6 + e % 5; ++i) t.push_back(-2.0 + 0.1 * i + 0.05 * ((e * 7 + i * 3) % 11));
    traces.push_back(t);
  }
  const MonitorCalibration c = calibrate_monitor(traces, 0.1, "neg_logp", 0);
  ASSERT_TRUE(std::isfinite(c.quantile));
  const json cj = c;
  const auto path = test::temp_path("monitor_policy.nfpr");
  export_policy(*p, path, &cj);
  runtime::Model model(path.string());
  ASSERT_EQ(model.info().monitor, 1);
  const int D = model.info().dim;
  for (int t : {0, 3, 9, 500})
    for (double s : {-2.5, -1.9, -1.2, 0.0}) {
      const double log_prob = -s * D;
      double score = 0;
      int alarm = -1;
      ASSERT_EQ(model.monitor(t, log_prob, &score, &alarm), NFP_RT_OK);
      EXPECT_NEAR(score, c.standardized(size_t(t), s), 1e-5 * (1 + std::abs(score))) << t << " " << s;
      EXPECT_EQ(alarm, c.standardized(size_t(t), s) > c.quantile ? 1 : 0) << t << " " << s;
    }
  int alarm = 0;
  ASSERT_EQ(model.monitor(0, NAN, nullptr, &alarm), NFP_RT_OK);
  EXPECT_EQ(alarm, 1);
  EXPECT_EQ(model.monitor(-1, 0.0, nullptr, nullptr), NFP_RT_BAD_ARGUMENT);
  json other = cj;
  other["score"] = "consistency";
  EXPECT_THROW(export_policy(*p, path, &other), Error);  // the runtime computes neg_logp only
  export_policy(*p, path);
  runtime::Model plain(path.string());
  EXPECT_EQ(plain.info().monitor, 0);
  EXPECT_EQ(plain.monitor(0, 0.0, nullptr, nullptr), NFP_RT_UNSUPPORTED);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace nfp

namespace nfp {
namespace {

// A crafted encoder section is refused at load with one line, never a crash or an out-of-range read: every size
// is bounded and cross-checked before any buffer is sized from it.
TEST(RuntimeEncodersLoad, HostileEncoderSectionsAreRefused) {
  const auto cases = test::encoder_cases();
  const auto& image_case = cases.front();                                    // conv, one camera
  const auto& words_case = *std::find_if(cases.begin(), cases.end(), [](const auto& c) { return c.tokens; });
  struct Edit {
    const test::EncoderCase* c;
    const char* pointer;
    json value;
  };
  const std::vector<Edit> edits = {
      {&image_case, "/encoder/images/encoders/0/channels/0", 0},
      {&image_case, "/encoder/images/encoders/0/channels/0", 100000},
      {&image_case, "/encoder/images/encoders/0/groups", 0},
      {&image_case, "/encoder/images/encoders/0/type", "torchscript:x.pt"},
      {&image_case, "/encoder/images/encoders/0/pool", "max"},
      {&image_case, "/encoder/images/camera_encoder/0", 5},
      {&image_case, "/encoder/images/camera_hw", json::array({4, 4})},   // smaller than the crop
      {&image_case, "/encoder/images/input_hw", json::array({0, 20})},
      {&image_case, "/encoder/images/cameras", json::array()},
      {&image_case, "/encoder/images/extra", 1},                          // unknown key
      {&image_case, "/encoder/input_dim", 7},                             // disagrees with the parts
      {&image_case, "/encoder/prev_action_dim", 2},
      {&words_case, "/encoder/instruction/vocabulary/3", "zzzz"},         // not sorted
      {&words_case, "/encoder/instruction/vocabulary/0", "<unk>"},
      {&words_case, "/encoder/instruction/heads", 3},                     // does not divide embed_dim
      {&words_case, "/encoder/instruction/max_tokens", 0},
      {&words_case, "/encoder/instruction/tokens", false},                // context_tokens then disagree
      {&words_case, "/encoder/instruction/embed_dim", 1 << 30},
  };
  for (const auto& e : edits) {
    Policy p = test::encoder_policy(*e.c);
    const auto path = test::temp_path("hostile_encoder.nfpr");
    export_policy(*p, path);
    test::edit_nfpr(path, [&](json& cfg) { cfg[json::json_pointer(e.pointer)] = e.value; });
    char err[512] = {0};
    nfp_rt_model* m = nfp_rt_model_load(path.string().c_str(), err, sizeof err);
    EXPECT_EQ(m, nullptr) << e.pointer << " = " << e.value.dump();
    EXPECT_NE(std::string(err).find("config"), std::string::npos) << e.pointer << ": " << err;
    EXPECT_EQ(std::string(err).find('\n'), std::string::npos) << err;
    nfp_rt_model_free(m);
    std::filesystem::remove(path);
  }
}

}  // namespace
}  // namespace nfp
