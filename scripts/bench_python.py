"""Python's overhead on a training iteration: the same iterations driven from a Python loop
(l2w.Learner.step) and from a C++ loop (the loop `l2w bench train` times), interleaved in one process,
on the demo network and the seed's CIFAR-100 network, batch 64, synthetic input, for plain training and
L2W (fd and exact).

Usage: python scripts/bench_python.py [--threads 2] [--iterations 10] [--rounds 3] [--networks demo,cifar100]
  [--methods plain,fd,exact]
(with the Python package importable: scripts/setup.sh's environment)."""
import argparse
import statistics
import time

import torch

import l2w

NETWORKS = {
    "demo": (dict(nBlocks=3, nChannels=8, growthRate=4, grFactor=[1, 2, 4],
                                                  bnFactor=[1, 2, 4], num_classes=10, in_channels=1), [1, 28, 28], 10),
    "cifar100": (dict(num_classes=100), [3, 32, 32], 100),  # the seed's CIFAR-100 MSDNet, 5 exits
}
METHODS = {"plain": dict(method="plain"), "fd": dict(method="l2w", meta_grad="fd"),
           "exact": dict(method="l2w", meta_grad="exact")}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--networks", default="demo,cifar100", help="demo (Fashion-MNIST, 3 exits), cifar100 (5 exits)")
    parser.add_argument("--methods", default="plain,fd,exact", help="plain, fd (L2W first order), exact (L2W)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch 64, {args.iterations} iterations "
          f"per timing, {args.rounds} interleaved rounds; images/s as medians")
    print(f"{'network':10s} {'method':8s} {'C++ loop':>10s} {'Python loop':>12s} {'Python / C++ time':>18s}")
    for name in args.networks.split(","):
        fields, shape, classes = NETWORKS[name]
        for method in args.methods.split(","):
            options = METHODS[method]
            torch.manual_seed(0)
            images = torch.randn(64, *shape)
            labels = torch.randint(classes, (64,))
            net = l2w.msdnet(seed=0, **fields)
            learner = l2w.Learner(net, epochs=1, iterations_per_epoch=10 ** 6, **options)
            for i in range(3):  # warm-up
                learner.step(images, labels)
            cpp, python = [], []
            for _ in range(args.rounds):
                cpp.append(learner._learner._time(images, labels, args.iterations))
                start = time.perf_counter()
                for _ in range(args.iterations):
                    learner.step(images, labels)
                python.append(time.perf_counter() - start)
            rate = lambda seconds: 64 * args.iterations / statistics.median(seconds)
            ratios = [p / c for p, c in zip(python, cpp)]
            print(f"{name:10s} {method:8s} {rate(cpp):10.1f} {rate(python):12.1f} "
                  f"{statistics.median(ratios):10.3f} (rounds {', '.join(f'{r:.3f}' for r in ratios)})")


if __name__ == "__main__":
    main()
