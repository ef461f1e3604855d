"""Networks from Python: built from options or loaded from a checkpoint or run folder, with the
reference's state_dict keys, the exits' costs, and l2w's errors as exceptions."""
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
    with pytest.raises(l2w.CheckpointError, match="missing keys"):
        net.load_state_dict({"blocks.0.0.layers.0.net.0.weight": torch.zeros(1)})
