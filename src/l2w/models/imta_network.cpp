#include "l2w/models/imta_network.h"

#include "l2w/nn/cost_meter.h"

namespace l2w::models {

ImtaNetworkImpl::ImtaNetworkImpl(MultiExitNetwork backbone, int64_t num_classes)
    : backbone_(register_module("net", std::move(backbone))),
      classifier(register_module("classifier", torch::nn::ModuleList())),
      isc_modules(register_module("isc_modules", torch::nn::ModuleList())) {
  for (auto& p : backbone_->parameters()) p.requires_grad_(false);
  const int64_t n = backbone_->num_exits();
  for (int64_t k = 0; k < n; ++k) {
    const int64_t width = backbone_->exit_feature_width(k);
    classifier->push_back(torch::nn::Linear(k == 0 ? width : 2 * width, num_classes));
    if (k > 0)
      isc_modules->push_back(torch::nn::Sequential(torch::nn::Linear(num_classes, width), torch::nn::BatchNorm1d(width),
                                                   torch::nn::ReLU()));
  }
  train(is_training());
}

void ImtaNetworkImpl::train(bool on) {
  torch::nn::Module::train(on);
  if (frozen_statistics_) backbone_->eval();
}

void ImtaNetworkImpl::freeze_backbone_statistics(bool on) {
  frozen_statistics_ = on;
  train(is_training());
}

Features ImtaNetworkImpl::run_block(int64_t k, const Features& in) {
  Features stripped(in.begin(), in.end() - (k > 0 ? 1 : 0));  // head k-1's logits travel last
  auto features = backbone_->run_block(k, stripped);
  const auto own = backbone_->exit_features(k, features);
  auto x = own;
  if (k > 0) x = torch::cat({own, nn::run(torch::nn::Sequential(isc_modules->ptr<torch::nn::SequentialImpl>(k - 1)), in.back())}, 1);
  auto logits = nn::run(torch::nn::Linear(classifier->ptr<torch::nn::LinearImpl>(k)), x);
  if (k + 1 == num_exits() && is_training()) {
    torch::NoGradGuard no_grad;
    teacher_ = backbone_->exit_logits_from_features(k, own).detach();
  }
  features.push_back(logits);
  return features;
}

torch::Tensor ImtaNetworkImpl::run_exit(int64_t, const Features& features) { return features.back(); }

}  // namespace l2w::models
