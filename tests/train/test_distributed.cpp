// The process group (nfp/distributed.hpp): torchrun's variables, and real c10d Gloo collectives between ranks run
// as threads of this process on loopback (each rank has its own store client and Gloo context, as separate
// processes would): broadcast, the gradient reducer's bucketed mean, metric sums, and a missing rank ending in one
// error line.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <thread>

#include "nfp/distributed.hpp"
#include "nfp/error.hpp"
#include "nfp/free_port.hpp"

namespace nfp {
namespace {

DistEnv parse(const std::map<std::string, std::string>& vars) {
  return parse_dist_env([&](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  });
}

std::string error_of(const std::map<std::string, std::string>& vars) {
  try {
    parse(vars);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(DistEnv, TorchrunVariablesAndTheirErrors) {
  const DistEnv one = parse({});
  EXPECT_EQ(one.world_size, 1);
  EXPECT_FALSE(one.distributed());
  const DistEnv e = parse({{"RANK", "1"}, {"WORLD_SIZE", "4"}, {"MASTER_ADDR", "10.0.0.2"}, {"MASTER_PORT", "29600"}});
  EXPECT_EQ(e.rank, 1);
  EXPECT_EQ(e.world_size, 4);
  EXPECT_EQ(e.local_rank, 1);  // LOCAL_RANK defaults to RANK (one machine)
  EXPECT_EQ(e.master_addr, "10.0.0.2");
  EXPECT_EQ(e.master_port, 29600);
  EXPECT_TRUE(e.distributed());
  EXPECT_EQ(parse({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"LOCAL_RANK", "3"}}).local_rank, 3);
  EXPECT_NE(error_of({{"RANK", "0"}}).find("WORLD_SIZE is not"), std::string::npos);
  EXPECT_NE(error_of({{"WORLD_SIZE", "2"}}).find("RANK is not"), std::string::npos);
  EXPECT_NE(error_of({{"RANK", "2"}, {"WORLD_SIZE", "2"}}).find("RANK=2 is not a whole number in [0, 1]"), std::string::npos);
  EXPECT_NE(error_of({{"RANK", "0"}, {"WORLD_SIZE", "two"}}).find("WORLD_SIZE=two"), std::string::npos);
  EXPECT_NE(error_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "70000"}}).find("MASTER_PORT"), std::string::npos);
  EXPECT_NE(error_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", ""}}).find("MASTER_ADDR is empty"),
            std::string::npos);
  EXPECT_NE(error_of({{"RANK", "-1"}, {"WORLD_SIZE", "2"}}).find("RANK=-1"), std::string::npos);
}

// Runs body(rank) for every rank of a `world` on threads; the first exception (by rank) is rethrown.
void run_ranks(int world, double timeout_s, const std::function<void(ProcessGroup&)>& body) {
  const int port = free_tcp_port();
  std::vector<std::exception_ptr> errors(static_cast<size_t>(world));
  std::vector<std::thread> threads;
  for (int r = 0; r < world; ++r)
    threads.emplace_back([&, r] {
      try {
        DistEnv env;
        env.rank = r;
        env.world_size = world;
        env.master_port = port;
        ProcessGroup group(env, timeout_s);
        body(group);
      } catch (...) {
        errors[size_t(r)] = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

TEST(ProcessGroup, BroadcastGivesEveryRankRankZerosValues) {
  run_ranks(2, 60, [](ProcessGroup& g) {
    auto a = torch::full({3}, float(g.rank() + 1));
    auto b = torch::arange(6, torch::kFloat32).reshape({2, 3}).add(10 * g.rank());
    auto view = torch::zeros({3, 2}).add(g.rank() * 7).t();  // non-contiguous: written back through a copy
    g.broadcast({a, b, view});
    EXPECT_TRUE(torch::equal(a, torch::full({3}, 1.f)));
    EXPECT_TRUE(torch::equal(b, torch::arange(6, torch::kFloat32).reshape({2, 3})));
    EXPECT_TRUE(torch::equal(view, torch::zeros({2, 3})));
  });
}

// The reducer's mean gradients over two ranks whose batches differ (rank r sees x = r + 1 + step): buckets of 16
// bytes give every parameter a collective of its own (one of them float64), 1 MiB packs the float32 ones into one.
// Two steps, so that the second reuses the buckets. A parameter no rank uses keeps an undefined gradient (as one
// process leaves it); one that only rank 1 uses gets rank 1's gradient halved on both. The gradients are small whole
// numbers and halves, exact in float, so the comparisons are exact. The hooks go with the reducer.
TEST(GradientReducer, MeanGradientsOverlappedInBucketsWithUnusedParametersAndMetrics) {
  for (int64_t bucket : {int64_t(16), int64_t(1) << 20}) {
    run_ranks(2, 60, [bucket](ProcessGroup& g) {
      auto w1 = torch::arange(6, torch::kFloat32).reshape({2, 3}).requires_grad_();
      auto w2 = torch::ones({3}).requires_grad_();
      auto unused = torch::zeros({4}).requires_grad_();
      auto rank1_only = torch::ones({2}).requires_grad_();
      auto w64 = torch::ones({2}, torch::kFloat64).requires_grad_();
      const std::vector<torch::Tensor> params = {w1, w2, unused, rank1_only, w64};
      {
        GradientReducer reducer(g, params, bucket);
        EXPECT_EQ(reducer.bytes(), 24 + 12 + 16 + 8 + 16);
        EXPECT_EQ(reducer.buckets(), bucket == 16 ? 5 : 2) << bucket;  // float64 never shares a float32 bucket
        for (int step = 0; step < 2; ++step) {
          for (const auto& p : params)
            if (p.grad().defined()) p.mutable_grad().zero_();
          const double x = g.rank() + 1 + step;
          auto loss = w1.matmul(torch::full({3}, float(x))).sum() + (w2 * float(x)).sum() + w64.sum() * x;
          if (g.rank() == 1) loss = loss + rank1_only.sum() * 4;
          loss.backward();
          const auto sums = reducer.finish({x, 1.0});
          const float mean = 1.5f + float(step);  // (1 + 2) / 2 + step
          EXPECT_TRUE(torch::equal(w1.grad(), torch::full({2, 3}, mean))) << bucket << " " << w1.grad();
          EXPECT_TRUE(torch::equal(w2.grad(), torch::full({3}, mean))) << bucket;
          EXPECT_TRUE(torch::equal(w64.grad(), torch::full({2}, double(mean), torch::kFloat64))) << bucket;
          EXPECT_FALSE(unused.grad().defined()) << bucket;
          ASSERT_TRUE(rank1_only.grad().defined()) << bucket;
          EXPECT_TRUE(torch::equal(rank1_only.grad(), torch::full({2}, 2.f))) << bucket;
          EXPECT_EQ(sums, (std::vector<double>{3.0 + 2 * step, 2.0}));
        }
        EXPECT_GE(reducer.wait_seconds(), 0.0);
      }
      (w2.sum() * 2).backward();  // no hook left behind: a plain backward, nothing reduced
      EXPECT_TRUE(torch::equal(w2.grad(), torch::full({3}, 1.5f + 1 + 2)));
      const auto s = g.allreduce_sum({1.0, double(g.rank())});
      EXPECT_EQ(s, (std::vector<double>{2.0, 1.0}));
      g.barrier();
    });
  }
}

// Identical tensors pass on every rank; one bit flipped on rank 1 (the smallest possible change) fails on both,
// naming rank 1.
TEST(ProcessGroup, CheckSameEverywhereCatchesOneFlippedBit) {
  run_ranks(2, 60, [](ProcessGroup& g) {
    std::vector<torch::Tensor> t = {torch::linspace(-1, 1, 1000), torch::ones({3}, torch::kFloat64)};
    g.check_same_everywhere(t, "step 1");
    if (g.rank() == 1) t[0].view(torch::kInt32)[17].bitwise_xor_(1);
    try {
      g.check_same_everywhere(t, "step 2");
      ADD_FAILURE() << "rank " << g.rank() << " did not see the difference";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("step 2: rank 1's weights differ from rank 0's"), std::string::npos)
          << e.what();
    }
  });
}

// Rank 1 never comes: rank 0 ends with one line naming itself and what did not arrive, within the timeout (plus
// the store's and Gloo's own retries: bounded here at 30 s for a 2 s timeout).
TEST(ProcessGroup, AMissingRankEndsTheOthersWithinTheTimeout) {
  DistEnv env;
  env.world_size = 2;
  env.master_port = free_tcp_port();
  const auto t0 = std::chrono::steady_clock::now();
  try {
    ProcessGroup group(env, 2.0);
    FAIL() << "joined a group whose rank 1 never started";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("distributed: rank 0 of 2"), std::string::npos) << m;
    EXPECT_NE(m.find("did not join"), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 30.0);
}

// A rank that leaves mid-run: the other's next collective fails in one line instead of hanging.
TEST(ProcessGroup, ARankThatLeavesMakesTheNextCollectiveFail) {
  const int port = free_tcp_port();
  std::string message;
  std::thread leaver([&] {
    DistEnv env;
    env.rank = 1, env.world_size = 2, env.master_port = port;
    ProcessGroup group(env, 5.0);
    group.barrier();
  });  // its group is destroyed: its Gloo pairs close
  const auto t0 = std::chrono::steady_clock::now();
  {
    DistEnv env;
    env.world_size = 2, env.master_port = port;
    ProcessGroup group(env, 5.0);
    group.barrier();
    leaver.join();
    try {
      group.allreduce_sum({1.0});
    } catch (const Error& e) {
      message = e.what();
    }
  }
  EXPECT_NE(message.find("distributed: rank 0 of 2: metric all-reduce failed (rank 1 died, hung or left"),
            std::string::npos) << message;
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 30.0);
}

}  // namespace
}  // namespace nfp
