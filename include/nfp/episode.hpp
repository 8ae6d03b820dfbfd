// One demonstration episode in memory, as the simulator records it and the dataset readers return it.
// Torch-free so that the simulator and the HDF5 layer share it without linking libtorch.
#pragma once
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace nfp {

// A dense row-major array; shape[0] is time.
template <typename T>
struct Array {
  std::vector<int64_t> shape;
  std::vector<T> data;
  int64_t rows() const { return shape.empty() ? 0 : shape[0]; }
  int64_t row_size() const {
    int64_t n = 1;
    for (size_t i = 1; i < shape.size(); ++i) n *= shape[i];
    return n;
  }
};

struct Episode {
  std::string name;                               // "demo_0"
  Array<float> actions;                           // (T x A)
  std::map<std::string, Array<float>> obs;        // low-dim observations, each (T x d)
  std::map<std::string, Array<uint8_t>> images;   // camera images, each (T x H x W x 3) uint8
  Array<double> states;                           // (T x S) simulator state (replay); may be empty
  std::vector<float> rewards;                     // (T)
  std::vector<uint8_t> dones;                     // (T)
  std::string instruction;                        // language instruction; empty if none
  nlohmann::json attrs = nlohmann::json::object();  // extra per-episode attributes (seed, model_file, ...)
  int64_t length() const { return actions.rows(); }
};

}  // namespace nfp
