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
from conftest import ARCH, BATCH, FASHION_MNIST, L2W_BIN, ROOT, TEST_LIMIT, TRAIN_LIMIT

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


def test_a_nan_batch_raises_and_leaves_network_optimiser_and_wpn_as_they_were(fashion_mnist):
    train_set, _ = fashion_mnist
    images, labels, _ = next(l2w.Batches(train_set, batch_size=BATCH, seed=0).epoch(0))
    learners = [l2w.Learner(l2w.msdnet(seed=0, **ARCH), epochs=1, iterations_per_epoch=3, method="l2w",
                            meta_grad="exact", lr=0.1, meta_net_hidden_size=16) for _ in range(2)]
    for learner in learners:
        learner.step(images, labels)  # momentum buffers and the WPN's Adam state now exist
    poisoned, hit = learners[0], learners[1]
    before = {k: v.clone() for k, v in poisoned.network.state_dict().items()}
    wpn_before = [p.clone() for p in poisoned._learner._wpn()]
    bad = images.clone()
    bad[5, 0, 3, 3] = float("nan")
    with pytest.raises(l2w.NonFiniteLossError, match="epoch 0, iteration 1: exit 1's loss is not finite"):
        poisoned.step(bad, labels)
    assert all(torch.equal(v, before[k]) for k, v in poisoned.network.state_dict().items())
    assert all(torch.equal(a, b) for a, b in zip(wpn_before, poisoned._learner._wpn()))
    # The next clean step is the step a learner that never saw the NaN takes: SGD's momentum and the WPN's
    # Adam moments were restored too, bit for bit.
    poisoned.step(images, labels)
    hit.step(images, labels)
    assert all(torch.equal(a, b) for a, b in zip(poisoned.network.state_dict().values(), hit.network.state_dict().values()))
    assert all(torch.equal(a, b) for a, b in zip(poisoned._learner._wpn(), hit._learner._wpn()))


def test_bad_hyper_parameters_places_and_batches_are_refused():
    net = l2w.msdnet(**ARCH)
    for options, message in [(dict(lr=-1), "lr: -1, expected a number >= 0"),
                             (dict(momentum=1.0), "momentum: 1, expected a number in \\[0, 1\\)"),
                             (dict(momentum=-0.1), "momentum: -0.1"),
                             (dict(weight_decay=-1e-4), "weight_decay: -0.0001, expected a number >= 0"),
                             (dict(nesterov=True, momentum=0.0), "nesterov: needs a non-zero momentum")]:
        with pytest.raises(ValueError, match=message):
            l2w.Learner(net, epochs=1, iterations_per_epoch=2, **options)
    learner = l2w.Learner(net, epochs=1, iterations_per_epoch=2, method="plain")
    x, y = torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,))
    learner.step(x, y)
    learner.step(x, y)
    with pytest.raises(ValueError, match="epoch 1 \\(0-based\\) is past the schedule's end \\(1 epochs of 2"):
        learner.step(x, y)
    with pytest.raises(ValueError, match="iteration 5 is not a place on the schedule"):
        learner.step(x, y, epoch=0, iteration=5)
    with pytest.raises(ValueError, match="labels: expected \\[8\\], one per image, got \\[3\\]"):
        learner.step(x, y[:3], epoch=0, iteration=0)
    with pytest.raises(ValueError, match="images: an empty batch"):
        learner.step(x[:0], y[:0], epoch=0, iteration=0)
    with pytest.raises(ValueError, match="images: torch.float64 but the network's parameters are torch.float32: "
                                         "convert the images to torch.float32 or the network to torch.float64"):
        learner.step(x.double(), y, epoch=0, iteration=0)
    with pytest.raises(ValueError, match="labels: \\(3,\\) for 8 images"):
        l2w.exit_outputs(net, (x, y[:3]))
    with pytest.raises(ValueError, match="did you mean meta_lr"):
        l2w.Learner(net, epochs=1, iterations_per_epoch=1, meta_lrr=0.1)


def test_train_starts_from_the_given_network_and_leaves_the_trained_weights_in_it(tmp_path, fashion_mnist,
                                                                                      command_runs):
    net = l2w.msdnet(seed=5, **ARCH)
    net.load_state_dict(l2w.msdnet(seed=0, **ARCH).state_dict())  # the command's initial weights, not seed 5's
    result = l2w.train(net, train_url=str(tmp_path / "run"), epochs=1, batch_size=BATCH, lr=0.1, seed=0,
                       train_limit=TRAIN_LIMIT, test_limit=TEST_LIMIT, method="plain", progress=False)
    assert isinstance(result, l2w.TrainResult) and result.epochs_run == 1 and len(result.test) == 3
    command = torch.load(command_runs["plain"] / "save_models" / "checkpoint_001.pth.tar", weights_only=False)
    mine = net.state_dict()
    assert all(torch.equal(mine[k], v) for k, v in command["state_dict"].items())


def run_imta_stage2_command(first_stage, run):
    flags = ["--data", "fashion-mnist", "--nBlocks", "3", "--nChannels", "8", "--growthRate", "4", "--stepmode",
             "lin_grow", "--step", "1", "--base", "1", "--grFactor", "1-2-4", "--bnFactor", "1-2-4",
             "--train-limit", str(TRAIN_LIMIT), "--test-limit", str(TEST_LIMIT), "--threads", "1"]
    done = subprocess.run([L2W_BIN, "train", *flags, "--imta-stage2", "--imta-from", str(first_stage), "--method",
                           "plain", "--epochs", "1", "--batch-size", str(BATCH), "--lr", "0.1", "--seed", "0",
                           "--print-freq", "0", "--train_url", str(run)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stderr


def test_imta_second_stage_from_python_equals_the_command_and_warns_nothing(tmp_path, fashion_mnist, command_runs):
    first_stage = command_runs["plain"] / "save_models" / "model_best.pth.tar"
    stderr = run_imta_stage2_command(first_stage, tmp_path / "command")
    assert "deprecat" not in stderr.lower() and "warning" not in stderr.lower(), stderr
    net = l2w.msdnet(seed=0, imta_stage2=True, imta_from=str(first_stage), **ARCH)
    l2w.train(net, train_url=str(tmp_path / "python"), epochs=1, batch_size=BATCH, lr=0.1, seed=0,
              train_limit=TRAIN_LIMIT, test_limit=TEST_LIMIT, method="plain", progress=False)
    command = torch.load(tmp_path / "command" / "save_models" / "checkpoint_001.pth.tar", weights_only=False)
    mine = net.state_dict()
    assert list(mine) == list(command["state_dict"])
    assert all(torch.equal(mine[k], v) for k, v in command["state_dict"].items())


def test_imta_distillation_gradient_in_float64_equals_a_hand_built_loss(command_runs):
    """The second stage's step in float64 against IMTA's loss written here with torch.nn's KLDivLoss: the
    teacher is not rounded to float32 on the way."""
    first_stage = str(command_runs["plain"] / "save_models" / "model_best.pth.tar")
    net = l2w.msdnet(seed=3, imta_stage2=True, imta_from=first_stage, imta_freeze_backbone_bn=True, **ARCH).double()
    teacher_net = l2w.load(first_stage).double().eval()
    torch.manual_seed(0)
    x = torch.randn(12, 1, 28, 28, dtype=torch.float64)
    y = torch.randint(0, 10, (12,))
    t, gamma = 3.0, 0.7
    start = {k: v.clone() for k, v in net.state_dict().items()}
    trainable = [(n, p) for n, p in net.named_parameters() if p.requires_grad]
    net.train()
    logits = net(x)
    with torch.no_grad():
        teacher = teacher_net(x)[-1]
    target = torch.softmax(teacher / t, 1)
    kl = torch.nn.KLDivLoss()  # IMTA's: reduction 'mean' over every element
    with pytest.warns(UserWarning):
        loss = torch.nn.functional.cross_entropy(logits[-1], y) + sum(
            (1 - gamma) * torch.nn.functional.cross_entropy(l, y) + gamma * t * t * kl(torch.log_softmax(l / t, 1), target)
            for l in logits[:-1])
    grads = torch.autograd.grad(loss, [p for _, p in trainable])
    net.load_state_dict(start)  # the forward above moved the heads' BatchNorm statistics
    learner = l2w.Learner(net, epochs=1, iterations_per_epoch=1, method="plain", lr=1.0, momentum=0.0,
                          weight_decay=0.0, kd_temperature=t, kd_gamma=gamma)
    learner.step(x, y)
    after = dict(net.named_parameters())
    for (name, _), grad in zip(trainable, grads):
        step = start[name] - after[name].detach()  # lr 1, no momentum or weight decay: the gradient itself
        scale = grad.abs().max().item()
        assert (step - grad).abs().max().item() <= 1e-12 * max(scale, 1e-3), name


def test_every_option_is_in_the_docstrings_and_named_in_its_errors():
    """The options come from the library's own lists: each one is documented where it is taken, and a
    value it cannot take raises a ValueError that starts with its name."""
    from l2w import _l2w
    for kinds, doc in [(("optimizer", "method"), l2w.Learner.__doc__), (("data", "trainer", "method"), l2w.train.__doc__)]:
        for kind in kinds:
            for name, _, _, help_text in _l2w._option_help(kind):
                assert f"``{name}``" in doc and help_text in doc, (kind, name)
    net = l2w.msdnet(**ARCH)
    for name, type_name, _, _ in _l2w._option_help("optimizer") + _l2w._option_help("method"):
        if type_name == "TEXT":
            continue
        with pytest.raises(ValueError, match=f"^{name}: "):
            l2w.Learner(net, epochs=1, iterations_per_epoch=1, **{name: "not-a-value"})
