#!/usr/bin/env python3
"""l2w's early-exit engine against the deployment engines, on the same weights and threads, in one process:
l2w (its inference form in fp32 and in bf16; the whole network without early exit, thresholds no image
reaches, which l2w runs as the last exit alone, and early exit at the budgets nearest 1/4, 1/2 and 3/4 of
the full network's MUL-ADDs, in bf16 at 1/2), ONNX Runtime fp32, OpenVINO f32 and OpenVINO's default
precision (bf16 where the CPU has bf16 units), each running the graph l2w.export_onnx writes (every exit's
logits) and, for OpenVINO, that graph with the last exit's logits only, OpenVINO f32 running the stage
graphs it also writes one after the other (what an early-exit loop around OpenVINO would run, every exit
computed), and l2w's early exit with OpenVINO computing those stage graphs (engine="openvino": the whole
network in f32 and bf16, and the three budgets in f32). Batch 1:
p50 and p99 latency; larger batches: images/s. The engines take turns within each round (the machine's
speed drifts), and the medians over the rounds are printed as a Markdown table with the CPU's name.

Usage: scripts/bench_engines.py [--networks cifar100,imagenet] [--rounds 3] [--threads 2]
(the Python of scripts/setup.sh: ~/.cache/l2w/venv/bin/python). Weights are random: the figures are speed,
the budgets' exits follow thresholds fitted on random images.
"""
import argparse
import json
import os
import statistics
import tempfile
import time

import numpy as np
import onnxruntime as ort
import openvino as ov
import torch

import l2w

# The seed's networks (the reference's README): CIFAR-100's MSDNet, and ImageNet's with step 4.
NETWORKS = {
    "cifar100": (dict(num_classes=100, in_channels=3), (3, 32, 32), [1, 32, 256]),  # l2w's defaults: the seed's
    "imagenet": (dict(num_classes=1000, n_blocks=5, step=4, base=4, step_mode="even", growth_rate=16, n_channels=32,
                      gr_factor=[1, 2, 4, 4], bn_factor=[1, 2, 4, 4], in_channels=3, imagenet=True), (3, 224, 224),
                 [1, 32]),
}


def cpu_name():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def timed(run, images, reps):
    """Seconds per call of run(batch), each call timed; at batch 1 each call takes the next of `images`
    (an image's exit depends on the image), else all of them."""
    batches = [images[i:i + 1] for i in range(len(images))] if reps == 0 else [images] * reps
    run(batches[0])
    times = []
    for batch in batches:
        start = time.perf_counter()
        run(batch)
        times.append(time.perf_counter() - start)
    return times


def engines(net, folder, shape, threads, budgets):
    """name -> a function of float32 images [N, C, H, W] (numpy) that computes the network."""
    path = os.path.join(folder, "network.onnx")
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    core = ov.Core()
    f32 = core.compile_model(path, "CPU", {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": threads})
    default = core.compile_model(path, "CPU", {"INFERENCE_NUM_THREADS": threads})
    every = core.read_model(path)  # the network deployed without early exit: the last exit's logits only
    last_only = ov.Model([every.get_results()[-1]], every.get_parameters())
    last_f32 = core.compile_model(last_only, "CPU", {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": threads})
    last_default = core.compile_model(last_only, "CPU", {"INFERENCE_NUM_THREADS": threads})
    precision = core.get_property("CPU", "INFERENCE_PRECISION_HINT")
    manifest = json.load(open(os.path.join(folder, "manifest.json")))
    stages = [(e["inputs"], core.compile_model(os.path.join(folder, e["graph"]), "CPU",
                                               {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": threads})
               .create_infer_request()) for e in manifest["exits"]]

    def chained(x):
        features = {"images": x}
        for inputs, request in stages:
            outputs = request.infer({name: features[name] for name in inputs})
            features = {port.get_any_name(): value for port, value in outputs.items()}
        return features
    exits = net.num_exits
    no_early_exit = l2w.Thresholds([float("inf")] * (exits - 1) + [float("-inf")])
    out = {}
    for l2w_precision in ["fp32", "bf16"]:
        whole = l2w.Classifier(net, no_early_exit, list(shape), precision=l2w_precision)
        out[f"l2w {l2w_precision}, whole network"] = lambda x, c=whole: c.classify(torch.from_numpy(x))
    for share, thresholds in budgets:
        for l2w_precision in ["fp32", "bf16"] if share.startswith("1/2") else ["fp32"]:
            classifier = l2w.Classifier(net, thresholds, list(shape), precision=l2w_precision)
            out[f"l2w {l2w_precision}, early exit at {share}"] = lambda x, c=classifier: c.classify(torch.from_numpy(x))
    # l2w's early exit with OpenVINO computing the stages (engine="openvino": at every batch size).
    for name, thresholds, precisions in [("whole network", no_early_exit, ["fp32", "bf16"])] + \
            [(f"early exit at {share}", t, ["fp32"]) for share, t in budgets]:
        for l2w_precision in precisions:
            classifier = l2w.Classifier(net, thresholds, list(shape), precision=l2w_precision, engine="openvino",
                                        onnx=folder)
            out[f"l2w {l2w_precision} on OpenVINO stages, {name}"] = \
                lambda x, c=classifier: c.classify(torch.from_numpy(x))
    out["ONNX Runtime fp32"] = lambda x: session.run(None, {"images": x})
    out["OpenVINO f32"] = lambda x: f32(x)
    default_name = str(precision).split(':')[-1].strip(' >')
    out[f"OpenVINO default ({default_name})"] = lambda x: default(x)
    out["OpenVINO f32, last exit only"] = lambda x: last_f32(x)
    out[f"OpenVINO default ({default_name}), last exit only"] = lambda x: last_default(x)
    out["OpenVINO f32, stage graphs chained"] = chained
    return out


def budget_thresholds(net, shape, costs):
    """Thresholds at the budgets nearest 1/4, 1/2 and 3/4 of the full network's MUL-ADDs, fitted on random
    images, with the MUL-ADDs they spend there."""
    images = torch.randn(512, *shape, generator=torch.Generator().manual_seed(0))
    valid = l2w.exit_outputs(net, (images, torch.zeros(len(images), dtype=torch.long)))
    out = []
    for share, name in [(0.25, "1/4"), (0.5, "1/2"), (0.75, "3/4")]:
        try:
            t = l2w.thresholds_for_budget(valid, costs, share * costs[-1])
        except ValueError:
            continue  # below the cheapest reachable cost
        out.append((f"{name} ({t.valid_muladds / 1e6:.1f} M)", t))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--networks", default="cifar100,imagenet")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"# Engines on {cpu_name()}, {args.threads} threads, {args.rounds} rounds (medians), LibTorch {torch.__version__}, "
          f"ONNX Runtime {ort.__version__}, OpenVINO {ov.__version__}\n")
    for name in args.networks.split(","):
        fields, shape, batches = NETWORKS[name]
        net = l2w.msdnet(seed=0, **fields).eval()
        costs = [m for m, _ in net.exit_costs(list(shape))]
        with tempfile.TemporaryDirectory() as folder:
            l2w.export_onnx(net, os.path.join(folder, "x"), shape)
            run = engines(net, os.path.join(folder, "x"), shape, args.threads, budget_thresholds(net, shape, costs))
            results = {engine: {b: [] for b in batches} for engine in run}
            for _ in range(args.rounds):
                for batch in batches:
                    count = (64 if name == "cifar100" else 16) if batch == 1 else batch
                    images = np.random.default_rng(batch).standard_normal((count, *shape), dtype=np.float32)
                    reps = 0 if batch == 1 else (max(3, int(256 / batch)) if name == "cifar100" else 2)
                    for engine, f in run.items():
                        results[engine][batch].extend(timed(f, images, reps))
        print(f"## {name}: MSDNet, {net.num_exits} exits, {costs[-1] / 1e6:.1f} M MUL-ADDs per image with every exit\n")
        header = "| engine | batch 1 p50 ms | batch 1 p99 ms | " + " | ".join(f"batch {b} images/s" for b in batches[1:]) + " |"
        print(header)
        print("|" + "---|" * (header.count("|") - 1))
        for engine, by_batch in results.items():
            one = sorted(by_batch[1])
            p99 = one[min(len(one) - 1, int(0.99 * len(one)))]
            cells = [f"{1e3 * statistics.median(one):.2f}", f"{1e3 * p99:.2f}"]
            cells += [f"{b / statistics.median(by_batch[b]):.0f}" for b in batches[1:]]
            print(f"| {engine} | " + " | ".join(cells) + " |")
        print()


if __name__ == "__main__":
    main()
