"""Evaluation and deployment from Python equal the command's: budgeted evaluation's curve and the
thresholds for a budget (`l2w eval`), and the early-exit classifier (`l2w infer`)."""
import re

import pytest
import torch

import l2w
from conftest import ARCH_FLAGS, DATA_FLAGS, run_l2w


@pytest.fixture(scope="module")
def evaluated(fashion_mnist, command_runs):
    run = command_runs["plain"]
    net = l2w.load(str(run))
    costs = [c[0] for c in net.exit_costs([1, 28, 28])]
    budget = int(1.3 * costs[0])
    out = run_l2w("eval", *ARCH_FLAGS, *DATA_FLAGS, "--evaluate_from", str(run / "save_models" / "model_best.pth.tar"),
                  "--train_url", str(run), "--evalmode", "dynamic", "--budget", str(budget))
    train_set, test_set = fashion_mnist
    plain = dict(shuffle=False, augment=False)
    valid = l2w.exit_outputs(net, l2w.Batches(train_set, **plain).epoch(0))
    test = l2w.exit_outputs(net, l2w.Batches(test_set, **plain).epoch(0))
    return dict(run=run, net=net, costs=costs, budget=budget, valid=valid, test=test, eval_output=out)


def test_budgeted_evaluation_equals_l2w_eval(evaluated):
    curve = l2w.budgeted(evaluated["valid"], evaluated["test"], evaluated["costs"])
    rows = [line.split() for line in open(evaluated["run"] / "dynamic.txt")]
    assert len(rows) == len(curve.index) == 39
    for (accuracy, muladds), mine_accuracy, mine_muladds in zip(rows, curve.accuracy, curve.muladds):
        assert float(accuracy) == pytest.approx(float(mine_accuracy), abs=1e-3)
        assert float(muladds) == pytest.approx(float(mine_muladds), rel=1e-6)
    metrics = l2w.anytime(evaluated["test"])
    assert len(metrics) == 3 and all(0 <= m["top1"] <= 100 for m in metrics)


def test_thresholds_for_a_budget_equal_eval_budget_and_the_classifier_equals_infer(evaluated):
    mine = l2w.thresholds_for_budget(evaluated["valid"], evaluated["costs"], evaluated["budget"])
    written = l2w.read_thresholds(str(evaluated["run"] / "thresholds.txt"))
    assert mine.index == written.index
    assert mine.thresholds == pytest.approx(written.thresholds, rel=1e-6)
    run = evaluated["run"]
    out = run_l2w("infer", *ARCH_FLAGS, *DATA_FLAGS, "--evaluate_from", str(run / "save_models" / "model_best.pth.tar"),
                  "--train_url", str(run), "--thresholds", str(run / "thresholds.txt"), "--latency-images", "4",
                  "--precision", "fp32")
    want_accuracy = float(re.search(r"top-1 accuracy\s+([0-9.]+) %", out).group(1))
    want_exits = re.search(r"exits taken\s+(\S+)", out).group(1)
    classifier = l2w.Classifier(evaluated["net"], written, image_shape=[1, 28, 28], precision="fp32")
    assert classifier.precision == "fp32" and classifier.precision_report == "fp32 (as asked)"
    test = evaluated["test"]
    images = torch.cat([images for images, _, _ in l2w.Batches(
        l2w.load_data("fashion-mnist", train_limit=1, test_limit=len(test.labels))[1], shuffle=False,
        augment=False).epoch(0)])
    classes, exits, confidences = classifier.classify(images)
    accuracy = 100.0 * (classes == test.labels).double().mean().item()
    assert f"{accuracy:.2f}" == f"{want_accuracy:.2f}"
    assert "/".join(str((exits == k).sum().item()) for k in range(3)) == want_exits
    assert confidences.dtype == torch.float32 and classifier.exit_muladds == evaluated["costs"]
    # Stage-wise over a stream whose batches (37) are not the batch size (32): the same answers and exits.
    streamed = classifier.classify_stream(images.split(37), batch_size=32)
    assert torch.equal(streamed[0], classes) and torch.equal(streamed[1], exits)
    assert torch.allclose(streamed[2], confidences, atol=1e-6)
    with pytest.raises(ValueError, match=r"images: expected \[N, 1, 28, 28\]"):
        classifier.classify(torch.zeros(2, 1, 32, 32))
    with pytest.raises(ValueError, match=r"images: expected \[N, 1, 28, 28\]"):
        classifier.classify_stream([torch.zeros(2, 1, 32, 32)])
    with pytest.raises(ValueError, match="thresholds: 2 given, the network has 3 exits"):
        l2w.Classifier(evaluated["net"], [0.5, 0.5], image_shape=[1, 28, 28])
    with pytest.raises(ValueError, match="budget"):
        l2w.thresholds_for_budget(evaluated["valid"], evaluated["costs"], 10)


def test_classifier_in_bf16_decides_in_float32_and_mostly_as_fp32(evaluated):
    images = torch.cat([images for images, _, _ in l2w.Batches(
        l2w.load_data("fashion-mnist", train_limit=1, test_limit=len(evaluated["test"].labels))[1], shuffle=False,
        augment=False).epoch(0)])
    thresholds = [0.9, 0.8, float("-inf")]
    fp32 = l2w.Classifier(evaluated["net"], thresholds, image_shape=[1, 28, 28], precision="fp32")
    bf16 = l2w.Classifier(evaluated["net"], thresholds, image_shape=[1, 28, 28], precision="bf16")
    assert bf16.precision == "bf16" and bf16.precision_report.startswith("bf16 (as asked")
    classes, exits, confidences = bf16.classify(images)
    want_classes, want_exits, _ = fp32.classify(images)
    assert confidences.dtype == torch.float32
    assert (classes == want_classes).double().mean().item() >= 0.97
    assert (exits == want_exits).double().mean().item() >= 0.95
    auto = l2w.Classifier(evaluated["net"], thresholds, image_shape=[1, 28, 28])  # the default
    assert auto.precision in ("fp32", "bf16") and "auto: " in auto.precision_report
    with pytest.raises(ValueError, match="precision: 'fp16' is not one of auto, fp32, bf16"):
        l2w.Classifier(evaluated["net"], thresholds, image_shape=[1, 28, 28], precision="fp16")


def test_classifier_layout_is_asked_or_measured_at_its_batch_size(evaluated):
    thresholds = [0.9, 0.8, float("-inf")]
    nchw = l2w.Classifier(evaluated["net"], thresholds, image_shape=[1, 28, 28], precision="fp32")
    assert "contiguous (as asked); at batch 1, " in nchw.network_report
    uniform = l2w.Classifier(evaluated["net"], thresholds, image_shape=[1, 28, 28], precision="fp32",
                             uniform_conv_layout=True)
    assert uniform.network_report.endswith("contiguous (as asked)")
    measured = l2w.Classifier(evaluated["net"], thresholds, image_shape=[1, 28, 28], precision="fp32",
                              memory_format="auto", batch_size=8)
    assert "the faster layout measured (whole network at batch 8: contiguous " in measured.network_report
    images = torch.randn(5, 1, 28, 28)
    # Either layout gives the same decisions, up to float32 rounding of the scores.
    assert torch.equal(measured.classify(images)[0], nchw.classify(images)[0])
    assert torch.equal(uniform.classify(images[:1])[0], nchw.classify(images[:1])[0])
    with pytest.raises(ValueError, match="memory_format: 'diagonal' is not one of auto, channels_last, contiguous"):
        l2w.Classifier(evaluated["net"], thresholds, image_shape=[1, 28, 28], memory_format="diagonal")
    with pytest.raises(ValueError, match="batch_size: 0, expected at least 1"):
        l2w.Classifier(evaluated["net"], thresholds, image_shape=[1, 28, 28], batch_size=0)


def test_non_finite_budgets_and_nan_thresholds_are_refused(evaluated):
    for budget in [float("nan"), float("inf")]:
        with pytest.raises(ValueError, match="budget_muladds: .* is not a finite number"):
            l2w.thresholds_for_budget(evaluated["valid"], evaluated["costs"], budget)
    with pytest.raises(ValueError, match="threshold 2 is NaN"):
        l2w.Classifier(evaluated["net"], [0.9, float("nan"), float("-inf")], image_shape=[1, 28, 28])
    with pytest.raises(ValueError, match="temperature 1 is -1"):
        l2w.Classifier(evaluated["net"], l2w.Thresholds([0.9, 0.8, float("-inf")], temperatures=[-1.0, 1.0, 1.0]),
                       image_shape=[1, 28, 28])
    # +inf and -inf are thresholds: no image leaves at exit 1, every image that reaches exit 2 leaves there.
    classifier = l2w.Classifier(evaluated["net"], [float("inf"), float("-inf"), float("-inf")], image_shape=[1, 28, 28])
    _, exits, _ = classifier.classify(torch.randn(6, 1, 28, 28))
    assert exits.tolist() == [1] * 6
