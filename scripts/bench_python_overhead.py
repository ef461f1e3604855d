"""What the nn.Module contract and the training guards cost from Python, in one process, interleaved:
a batch-1 forward through the module (`net(x)`: torch's call machinery and l2w's input checks) against
the C++ forward called directly, and the copy of the state that `Learner.step` keeps to undo a
non-finite iteration against a whole batch-64 step (plain and L2W fd), on the demo and the seed's
CIFAR-100 networks.

Usage: python scripts/bench_python_overhead.py [--threads 2] [--rounds 5]"""
import argparse
import statistics
import time

import torch

import l2w

NETWORKS = {
    "demo": (dict(nBlocks=3, nChannels=8, growthRate=4, grFactor=[1, 2, 4], bnFactor=[1, 2, 4], num_classes=10,
                  in_channels=1), [1, 28, 28]),
    "cifar100": (dict(num_classes=100), [3, 32, 32]),
}


def median_time(f, n):
    times = []
    for _ in range(n):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for name, (fields, shape) in NETWORKS.items():
        net = l2w.msdnet(**fields).eval()
        x1 = torch.randn(1, *shape)
        with torch.no_grad():
            for _ in range(20):
                net(x1)
            ratios = [median_time(lambda: net(x1), 50) / median_time(lambda: net.cpp_module.forward(x1), 50)
                      for _ in range(args.rounds)]
        print(f"{name}: batch-1 net(x) / C++ forward alone: {statistics.median(ratios):.3f} "
              f"(median of {args.rounds} rounds)")
        for method in ["plain", "fd"]:
            net.train()
            learner = l2w.Learner(net, epochs=1, iterations_per_epoch=10**6, method="plain" if method == "plain" else "l2w",
                                  meta_grad="fd" if method == "fd" else None)
            x = torch.randn(64, *shape)
            y = torch.randint(0, fields["num_classes"], (64,))
            learner.step(x, y)
            wpn = learner._learner._wpn() or []

            def copy_state():
                with torch.no_grad():
                    [t.clone() for t in net.state_dict().values()]
                    [p.clone() for p in wpn]

            shares, step = [], 0.0
            for _ in range(max(1, args.rounds // 2)):
                step = median_time(lambda: learner.step(x, y), 3)
                shares.append(median_time(copy_state, 20) / step)
            print(f"{name} {method}: batch-64 step {step * 1e3:.1f} ms, the guard's copy "
                  f"{100 * statistics.median(shares):.2f} % of it")


if __name__ == "__main__":
    main()
