"""l2w from Python: multi-exit networks (MSDNet, RANet, IMTA), L2W training, budgeted evaluation and
early-exit deployment, on l2w's C++ library (docs/python.md).

Tensors cross without copies; l2w's one-line errors become exceptions: ``ValueError`` for bad options,
:class:`CheckpointError` (a ``ValueError``) for damaged or foreign checkpoints, :class:`DataError` (an
``OSError``) for missing or damaged data, ``KeyboardInterrupt`` when Ctrl-C stops :func:`train` after
its checkpoint is written.
"""
from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional, Sequence, Tuple, Union

import torch
from torch.nn.cpp import ModuleWrapper

from . import _l2w
from ._l2w import CheckpointError, DataError

__all__ = [
    "CheckpointError", "DataError", "Network", "msdnet", "ranet", "load", "Dataset", "load_data", "Batches",
    "Learner", "train", "ExitOutputs", "exit_outputs", "anytime", "BudgetCurve", "budgeted", "Thresholds",
    "thresholds_for_budget", "read_thresholds", "Classifier",
]

Tensor = torch.Tensor
FieldValue = Union[int, float, bool, str, Sequence[int]]


def _field_text(value: FieldValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "-".join(str(int(v)) for v in value)
    return str(value)


class Network(ModuleWrapper):
    """A multi-exit classifier, a ``torch.nn.Module`` over l2w's C++ network.

    ``net(images)`` returns every exit's logits ``[N, classes]``, first exit first, with autograd, so a
    loss written in Python trains ``net.parameters()`` with any ``torch.optim`` optimiser. ``train()``,
    ``eval()`` and ``to()`` work as for any module; ``state_dict()`` has the reference's keys.
    """

    # Methods of torch.nn.Module that ModuleWrapper would replace by the C++ module's, which return None.
    _OWN = ("forward", "to", "train", "eval", "cuda", "cpu", "double", "float", "half", "state_dict",
            "load_state_dict")

    def __init__(self, cpp_module: Any, description: str) -> None:
        super().__init__(cpp_module)
        for name in self._OWN:
            self.__dict__.pop(name, None)
        self._description = description

    @property
    def description(self) -> str:
        """The architecture in one line, as checkpoints store it."""
        return self._description

    @property
    def num_exits(self) -> int:
        return self.cpp_module._num_exits

    @property
    def arch(self) -> str:
        """The reference's name of the architecture: ``msdnet``, ``RANet``, ``IMTA_msdnet``."""
        return self.cpp_module._arch

    def forward(self, images: Tensor) -> list[Tensor]:
        """Every exit's logits ``[N, classes]`` for images ``[N, C, H, W]``, first exit first."""
        return self.cpp_module.forward(images)

    def train(self, mode: bool = True) -> "Network":
        self.cpp_module.train(mode)
        return self

    def eval(self) -> "Network":
        return self.train(False)

    def to(self, *args: Any, **kwargs: Any) -> "Network":
        """Moves the parameters and buffers (``to(device)``, ``to(dtype)``, ``to(device, dtype)``)."""
        device, dtype, non_blocking, _ = torch._C._nn._parse_to(*args, **kwargs)
        self.cpp_module.to(device, dtype, non_blocking)
        return self

    def cuda(self, device: Optional[int] = None) -> "Network":
        return self.to(torch.device("cuda", device) if device is not None else torch.device("cuda"))

    def cpu(self) -> "Network":
        return self.to(torch.device("cpu"))

    def double(self) -> "Network":
        return self.to(torch.float64)

    def float(self) -> "Network":
        return self.to(torch.float32)

    def half(self) -> "Network":
        return self.to(torch.float16)

    def state_dict(self, *args: Any, **kwargs: Any) -> "collections.OrderedDict[str, Tensor]":
        """Parameters and buffers under the reference's names, in PyTorch's order (the tensors themselves)."""
        return self.cpp_module._state_dict()

    def load_state_dict(self, state_dict: Mapping[str, Tensor], strict: bool = True) -> None:
        """Copies ``state_dict`` in: every key, no other, every shape, else :class:`CheckpointError`.
        DataParallel's ``module.`` prefixes are accepted."""
        if not strict:
            raise ValueError("strict: l2w loads state_dicts strictly")
        self.cpp_module._load_state_dict(dict(state_dict))

    def exit_costs(self, image_shape: Sequence[int]) -> list[Tuple[int, int]]:
        """Per exit, the cumulative (MUL-ADDs, parameters) of one image of shape ``(C, H, W)``."""
        return self.cpp_module._exit_costs(list(image_shape))

    def copy(self) -> "Network":
        """A new network of the same architecture with these parameters and buffers."""
        other = _wrap(_l2w._build_network(self._description, 0, False, "", False), self._description)
        other.load_state_dict(self.state_dict())
        return other.train(self.training)


def _wrap(cpp_module: Any, description: str) -> Network:
    return Network(cpp_module, description)


def _description(arch: str, imta_heads: bool, fields: Mapping[str, FieldValue]) -> str:
    return _l2w._network_options(arch, imta_heads, {k: _field_text(v) for k, v in fields.items()})


def msdnet(*, seed: int = 0, gradient_equilibrium: bool = False, imta_stage2: bool = False,
           imta_from: str = "", imta_freeze_backbone_bn: bool = False, **fields: FieldValue) -> Network:
    """An MSDNet with freshly drawn parameters (LibTorch's generator seeded with ``seed``).

    ``fields`` are the architecture's options by their reference names or l2w's (``nBlocks=3`` or
    ``n_blocks=3``, ``grFactor=[1, 2, 4]``, ``stepmode="even"``, ``num_classes=10``, ``in_channels=1``);
    the others keep l2w's defaults (the seed's CIFAR MSDNet). ``imta_stage2`` adds IMTA's second-stage
    heads on a frozen backbone, loaded from ``imta_from``.
    """
    return _build("msdnet", seed, gradient_equilibrium, imta_stage2, imta_from, imta_freeze_backbone_bn, fields)


def ranet(*, seed: int = 0, **fields: FieldValue) -> Network:
    """A RANet with freshly drawn parameters; ``fields`` as for :func:`msdnet` (``scale_list=[1, 2, 3]``...)."""
    return _build("RANet", seed, False, False, "", False, fields)


def _build(arch: str, seed: int, ge: bool, imta: bool, imta_from: str, freeze: bool,
           fields: Mapping[str, FieldValue]) -> Network:
    description = _description(arch, imta, fields)
    return _wrap(_l2w._build_network(description, seed, ge, imta_from, freeze), description)


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
    return _wrap(_l2w._load_network(checkpoint_or_run, description), description)


Dataset = _l2w.Dataset


def load_data(name: str = "fashion-mnist", *, data_url: str = "", train_limit: int = 0,
              test_limit: int = 0) -> Tuple[Any, Any]:
    """The (train, test) sets of a data set l2w knows (``fashion-mnist``, ``mnist``, ``cifar10``,
    ``cifar100``, ``ImageNet``) from ``data_url`` (default: Fashion-MNIST's Debian folder), optionally
    only their first images."""
    return _l2w._load_data(name, data_url, train_limit, test_limit)


class Batches:
    """l2w's own batches of a data set: shuffled and augmented by ``seed`` and the epoch exactly as
    ``l2w train`` makes them (``augment``: random crop with padding 4 and horizontal flip), normalised.

    ``for images, labels, indices in batches.epoch(e)`` iterates one epoch; ``len(batches)`` is the
    number of batches per epoch.
    """

    def __init__(self, data: Any, *, batch_size: int = 64, shuffle: bool = True, augment: bool = True,
                 seed: int = 0, subset: Sequence[int] = (), workers: int = 1) -> None:
        self._loader = _l2w.BatchLoader(data, list(subset), batch_size, shuffle, augment, seed, workers)

    def __len__(self) -> int:
        return len(self._loader)

    def epoch(self, epoch: int) -> Iterator[Tuple[Tensor, Tensor, Tensor]]:
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

    Options (``None`` or absent: l2w's default, as ``l2w train --help`` shows it): ``method`` ("l2w" or
    "plain"), ``lr``, ``lr_type`` ("cosine" or "multistep"), ``decay_rate``, ``milestones``,
    ``momentum``, ``weight_decay``, ``nesterov``, ``label_smoothing``, and L2W's ``meta_grad`` ("exact" or
    "fd"), ``meta_lr``, ``meta_weight_decay``, ``meta_interval``, ``epsilon``, ``target_p_index``,
    ``meta_net_hidden_size``, ``meta_net_num_layers``, ``meta_net_input_type``,
    ``constraint_dimension``, ``fd_epsilon``; for IMTA's second stage ``kd_temperature``, ``kd_gamma``.
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


def train(network: Network, *, data: str = "fashion-mnist", train_url: str = "runs/python",
          progress: Union[bool, Callable[[int, int, int, float, int], None]] = True,
          **options: Any) -> dict:
    """Runs l2w's whole trainer (what ``l2w train`` runs) on a data set l2w knows, for ``network``'s
    architecture, into the run folder ``train_url``; resumes from it when it holds checkpoints.

    Options by their ``l2w train`` names: ``epochs``, ``batch_size``, ``seed``, ``data_url``,
    ``train_limit``, ``test_limit``, ``use_valid``, ``num_sample_valid``, ``workers``, ``print_freq``,
    ``resume``, ``finetune_from``, ``save_every``, ``gradient_equilibrium``, and :class:`Learner`'s.
    ``progress``: a tqdm bar when tqdm is installed (True), nothing (False), or a callback
    ``(epoch, iteration, iterations, lr, images)`` after every iteration. The network is built anew
    from its architecture and ``seed``; Ctrl-C ends the current iteration, writes its checkpoint and
    raises ``KeyboardInterrupt`` (the same call continues from it). Returns the final test metrics per
    exit, the exits' costs and the budgeted-evaluation points.
    """
    options.setdefault("print_freq", 0)
    callback, bar = None, None
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
                    if state.get("bar") is not None:
                        state["bar"].close()
                    state["epoch"] = epoch
                    state["bar"] = tqdm(total=iterations, desc=f"epoch {epoch + 1}", initial=iteration)
                state["bar"].update(1)
                state["bar"].set_postfix(lr=f"{lr:.4g}")
    options.update(data=data, train_url=train_url)
    try:
        return _l2w._train(network.description, options, callback)
    finally:
        if bar is not None:
            bar.close()


@dataclass
class ExitOutputs:
    """Every exit's logits ``[N, classes]`` on a set of images, and their labels ``[N]``."""
    logits: list[Tensor]
    labels: Tensor


def exit_outputs(network: Network, data: Union[Iterable[Tuple[Tensor, Tensor]], Tuple[Tensor, Tensor]],
                 *, batch_size: int = 256) -> ExitOutputs:
    """The network's logits at every exit, in eval mode and without gradient, on ``(images, labels)``
    tensors or on any iterable of (images, labels, ...) batches (a DataLoader, :meth:`Batches.epoch`)."""
    was_training = network.training
    network.eval()
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], Tensor):
        all_images, all_labels = data
        data = [(all_images[i:i + batch_size], all_labels[i:i + batch_size])
                for i in range(0, len(all_images), batch_size)]
    parts: list[list[Tensor]] = []
    label_parts: list[Tensor] = []
    with torch.no_grad():
        for batch in data:
            images, labels = batch[0], batch[1]
            logits = network(images)
            if not parts:
                parts = [[] for _ in logits]
            for k, l in enumerate(logits):
                parts[k].append(l.cpu())
            label_parts.append(torch.as_tensor(labels).cpu())
    network.train(was_training)
    if not parts:
        raise ValueError("data: no batch")
    return ExitOutputs([torch.cat(p) for p in parts], torch.cat(label_parts))


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
    """

    def __init__(self, network: Network, thresholds: Union[Thresholds, Sequence[float]],
                 image_shape: Sequence[int], *, device: str = "cpu") -> None:
        if not isinstance(thresholds, Thresholds):
            thresholds = Thresholds(list(thresholds))
        self.thresholds = thresholds
        self._classifier = _l2w.Classifier(network.copy().cpp_module, list(image_shape), list(thresholds.thresholds),
                                           thresholds.criterion, list(thresholds.temperatures), device)

    def classify(self, images: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
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
