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

void load_state_dict(models::MultiExitNetworkImpl& net, const std::map<std::string, torch::Tensor>& given) {
  // Keep the order of the network's own keys: io::load_state_dict checks by name.
  io::StateDict state;
  for (const auto& [key, value] : given) state.insert(key, value);
  io::load_state_dict(net, state, "the state_dict");
}

}  // namespace

void bind_networks(py::module_& m) {
  // LibTorch's binding of a C++ module (parameters(), train(), to(), ...); python/l2w wraps it as a
  // torch.nn.Module (torch.nn.cpp.ModuleWrapper).
  torch::python::bind_module<models::MultiExitNetworkImpl>(m, "Network")
      .def_property_readonly("_num_exits", &models::MultiExitNetworkImpl::num_exits)
      .def_property_readonly("_arch", &models::MultiExitNetworkImpl::arch)
      .def("_state_dict", &state_dict)
      .def("_load_state_dict", &load_state_dict, py::arg("state_dict"))
      .def(
          "_exit_costs",
          [](models::MultiExitNetworkImpl& net, const std::vector<int64_t>& image_shape) {
            std::vector<std::pair<int64_t, int64_t>> out;
            for (const auto& c : models::exit_costs(net, image_shape)) out.emplace_back(c.muladds, c.params);
            return out;
          },
          py::arg("image_shape"));

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
