"""Shared fixtures: the l2w command (L2W_BIN, else the build tree's), a tiny Fashion-MNIST network's flags,
and runs of `l2w train` made once per test session, which the Python package must reproduce."""
import os
import pathlib
import subprocess

import pytest
import torch

import l2w

ROOT = pathlib.Path(__file__).resolve().parents[2]
L2W_BIN = os.environ.get("L2W_BIN", str(ROOT / "build" / "src" / "cli" / "l2w"))
FASHION_MNIST = "/usr/share/datasets/fashion-mnist"

# The network and data of every test here: a 3-exit MSDNet on the first Fashion-MNIST images.
ARCH = dict(nBlocks=3, nChannels=8, growthRate=4, stepmode="lin_grow", step=1, base=1, grFactor=[1, 2, 4],
            bnFactor=[1, 2, 4], num_classes=10, in_channels=1)
ARCH_FLAGS = ["--data", "fashion-mnist", "--nBlocks", "3", "--nChannels", "8", "--growthRate", "4", "--stepmode",
              "lin_grow", "--step", "1", "--base", "1", "--grFactor", "1-2-4", "--bnFactor", "1-2-4"]
TRAIN_LIMIT, TEST_LIMIT, BATCH = 200, 96, 64
DATA_FLAGS = ["--train-limit", str(TRAIN_LIMIT), "--test-limit", str(TEST_LIMIT), "--threads", "1"]


def run_l2w(*args: str) -> str:
    """Runs the l2w command; its output, or the test fails with it."""
    done = subprocess.run([L2W_BIN, *args], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"l2w {' '.join(args)}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def pytest_configure(config):
    torch.set_num_threads(1)  # as the command's --threads 1: the same arithmetic, bit for bit


@pytest.fixture(scope="session")
def fashion_mnist():
    if not os.path.isdir(FASHION_MNIST):
        pytest.skip("Debian's dataset-fashion-mnist is not installed")
    return l2w.load_data("fashion-mnist", train_limit=TRAIN_LIMIT, test_limit=TEST_LIMIT)


@pytest.fixture(scope="session")
def command_runs(tmp_path_factory, fashion_mnist):
    """One epoch of `l2w train` per method, keyed by method name."""
    runs = {}
    methods = {"plain": ["--method", "plain"],
               "exact": ["--method", "l2w", "--meta_grad", "exact"],
               "fd": ["--method", "l2w", "--meta_grad", "fd"]}
    for name, flags in methods.items():
        run = tmp_path_factory.mktemp(f"run_{name}")
        run_l2w("train", *ARCH_FLAGS, *DATA_FLAGS, *flags, "--epochs", "1", "--batch-size", str(BATCH), "--lr", "0.1",
                "--seed", "0", "--print-freq", "0", "--meta_net_hidden_size", "16", "--train_url", str(run))
        runs[name] = run
    return runs
