// The Python module `l2w._l2w`, on torch's own extension headers (their pybind11, and LibTorch's bindings
// for C++ modules): tensors cross without copies, l2w's errors become Python exceptions. One function per
// concept adds its part; python/l2w/__init__.py is the typed API over it.
#pragma once

#include <torch/extension.h>
#include <torch/python.h>

namespace l2w::python {

namespace py = pybind11;

void bind_errors(py::module_& m);
void bind_networks(py::module_& m);
void bind_data(py::module_& m);
void bind_training(py::module_& m);
void bind_evaluation(py::module_& m);
void bind_deployment(py::module_& m);

}  // namespace l2w::python
