#include "l2w/infer/openvino_stages.h"

#include "l2w/runtime/option_list.h"

#if L2W_WITH_OPENVINO
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>
#include <openvino/op/parameter.hpp>
#include <openvino/op/result.hpp>
#include <openvino/openvino.hpp>
#endif

namespace l2w::infer {
namespace {

options::OptionError folder_error(const std::string& folder, const std::string& why) {
  return options::OptionError("onnx", folder + ": " + why);
}

}  // namespace

#if L2W_WITH_OPENVINO
namespace {

using nlohmann::json;

// One stage graph compiled for one batch size or for any, with its ports in the manifest's order.
struct CompiledStage {
  std::vector<ov::Output<const ov::Node>> inputs, outputs;  // outputs: the features, then the logits
  ov::InferRequest request;
};

// One stage graph and how it connects: which of the previous stage's features it reads. It is compiled
// twice: for one image, with every shape fixed (OpenVINO then skips its shape inference and kernel
// selection at each call: about 0.3 ms of the CIFAR-100 network's 2.4 at batch 1), and for any batch.
struct Stage {
  std::vector<size_t> reads;  // indices into the previous stage's features (stage 1: the images)
  std::vector<ov::Shape> output_shapes;  // per output, its shape for one image
  CompiledStage single, any;
};

json read_manifest(const std::string& folder) {
  const auto path = std::filesystem::path(folder) / "manifest.json";
  std::ifstream in(path);
  if (!in) throw folder_error(folder, "no manifest.json (give a folder l2w export wrote)");
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw folder_error(folder, "manifest.json is not JSON (" + std::string(e.what()) + ")");
  }
}

// The manifest's facts this network must share: the image shape and each exit's MUL-ADDs.
void check_manifest(const json& m, const std::string& folder, const std::vector<int64_t>& exit_muladds,
                    const std::vector<int64_t>& image_chw) {
  if (m.value("format", "") != "l2w-onnx 1") throw folder_error(folder, "manifest.json is not l2w-onnx 1");
  const auto& exits = m.at("exits");
  if (exits.size() != exit_muladds.size())
    throw folder_error(folder, "exported from another network (" + std::to_string(exits.size()) + " exits, this one has " +
                                   std::to_string(exit_muladds.size()) + ")");
  const auto shape = m.at("input").at("shape");
  for (size_t d = 0; d < image_chw.size(); ++d)
    if (shape.size() != 4 || shape[d + 1] != image_chw[d])
      throw folder_error(folder, "exported for images of shape " + shape.dump() + ", the data's are [N, " +
                                     std::to_string(image_chw[0]) + ", " + std::to_string(image_chw[1]) + ", " +
                                     std::to_string(image_chw[2]) + "]");
  for (size_t k = 0; k < exits.size(); ++k) {
    const auto muladds = exits[k].at("muladds").get<int64_t>();
    if (muladds != exit_muladds[k])
      throw folder_error(folder, "exported from another network (exit " + std::to_string(k + 1) + " costs " +
                                     std::to_string(muladds) + " MUL-ADDs there, " + std::to_string(exit_muladds[k]) +
                                     " here)");
    if (!exits[k].contains("graph"))
      throw folder_error(folder, "has no stage graphs (IMTA's networks export whole only); --engine openvino needs them");
  }
}

// The stage graphs joined into one: each stage's inputs become the outputs of the previous stage that
// fed them, and only the last exit's logits stay an output (OpenVINO then drops the earlier exits).
std::shared_ptr<ov::Model> joined(const std::vector<std::shared_ptr<ov::Model>>& graphs, const json& manifest) {
  ov::OutputVector previous;  // what the stages joined so far hand on, in the manifest's order
  std::vector<std::string> previous_names{"images"};
  std::shared_ptr<ov::op::v0::Result> logits;
  for (size_t k = 0; k < graphs.size(); ++k) {
    const auto& exit = manifest.at("exits").at(k);
    if (k > 0)
      for (const auto& name : exit.at("inputs").get<std::vector<std::string>>()) {
        const auto from = size_t(std::find(previous_names.begin(), previous_names.end(), name) - previous_names.begin());
        graphs[k]->input(name).get_node_shared_ptr()->output(0).replace(previous.at(from));
      }
    previous.clear();
    previous_names = exit.at("outputs").get<std::vector<std::string>>();
    for (const auto& name : previous_names) previous.push_back(graphs[k]->output(name).get_node()->input_value(0));
    logits = ov::as_type_ptr<ov::op::v0::Result>(graphs[k]->output(previous_names.back()).get_node_shared_ptr());
  }
  const auto images = ov::as_type_ptr<ov::op::v0::Parameter>(graphs.front()->input("images").get_node_shared_ptr());
  // A copy holding the joined nodes only: the dropped exits' results no longer count as their inputs' users.
  return std::make_shared<ov::Model>(ov::ResultVector{logits}, ov::ParameterVector{images})->clone();
}

ov::Shape one_image_shape(const ov::Output<const ov::Node>& port, const std::string& where) {
  const auto& partial = port.get_partial_shape();
  if (partial.rank().is_dynamic()) throw std::runtime_error(where + ": an output of unknown rank");
  ov::Shape shape{1};
  for (int64_t d = 1; d < partial.rank().get_length(); ++d) {
    if (partial[d].is_dynamic()) throw std::runtime_error(where + ": an output of unknown size");
    shape.push_back(size_t(partial[d].get_length()));
  }
  return shape;
}

ov::Tensor shared_tensor(const torch::Tensor& t) {
  return ov::Tensor(ov::element::f32, ov::Shape(t.sizes().begin(), t.sizes().end()), t.data_ptr<float>());
}

class OpenVinoStages final : public StageEngine {
 public:
  OpenVinoStages(const OpenVinoStageOptions& options, const json& manifest) : options_(options) {
    ov::Core core;
    std::vector<std::string> previous{"images"};  // the names of the features a stage hands on
    std::vector<std::shared_ptr<ov::Model>> graphs;  // as read, to be joined
    for (const auto& exit : manifest.at("exits")) {
      const auto graph = exit.at("graph").get<std::string>();
      const auto inputs = exit.at("inputs").get<std::vector<std::string>>();
      const auto outputs = exit.at("outputs").get<std::vector<std::string>>();
      Stage s;
      for (const auto& name : inputs) {
        const auto at = std::find(previous.begin(), previous.end(), name);
        if (at == previous.end()) throw folder_error(options.folder(), graph + " reads " + name + ", which no stage before it writes");
        s.reads.push_back(size_t(at - previous.begin()));
      }
      std::shared_ptr<ov::Model> model;
      try {
        model = core.read_model((std::filesystem::path(options.folder()) / graph).string());
        graphs.push_back(model->clone());
        s.any = compile(core, model, inputs, outputs);
        for (const auto& port : s.any.outputs) s.output_shapes.push_back(one_image_shape(port, graph));
        std::map<std::string, ov::PartialShape> single;
        for (const auto& port : model->inputs()) {
          auto shape = port.get_partial_shape();
          shape[0] = 1;
          single[port.get_any_name()] = shape;
        }
        model->reshape(single);
        s.single = compile(core, model, inputs, outputs);
      } catch (const ov::Exception& e) {
        throw folder_error(options.folder(), graph + ": OpenVINO cannot compile it (" + first_line(e) + ")");
      }
      previous = outputs;
      previous.pop_back();  // the logits go to the exit decision, not to the next stage
      stages_.push_back(std::move(s));
    }
    const auto logits_name = manifest.at("exits").back().at("outputs").back().get<std::string>();
    try {
      auto whole = joined(graphs, manifest);
      whole_.reads = {0};
      whole_.any = compile(core, whole, {"images"}, {logits_name});
      whole_.output_shapes = {one_image_shape(whole_.any.outputs.front(), "the joined stages")};
      auto image = whole->input("images").get_partial_shape();
      image[0] = 1;
      whole->reshape({{"images", image}});
      whole_.single = compile(core, whole, {"images"}, {logits_name});
    } catch (const ov::Exception& e) {
      throw folder_error(options.folder(), "OpenVINO cannot join its stage graphs into one (" + first_line(e) + ")");
    }
  }

  torch::Tensor run_whole(const torch::Tensor& images) override { return run(whole_, {images}).front(); }

  torch::Tensor run_stage(int64_t k, models::Features& features) override {
    auto out = run(stages_.at(size_t(k)), features);
    auto logits = out.back();
    out.pop_back();
    features = std::move(out);
    return logits;
  }

  // The graph `s` on the features it reads: its outputs, the logits last.
  models::Features run(Stage& s, const models::Features& features) {
    const auto batch = features.at(s.reads.front()).size(0);
    auto& c = batch == 1 ? s.single : s.any;
    std::vector<torch::Tensor> inputs;  // alive until the request has run: OpenVINO reads their memory
    for (size_t i = 0; i < s.reads.size(); ++i) {
      inputs.push_back(features.at(s.reads[i]).to(torch::kFloat32).contiguous());
      c.request.set_tensor(c.inputs[i], shared_tensor(inputs.back()));
    }
    // The outputs go straight into tensors LibTorch owns: no copy, and they outlive the request's next run
    // (the stage-wise engine keeps images waiting between stages).
    models::Features out;
    for (size_t o = 0; o < c.outputs.size(); ++o) {
      std::vector<int64_t> shape(s.output_shapes[o].begin(), s.output_shapes[o].end());
      shape[0] = batch;
      out.push_back(torch::empty(shape));
      c.request.set_tensor(c.outputs[o], shared_tensor(out.back()));
    }
    c.request.infer();
    return out;
  }

  // `model` compiled for the CPU, its ports looked up by the manifest's names.
  CompiledStage compile(ov::Core& core, const std::shared_ptr<ov::Model>& model, const std::vector<std::string>& inputs,
                        const std::vector<std::string>& outputs) const {
    auto compiled = core.compile_model(
        model, "CPU", ov::hint::inference_precision(options_.bf16() ? ov::element::bf16 : ov::element::f32),
        ov::inference_num_threads(options_.threads()), ov::hint::performance_mode(ov::hint::PerformanceMode::LATENCY));
    CompiledStage c;
    for (const auto& name : inputs) c.inputs.push_back(compiled.input(name));
    for (const auto& name : outputs) c.outputs.push_back(compiled.output(name));
    c.request = compiled.create_infer_request();
    return c;
  }

  std::string description() const override {
    return "OpenVINO " + std::string(ov::get_openvino_version().buildNumber) + " on the " +
           std::to_string(stages_.size()) + " stage graphs of " + options_.folder() + " and on them joined (CPU, " +
           (options_.bf16() ? "bf16" : "f32") + ", " + std::to_string(options_.threads()) + " threads of its own)";
  }

 private:
  static std::string first_line(const ov::Exception& e) {
    const std::string what = e.what();
    return what.substr(0, what.find('\n'));
  }

  OpenVinoStageOptions options_;
  std::vector<Stage> stages_;
  Stage whole_;  // every stage joined, reading the images, the last exit's logits its only output
};

}  // namespace

std::shared_ptr<StageEngine> openvino_stages(const OpenVinoStageOptions& options,
                                             const std::vector<int64_t>& exit_muladds,
                                             const std::vector<int64_t>& image_chw) {
  if (options.folder().empty()) throw options::OptionError("onnx", "--engine openvino needs the folder l2w export wrote");
  const auto manifest = read_manifest(options.folder());
  try {
    check_manifest(manifest, options.folder(), exit_muladds, image_chw);
    return std::make_shared<OpenVinoStages>(options, manifest);
  } catch (const json::exception& e) {
    throw folder_error(options.folder(), "manifest.json lacks what l2w export writes (" + std::string(e.what()) + ")");
  } catch (const options::OptionError&) {
    throw;
  } catch (const std::runtime_error& e) {
    throw folder_error(options.folder(), e.what());
  }
}

#else

std::shared_ptr<StageEngine> openvino_stages(const OpenVinoStageOptions& options, const std::vector<int64_t>&,
                                             const std::vector<int64_t>&) {
  throw folder_error(options.folder(), "this l2w was built without OpenVINO (scripts/setup.sh builds it with the "
                                       "openvino package of its virtual environment)");
}

#endif

}  // namespace l2w::infer
