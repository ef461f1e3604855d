"""l2w from Python: multi-exit networks (MSDNet, RANet, IMTA), L2W training, budgeted evaluation and
early-exit deployment, on l2w's C++ library (docs/python.md).

Tensors cross without copies; l2w's one-line errors become exceptions: ``ValueError`` for bad options,
:class:`CheckpointError` (a ``ValueError``) for damaged or foreign checkpoints, :class:`DataError` (an
``OSError``) for missing or damaged data, ``KeyboardInterrupt`` when Ctrl-C stops :func:`train` after
its checkpoint is written.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import torch
import torch.utils.data

from . import _l2w
from ._l2w import CheckpointError, DataError, NonFiniteLossError

CheckpointError.__doc__ = "A checkpoint that is damaged, of another architecture, or lacks what is asked of it."
DataError.__doc__ = "A data file that is missing, truncated or not what its name says."
NonFiniteLossError.__doc__ = ("A training iteration whose loss, weights or gradient came out NaN or infinite; "
                              "it was undone.")
from .export import export_onnx
from .network import Network, NetworkBuild, load, msdnet, ranet

__version__ = "0.1.0"

__all__ = [
    "CheckpointError", "DataError", "NonFiniteLossError", "Network", "msdnet", "ranet", "load", "Dataset",
    "load_data", "Batches", "Learner", "StepResult", "train", "TrainResult", "ExitOutputs", "exit_outputs",
    "anytime", "BudgetCurve", "budgeted", "Thresholds", "thresholds_for_budget", "read_thresholds", "Classifier",
    "export_onnx",
]

Tensor = torch.Tensor


class Dataset(torch.utils.data.Dataset):
    """One split of a data set l2w reads (:func:`load_data`): ``len(data)`` images, ``data[i]`` the i-th
    as ``(image [C, H, W] float32, label)``, normalised as l2w's test batches are (no augmentation), so a
    ``torch.utils.data.DataLoader`` (worker processes included) can serve it. :class:`Batches` makes
    l2w's own shuffled and augmented batches of it, as ``l2w train`` does."""

    def __init__(self, cpp_dataset: Any, name: str) -> None:
        self._data = cpp_dataset
        self.name = name

    def __len__(self) -> int:
        return self._data.size

    def __getitem__(self, index: int) -> Tuple[Tensor, int]:
        return self._data._item(int(index))

    def __repr__(self) -> str:
        c, h, w = self.image_shape
        return f"l2w.Dataset({self.name}: {len(self)} images {c}x{h}x{w}, {self.num_classes} classes)"

    def __reduce__(self) -> Any:
        # DataLoader's workers under the spawn or forkserver start methods receive the dataset pickled.
        images = self._data._images
        if images is None:
            raise TypeError(f"{self!r}: images read from files as batches are made cannot be pickled; use a "
                            "DataLoader with the fork start method, or l2w.Batches")
        return _dataset_from_tensors, (images, self.labels, self.num_classes, self.mean, self.std, self.name)

    @property
    def size(self) -> int:
        """The number of images."""
        return self._data.size

    @property
    def num_classes(self) -> int:
        """The number of classes."""
        return self._data.num_classes

    @property
    def image_shape(self) -> List[int]:
        """``[C, H, W]`` of the images as the network sees them."""
        return list(self._data.image_shape)

    @property
    def mean(self) -> List[float]:
        """The per-channel mean of the normalisation (0..1 scale)."""
        return list(self._data.mean)

    @property
    def std(self) -> List[float]:
        """The per-channel standard deviation of the normalisation."""
        return list(self._data.std)

    @property
    def labels(self) -> Tensor:
        """Every image's label, int64 ``[N]``."""
        return self._data.labels


def _dataset_from_tensors(images: Tensor, labels: Tensor, num_classes: int, mean: List[float], std: List[float],
                          name: str) -> Dataset:
    return Dataset(_l2w.Dataset._from_tensors(images, labels, num_classes, mean, std), name)


def load_data(name: str = "fashion-mnist", *, data_url: str = "", train_limit: int = 0,
              test_limit: int = 0) -> Tuple[Dataset, Dataset]:
    """The (train, test) sets of a data set l2w knows (``fashion-mnist``, ``mnist``, ``cifar10``,
    ``cifar100``, ``ImageNet``) from ``data_url`` (default: Fashion-MNIST's Debian folder), optionally
    only their first images."""
    train_set, test_set = _l2w._load_data(name, data_url, train_limit, test_limit)
    return Dataset(train_set, name), Dataset(test_set, name)


class Batches:
    """l2w's own batches of a data set: shuffled and augmented by ``seed`` and the epoch exactly as
    ``l2w train`` makes them (``augment``: random crop with padding 4 and horizontal flip), normalised.

    ``for images, labels, indices in batches.epoch(e)`` iterates one epoch; ``len(batches)`` is the
    number of batches per epoch.
    """

    def __init__(self, data: Any, *, batch_size: int = 64, shuffle: bool = True, augment: bool = True,
                 seed: int = 0, subset: Sequence[int] = (), workers: int = 1) -> None:
        self._loader = _l2w.BatchLoader(data._data, list(subset), batch_size, shuffle, augment, seed, workers)

    def __len__(self) -> int:
        return len(self._loader)

    def epoch(self, epoch: int) -> Iterator[Tuple[Tensor, Tensor, Tensor]]:
        """The batches ``(images, labels, indices)`` of epoch ``epoch`` (0-based)."""
        return iter(self._loader.epoch(epoch))


@dataclass
class StepResult:
    """What one training iteration did: per-sample per-exit losses ``[n, K]`` and, for L2W, weights
    ``[n, K]`` and the meta loss; each exit's logits; the learning rate it ran at."""
    losses: Tensor
    logits: list[Tensor]
    weights: Optional[Tensor]
    meta_loss: Optional[Tensor]
    lr: float


class Learner:
    """The training iteration of ``l2w train`` for a loop of your own, over any batches (a
    ``torch.utils.data.DataLoader`` of (images, labels) for instance).

    ``step(images, labels)`` runs one iteration: the learning rate of the schedule at this iteration,
    then the method's step (L2W: both halves' meta step and real step, the WPN's Adam included; plain:
    one SGD step). ``epochs`` and ``iterations_per_epoch`` place iterations on the schedule.

    Options (``None`` or absent: the default; the names of ``l2w train``'s flags, listed below from
    the library's own option lists):
    """

    def __init__(self, network: Network, *, epochs: int, iterations_per_epoch: int,
                 method: Optional[str] = None, **options: Any) -> None:
        options["method"] = method
        self.network = network
        self._learner = _l2w.Learner(network.cpp_module, epochs, iterations_per_epoch, options)
        self._iterations_per_epoch = iterations_per_epoch
        self._done = 0

    def step(self, images: Tensor, labels: Tensor, *, epoch: Optional[int] = None,
             iteration: Optional[int] = None) -> StepResult:
        """Trains on one batch; by default as the iteration after the previous call's."""
        if epoch is None:
            epoch = self._done // self._iterations_per_epoch
        if iteration is None:
            iteration = self._done % self._iterations_per_epoch
        result = self._learner.learn(images, labels, epoch, iteration)
        self._done = epoch * self._iterations_per_epoch + iteration + 1
        return StepResult(**result)

    @property
    def lr(self) -> float:
        """The learning rate of the latest iteration."""
        return self._learner.lr


@dataclass
class TrainResult:
    """What :func:`train` reports: the final model's test metrics per exit (``top1``, ``top5``,
    ``loss``), each exit's cumulative (MUL-ADDs, parameters), the budgeted-evaluation points
    ``(p_index, expected MUL-ADDs, accuracy)``, the best last-exit top-1 and the epochs run by this call."""
    test: List[dict]
    costs: List[Tuple[int, int]]
    dynamic: List[Tuple[int, float, float]]
    best_prec1: float
    epochs_run: int


def train(network: Network, *, data: str = "fashion-mnist", train_url: str = "runs/python",
          progress: Union[bool, Callable[[int, int, int, float, int], None]] = True,
          **options: Any) -> TrainResult:
    """Trains ``network`` with l2w's whole trainer (what ``l2w train`` runs) on a data set l2w knows,
    into the run folder ``train_url``, and leaves the trained weights in ``network``.

    Training starts from the network's current weights, unless the run folder holds checkpoints: then it
    resumes from the latest (``finetune_from`` loads another checkpoint's weights first). A network
    built with ``imta_stage2=True, imta_from=...`` trains IMTA's second stage by distillation (give
    ``method="plain"``), choosing thresholds on its first stage's held-out images, as the command does.

    ``progress``: a tqdm bar when tqdm is installed (True), nothing (False), or a callback
    ``(epoch, iteration, iterations, lr, images)`` after every iteration. Ctrl-C ends the current
    iteration, writes its checkpoint and raises ``KeyboardInterrupt`` (the same call continues from it).

    Options (``None`` or absent: the default; the names of ``l2w train``'s flags, listed below from
    the library's own option lists):
    """
    options.setdefault("print_freq", 0)
    callback = None
    bars: list = []
    if callable(progress):
        callback = progress
    elif progress:
        try:
            from tqdm import tqdm
        except ImportError:
            options["print_freq"] = options["print_freq"] or 10
        else:
            state: dict = {}

            def callback(epoch: int, iteration: int, iterations: int, lr: float, images: int) -> None:
                if state.get("epoch") != epoch:
                    if bars:
                        bars.pop().close()
                    state["epoch"] = epoch
                    bars.append(tqdm(total=iterations, desc=f"epoch {epoch + 1}", initial=iteration))
                bars[-1].update(1)
                bars[-1].set_postfix(lr=f"{lr:.4g}")
    options.update(data=data, train_url=train_url)
    try:
        out = _l2w._train(network.cpp_module, network.description, network._build.imta_from, options, callback)
    finally:
        for bar in bars:
            bar.close()
    return TrainResult(out["test"], [tuple(c) for c in out["costs"]], [tuple(p) for p in out["dynamic"]],
                       out["best_prec1"], out["epochs_run"])


def _options_doc(*kinds: str) -> str:
    """The options of ``kinds`` (see ``_l2w._option_help``) as docstring lines."""
    lines = []
    for kind in kinds:
        for name, type_name, default, help_text in _l2w._option_help(kind):
            shown = f", default {default}" if default != "" else ""
            lines.append(f"    - ``{name}`` ({type_name}{shown}): {help_text}")
    return "\n" + "\n".join(lines) + "\n"


Learner.__doc__ = (Learner.__doc__ or "") + _options_doc("optimizer", "method")
train.__doc__ = (train.__doc__ or "") + _options_doc("data", "trainer", "method")


@dataclass
class ExitOutputs:
    """Every exit's logits ``[N, classes]`` on a set of images, and their labels ``[N]``."""
    logits: list[Tensor]
    labels: Tensor


def exit_outputs(network: Network, data: Union[Iterable[Tuple[Tensor, Tensor]], Tuple[Tensor, Tensor]],
                 *, batch_size: int = 256) -> ExitOutputs:
    """The network's logits at every exit, in eval mode and without gradient, on ``(images, labels)``
    tensors or on any iterable of (images, labels, ...) batches (a DataLoader, :meth:`Batches.epoch`)."""
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], Tensor):
        all_images, all_labels = data
        _check_counts(all_images, all_labels)
        data = [(all_images[i:i + batch_size], all_labels[i:i + batch_size])
                for i in range(0, len(all_images), batch_size)]
    parts: list[list[Tensor]] = []
    label_parts: list[Tensor] = []
    modes = [m.training for m in network.modules()]
    network.eval()
    try:
        with torch.no_grad():
            for batch in data:
                images, labels = batch[0], torch.as_tensor(batch[1])
                _check_counts(images, labels)
                logits = network(images)
                if not parts:
                    parts = [[] for _ in logits]
                for k, l in enumerate(logits):
                    parts[k].append(l.cpu())
                label_parts.append(labels.cpu())
    finally:
        for module, mode in zip(network.modules(), modes):
            module.training = mode
    if not parts:
        raise ValueError("data: no batch")
    return ExitOutputs([torch.cat(p) for p in parts], torch.cat(label_parts))


def _check_counts(images: Tensor, labels: Tensor) -> None:
    if labels.dim() != 1 or len(labels) != len(images):
        raise ValueError(f"labels: {tuple(labels.shape)} for {len(images)} images, expected one label per image")


def anytime(outputs: ExitOutputs) -> list[dict]:
    """Per exit: top-1 and top-5 accuracy (percent) and the mean cross-entropy."""
    return _l2w._anytime(outputs.logits, outputs.labels)


@dataclass
class BudgetCurve:
    """Budgeted evaluation's curve: for each candidate (``index``: p_index 1..39, or the patience),
    the test accuracy (percent), the expected MUL-ADDs per image, the images leaving at each exit and the
    thresholds chosen on the validation outputs."""
    index: Tensor
    accuracy: Tensor
    muladds: Tensor
    exit_counts: list[list[int]] = field(default_factory=list)
    thresholds: list[list[float]] = field(default_factory=list)


def budgeted(valid: ExitOutputs, test: ExitOutputs, exit_muladds: Sequence[int], *,
             criterion: str = "max-prob") -> BudgetCurve:
    """Budgeted batch classification: thresholds from ``valid`` for each target exit distribution,
    applied to ``test``. ``exit_muladds``: each exit's cumulative cost (:meth:`Network.exit_costs`)."""
    out = _l2w._budgeted(valid.logits, valid.labels, test.logits, test.labels, list(exit_muladds), criterion)
    return BudgetCurve(**out)


@dataclass
class Thresholds:
    """An exit policy: a threshold per exit on the criterion's score (the last exit takes the rest)."""
    thresholds: list[float]
    criterion: str = "max-prob"
    index: int = 0
    valid_accuracy: float = 0.0
    valid_muladds: float = 0.0
    temperatures: list[float] = field(default_factory=list)
    exit_muladds: list[int] = field(default_factory=list)  # the costs they were chosen for; checked when given
    precision: str = "fp32"  # of the outputs they were fitted on ("bf16": l2w eval --precision bf16)


def thresholds_for_budget(valid: ExitOutputs, exit_muladds: Sequence[int], budget_muladds: float, *,
                          criterion: str = "max-prob") -> Thresholds:
    """The thresholds (found on ``valid``) whose expected cost on ``valid`` is the largest within
    ``budget_muladds`` per image, as ``l2w eval --budget`` chooses them; ValueError below the cheapest."""
    return Thresholds(**_l2w._thresholds_for_budget(valid.logits, valid.labels, list(exit_muladds),
                                                    float(budget_muladds), criterion))


def read_thresholds(path: str) -> Thresholds:
    """A thresholds file that ``l2w eval --budget`` wrote."""
    return Thresholds(**_l2w._read_thresholds(path))


class Classifier:
    """Early-exit inference as ``l2w infer`` runs it: a copy of ``network`` in the inference form
    (BatchNorm folded), run block by block; each image leaves at the first exit whose score reaches its
    threshold, so the compute really stops.

    ``classify(images)`` returns ``(classes, exits, confidences)``: int64 ``[N]``, the 0-based exit
    taken ``[N]``, and the criterion's score there ``[N]``. ``classify_stream(batches)`` classifies a
    stream of batches stage-wise, as ``l2w infer`` runs a data set (docs/inference.md).

    ``precision``: ``"fp32"``, ``"bf16"`` (weights and activations; the exit decisions stay float32) or
    ``"auto"`` (bf16 where the device multiplies it in matrix units, the faster measured on a CPU with
    AVX512-BF16 only, else fp32); :attr:`precision` says which ran and :attr:`precision_report` why. For
    a budget to hold as deployed, fit the thresholds on outputs in the same precision
    (``l2w eval --precision``). ``memory_format``: ``"contiguous"`` (NCHW), ``"channels_last"``, or
    ``"auto"``, the faster measured at ``batch_size`` images (as ``l2w infer --memory-format auto``);
    :attr:`network_report` says which. ``precision="auto"`` measures at ``batch_size`` too. In NCHW on a
    CPU each convolution runs, for one image at a time, in the layout measured faster for it, unless
    ``uniform_conv_layout`` (docs/inference.md, "Batch 1").

    ``onnx``: a folder :func:`l2w.export_onnx` (or ``l2w export``) wrote from this network; OpenVINO's
    runtime then computes its stage graphs on the CPU (the exit decisions stay l2w's; the graphs' logits
    are checked against the network's, ``ValueError`` for a folder of another network or checkpoint).
    ``engine``: ``"openvino"`` for every batch, ``"libtorch"`` to ignore the folder, or ``"auto"`` (the
    default): with a folder, the engine measured faster on the whole network for one image and for
    ``batch_size`` images, each (docs/inference.md, "OpenVINO under l2w's early exit").
    """

    def __init__(self, network: Network, thresholds: Union[Thresholds, Sequence[float]],
                 image_shape: Sequence[int], *, device: str = "cpu", precision: str = "auto",
                 memory_format: str = "contiguous", batch_size: int = 1, uniform_conv_layout: bool = False,
                 engine: str = "auto", onnx: str = "") -> None:
        if not isinstance(thresholds, Thresholds):
            thresholds = Thresholds(list(thresholds))
        self.thresholds = thresholds
        deployment = {"precision": precision, "memory_format": memory_format, "batch_size": batch_size,
                      "uniform_conv_layout": uniform_conv_layout, "engine": engine, "onnx": onnx}
        self._classifier = _l2w.Classifier(network.copy().cpp_module, list(image_shape), list(thresholds.thresholds),
                                           thresholds.criterion, list(thresholds.temperatures),
                                           list(thresholds.exit_muladds), device, deployment)

    def classify(self, images: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """``(classes, exits, confidences)`` of normalised images ``[N, C, H, W]``: each image stops at the
        first exit whose score reaches its threshold. ``ValueError`` for images of another shape or with
        NaN or infinite values."""
        return self._classifier.classify(images)

    def classify_stream(self, batches: Iterable[Tensor],
                        batch_size: Optional[int] = None) -> Tuple[Tensor, Tensor, Tensor]:
        """Every image of ``batches`` with every block on full batches: the images that continue past an
        exit wait until ``batch_size`` of them (default: the first batch's size) have gathered. Returns
        ``classify``'s ``(classes, exits, confidences)`` for all the images, in the order given; they equal
        ``classify``'s image for image."""
        try:
            for images in batches:
                if batch_size is None:
                    batch_size = int(images.shape[0])
                if batch_size < 1:
                    raise ValueError(f"batch_size: {batch_size}, expected at least 1")
                self._classifier.push(images, batch_size)
        finally:
            decisions = self._classifier.finish()
        return decisions

    @property
    def exit_muladds(self) -> list[int]:
        """Each exit's cumulative MUL-ADDs, what an image leaving there cost."""
        return self._classifier.exit_muladds

    @property
    def precision(self) -> str:
        """The precision the network runs in: ``"fp32"`` or ``"bf16"``."""
        return self._classifier.precision

    @property
    def precision_report(self) -> str:
        """Which precision runs and why (with the times where ``"auto"`` measured)."""
        return self._classifier.precision_report

    @property
    def network_report(self) -> str:
        """The inference form as deployed: BatchNorms folded, 1x1 convolutions as products, the layout."""
        return self._classifier.network_report
