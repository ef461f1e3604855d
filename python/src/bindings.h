// The Python module `l2w._l2w`, on torch's own extension headers (their pybind11, and LibTorch's bindings
// for C++ modules): tensors cross without copies, l2w's errors become Python exceptions. One function per
// concept adds its part; python/l2w/__init__.py is the typed API over it.
#pragma once

#include <torch/extension.h>
#include <torch/python.h>

#include "l2w/eval/anytime.h"
#include "l2w/io/thresholds_file.h"

namespace l2w::python {

namespace py = pybind11;

// Per exit {top1, top5, loss}, as Python receives anytime metrics.
py::list metrics_list(const std::vector<eval::ExitMetrics>& metrics);
// {thresholds, criterion, index, valid_accuracy, valid_muladds, temperatures}: l2w.Thresholds' fields.
py::dict thresholds_dict(const io::ExitThresholds& t);

void bind_errors(py::module_& m);
void bind_networks(py::module_& m);
void bind_data(py::module_& m);
void bind_training(py::module_& m);
void bind_evaluation(py::module_& m);
void bind_deployment(py::module_& m);

}  // namespace l2w::python
