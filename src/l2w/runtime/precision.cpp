#include "l2w/runtime/precision.h"

#include <ATen/cpu/Utils.h>

#ifdef L2W_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAFunctions.h>
#endif

namespace l2w::runtime {

std::string precision_name(Precision precision) {
  return precision == Precision::kAuto ? "auto" : precision == Precision::kFp32 ? "fp32" : "bf16";
}

std::string dtype_name(torch::ScalarType dtype) {
  return dtype == torch::kBFloat16 ? "bf16" : dtype == torch::kFloat32 ? "fp32" : std::string(c10::toString(dtype));
}

namespace {

bool cpu_has(const std::unordered_map<std::string, c10::IValue>& capabilities, const std::string& name) {
  const auto it = capabilities.find(name);
  return it != capabilities.end() && it->second.isBool() && it->second.toBool();
}

}  // namespace

Bf16Support bf16_support(const torch::Device& device) {
#ifdef L2W_WITH_CUDA
  if (device.is_cuda()) {
    const auto* p = at::cuda::getDeviceProperties(device.has_index() ? device.index() : c10::cuda::current_device());
    const std::string sm = "GPU sm_" + std::to_string(p->major) + std::to_string(p->minor);
    // Tensor cores multiply bfloat16 from compute capability 8.0 (Ampere) on.
    return p->major >= 8 ? Bf16Support{Bf16Hardware::kMatrix, sm} : Bf16Support{Bf16Hardware::kNone, sm + " (no bf16 tensor cores)"};
  }
#endif
  if (!device.is_cpu()) return {Bf16Hardware::kNone, device.str()};
  const auto capabilities = at::cpu::get_cpu_capabilities();
  if (cpu_has(capabilities, "amx_bf16")) return {Bf16Hardware::kMatrix, "AMX"};
  if (cpu_has(capabilities, "avx512_bf16")) return {Bf16Hardware::kVector, "AVX512-BF16 (no AMX)"};
  return {Bf16Hardware::kNone, "no AVX512-BF16 or AMX"};
}

PrecisionChoice choose_precision(Precision asked, const torch::Device& device) {
  if (asked == Precision::kFp32) return {torch::kFloat32, false, "as asked"};
  const auto support = bf16_support(device);
  if (asked == Precision::kBf16)
    return {torch::kBFloat16, false,
            support.hardware == Bf16Hardware::kNone ? "as asked; the device has " + support.name + ", so it is emulated"
                                                    : "as asked; the device has " + support.name};
  switch (support.hardware) {
    case Bf16Hardware::kMatrix:
      return {torch::kBFloat16, false, "auto: the device has " + support.name};
    case Bf16Hardware::kVector:
      return {torch::kFloat32, true, "auto: the CPU has " + support.name + ", the faster measured"};
    case Bf16Hardware::kNone:
      break;
  }
  return {torch::kFloat32, false, "auto: the device has " + support.name};
}

namespace {

std::vector<torch::Tensor> floating_tensors(torch::nn::Module& module) {
  std::vector<torch::Tensor> out;
  for (auto& p : module.parameters())
    if (p.is_floating_point()) out.push_back(p);
  for (auto& b : module.buffers())
    if (b.is_floating_point()) out.push_back(b);
  return out;
}

}  // namespace

void cast_floating(torch::nn::Module& module, torch::ScalarType dtype) {
  torch::NoGradGuard no_grad;
  for (auto& t : floating_tensors(module))
    if (t.scalar_type() != dtype) t.set_data(t.to(dtype));  // to() keeps the memory layout
}

SavedWeights SavedWeights::of(torch::nn::Module& module) {
  SavedWeights saved;
  for (const auto& t : floating_tensors(module)) saved.tensors.push_back(t.clone());
  return saved;
}

void SavedWeights::restore(torch::nn::Module& module) const {
  torch::NoGradGuard no_grad;
  auto tensors = floating_tensors(module);
  TORCH_CHECK(tensors.size() == this->tensors.size(), "SavedWeights: another module");
  for (size_t i = 0; i < tensors.size(); ++i) tensors[i].set_data(this->tensors[i]);
}

}  // namespace l2w::runtime
