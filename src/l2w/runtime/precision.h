// The precision a trained network is deployed in (--precision; docs/inference.md, "Precision"): float32,
// or bfloat16 weights and activations with the exit decisions still taken in float32 from the logits.
// `auto` takes bfloat16 where the device multiplies it in matrix units (a CPU's AMX, a GPU's tensor
// cores), float32 where it has no bfloat16 arithmetic, and, on a CPU with AVX512-BF16 vector instructions
// but no AMX, whichever the whole network runs faster in, measured at deployment: there bfloat16 is not
// always the faster (docs/inference.md gives the figures).
#pragma once

#include <string>
#include <vector>

#include <torch/torch.h>

#include "l2w/runtime/option_list.h"

namespace l2w::runtime {

enum class Precision { kAuto, kFp32, kBf16 };
std::string precision_name(Precision precision);  // "auto", "fp32", "bf16"
std::string dtype_name(torch::ScalarType dtype);   // "fp32", "bf16"

// What `device` offers for bfloat16: nothing, vector instructions (AVX512-BF16) or matrix units.
enum class Bf16Hardware { kNone, kVector, kMatrix };
struct Bf16Support {
  Bf16Hardware hardware = Bf16Hardware::kNone;
  std::string name;  // "AMX", "AVX512-BF16", "GPU sm_90", or what is missing
};
Bf16Support bf16_support(const torch::Device& device);

// What a precision asked for comes to on a device: the dtype, or a measurement to decide between
// float32 and bfloat16; and why, for reports.
struct PrecisionChoice {
  torch::ScalarType dtype = torch::kFloat32;
  bool measure = false;  // time both and take the faster (dtype stays float32 until then)
  std::string why;
};
PrecisionChoice choose_precision(Precision asked, const torch::Device& device);

// Casts the floating-point parameters and buffers of `module` to `dtype` in place, keeping each one's
// memory layout; integer buffers (BatchNorm's counters) stay.
void cast_floating(torch::nn::Module& module, torch::ScalarType dtype);

// The floating-point parameters and buffers of `module`, copied, to put back with restore().
struct SavedWeights {
  std::vector<torch::Tensor> tensors;
  static SavedWeights of(torch::nn::Module& module);
  void restore(torch::nn::Module& module) const;
};

// The --precision option for an options struct S with a Precision field (infer, serve, bench infer, eval,
// Python's Classifier): one definition, so that every front end spells and explains it alike.
template <class S, class Field>
options::Option<S> precision_option(Field field, std::string default_note) {
  return options::choice<S>(
      "precision", {"--precision"}, field,
      options::named({Precision::kAuto, Precision::kFp32, Precision::kBf16}, precision_name),
      "the precision of the deployed network's weights and activations (exit decisions stay fp32); auto: bf16 where "
      "the device has bf16 matrix units, the faster measured where it has AVX512-BF16 only, else fp32 " +
          std::move(default_note));
}

}  // namespace l2w::runtime
