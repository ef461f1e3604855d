#!/usr/bin/env python3
"""One convolution at batch 1, through each path LibTorch offers on the CPU, in fp32 and bf16: what a
batch-1 engine built on LibTorch pays per layer (docs/inference.md, "Batch 1"). Paths: F.conv2d (LibTorch's
choice: its own im2col kernel for small fp32 batch-1 inputs, oneDNN otherwise), oneDNN directly
(torch.mkldnn_convolution), oneDNN with weights prepacked once (mkldnn_prepacked), NNPACK; NCHW and
channels_last. Microseconds per call, the best of 3 rounds of 400 calls, one thread. Shapes are MSDNet
CIFAR layers: (in, out, size, kernel, stride).

Usage: ~/.cache/l2w/venv/bin/python scripts/bench_conv_batch1.py
"""
import time

import torch

SHAPES = [(3, 16, 32, 3, 1), (16, 16, 32, 3, 1), (16, 32, 32, 3, 2), (64, 64, 8, 3, 1), (48, 24, 16, 3, 1),
          (32, 8, 14, 1, 1)]


def micros(call, calls=400, rounds=3):
    for _ in range(30):
        call()
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            call()
        best = min(best, (time.perf_counter() - start) / calls * 1e6)
    return best


def main():
    torch.set_num_threads(1)
    print("| in→out, size, kernel/stride | dtype | layout | F.conv2d µs | oneDNN µs | oneDNN prepacked µs | NNPACK µs |")
    print("|---|---|---|---|---|---|---|")
    with torch.inference_mode():
        for cin, cout, size, k, s in SHAPES:
            for dtype in [torch.float32, torch.bfloat16]:
                for layout in [torch.contiguous_format, torch.channels_last]:
                    x = torch.randn(1, cin, size, size).to(dtype).contiguous(memory_format=layout)
                    w = torch.randn(cout, cin, k, k).to(dtype).contiguous(memory_format=layout)
                    b = torch.randn(cout).to(dtype)
                    p = [k // 2, k // 2]
                    packed = torch.ops.mkldnn_prepacked.conv2d_prepack(w, b, [s, s], p, [1, 1], 1, [1, cin, size, size],
                                                                       "none")
                    cells = [micros(lambda: torch.nn.functional.conv2d(x, w, b, s, k // 2)),
                             micros(lambda: torch.mkldnn_convolution(x, w, b, p, [s, s], [1, 1], 1)),
                             micros(lambda: torch.ops.mkldnn_prepacked.conv2d_run(x, packed))]
                    nnpack = dtype == torch.float32 and layout == torch.contiguous_format
                    cells.append(micros(lambda: torch._nnpack_spatial_convolution(x, w, b, p, [s, s])) if nnpack
                                 else float("nan"))
                    name = "fp32" if dtype == torch.float32 else "bf16"
                    where = "NCHW" if layout == torch.contiguous_format else "channels_last"
                    print(f"| {cin}→{cout}, {size}x{size}, {k}x{k}/{s} | {name} | {where} | " +
                          " | ".join("–" if c != c else f"{c:.1f}" for c in cells) + " |")


if __name__ == "__main__":
    main()
