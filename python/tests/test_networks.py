"""Networks from Python: built from options or loaded from a checkpoint or run folder, with the
reference's state_dict keys, the exits' costs, and l2w's errors as exceptions."""
import copy
import pickle

import numpy as np
import pytest
import torch

import l2w
from conftest import ARCH, ARCH_FLAGS, DATA_FLAGS, ROOT, run_l2w


def test_state_dict_keys_and_shapes_are_the_references():
    expected = []
    for line in open(ROOT / "test" / "data" / "msdnet_tiny_cifar10_state_dict_keys.tsv"):
        name, _, shape = line.rstrip("\n").partition("\t")
        expected.append((name, [int(s) for s in shape.split("x")] if shape else []))
    net = l2w.msdnet(nBlocks=3, nChannels=8, growthRate=4, grFactor=[1, 2, 4], bnFactor=[1, 2, 4], num_classes=10)
    assert [(k, list(v.shape)) for k, v in net.state_dict().items()] == expected
    # The seed's CIFAR-100 MSDNet costs what the reference counts (docs/algorithm.md).
    seed_net = l2w.msdnet(num_classes=100)
    assert [c[0] for c in seed_net.exit_costs([3, 32, 32])] == [6859876, 14350024, 27536684, 41714576, 58480628]
    assert l2w.ranet(nBlocks=2, nChannels=16, growthRate=6, step=4, scale_list=[1, 2, 3, 3], grFactor=[4, 2, 1, 1],
                     bnFactor=[4, 2, 1, 1]).exit_costs([3, 32, 32])[0] == (15814410, 470442)


def test_a_state_dict_round_trips_and_the_network_moves_and_switches_mode():
    a, b = l2w.msdnet(seed=0, **ARCH), l2w.msdnet(seed=1, **ARCH)
    assert not torch.equal(a.state_dict()["classifier.0.linear.weight"], b.state_dict()["classifier.0.linear.weight"])
    b.load_state_dict(a.state_dict())
    x = torch.randn(4, 1, 28, 28)
    assert all(torch.equal(p, q) for p, q in zip(a.eval()(x), b.eval()(x)))
    assert a.training is False and a.train().training is True
    assert next(iter(a.to(torch.float64).parameters())).dtype == torch.float64
    assert isinstance(a, torch.nn.Module)


def test_net_of_x_equals_l2w_eval_save_probs(tmp_path, fashion_mnist, command_runs):
    run = command_runs["plain"]
    run_l2w("eval", *ARCH_FLAGS, *DATA_FLAGS, "--evaluate_from", str(run / "save_models" / "model_best.pth.tar"),
            "--train_url", str(run), "--evalmode", "anytime", "--save-probs")
    probs = torch.from_numpy(np.load(run / "probs_test.npy"))  # [exits, images, classes]
    net = l2w.load(str(run))  # the run folder: its best checkpoint, the architecture it describes
    _, test_set = fashion_mnist
    outputs = l2w.exit_outputs(net, l2w.Batches(test_set, shuffle=False, augment=False).epoch(0))
    mine = torch.stack([torch.softmax(l, 1) for l in outputs.logits])
    assert mine.shape == probs.shape
    assert torch.allclose(mine, probs, rtol=0, atol=1e-6)
    assert torch.equal(outputs.labels, torch.from_numpy(np.load(run / "labels_test.npy")))


def test_bad_options_damaged_checkpoints_and_wrong_inputs_raise_with_the_message(tmp_path, command_runs):
    with pytest.raises(ValueError, match="n_blocks: 'three' is not a value it takes"):
        l2w.msdnet(nBlocks="three")
    with pytest.raises(ValueError, match="width: not an option of msdnet"):
        l2w.msdnet(width=2)
    with pytest.raises(ValueError, match="gradient_equilibrium: IMTA's first stage only"):
        l2w.msdnet(imta_stage2=True, gradient_equilibrium=True, **ARCH)
    damaged = tmp_path / "damaged.pth.tar"
    damaged.write_bytes((command_runs["plain"] / "save_models" / "model_best.pth.tar").read_bytes()[:2000])
    with pytest.raises(l2w.CheckpointError, match="damaged.pth.tar"):
        l2w.load(str(damaged), arch="msdnet", **ARCH)
    with pytest.raises(l2w.CheckpointError, match="nBlocks: 3 there, 4 here"):
        l2w.load(str(command_runs["plain"]), arch="msdnet", **dict(ARCH, nBlocks=4))
    with pytest.raises(l2w.CheckpointError, match="no such checkpoint file"):
        l2w.load(str(tmp_path / "missing.pth.tar"), arch="msdnet", **ARCH)
    with pytest.raises(l2w.DataError, match="nowhere"):
        l2w.load_data("cifar10", data_url=str(tmp_path / "nowhere"))
    net = l2w.msdnet(**ARCH)
    with pytest.raises(RuntimeError, match="channels"):
        net(torch.randn(2, 3, 28, 28))
    with pytest.raises(RuntimeError, match="Missing key"):  # torch's own message, as for any module
        net.load_state_dict({"blocks.0.0.layers.0.net.0.weight": torch.zeros(1)})


class Calibrated(torch.nn.Module):
    """A user's module around an l2w network: a temperature on every exit's logits."""

    def __init__(self, seed):
        super().__init__()
        self.net = l2w.msdnet(seed=seed, **ARCH)
        self.temperature = torch.nn.Parameter(torch.full((1,), 1.5))

    def forward(self, images):
        return [logits / self.temperature for logits in self.net(images)]


def outputs_equal(a, b, x):
    return all(torch.equal(p, q) for p, q in zip(a(x), b(x)))


def test_a_network_nested_in_a_users_module_saves_and_loads_with_it(tmp_path):
    saved = Calibrated(seed=0).eval()
    state = saved.state_dict()
    assert len(state) == 1 + len(saved.net.state_dict())
    assert "net.classifier.2.linear.bias" in state and "net.blocks.0.0.layers.0.net.1.num_batches_tracked" in state
    torch.save(state, tmp_path / "wrapper.pt")
    fresh = Calibrated(seed=1).eval()
    x = torch.randn(3, 1, 28, 28)
    assert not outputs_equal(saved, fresh, x)
    result = fresh.load_state_dict(torch.load(tmp_path / "wrapper.pt"))
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert outputs_equal(saved, fresh, x)
    # Non-strict: what matches is loaded, the rest reported as torch reports it.
    partial = {k: v for k, v in state.items() if not k.startswith("net.classifier.")}
    partial["extra"] = torch.zeros(1)
    other = Calibrated(seed=2).eval()
    missing, unexpected = other.load_state_dict(partial, strict=False)
    assert unexpected == ["extra"] and missing and all(k.startswith("net.classifier.") for k in missing)
    assert torch.equal(other.net.blocks[0][0].layers[0].net[0].weight, saved.net.blocks[0][0].layers[0].net[0].weight)
    with pytest.raises(RuntimeError, match="Unexpected key"):
        other.load_state_dict(partial)


def test_deepcopy_pickle_and_torch_save_give_an_independent_network_with_equal_outputs(tmp_path, command_runs):
    trained = l2w.load(str(command_runs["plain"]))
    x = torch.randn(4, 1, 28, 28)
    wrapper = torch.nn.Sequential(trained)
    copies = [copy.deepcopy(trained), pickle.loads(pickle.dumps(trained)), trained.copy(),
              copy.deepcopy(wrapper)[0]]
    torch.save(wrapper, tmp_path / "module.pt")
    copies.append(torch.load(tmp_path / "module.pt", weights_only=False)[0])
    averaged = torch.optim.swa_utils.AveragedModel(trained)  # deep-copies the network
    copies.append(averaged.module)
    for other in copies:
        assert type(other) is l2w.Network and other.training is False
        assert outputs_equal(trained, other, x)
        assert all(p.data_ptr() != q.data_ptr() for p, q in zip(trained.parameters(), other.parameters()))
    first = copies[0]
    with torch.no_grad():
        first.classifier[0].linear.weight.add_(1.0)
    assert not torch.equal(first(x)[0], trained(x)[0]) and torch.equal(first(x)[1], trained(x)[1])
    # Modes and frozen parameters travel too; the caller's random generator does not move.
    trained.blocks.train()
    trained.classifier.requires_grad_(False)
    state = torch.random.get_rng_state()
    other = copy.deepcopy(trained)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert [m.training for m in other.modules()] == [m.training for m in trained.modules()]
    assert [p.requires_grad for p in other.parameters()] == [p.requires_grad for p in trained.parameters()]
    with pytest.raises(TypeError, match="part of an l2w network"):
        copy.deepcopy(trained.blocks)


def test_the_module_tree_is_torchs_with_the_tensors_c_plus_plus_computes_with():
    net = l2w.msdnet(**ARCH)
    named = dict(net.named_modules())
    batch_norms = [m for m in named.values() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(named) == 268 and len(batch_norms) == 52
    assert sum(isinstance(m, torch.nn.Conv2d) for m in named.values()) == 52
    assert isinstance(net.get_submodule("classifier.2.linear"), torch.nn.Linear)
    assert type(net.classifier[0]).__name__ == "Block" and net.classifier[0].cpp_type == "ClassifierModule"
    text = str(net)
    assert text.startswith("Network(\n  msdnet nBlocks=3") and "BatchNorm2d(8, eps=1e-05" in text
    assert "(linear): Linear(in_features=128, out_features=10, bias=True)" in text
    # Iterators of Parameters, with torch's prefixes.
    params = net.parameters()
    assert isinstance(next(params), torch.nn.Parameter)
    names = [n for n, _ in net.named_parameters(prefix="model")]
    assert names[0] == "model.blocks.0.0.layers.0.net.0.weight" and len(names) == len(list(net.parameters()))
    assert [n for n, _ in net.classifier[0].named_parameters(recurse=False)] == []
    assert [n for n, _ in net.classifier[0].linear.named_parameters(recurse=False)] == ["weight", "bias"]
    assert len(list(net.buffers())) == 3 * 52 and [n for n, _ in net.named_children()] == ["blocks", "classifier"]
    # The parameters are C++'s own tensors: what Python changes in place, the forward computes with.
    cpp = net.cpp_module._state_dict()
    assert all(cpp[k] is v for k, v in net.state_dict(keep_vars=True).items())
    x = torch.randn(2, 1, 28, 28)
    net.eval()
    net.apply(lambda m: torch.nn.init.zeros_(m.weight) if isinstance(m, torch.nn.Linear) else None)
    assert all(torch.equal(logits, net.classifier[k].linear.bias.expand(2, -1)) for k, logits in enumerate(net(x)))
    # Gradients reach Python's parameters; requires_grad_ and zero_grad act on them.
    net.requires_grad_(False)
    net.classifier.requires_grad_(True)
    sum(l.sum() for l in net(x)).backward()
    assert net.blocks[0][0].layers[0].net[0].weight.grad is None and net.classifier[1].linear.weight.grad is not None
    net.zero_grad()
    assert net.classifier[1].linear.weight.grad is None
    # A hook on the network runs; a hook on a part could not, and says so; so does replacing a part.
    seen = []
    handle = net.register_forward_hook(lambda module, inputs, out: seen.append(len(out)))
    net(x)
    handle.remove()
    assert seen == [3]
    with pytest.raises(RuntimeError, match="run inside its C\\+\\+ forward"):
        net.blocks[0].register_forward_hook(lambda *args: None)
    with pytest.raises(RuntimeError, match="change it in place"):
        net.classifier[0].linear.weight = torch.nn.Parameter(torch.zeros(10, 128))
    with pytest.raises(RuntimeError, match="change it in place"):
        net.classifier = torch.nn.ModuleList()
    # A layer with torch's type also runs as torch's, on the same tensors.
    conv = net.blocks[0][0].layers[0].net[0]
    assert torch.equal(conv(x), torch.nn.functional.conv2d(x, conv.weight, None, 1, 1))


def test_training_flags_are_the_c_plus_plus_modules_and_conversions_keep_the_tensors_shared():
    net = l2w.msdnet(**ARCH)
    assert net.training and all(m.training for m in net.modules())
    net.eval()
    assert not any(m.training for m in net.modules())
    net.classifier[1].train()
    assert net.classifier[1].linear.training and not net.classifier[0].training and not net.training
    bn = net.blocks[0][0].layers[0].net[1]
    bn.training = True  # one module's flag alone, as torch sets it
    assert bn.training and not net.blocks[0][0].layers[0].training
    x = torch.randn(2, 1, 28, 28)
    net.eval()
    reference = [l.double() for l in net(x)]
    for convert, dtype, tolerance in [(net.double, torch.float64, 1e-6), (net.float, torch.float32, 1e-6),
                                      (net.bfloat16, torch.bfloat16, 2e-2)]:
        convert()
        cpp = net.cpp_module._state_dict()
        assert all(cpp[k] is v for k, v in net.state_dict(keep_vars=True).items())
        assert next(net.parameters()).dtype == dtype and net.blocks[0][0].layers[0].net[1].running_mean.dtype == dtype
        out = net(x.to(dtype))
        assert out[0].dtype == dtype
        assert all(torch.allclose(o.double(), r, atol=tolerance, rtol=tolerance) for o, r in zip(out, reference))


def test_load_returns_eval_mode_and_a_forward_after_loading_changes_nothing(command_runs):
    net = l2w.load(str(command_runs["plain"]))
    assert net.training is False and not any(m.training for m in net.modules())
    before = {k: v.clone() for k, v in net.state_dict().items()}
    net(torch.randn(8, 1, 28, 28))
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())


def test_field_values_take_pythons_spellings_and_mistakes_list_the_choices():
    fields = dict(nBlocks=2, nChannels=4, growthRate=2, grFactor=[1, 2], bnFactor=[1, 2], step=1, num_classes=5)
    assert (l2w.msdnet(imagenet=True, **fields).description == l2w.msdnet(stem="imagenet", **fields).description
            and "stem=imagenet" in l2w.msdnet(imagenet=True, **fields).description)
    assert "stem=small" in l2w.msdnet(imagenet=False, **fields).description
    with pytest.raises(ValueError, match="nBlock: not an option of msdnet; did you mean nBlocks"):
        l2w.msdnet(nBlock=3)
    with pytest.raises(ValueError, match="step_mode: 'linear' is not a value it takes \\(one of even, lin_grow\\)"):
        l2w.msdnet(stepmode="linear")
    with pytest.raises(ValueError, match="imagenet: 'large' is not a value it takes \\(one of imagenet, small\\)"):
        l2w.msdnet(stem="large")
    with pytest.raises(ValueError, match="give one of them"):
        l2w.msdnet(stem="imagenet", imagenet=True)
    assert l2w.__version__ == "0.1.0"


def test_a_dataset_is_a_torch_dataset_that_a_dataloader_with_workers_serves(fashion_mnist):
    train_set, _ = fashion_mnist
    assert isinstance(train_set, torch.utils.data.Dataset) and len(train_set) == 200
    assert repr(train_set) == "l2w.Dataset(fashion-mnist: 200 images 1x28x28, 10 classes)"
    images, labels, _ = next(l2w.Batches(train_set, batch_size=64, shuffle=False, augment=False).epoch(0))
    image, label = train_set[5]
    assert torch.equal(image, images[5]) and label == labels[5].item()
    assert torch.equal(train_set[-1][0], train_set[199][0])
    with pytest.raises(IndexError):
        train_set[200]
    loader = torch.utils.data.DataLoader(train_set, batch_size=64, num_workers=2)
    served_images, served_labels = next(iter(loader))
    assert torch.equal(served_images, images) and torch.equal(served_labels, labels)
    copied = pickle.loads(pickle.dumps(train_set))
    assert torch.equal(copied[7][0], train_set[7][0]) and len(copied) == len(train_set)
