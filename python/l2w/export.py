"""A network as an ONNX graph, for the runtimes deployers use (ONNX Runtime, OpenVINO, TensorRT).

The graph is what the C++ forward computes: torch's tracer records the ATen operations the network's
C++ code runs (the code takes size-following paths while it is traced, so the batch stays free), and
torch's ONNX exporter writes them through the ``onnx`` library.
"""
from __future__ import annotations

import os
import warnings
from typing import Sequence

import torch
from torch import Tensor

from .network import Network

__all__ = ["export_onnx"]


class _Exits(torch.nn.Module):
    """The network with its exits' logits as a tuple: one graph output each."""

    def __init__(self, network: Network) -> None:
        super().__init__()
        self.network = network

    def forward(self, images: Tensor) -> tuple[Tensor, ...]:
        return tuple(self.network(images))


def export_onnx(network: Network, path: str, image_shape: Sequence[int], *, opset: int = 17) -> None:
    """Writes ``network`` in eval mode to ``path`` as ONNX (opset ``opset``): normalised images
    ``images`` ``[N, C, H, W]`` in, with ``image_shape`` ``(C, H, W)`` and any batch size ``N``, and each
    exit's logits out as ``exit1``, ``exit2``, ... The graph passes ONNX's checker; ONNX Runtime computes
    the network's logits to float32 rounding. The network's own mode is left as it was.

    Raises ``ValueError`` for an image shape the network cannot take and ``OSError`` naming ``path`` when
    it cannot be written; nothing is left at ``path`` then. Needs the ``onnx`` package
    (``pip install l2w[onnx]``).
    """
    if len(image_shape) != 3 or any(int(d) < 1 for d in image_shape):
        raise ValueError(f"image_shape: {tuple(image_shape)}, expected (C, H, W) of positive sizes")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise OSError(f"{path}: the folder {folder} does not exist")
    example = torch.zeros(2, *[int(d) for d in image_shape])
    was_training = network.training
    network.eval()
    temporary = f"{path}.tmp{os.getpid()}"
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on Python values it records as constants
            try:
                network(example)
            except RuntimeError as e:
                reason = str(e).splitlines()[0]
                raise ValueError(f"image_shape: {tuple(image_shape)}: the network cannot take such images ({reason})") from None
            traced = torch.jit.trace(_Exits(network), example, check_trace=False)
            exits = network.num_exits
            torch.onnx.export(traced, (example,), temporary, dynamo=False, opset_version=opset,
                              input_names=["images"], output_names=[f"exit{k + 1}" for k in range(exits)],
                              dynamic_axes={"images": {0: "batch"},
                                            **{f"exit{k + 1}": {0: "batch"} for k in range(exits)}})
        import onnx
        onnx.checker.check_model(temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
        network.train(was_training)
