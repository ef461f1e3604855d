"""l2w's networks as ``torch.nn.Module``\\ s: MSDNet, RANet and IMTA's second stage, built from options or
loaded from a checkpoint (docs/python.md)."""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, List, Mapping, Optional, Sequence, Tuple, Union

import torch

from . import _l2w, modules

Tensor = torch.Tensor
FieldValue = Union[int, float, bool, str, Sequence[int]]


@dataclass(frozen=True)
class NetworkBuild:
    """How a network was built, beyond its parameters: what a copy or an unpickled network is built from."""
    description: str
    gradient_equilibrium: bool = False
    imta_from: str = ""
    imta_freeze_backbone_bn: bool = False


class Network(modules.CppBacked, torch.nn.Module):
    """A multi-exit classifier: a ``torch.nn.Module`` whose forward runs l2w's C++ network.

    ``net(images)`` returns every exit's logits ``[N, classes]``, first exit first, with autograd, so a
    loss written in Python trains ``net.parameters()`` with any ``torch.optim`` optimiser. The module
    tree is the C++ network's, with torch's layer types (``Conv2d``, ``BatchNorm2d``, ``Linear``) over
    the very tensors C++ computes with; ``state_dict()`` has the reference's keys; nesting in your own
    module, ``copy.deepcopy``, ``pickle``, ``torch.save``, ``to()`` and hooks on the network work as on
    any module. Forward hooks on the parts cannot run, since the parts run in C++, and raise.
    """

    def __init__(self, cpp_module: Any, build: NetworkBuild) -> None:
        super().__init__()
        self.cpp_module = cpp_module
        self._build = build
        modules.adopt(self, cpp_module._module_tree())

    @property
    def description(self) -> str:
        """The architecture in one line, as checkpoints store it."""
        return self._build.description

    @property
    def num_exits(self) -> int:
        """The number of exits K."""
        return self.cpp_module._num_exits

    @property
    def arch(self) -> str:
        """The reference's name of the architecture: ``msdnet``, ``RANet``, ``IMTA_msdnet``."""
        return self.cpp_module._arch

    def forward(self, images: Tensor) -> List[Tensor]:
        """Every exit's logits ``[N, classes]`` for images ``[N, C, H, W]``, first exit first. ValueError
        for an empty batch, or images of another dtype or device than the parameters."""
        return self.cpp_module._forward(images)

    def extra_repr(self) -> str:
        """The architecture's one-line description, shown by ``print(net)`` above the module tree."""
        return self.description

    def exit_costs(self, image_shape: Sequence[int]) -> List[Tuple[int, int]]:
        """Per exit, the cumulative (MUL-ADDs, parameters) of one image of shape ``(C, H, W)``."""
        return self.cpp_module._exit_costs(list(image_shape))

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False) -> Any:
        """torch's ``load_state_dict`` (returns the missing and unexpected keys; ``strict=False`` loads
        what matches); the keys of a network saved inside DataParallel (``module.`` prefixes, as the
        reference's checkpoints have them) are accepted too. ``assign=True`` is refused: it would hand
        Python tensors that the C++ forward does not compute with."""
        if assign:
            raise ValueError("assign=True: an l2w network's tensors are the C++ network's; load by copying (the default)")
        own = self.state_dict(keep_vars=True)
        if any(key not in own for key in state_dict):
            renamed = {key if key in own else _without_wrappers(key): value for key, value in state_dict.items()}
            metadata = getattr(state_dict, "_metadata", None)
            if metadata is not None:
                renamed = _with_metadata(renamed, metadata)
            state_dict = renamed
        return super().load_state_dict(state_dict, strict)

    def _apply(self, fn: Any, recurse: bool = True) -> "Network":
        # to(), half(), cuda(), ...: torch changes each parameter in place (`tensor.data = ...`), which
        # keeps Python's and C++'s tensors one, but puts new buffers in place of the old: those are moved
        # back into the old tensors. The "swap" and "overwrite" conversions would part parameters too.
        buffers = [(m, dict(m._buffers)) for m in self.modules()]
        swap = torch.__future__.get_swap_module_params_on_conversion()
        overwrite = torch.__future__.get_overwrite_module_params_on_conversion()
        torch.__future__.set_swap_module_params_on_conversion(False)
        torch.__future__.set_overwrite_module_params_on_conversion(False)
        try:
            super()._apply(fn, recurse)
        finally:
            torch.__future__.set_swap_module_params_on_conversion(swap)
            torch.__future__.set_overwrite_module_params_on_conversion(overwrite)
            for module, before in buffers:
                for name, old in before.items():
                    new = module._buffers.get(name)
                    if new is not old and old is not None and new is not None:
                        old.data = new
                        module._buffers[name] = old
        mine = self.state_dict(keep_vars=True)
        for key, tensor in self.cpp_module._state_dict().items():
            if mine.get(key) is not tensor:
                raise RuntimeError(f"{key}: the conversion replaced the tensor rather than changing it in place, so "
                                   "Python and C++ no longer share it; l2w networks need in-place conversions")
        return self

    def __reduce_ex__(self, protocol: Any) -> Any:
        # copy.deepcopy, pickle and torch.save: the network is rebuilt from its build options and state.
        modes = [m.training for m in self.modules()]
        requires_grad = [p.requires_grad for p in self.parameters()]
        return _rebuild_network, (self._build, dict(self.state_dict()), modes, requires_grad)

    def copy(self) -> "Network":
        """An independent network of the same architecture with copies of these parameters and buffers,
        in the same modes (``copy.deepcopy(net)`` does the same)."""
        return _rebuild_network(*self.__reduce_ex__(4)[1])


def _without_wrappers(key: str) -> str:
    return ".".join(part for part in key.split(".") if part != "module")


class _StateDict(dict):
    """A plain dict that can carry torch's ``_metadata`` attribute."""


def _with_metadata(state: Mapping[str, Any], metadata: Any) -> Mapping[str, Any]:
    out = _StateDict(state)
    out._metadata = metadata  # type: ignore[attr-defined]
    return out


def _rebuild_network(build: NetworkBuild, state: Mapping[str, Tensor], modes: Sequence[bool],
                     requires_grad: Sequence[bool]) -> Network:
    """A network from what ``Network.__reduce_ex__`` saved (pickle finds this function by name)."""
    with torch.random.fork_rng(devices=[]):  # building draws parameters: the caller's generator stays as it was
        net = Network(_l2w._build_network(build.description, 0, build.gradient_equilibrium, "",
                                          build.imta_freeze_backbone_bn), build)
    first = next((t for t in state.values() if t.is_floating_point()), None)
    if first is not None:
        net.to(first.device, first.dtype)
    net.load_state_dict(state)
    for module, mode in zip(net.modules(), modes):
        module.training = mode
    for parameter, wanted in zip(net.parameters(), requires_grad):
        parameter.requires_grad_(wanted)
    return net


def _field_text(name: str, value: FieldValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "-".join(str(int(v)) for v in value)
    return str(value)


def _description(arch: str, imta_heads: bool, fields: Mapping[str, FieldValue]) -> str:
    fields = dict(fields)
    if "stem" in fields and "imagenet" in fields:
        raise ValueError("stem and imagenet: give one of them (stem='imagenet' is imagenet=True)")
    known = _l2w._network_fields(arch)
    for name in fields:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=3)
            hint = f"did you mean {', '.join(close)}? " if close else ""
            raise ValueError(f"{name}: not an option of {arch}; {hint}it takes {', '.join(known)}")
    return _l2w._network_options(arch, imta_heads, {k: _field_text(k, v) for k, v in fields.items()})


def _build(arch: str, seed: int, build_fields: Mapping[str, Any], fields: Mapping[str, FieldValue]) -> Network:
    build = NetworkBuild(_description(arch, build_fields.get("imta_stage2", False), fields),
                         build_fields.get("gradient_equilibrium", False), build_fields.get("imta_from", ""),
                         build_fields.get("imta_freeze_backbone_bn", False))
    cpp = _l2w._build_network(build.description, seed, build.gradient_equilibrium, build.imta_from,
                              build.imta_freeze_backbone_bn)
    return Network(cpp, build)


def msdnet(*, seed: int = 0, gradient_equilibrium: bool = False, imta_stage2: bool = False,
           imta_from: str = "", imta_freeze_backbone_bn: bool = False, **fields: FieldValue) -> Network:
    """An MSDNet with freshly drawn parameters (LibTorch's generator seeded with ``seed``).

    ``fields`` are the architecture's options by their reference names or l2w's (``nBlocks=3`` or
    ``n_blocks=3``, ``grFactor=[1, 2, 4]``, ``stepmode="even"``, ``num_classes=10``, ``in_channels=1``,
    ``imagenet=True`` or ``stem="imagenet"``); the others keep l2w's defaults (the seed's CIFAR MSDNet).
    ``imta_stage2`` adds IMTA's second-stage heads on a frozen backbone, loaded from ``imta_from`` (the
    first stage's checkpoint); :func:`l2w.train` then trains them by distillation.
    """
    return _build("msdnet", seed, dict(gradient_equilibrium=gradient_equilibrium, imta_stage2=imta_stage2,
                                       imta_from=imta_from, imta_freeze_backbone_bn=imta_freeze_backbone_bn), fields)


def ranet(*, seed: int = 0, **fields: FieldValue) -> Network:
    """A RANet with freshly drawn parameters; ``fields`` as for :func:`msdnet` (``scale_list=[1, 2, 3]``...)."""
    return _build("RANet", seed, {}, fields)


def load(checkpoint_or_run: str, *, arch: Optional[str] = None, imta_stage2: bool = False,
         **fields: FieldValue) -> Network:
    """The trained network of a checkpoint file or a run folder (its best checkpoint), in eval mode.

    An l2w checkpoint describes its architecture, so nothing else is needed; the reference's checkpoints
    do not: give ``arch`` ("msdnet" or "RANet") and the fields as for :func:`msdnet`. A checkpoint of
    another architecture than the one given raises :class:`CheckpointError` naming the differences.
    """
    if arch is None and not fields and not imta_stage2:
        description = _l2w._checkpoint_description(checkpoint_or_run)
        if not description:
            raise ValueError(f"{checkpoint_or_run}: the checkpoint does not describe its architecture "
                             "(a reference checkpoint): give arch= and its fields")
    else:
        description = _description(arch or "msdnet", imta_stage2, fields)
    net = Network(_l2w._load_network(checkpoint_or_run, description), NetworkBuild(description))
    return net.eval()
