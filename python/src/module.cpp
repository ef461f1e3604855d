#include "bindings.h"
#include "l2w/runtime/process_setup.h"

#include "l2w/dataset/image_dataset.h"
#include "l2w/io/state_dict.h"
#include "l2w/train/learner.h"
#include "l2w/train/preemption.h"

namespace l2w::python {

void bind_errors(py::module_& m) {
  // A damaged checkpoint, one of another architecture, or one without what is asked of it.
  py::register_exception<io::CheckpointError>(m, "CheckpointError", PyExc_ValueError);
  // A data file that is missing, truncated or not what its name says.
  py::register_exception<dataset::DataError>(m, "DataError", PyExc_OSError);
  // A training iteration whose loss came out NaN or infinite, undone.
  py::register_exception<train::NonFiniteLoss>(m, "NonFiniteLossError", PyExc_FloatingPointError);
  // Training stopped by Ctrl-C (SIGINT) or SIGTERM after writing its checkpoint: KeyboardInterrupt, as
  // Python's own Ctrl-C.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const train::Preempted& e) {
      PyErr_SetString(PyExc_KeyboardInterrupt, e.what());
    }
  });
}

}  // namespace l2w::python

PYBIND11_MODULE(_l2w, m) {
  namespace py = pybind11;
  py::module_::import("torch");  // torch's type casters and its Module class come from torch._C
  m.doc() = "l2w's C++ library: multi-exit networks, L2W training, budgeted evaluation, early-exit inference.";
  // The allocator's policy and oneDNN's cache, as the command sets them up (the thread count stays the
  // user's: torch.set_num_threads).
  l2w::runtime::set_up_process();
  l2w::python::bind_errors(m);
  l2w::python::bind_networks(m);
  l2w::python::bind_data(m);
  l2w::python::bind_training(m);
  l2w::python::bind_evaluation(m);
  l2w::python::bind_deployment(m);
}
