"""Budgeted evaluation (docs/algorithm.md), recomputed in Python from the probabilities `l2w eval --save-probs`
wrote, compared with l2w's dynamic.txt (all 39 lines exactly) and thresholds.txt.

Usage: spec_dynamic_check.py RUN_DIR [BUDGET]   (needs numpy and torch: the Python l2w was built against, L2W_PYTHON)
"""
import math
import sys

import numpy as np
import torch


def target_proportions(p_index, exits):
    # As the reference: float32, q_k ∝ p^k through exp(log p · k), normalised.
    p = torch.full((1,), p_index / 20.0, dtype=torch.float32)
    q = torch.exp(torch.log(p) * torch.arange(1, exits + 1, dtype=torch.float32))
    return q / q.sum()


def thresholds(conf, q):
    exits, n = conf.shape
    t = [math.inf] * exits
    t[-1] = -math.inf
    assigned = torch.zeros(n, dtype=torch.bool)
    for k in range(exits - 1):
        wanted = math.floor(float(torch.tensor(n, dtype=torch.float32) * q[k]))
        count = 0
        for i in torch.argsort(conf[k], descending=True, stable=True).tolist():
            if assigned[i]:
                continue
            count += 1
            if count == wanted:
                t[k] = float(conf[k, i])
                break
        assigned |= conf[k] >= t[k]
    return t


def evaluate(conf, correct, t, flops):
    exits, n = conf.shape
    counts = [0] * exits
    right = 0
    for i in range(n):
        for k in range(exits):
            if float(conf[k, i]) >= t[k]:
                counts[k] += 1
                right += int(correct[k, i])
                break
    accuracy = 100.0 * right / n
    cost = 0.0
    for k in range(exits):
        cost += counts[k] / n * flops[k]
    return accuracy, cost


def confidences(run, name):
    probs = torch.from_numpy(np.load(f"{run}/probs_{name}.npy"))
    labels = torch.from_numpy(np.load(f"{run}/labels_{name}.npy"))
    conf, pred = probs.max(2)
    return conf, pred.eq(labels.unsqueeze(0))


def main():
    run = sys.argv[1]
    flops = [float(line.split()[1]) for line in open(f"{run}/flops.tsv") if line.strip() and line[0].isdigit()]
    valid_conf, _ = confidences(run, "valid")
    valid_correct = confidences(run, "valid")[1]
    test_conf, test_correct = confidences(run, "test")
    exits = valid_conf.shape[0]
    assert len(flops) == exits, (flops, exits)
    ours = [tuple(float(x) for x in line.split()) for line in open(f"{run}/dynamic.txt")]
    assert len(ours) == 39, len(ours)
    valid_points = []
    for p_index in range(1, 40):
        t = thresholds(valid_conf, target_proportions(p_index, exits))
        expected = evaluate(test_conf, test_correct, t, flops)
        assert ours[p_index - 1] == expected, (p_index, ours[p_index - 1], expected)
        valid_points.append((evaluate(valid_conf, valid_correct, t, flops), p_index, t))
    print(f"dynamic.txt: all 39 (accuracy, MUL-ADDs) equal the definition recomputed from the saved probabilities")

    if len(sys.argv) > 2:
        budget = float(sys.argv[2])
        fitting = [v for v in valid_points if v[0][1] <= budget]
        best = max(fitting, key=lambda v: (v[0][1], -v[1]))
        fields = {}
        chosen = []
        for line in open(f"{run}/thresholds.txt"):
            if line.startswith("#") or not line.strip():
                continue
            words = line.split()
            if words[0] == "exit":
                chosen.append(float(words[3]))
            else:
                fields[words[0]] = words[1]
        assert int(fields["p_index"]) == best[1], (fields, best[1])
        assert np.array(chosen, dtype=np.float32).tolist() == np.array(best[2], dtype=np.float32).tolist(), (chosen, best[2])
        print(f"thresholds.txt: p_idx {best[1]}, the most expensive point within {budget:.0f} MUL-ADDs on the validation set")


if __name__ == "__main__":
    main()
