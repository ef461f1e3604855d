"""Where a whole-network pass of the inference form spends its time: torch.profiler over
l2w.Classifier (every exit computed) on random images, each operator's time per pass grouped by the
size of the feature map it works on (docs/inference.md, "What a faster kernel would have to beat").

With --memory, it times instead what bounds the finest scale's thin layers: a 1x1 product of 40 to 6
channels at 32x32 per image at growing batch sizes, and a plain copy at growing sizes, interleaved.

Usage: python scripts/profile_inference.py CHECKPOINT [--image-shape 3,32,32] [--batch-size 256]
  [--threads 2] [--passes 3] [--rows 20]
       python scripts/profile_inference.py --memory [--threads 2] [--passes 15]
(with the Python package importable: scripts/setup.sh's environment)."""
import argparse
import collections
import statistics
import sys
import time

import torch
from torch.profiler import ProfilerActivity, profile

import l2w


def map_pixels(key, shapes):
    """H*W of the feature map an operator reads, where its first input says so."""
    first = shapes[0] if shapes else []
    if key == "aten::bmm" and len(shapes) > 1 and len(shapes[1]) == 3:
        return shapes[1][2]  # a 1x1 convolution as [N, C, H*W] products (nn::PointwiseConv)
    if len(first) == 4:
        return first[2] * first[3]
    if key == "aten::add_" and len(first) == 3:
        return first[2]  # the bias of a 1x1 product
    return None


def memory_bound(passes):
    """Per-image time of the finest scale's bottleneck product, and copy bandwidth, against size."""
    sizes = (4, 16, 64, 256)
    products, copies = {}, {}
    for n in sizes:
        x, w, y = torch.randn(n, 40, 1024), torch.randn(6, 40), torch.empty(n, 6, 1024)
        src = torch.randn(n * 40 * 1024)
        dst = torch.empty_like(src)
        products[n] = lambda x=x, w=w, y=y: torch.matmul(w, x, out=y)
        copies[n] = lambda src=src, dst=dst: dst.copy_(src)
    times = collections.defaultdict(list)
    for round_ in range(passes):
        for n in (sizes if round_ % 2 == 0 else sizes[::-1]):
            for name, run in (("product", products[n]), ("copy", copies[n])):
                start = time.perf_counter()
                run()
                times[(name, n)].append(time.perf_counter() - start)
    print("images  map MB   1x1 40->6 us/image   its input read GB/s   copy GB/s (read + write)")
    for n in sizes:
        mb = n * 40 * 1024 * 4 / 1e6
        product = statistics.median(times[("product", n)][1:])
        copy = statistics.median(times[("copy", n)][1:])
        print(f"{n:6d}  {mb:6.1f}   {product / n * 1e6:18.1f}   {mb / 1e3 / product:19.1f}   {2 * mb / 1e3 / copy:9.1f}")


def positive(text):
    """An integer flag's value that must be at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return value


def image_shape(text):
    """C,H,W as three positive integers."""
    try:
        shape = [int(v) for v in text.split(",")]
    except ValueError:
        shape = []
    if len(shape) != 3 or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not C,H,W (three positive integers)")
    return shape


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", nargs="?")
    parser.add_argument("--memory", action="store_true", help="time the memory-bound product and copies instead")
    parser.add_argument("--image-shape", type=image_shape, default="3,32,32", help="C,H,W of one image")
    parser.add_argument("--batch-size", type=positive, default=256)
    parser.add_argument("--threads", type=positive, default=2)
    parser.add_argument("--passes", type=positive, default=None, help="default 3 (15 with --memory, at least 2)")
    parser.add_argument("--rows", type=positive, default=20)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.memory:
        if args.passes == 1:
            parser.error("--memory needs --passes 2 or more (the first is a warm-up)")
        memory_bound(args.passes or 15)
        return
    if args.checkpoint is None:
        parser.error("a checkpoint to profile, or --memory")
    args.passes = args.passes or 3
    shape = args.image_shape
    try:
        net = l2w.load(args.checkpoint)
        # Thresholds no confidence reaches, but the last exit's: every block and exit runs.
        whole = l2w.Classifier(net, [2.0] * (net.num_exits - 1) + [0.0], image_shape=shape)
        images = torch.randn(args.batch_size, *shape)
        for _ in range(2):
            whole.classify(images)
    except (RuntimeError, ValueError) as error:  # l2w's errors (a bad checkpoint, a shape it cannot take)
        sys.exit(f"profile_inference.py: {error}")
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as p:
        for _ in range(args.passes):
            whole.classify(images)
    per_pass = collections.defaultdict(float)
    for event in p.key_averages(group_by_input_shape=True):
        per_pass[(event.key, map_pixels(event.key, event.input_shapes))] += event.self_cpu_time_total / 1e3 / args.passes
    total = sum(per_pass.values())
    print(f"{args.checkpoint}: batch {args.batch_size}, {args.threads} threads, {total:.1f} ms per pass "
          f"(one profile over {args.passes} passes)")
    print("  ms/pass   share  operator                      map H*W")
    for (key, pixels), ms in sorted(per_pass.items(), key=lambda kv: -kv[1])[:args.rows]:
        print(f"{ms:9.1f}  {100 * ms / total:5.1f}%  {key:28s}  {pixels if pixels is not None else '-'}")


if __name__ == "__main__":
    main()
