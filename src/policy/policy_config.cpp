// PolicyConfig / InferenceOptions <-> JSON (config.json of a checkpoint, or a user's --config file).
#include "nfp/error.hpp"
#include "nfp/policy.hpp"

namespace nfp {

void to_json(json& j, const InferenceOptions& o) {
  j = json{{"strategy", o.strategy}, {"sigma", o.sigma},     {"candidates", o.candidates},
           {"gr_steps", o.gr_steps}, {"gr_lr", o.gr_lr},     {"steps", o.steps},
           {"sampler", o.sampler}};
}

void from_json(const json& j, InferenceOptions& o) {
  const std::string w = "inference config";
  require_known_keys(j, json_keys(json(InferenceOptions{})), w);
  o.strategy = json_get(j, "strategy", o.strategy, w);
  o.sigma = json_get(j, "sigma", o.sigma, w);
  o.candidates = json_get(j, "candidates", o.candidates, w);
  o.gr_steps = json_get(j, "gr_steps", o.gr_steps, w);
  o.gr_lr = json_get(j, "gr_lr", o.gr_lr, w);
  o.steps = json_get(j, "steps", o.steps, w);
  o.sampler = json_get(j, "sampler", o.sampler, w);
}

namespace {

json size_json(ImageSize s) { return json::array({s.height, s.width}); }

ImageSize size_from(const json& j, const std::string& where) {
  require(j.is_array() && j.size() == 2 && j[0].is_number_integer() && j[1].is_number_integer() &&
              j[0].get<int64_t>() >= 1 && j[1].get<int64_t>() >= 1,
          where + " must be [height, width] (whole numbers >= 1), got " + j.dump());
  return {j[0].get<int64_t>(), j[1].get<int64_t>()};
}

// {"to": [H, W], "from": ...} of "image_resize" / "image_crop"; null (or absent: checkpoints from before them)
// when the step is off.
json resize_json(const ImagePreprocess& p) {
  if (p.resize.empty()) return nullptr;
  json from = json::array();
  for (ImageSize s : p.source) from.push_back(size_json(s));
  return json{{"to", size_json(p.resize)}, {"from", from}};
}

json crop_json(const ImagePreprocess& p) {
  if (p.crop.empty()) return nullptr;
  return json{{"to", size_json(p.crop)}, {"from", size_json(p.crop_from)}};
}

void read_preprocess(const json& j, ImagePreprocess& p) {
  const std::string w = "policy config";
  if (j.contains("image_resize")) {
    const json& r = j["image_resize"];
    p.resize = {};
    p.source.clear();
    if (!r.is_null()) {
      require(r.is_object() && r.contains("to"), w + ": \"image_resize\" must be null or {\"to\": [H, W], \"from\": [...]}");
      require_known_keys(r, {"to", "from"}, w + " image_resize");
      p.resize = size_from(r["to"], w + ": image_resize.to");
      if (r.contains("from")) {
        require(r["from"].is_array(), w + ": image_resize.from must be a list of [height, width]");
        for (const auto& s : r["from"]) p.source.push_back(size_from(s, w + ": image_resize.from"));
      }
    }
  }
  if (j.contains("image_crop")) {
    const json& c = j["image_crop"];
    p.crop = p.crop_from = {};
    if (!c.is_null()) {
      require(c.is_object() && c.contains("to") && c.contains("from"),
              w + ": \"image_crop\" must be null or {\"to\": [h, w], \"from\": [H, W]}");
      require_known_keys(c, {"to", "from"}, w + " image_crop");
      p.crop = size_from(c["to"], w + ": image_crop.to");
      p.crop_from = size_from(c["from"], w + ": image_crop.from");
    }
  }
}

}  // namespace

void to_json(json& j, const PolicyConfig& c) {
  j = json{{"type", c.head.type},
           {"obs", c.obs},
           {"obs_keys", c.obs_keys},
           {"obs_dims", c.obs_dims},
           {"action_dim", c.action_dim},
           {"history", c.history},
           {"horizon", c.horizon},
           {"stride", c.stride},
           {"n_action_steps", c.n_action_steps},
           {"prev_action", c.prev_action},
           {"encoder_hidden", c.encoder_hidden},
           {"encoder_layers", c.encoder_layers},
           {"context_dim", c.context_dim},
           {"cameras", c.cameras},
           {"image_hw", c.image_hw},
           {"image_resize", resize_json(c.image_preprocess)},
           {"image_crop", crop_json(c.image_preprocess)},
           {"image_encoder", c.image_encoder},
           {"instruction_encoder", c.instruction_encoder},
           {"instruction_tokens", c.instruction_tokens},
           {"head", c.head},
           {"inference", c.inference},
           {"task", c.task}};
}

// Keys absent from `j` keep the values already in `c`, so a partial user config overrides defaults.
void from_json(const json& j, PolicyConfig& c) {
  const std::string w = "policy config";
  require_known_keys(j, json_keys(json(c)), w);
  c.obs = json_get(j, "obs", c.obs, w);
  c.obs_keys = json_get(j, "obs_keys", c.obs_keys, w);
  c.cameras = json_get(j, "cameras", c.cameras, w);
  c.image_hw = json_get(j, "image_hw", c.image_hw, w);
  read_preprocess(j, c.image_preprocess);
  // sub-objects: keys not given keep their current values
  if (j.contains("image_encoder")) {
    json merged = c.image_encoder;
    require(j["image_encoder"].is_object(), w + ": \"image_encoder\" must be an object");
    for (const auto& [k, v] : j["image_encoder"].items()) merged[k] = v;
    c.image_encoder = merged.get<ImageEncoderConfig>();
  }
  if (j.contains("instruction_encoder")) {
    json merged = c.instruction_encoder;
    require(j["instruction_encoder"].is_object(), w + ": \"instruction_encoder\" must be an object");
    for (const auto& [k, v] : j["instruction_encoder"].items()) merged[k] = v;
    // A checkpoint saved before the encoder had self-attention blocks (a vocabulary but no "layers") has none.
    const auto& ie = j["instruction_encoder"];
    if (!ie.contains("layers") && ie.contains("vocabulary") && !ie["vocabulary"].empty()) merged["layers"] = 0;
    c.instruction_encoder = merged.get<InstructionEncoderConfig>();
  }
  c.obs_dims = json_get(j, "obs_dims", c.obs_dims, w);
  c.action_dim = json_get(j, "action_dim", c.action_dim, w);
  c.history = json_get(j, "history", c.history, w);
  c.horizon = json_get(j, "horizon", c.horizon, w);
  c.stride = json_get(j, "stride", c.stride, w);
  c.n_action_steps = json_get(j, "n_action_steps", c.n_action_steps, w);
  c.prev_action = json_get(j, "prev_action", c.prev_action, w);
  c.encoder_hidden = json_get(j, "encoder_hidden", c.encoder_hidden, w);
  c.encoder_layers = json_get(j, "encoder_layers", c.encoder_layers, w);
  c.context_dim = json_get(j, "context_dim", c.context_dim, w);
  c.instruction_tokens = json_get(j, "instruction_tokens", c.instruction_tokens, w);
  c.task = json_get(j, "task", c.task, w);
  if (j.contains("head")) {
    json h = j["head"];
    require(h.is_object(), w + ": \"head\" must be an object");
    json merged = c.head;  // keys not given keep the current head's values
    const std::string head_type = json_get<std::string>(h, "type", merged["type"].get<std::string>(), w + " \"head\"");
    if (head_type != merged["type"]) merged = default_head_config(head_type);
    for (const auto& [k, v] : h.items()) merged[k] = v;
    c.head = merged.get<HeadConfig>();
  } else if (const std::string type = json_get<std::string>(j, "type", c.head.type, w); type != c.head.type) {
    c.head = default_head_config(type, c.horizon, c.action_dim, c.context_dim);
  }
  if (j.contains("inference")) {
    require(j["inference"].is_object(), w + ": \"inference\" must be an object");
    json merged = c.inference;
    for (const auto& [k, v] : j["inference"].items()) merged[k] = v;
    c.inference = merged.get<InferenceOptions>();
  }
}

}  // namespace nfp
