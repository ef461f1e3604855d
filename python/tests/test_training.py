"""A Python loop over the batches `l2w train` sees trains the network as the command does, for plain
training and L2W with either meta-gradient; the whole trainer runs from Python and stops on Ctrl-C."""
import csv
import os
import signal
import subprocess
import sys
import textwrap

import pytest
import torch

import l2w
from conftest import ARCH, BATCH, FASHION_MNIST, ROOT, TEST_LIMIT, TRAIN_LIMIT

METHODS = {"plain": dict(method="plain"), "exact": dict(method="l2w", meta_grad="exact"),
           "fd": dict(method="l2w", meta_grad="fd")}


def per_sample_losses(run):
    rows = list(csv.reader(open(run / "per_sample" / "epoch_001_losses.tsv"), delimiter="\t"))[1:]
    return {int(r[0]): [float(x) for x in r[1:]] for r in rows}


@pytest.mark.parametrize("name", ["plain", "exact", "fd"])
def test_a_python_loop_trains_as_l2w_train_does(name, fashion_mnist, command_runs):
    train_set, _ = fashion_mnist
    net = l2w.msdnet(seed=0, **ARCH)
    batches = l2w.Batches(train_set, batch_size=BATCH, seed=0)
    learner = l2w.Learner(net, epochs=1, iterations_per_epoch=len(batches), lr=0.1, meta_net_hidden_size=16,
                          **METHODS[name])
    losses = {}
    for images, labels, indices in batches.epoch(0):
        result = learner.step(images, labels)
        assert result.losses.shape == (len(labels), 3)
        assert (result.weights is None) == (name == "plain")
        for i, row in zip(indices.tolist(), result.losses.tolist()):
            losses[i] = row
    checkpoint = torch.load(command_runs[name] / "save_models" / "checkpoint_001.pth.tar", weights_only=False)
    mine = net.state_dict()
    assert list(mine) == list(checkpoint["state_dict"])
    for key, value in checkpoint["state_dict"].items():
        assert torch.equal(mine[key], value), key
    if name != "plain":
        wpn = learner._learner._wpn()
        assert all(torch.equal(a, b) for a, b in zip(wpn, checkpoint["meta_state_dict"].values()))
    recorded = per_sample_losses(command_runs[name])
    assert set(recorded) == set(losses) and len(losses) == TRAIN_LIMIT
    for i, row in recorded.items():
        assert losses[i] == pytest.approx(row, rel=1e-5, abs=1e-6), i


def test_a_dataloader_trains_a_network_with_a_python_optimizer_too(fashion_mnist):
    """net(x) has autograd: a loss written in Python trains net.parameters() with torch.optim."""
    train_set, _ = fashion_mnist
    net = l2w.msdnet(seed=1, **ARCH).train()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    batches = l2w.Batches(train_set, batch_size=BATCH, seed=1)
    images, labels, _ = next(batches.epoch(0))
    first = None
    for _ in range(5):
        loss = sum(torch.nn.functional.cross_entropy(logits, labels) for logits in net(images))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        first = first if first is not None else loss.item()
    assert loss.item() < first


def test_gradients_of_a_python_loss_equal_finite_differences_in_float64():
    torch.manual_seed(0)
    net = l2w.msdnet(seed=2, nBlocks=2, nChannels=4, growthRate=2, grFactor=[1, 2], bnFactor=[1, 2], num_classes=3,
                     in_channels=1).double().eval()
    x = torch.randn(3, 1, 16, 16, dtype=torch.float64)
    y = torch.tensor([0, 1, 2])

    def loss():
        return sum(torch.nn.functional.cross_entropy(l, y) for l in net(x))

    params = dict(net.named_parameters())
    chosen = ["blocks.0.0.layers.0.net.0.weight", "classifier.1.linear.weight", "classifier.0.m.0.net.1.bias"]
    net.zero_grad()
    loss().backward()
    for name in chosen:
        p = params[name]
        flat, grad = p.data.view(-1), p.grad.view(-1)
        for j in range(0, flat.numel(), max(1, flat.numel() // 4)):
            original = flat[j].item()
            flat[j] = original + 1e-6
            plus = loss().item()
            flat[j] = original - 1e-6
            minus = loss().item()
            flat[j] = original
            assert grad[j].item() == pytest.approx((plus - minus) / 2e-6, rel=1e-5, abs=1e-8), (name, j)
    assert torch.autograd.gradcheck(lambda images: net(images)[-1], (x.clone().requires_grad_(),))


def test_the_trainer_runs_from_python_and_ctrl_c_leaves_a_checkpoint(tmp_path, fashion_mnist):
    script = textwrap.dedent(f"""
        import os, signal, sys, torch
        import l2w
        torch.set_num_threads(1)
        net = l2w.msdnet(**{ARCH!r})
        seen = []
        def progress(epoch, iteration, iterations, lr, images):
            seen.append(iteration)
            if iteration == 1 and epoch == 0:
                os.kill(os.getpid(), signal.SIGINT)
        try:
            l2w.train(net, train_url=sys.argv[1], epochs=1, batch_size={BATCH}, train_limit={TRAIN_LIMIT},
                      test_limit={TEST_LIMIT}, method="plain", progress=progress)
        except KeyboardInterrupt as e:
            print("interrupted:", e, "after", seen)
            sys.exit(3)
        """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    run = tmp_path / "run"
    done = subprocess.run([sys.executable, "-c", script, str(run)], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "after [0, 1]" in done.stdout, done.stdout
    assert (run / "save_models" / "checkpoint_000_000002.pth.tar").exists(), sorted(os.listdir(run / "save_models"))
    # The same call continues from that iteration and finishes.
    script_done = script.replace("os.kill(os.getpid(), signal.SIGINT)", "pass")
    done = subprocess.run([sys.executable, "-c", script_done, str(run)], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (run / "save_models" / "checkpoint_001.pth.tar").exists()


def test_bad_training_options_raise_with_the_option_named(fashion_mnist):
    net = l2w.msdnet(**ARCH)
    with pytest.raises(ValueError, match="unknown option\\(s\\): meta_lrr"):
        l2w.Learner(net, epochs=1, iterations_per_epoch=1, meta_lrr=0.1)
    with pytest.raises(ValueError, match="meta_grad: 'second' is not one of exact, fd"):
        l2w.Learner(net, epochs=1, iterations_per_epoch=1, meta_grad="second")
    with pytest.raises(ValueError, match="lr: 'fast' is not a value it takes"):
        l2w.Learner(net, epochs=1, iterations_per_epoch=1, lr="fast")
