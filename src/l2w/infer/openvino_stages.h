// OpenVINO's C++ runtime computing the stage graphs of an `l2w export` folder (--engine openvino;
// docs/inference.md, "OpenVINO under l2w's early exit"). At batch 1 its convolutions cost a fraction of
// LibTorch's fixed cost per call, and on a CPU with AMX it runs bf16 in the matrix units; the exit
// decisions stay l2w's (infer/stage_engine.h).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "l2w/infer/stage_engine.h"

namespace l2w::infer {

struct OpenVinoStageOptions {
  TORCH_ARG(std::string, folder);  // written by `l2w export` from the deployed checkpoint
  TORCH_ARG(bool, bf16) = false;   // OpenVINO's inference precision: bf16, else f32
  TORCH_ARG(int, threads) = 1;     // its own thread pool's size, fixed when the stages are compiled
};

// Reads the folder's manifest, checks that it describes a network with these exits' MUL-ADDs taking
// images of shape `image_chw`, and compiles each stage for the CPU. options::OptionError naming "onnx"
// for a folder that is missing, of another network, without stage graphs (IMTA's networks) or with a graph
// OpenVINO cannot read; also when this l2w was built without OpenVINO.
std::shared_ptr<StageEngine> openvino_stages(const OpenVinoStageOptions& options,
                                             const std::vector<int64_t>& exit_muladds,
                                             const std::vector<int64_t>& image_chw);

}  // namespace l2w::infer
