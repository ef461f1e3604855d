"""The module tree of an l2w network as Python sees it: one ``torch.nn.Module`` per C++ module, of
torch's own type where there is one (``Conv2d``, ``BatchNorm2d``, ``Linear``, ...), holding the C++
module's parameters and buffers themselves, not copies.

The network's forward runs in C++ (one definition of each network, the one the trainer and the
meta step run), so everything that reads or writes tensors works as on any module: ``state_dict``,
``load_state_dict``, ``parameters()``, ``apply``, ``requires_grad_``, ``zero_grad``, ``to()``, an
optimiser's in-place updates. Training flags live in C++ and Python reads them there. What would need
Python to run a layer's forward inside the network cannot work and raises instead of being silently
ignored: forward hooks on the parts, replacing a part or a tensor by assignment (docs/python.md).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Tuple

import torch

from . import _l2w

_INSIDE = ("{what}: the parts of an l2w network run inside its C++ forward, which does not call Python; "
           "{hint} (docs/python.md, \"What works and what does not\")")


def _refuse(what: str, hint: str) -> RuntimeError:
    return RuntimeError(_INSIDE.format(what=what, hint=hint))


class CppBacked:
    """What every module of an l2w network shares: its training flag is its C++ module's, and its
    tensors and children are the C++ module's, so they are never replaced, only changed in place."""

    _cpp: Any  # the C++ module (torch._C.cpp.nn.Module)

    @property
    def training(self) -> bool:  # type: ignore[override]
        cpp = self.__dict__.get("_cpp")
        return bool(cpp.training) if cpp is not None else self.__dict__.get("_training_before_adoption", True)

    @training.setter
    def training(self, mode: bool) -> None:
        cpp = self.__dict__.get("_cpp")
        if cpp is None:  # torch.nn.Module.__init__, before the C++ module is adopted
            self.__dict__["_training_before_adoption"] = mode
        else:
            _l2w._set_training_flag(cpp, bool(mode))

    def train(self, mode: bool = True) -> "CppBacked":
        """Sets training mode here and below, as C++ does it (a module may keep part of itself in eval
        mode, as IMTA's second stage does with its frozen backbone)."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self._cpp.train(mode)
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        held = self.__dict__.get("_cpp") is not None and (
            name in self.__dict__.get("_parameters", ()) or name in self.__dict__.get("_buffers", ())
            or name in self.__dict__.get("_modules", ()))
        if held:
            raise _refuse(f"{name}: assigning a new tensor or module",
                          f"change it in place instead (with torch.no_grad(): module.{name}.copy_(value))")
        super().__setattr__(name, value)

    def __delattr__(self, name: str) -> None:
        if name in self.__dict__.get("_parameters", ()) or name in self.__dict__.get("_modules", ()):
            raise _refuse(f"{name}: deleting a part", "the network's structure is fixed by its options")
        super().__delattr__(name)


def adopt(module: torch.nn.Module, node: Dict[str, Any]) -> None:
    """Makes ``module`` hold the C++ module's parameters, buffers and children (mirrored) of ``node``
    (``_l2w`` ``_module_tree``'s format), in C++'s order, which is PyTorch's state_dict order."""
    expected = list(module._parameters)  # torch's layer may register some as None (a Conv2d without bias)
    module._parameters.clear()
    for name, tensor in node["parameters"]:
        if type(tensor) is torch.Tensor:
            tensor.__class__ = torch.nn.Parameter  # the same tensor, C++'s, now typed as a Parameter
        module._parameters[name] = tensor
    for name in expected:
        module._parameters.setdefault(name, None)
    module._buffers.clear()
    for name, tensor in node["buffers"]:
        module._buffers[name] = tensor
    for name, child in node["children"]:
        module._modules[name] = mirror(child)
    module.__dict__.pop("_training_before_adoption", None)
    module.__dict__["_cpp"] = node["module"]


class Part(CppBacked):
    """A module inside an l2w network (not the network itself)."""

    def _hooks_refused(self, *args: Any, **kwargs: Any) -> Any:
        raise _refuse("a hook on a part of the network",
                      "hook the network itself, whose forward returns every exit's logits")

    register_forward_hook = _hooks_refused
    register_forward_pre_hook = _hooks_refused
    register_full_backward_hook = _hooks_refused
    register_full_backward_pre_hook = _hooks_refused
    register_backward_hook = _hooks_refused

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise TypeError(f"{type(self).__name__}: a part of an l2w network cannot be copied or pickled on its "
                        "own; copy or pickle the network (copy.deepcopy(network), torch.save(network))")

    def __deepcopy__(self, memo: Any) -> Any:
        return self.__reduce_ex__(4)


class Block(Part, torch.nn.Module):
    """One of l2w's composite blocks (``ConvBasic``, ``MSDNLayer``, ...), its forward in C++."""

    def __init__(self, cpp_type: str) -> None:
        super().__init__()
        self.cpp_type = cpp_type

    def forward(self, *args: Any) -> Any:
        raise _refuse(f"{self.cpp_type}: calling a block on its own", "call the network")

    def _get_name(self) -> str:
        return self.cpp_type


class Conv2d(Part, torch.nn.Conv2d):
    """torch.nn.Conv2d over the C++ layer's weight and bias."""


class BatchNorm2d(Part, torch.nn.BatchNorm2d):
    """torch.nn.BatchNorm2d over the C++ layer's parameters and running statistics."""


class BatchNorm1d(Part, torch.nn.BatchNorm1d):
    """torch.nn.BatchNorm1d over the C++ layer's parameters and running statistics."""


class Linear(Part, torch.nn.Linear):
    """torch.nn.Linear over the C++ layer's weight and bias."""


class ReLU(Part, torch.nn.ReLU):
    """torch.nn.ReLU, as the C++ layer is configured."""


class MaxPool2d(Part, torch.nn.MaxPool2d):
    """torch.nn.MaxPool2d, as the C++ layer is configured."""


class AvgPool2d(Part, torch.nn.AvgPool2d):
    """torch.nn.AvgPool2d, as the C++ layer is configured."""


class Identity(Part, torch.nn.Identity):
    """torch.nn.Identity."""


class Sequential(Part, torch.nn.Sequential):
    """torch.nn.Sequential of the C++ Sequential's parts."""


class ModuleList(Part, torch.nn.ModuleList):
    """torch.nn.ModuleList of the C++ ModuleList's parts."""


def _tuple(values: Any) -> Tuple[int, ...]:
    return tuple(int(v) for v in values)


# torch's layer for a C++ type, made from the C++ options on the meta device (no memory, no
# initialisation cost): adopt() then puts the C++ tensors in place of the meta ones.
_LAYERS: Dict[str, Callable[[Dict[str, Any]], torch.nn.Module]] = {
    "Conv2d": lambda o: Conv2d(o["in_channels"], o["out_channels"], _tuple(o["kernel_size"]), _tuple(o["stride"]),
                               _tuple(o["padding"]), _tuple(o["dilation"]), o["groups"], o["bias"], device="meta"),
    "BatchNorm2d": lambda o: BatchNorm2d(o["num_features"], o["eps"], o["momentum"], o["affine"],
                                         o["track_running_stats"], device="meta"),
    "BatchNorm1d": lambda o: BatchNorm1d(o["num_features"], o["eps"], o["momentum"], o["affine"],
                                         o["track_running_stats"], device="meta"),
    "Linear": lambda o: Linear(o["in_features"], o["out_features"], o["bias"], device="meta"),
    "ReLU": lambda o: ReLU(o["inplace"]),
    "MaxPool2d": lambda o: MaxPool2d(_tuple(o["kernel_size"]), _tuple(o["stride"]), _tuple(o["padding"]),
                                     _tuple(o["dilation"]), ceil_mode=o["ceil_mode"]),
    "AvgPool2d": lambda o: AvgPool2d(_tuple(o["kernel_size"]), _tuple(o["stride"]), _tuple(o["padding"]),
                                     o["ceil_mode"], o["count_include_pad"]),
    "Identity": lambda o: Identity(),
    "Sequential": lambda o: Sequential(),
    "ModuleList": lambda o: ModuleList(),
}


def mirror(node: Dict[str, Any]) -> torch.nn.Module:
    """The Python module of one C++ module (``_l2w`` ``_module_tree``'s node) and everything below it."""
    make = _LAYERS.get(node["type"])
    module = make(node["options"]) if make is not None else Block(node["type"])
    adopt(module, node)
    return module
