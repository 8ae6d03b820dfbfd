// The exporters of the flow's transforms, one table entry per kind (private to src/export; the tests iterate
// over the table). The runtime's builders (src/runtime/layer_kinds.cpp) are keyed by the same kinds.
#pragma once
#include <string>
#include <vector>

#include "nfp/json_io.hpp"
#include "nfp/safetensors.hpp"
#include "nfp/transform.hpp"

namespace nfp {

struct LayerExporter {
  const char* kind;  // written to the file's layers[], e.g. "affine_coupling"
  bool (*matches)(const TransformImpl& t);
  // Adds tensors beyond the module's own parameters and buffers (under `name`) and returns the kind's own
  // keys of the layer entry (split, conditioner, spline ...).
  json (*write)(TransformImpl& t, const std::string& name, SafeTensorsFile& file);
};

const std::vector<LayerExporter>& layer_exporters();

// The kind's exporter for `t`, or null.
const LayerExporter* find_layer_exporter(const TransformImpl& t);

// Writes t's parameters and buffers under `name` (F32; integer buffers I64) and returns its layers[] entry
// {kind, name, tensors, ...}. A transform no entry matches throws nfp::Error naming it.
json export_layer(TransformImpl& t, const std::string& name, SafeTensorsFile& file);

}  // namespace nfp
