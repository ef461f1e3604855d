"""A network as ONNX graphs, for the runtimes deployers use (ONNX Runtime, OpenVINO, TensorRT): the whole
network, one graph per stage (block k and exit k) for early exit, and a manifest that says how to run
them.

The graphs are what the C++ code computes: torch's tracer records the ATen operations the network runs
(its code takes size-following paths while traced, so the batch stays free), and torch's ONNX exporter
writes them through the ``onnx`` library, folding each BatchNorm that follows a convolution into it.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from typing import Any, Optional, Sequence

import torch
from torch import Tensor

from .network import Network

__all__ = ["export_onnx", "ONNX_OPSET"]

ONNX_OPSET = 17


class _Exits(torch.nn.Module):
    """The network with its exits' logits as a tuple: one graph output each."""

    def __init__(self, network: Network) -> None:
        super().__init__()
        self.network = network

    def forward(self, images: Tensor) -> tuple[Tensor, ...]:
        return tuple(self.network(images))


class _Stage(torch.nn.Module):
    """Block k on block k-1's features, then exit k: the features for block k+1 (none after the last)
    and exit k's logits."""

    def __init__(self, network: Network, k: int) -> None:
        super().__init__()
        self.network, self.k = network, k

    def forward(self, *features: Tensor) -> tuple[Tensor, ...]:
        out, logits = self.network.cpp_module._run_stage(self.k, list(features))
        last = self.k == self.network.num_exits - 1
        return (logits,) if last else (*out, logits)


def _json_number(value: float) -> Any:
    """A threshold for JSON, which has no infinities: "inf" (no image leaves there) and "-inf" (every
    image does) as strings, as l2w's thresholds files write them."""
    value = float(value)
    return value if value == value and abs(value) != float("inf") else ("inf" if value > 0 else "-inf")


def _export(module: torch.nn.Module, inputs: tuple[Tensor, ...], path: str, input_names: list[str],
            output_names: list[str]) -> list[str]:
    """Traces `module` on `inputs`, writes it to `path` and checks it; returns the inputs the graph takes
    (the exporter drops those it does not read)."""
    import onnx

    traced = torch.jit.trace(module, inputs, check_trace=False)
    torch.onnx.export(traced, inputs, path, dynamo=False, opset_version=ONNX_OPSET, input_names=input_names,
                      output_names=output_names,
                      dynamic_axes={name: {0: "batch"} for name in input_names + output_names})
    model = onnx.load(path)
    onnx.checker.check_model(model)
    return [i.name for i in model.graph.input]


def export_onnx(network: Network, output: str, image_shape: Sequence[int], *,
                mean: Optional[Sequence[float]] = None, std: Optional[Sequence[float]] = None,
                thresholds: Optional[Any] = None) -> dict:
    """Writes ``network`` (eval mode) into the folder ``output`` as ONNX (opset 17) and returns the
    manifest it writes beside the graphs:

    - ``network.onnx``: normalised images ``images`` ``[N, C, H, W]`` in (``image_shape`` is ``(C, H,
      W)``, any batch size ``N``), each exit's logits out as ``exit1``, ``exit2``, ...;
    - ``stage_K.onnx`` for each exit K: block K on the previous stage's features (``features_{K-1}_*``;
      stage 1 takes ``images``), out the next stage's features ``features_K_*`` and ``logits_K``;
    - ``manifest.json``: the input's shape, ``mean`` and ``std`` (per channel, on the 0..1 scale, as given),
      each exit's cumulative MUL-ADDs and its stage's inputs and outputs, and, when given, ``thresholds``
      (an :class:`l2w.Thresholds`): its criterion, threshold per exit ("inf" and "-inf" as strings) and
      temperatures, so that any runtime can run early exit.

    IMTA's second-stage networks are exported whole only (their exits read the previous exits': no
    stages). ONNX's checker passes on every graph before the folder is put in place. Raises
    ``ValueError`` for an image shape the network cannot take or thresholds of another network and
    ``OSError`` when ``output`` exists or its parent folder does not; nothing is left behind then.
    Needs the ``onnx`` package (``pip install l2w[onnx]``).
    """
    if len(image_shape) != 3 or any(int(d) < 1 for d in image_shape):
        raise ValueError(f"image_shape: {tuple(image_shape)}, expected (C, H, W) of positive sizes")
    shape = [int(d) for d in image_shape]
    if os.path.exists(output):
        raise OSError(f"{output}: already exists (export writes a new folder)")
    parent = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(parent):
        raise OSError(f"{output}: the folder {parent} does not exist")
    exits = network.num_exits
    example = torch.zeros(2, *shape)
    was_training = network.training
    network.eval()
    try:
        with torch.no_grad():
            network(example)
    except RuntimeError as e:
        network.train(was_training)
        reason = str(e).splitlines()[0]
        raise ValueError(f"image_shape: {tuple(shape)}: the network cannot take such images ({reason})") from None
    network.train(was_training)
    costs = [int(muladds) for muladds, _ in network.exit_costs(shape)]
    if thresholds is not None and len(thresholds.thresholds) != exits:
        raise ValueError(f"thresholds: {len(thresholds.thresholds)} given, the network has {exits} exits")
    if thresholds is not None and thresholds.exit_muladds and list(thresholds.exit_muladds) != costs:
        raise ValueError("thresholds: chosen for another network (their exits' MUL-ADDs are not this network's)")
    network.eval()
    staging = tempfile.mkdtemp(prefix=".export-", dir=parent)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on Python values it records as constants
            _export(_Exits(network), (example,), os.path.join(staging, "network.onnx"), ["images"],
                    [f"exit{k + 1}" for k in range(exits)])
            stages = []
            if not network.arch.startswith("IMTA_"):  # its exits read the previous exits: no stages
                features: list[Tensor] = [example]
                names = ["images"]
                for k in range(exits):
                    out, _ = network.cpp_module._run_stage(k, features)
                    last = k == exits - 1
                    out_names = ([] if last else [f"features_{k + 1}_{i}" for i in range(len(out))]) + [f"logits_{k + 1}"]
                    # A block may read only some of the previous features (MSDNet drops its finest scales
                    # as it goes): the graph takes only those, and a runtime feeds only those.
                    used = _export(_Stage(network, k), tuple(features), os.path.join(staging, f"stage_{k + 1}.onnx"),
                                   names, out_names)
                    stages.append({"graph": f"stage_{k + 1}.onnx", "inputs": used, "outputs": out_names})
                    features, names = list(out), out_names[:-1]
        manifest = {
            "format": "l2w-onnx 1",
            "opset": ONNX_OPSET,
            "arch": network.arch,
            "description": network.description,
            "input": {"name": "images", "shape": ["N", *shape], "mean": list(mean or []), "std": list(std or [])},
            "network": {"graph": "network.onnx", "outputs": [f"exit{k + 1}" for k in range(exits)]},
            "exits": [{"muladds": costs[k], **(stages[k] if stages else {})} for k in range(exits)],
        }
        if thresholds is not None:
            manifest["thresholds"] = {"criterion": thresholds.criterion,
                                      "values": [_json_number(t) for t in thresholds.thresholds],
                                      "temperatures": [float(t) for t in thresholds.temperatures]}
        with open(os.path.join(staging, "manifest.json"), "w") as f:
            json.dump(manifest, f, indent=1, allow_nan=False)
            f.write("\n")
        os.rename(staging, output)
        return manifest
    finally:
        if os.path.isdir(staging):
            shutil.rmtree(staging)
        network.train(was_training)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m l2w export``, what ``l2w export`` runs: a checkpoint into a folder of ONNX graphs.
    Returns the exit status: 0, 1 for a checkpoint or file that cannot be read or written, 2 for bad
    arguments; each failure is one line on stderr."""
    import argparse
    import sys

    from . import _l2w, read_thresholds
    from .network import NetworkBuild

    parser = argparse.ArgumentParser(prog="l2w export", description=main.__doc__)
    parser.add_argument("--checkpoint", required=True, help="an l2w checkpoint, or a run folder (its best)")
    parser.add_argument("--description", default="",
                        help="the architecture as l2w describes it (default: the checkpoint's own)")
    parser.add_argument("--output", required=True, help="the folder to write (it must not exist)")
    parser.add_argument("--image-shape", required=True, help="C,H,W of the normalised images")
    parser.add_argument("--mean", default="", help="per channel, comma-separated, on the 0..1 scale")
    parser.add_argument("--std", default="", help="per channel, comma-separated")
    parser.add_argument("--thresholds", default="", help="a thresholds file (l2w eval --budget) to record")
    args = parser.parse_args(argv)
    numbers = lambda text, kind: [kind(v) for v in text.split(",") if v]  # noqa: E731
    try:
        shape = numbers(args.image_shape, int)
        description = args.description or _l2w._checkpoint_description(args.checkpoint)
        if not description:
            raise ValueError(f"{args.checkpoint}: the checkpoint does not describe its architecture: give its flags")
        net = Network(_l2w._load_network(args.checkpoint, description), NetworkBuild(description)).eval()
        thresholds = read_thresholds(args.thresholds) if args.thresholds else None
        manifest = export_onnx(net, args.output, shape, mean=numbers(args.mean, float), std=numbers(args.std, float),
                               thresholds=thresholds)
    except (_l2w.CheckpointError, _l2w.DataError, OSError) as e:  # CheckpointError is a ValueError too
        print(f"l2w: error: {e}", file=sys.stderr)
        return 1
    except ValueError as e:
        print(f"l2w: error: {e}", file=sys.stderr)
        return 2
    stages = sum(1 for e in manifest["exits"] if "graph" in e)
    print(f"l2w export: {args.checkpoint} ({manifest['arch']}, {len(manifest['exits'])} exits) to {args.output}: "
          f"network.onnx, {stages} stage graphs, manifest.json (ONNX opset {ONNX_OPSET})")
    return 0

