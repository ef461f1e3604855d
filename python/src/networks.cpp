// Networks: MSDNet, RANet and IMTA's second stage, built from options or loaded from a checkpoint; bound
// as LibTorch modules, so that parameters(), train(), eval() and to() are LibTorch's own.
#include "bindings.h"

#include "l2w/io/checkpoint.h"
#include "l2w/io/state_dict.h"
#include "l2w/models/exit_cost.h"
#include "l2w/models/network_options.h"
#include "l2w/train/trained_network.h"

namespace l2w::python {
namespace {

// Architecture options from an architecture name and {field: text} (key or member name, as
// models::set_field takes them).
models::NetworkOptions network_options(const std::string& arch, bool imta_heads,
                                       const std::map<std::string, std::string>& fields) {
  models::NetworkOptions options;
  options.arch(models::parse_arch(arch)).imta_heads(imta_heads);
  for (const auto& [field, value] : fields) models::set_field(options, field, value);
  return options;
}

py::object state_dict(const models::MultiExitNetworkImpl& net) {
  auto ordered = py::module_::import("collections").attr("OrderedDict")();
  for (const auto& item : io::state_dict(net)) ordered[py::str(item.key())] = item.value();
  return ordered;
}

// A layer's type as Python names it: "torch::nn::BatchNorm2dImpl" -> "BatchNorm2d",
// "l2w::nn::ConvBasicImpl" -> "ConvBasic".
std::string type_name(const torch::nn::Module& module) {
  std::string name = module.name();
  if (const auto colon = name.rfind("::"); colon != std::string::npos) name = name.substr(colon + 2);
  if (name.size() > 4 && name.compare(name.size() - 4, 4, "Impl") == 0) name.resize(name.size() - 4);
  return name;
}

template <size_t D>
std::vector<int64_t> sizes(const torch::ExpandingArray<D>& a) {
  return std::vector<int64_t>(a->begin(), a->end());
}

// The constructor arguments of torch.nn's layer of the same type, so that Python can show and test the
// layer as torch's own (empty for l2w's composite blocks and the containers).
py::dict layer_options(const torch::nn::Module& module) {
  py::dict o;
  if (const auto* conv = dynamic_cast<const torch::nn::Conv2dImpl*>(&module)) {
    const auto& c = conv->options;
    const auto* padding = std::get_if<torch::ExpandingArray<2>>(&c.padding());
    if (padding == nullptr) throw std::logic_error("a Conv2d with 'same' or 'valid' padding");
    o["in_channels"] = c.in_channels(), o["out_channels"] = c.out_channels(), o["kernel_size"] = sizes(c.kernel_size());
    o["stride"] = sizes(c.stride()), o["padding"] = sizes(*padding), o["dilation"] = sizes(c.dilation());
    o["groups"] = c.groups(), o["bias"] = c.bias();
  } else if (const auto* bn2 = dynamic_cast<const torch::nn::BatchNorm2dImpl*>(&module)) {
    const auto& b = bn2->options;
    o["num_features"] = b.num_features(), o["eps"] = b.eps(), o["momentum"] = b.momentum();
    o["affine"] = b.affine(), o["track_running_stats"] = b.track_running_stats();
  } else if (const auto* bn1 = dynamic_cast<const torch::nn::BatchNorm1dImpl*>(&module)) {
    const auto& b = bn1->options;
    o["num_features"] = b.num_features(), o["eps"] = b.eps(), o["momentum"] = b.momentum();
    o["affine"] = b.affine(), o["track_running_stats"] = b.track_running_stats();
  } else if (const auto* linear = dynamic_cast<const torch::nn::LinearImpl*>(&module)) {
    const auto& l = linear->options;
    o["in_features"] = l.in_features(), o["out_features"] = l.out_features(), o["bias"] = l.bias();
  } else if (const auto* relu = dynamic_cast<const torch::nn::ReLUImpl*>(&module)) {
    o["inplace"] = relu->options.inplace();
  } else if (const auto* max_pool = dynamic_cast<const torch::nn::MaxPool2dImpl*>(&module)) {
    const auto& m = max_pool->options;
    o["kernel_size"] = sizes(m.kernel_size()), o["stride"] = sizes(m.stride()), o["padding"] = sizes(m.padding());
    o["dilation"] = sizes(m.dilation()), o["ceil_mode"] = m.ceil_mode();
  } else if (const auto* avg_pool = dynamic_cast<const torch::nn::AvgPool2dImpl*>(&module)) {
    const auto& a = avg_pool->options;
    o["kernel_size"] = sizes(a.kernel_size()), o["stride"] = sizes(a.stride()), o["padding"] = sizes(a.padding());
    o["ceil_mode"] = a.ceil_mode(), o["count_include_pad"] = a.count_include_pad();
  }
  return o;
}

// One module of the network and everything under it, for python/l2w/modules.py's mirror tree:
// {type, options, module (the C++ module itself), parameters, buffers: [(name, tensor)], children:
// [(name, node)]}. The tensors are the module's own, not copies: Python's parameters are C++'s.
py::dict module_tree(const std::shared_ptr<torch::nn::Module>& module) {
  py::dict node;
  node["type"] = type_name(*module);
  node["options"] = layer_options(*module);
  node["module"] = module;
  py::list parameters, buffers, children;
  for (const auto& p : module->named_parameters(/*recurse=*/false)) parameters.append(py::make_tuple(p.key(), p.value()));
  for (const auto& b : module->named_buffers(/*recurse=*/false))
    if (b.value().defined()) buffers.append(py::make_tuple(b.key(), b.value()));
  for (const auto& c : module->named_children()) children.append(py::make_tuple(c.key(), module_tree(c.value())));
  node["parameters"] = parameters;
  node["buffers"] = buffers;
  node["children"] = children;
  return node;
}

// Sets one module's training flag and no other's: LibTorch's train() recurses, so the modules under it
// get their own flags back (parents first, each restoring its subtree before its children restore theirs).
void set_training_flag(torch::nn::Module& module, bool on) {
  std::vector<std::pair<std::shared_ptr<torch::nn::Module>, bool>> below;
  for (const auto& m : module.modules(/*include_self=*/false)) below.emplace_back(m, m->is_training());
  module.train(on);
  for (const auto& [m, was] : below) m->train(was);
}

}  // namespace

void bind_networks(py::module_& m) {
  // LibTorch's binding of a C++ module (parameters(), train(), to(), ...); python/l2w wraps it as a
  // torch.nn.Module (torch.nn.cpp.ModuleWrapper).
  torch::python::bind_module<models::MultiExitNetworkImpl>(m, "Network")
      .def_property_readonly("_num_exits", &models::MultiExitNetworkImpl::num_exits)
      .def_property_readonly("_arch", &models::MultiExitNetworkImpl::arch)
      .def(
          "_forward",
          [](models::MultiExitNetworkImpl& net, const torch::Tensor& images) {
            models::check_images(net, images);
            return net.forward(images);
          },
          py::arg("images"))
      .def(
          "_run_stage",
          [](models::MultiExitNetworkImpl& net, int64_t k, const models::Features& in) {
            // Block k on block k-1's features (block 0 on {images}), then exit k: one stage of early exit.
            if (k < 0 || k >= net.num_exits())
              throw std::invalid_argument("stage: " + std::to_string(k) + " is not a block of a network of " +
                                          std::to_string(net.num_exits()) + " exits");
            auto features = net.run_block(k, in);
            auto logits = net.run_exit(k, features);
            return py::make_tuple(features, logits);
          },
          py::arg("k"), py::arg("features"))
      .def("_state_dict", &state_dict)
      .def("_module_tree", [](const models::MultiExitNetwork& net) { return module_tree(net); })
      .def(
          "_exit_costs",
          [](models::MultiExitNetworkImpl& net, const std::vector<int64_t>& image_shape) {
            std::vector<std::pair<int64_t, int64_t>> out;
            for (const auto& c : models::exit_costs(net, image_shape)) out.emplace_back(c.muladds, c.params);
            return out;
          },
          py::arg("image_shape"));

  m.def(
      "_set_training_flag",
      [](const std::shared_ptr<torch::nn::Module>& module, bool on) { set_training_flag(*module, on); },
      py::arg("module"), py::arg("on"));
  m.def(
      "_network_fields", [](const std::string& arch) { return models::field_names(models::parse_arch(arch)); },
      py::arg("arch"));
  m.def(
      "_network_options",
      [](const std::string& arch, bool imta_heads, const std::map<std::string, std::string>& fields) {
        return models::describe(network_options(arch, imta_heads, fields));
      },
      py::arg("arch"), py::arg("imta_heads"), py::arg("fields"));
  m.def(
      "_build_network",
      [](const std::string& description, uint64_t seed, bool gradient_equilibrium, const std::string& imta_from,
         bool imta_freeze_backbone_bn) {
        return train::build_network(train::NetworkBuildOptions()
                                        .arch(models::options_from_description(description))
                                        .seed(seed)
                                        .gradient_equilibrium(gradient_equilibrium)
                                        .imta_from(imta_from)
                                        .imta_freeze_backbone_bn(imta_freeze_backbone_bn));
      },
      py::arg("description"), py::arg("seed"), py::arg("gradient_equilibrium"), py::arg("imta_from"),
      py::arg("imta_freeze_backbone_bn"));
  m.def(
      "_load_network",
      [](const std::string& checkpoint_or_run, const std::string& description) {
        return train::load_trained_network(checkpoint_or_run, models::options_from_description(description));
      },
      py::arg("checkpoint_or_run"), py::arg("description"));
  m.def(
      "_checkpoint_description",
      [](const std::string& checkpoint_or_run) {
        return io::load_checkpoint(train::checkpoint_path(checkpoint_or_run)).config;
      },
      py::arg("checkpoint_or_run"));
}

}  // namespace l2w::python
