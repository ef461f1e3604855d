"""The OpenVINO engine (``engine="openvino"``, ``l2w infer --engine openvino``): OpenVINO's runtime computes
the stage graphs of an export, l2w decides the exits. It must take every image's class and exit as
LibTorch's engine does, one image at a time (graphs compiled for one image), in compacted batches and in a
stage-wise stream; and a folder that is not this checkpoint's export must be refused with one clear line."""
import os
import re
import subprocess

import pytest
import torch

import l2w
from conftest import ARCH, ARCH_FLAGS, DATA_FLAGS, L2W_BIN, run_l2w
from test_export import IMAGENET, RANET


def spread_thresholds(net, images):
    """Thresholds at the median confidence of each early exit: about half the images leave there."""
    with torch.no_grad():
        top = [torch.softmax(logits, 1).max(1).values for logits in net(images)]
    return l2w.Thresholds([float(torch.quantile(t, 0.5)) for t in top[:-1]] + [float("-inf")])


@pytest.mark.parametrize("make, shape", [
    (lambda: l2w.msdnet(seed=5, **ARCH), (1, 28, 28)),
    (lambda: l2w.msdnet(seed=5, **IMAGENET), (3, 224, 224)),
    (lambda: l2w.ranet(seed=5, **RANET), (3, 32, 32)),
])
def test_openvino_takes_every_image_where_libtorch_does(tmp_path, make, shape):
    net = make().eval()
    images = torch.randn(40, *shape, generator=torch.Generator().manual_seed(2))
    thresholds = spread_thresholds(net, images)
    folder = str(tmp_path / "exported")
    l2w.export_onnx(net, folder, shape)
    libtorch = l2w.Classifier(net, thresholds, list(shape), precision="fp32")
    openvino = l2w.Classifier(net, thresholds, list(shape), precision="fp32", engine="openvino", onnx=folder)
    assert openvino.network_report.startswith("OpenVINO ") and "f32" in openvino.network_report
    assert re.search(r"their logits the checkpoint's within \S+ of the largest", openvino.network_report)
    want = libtorch.classify(images)
    assert len(set(want[1].tolist())) > 1  # images left at several exits, so batches were compacted
    for got in [openvino.classify(images),
                [torch.cat(parts) for parts in zip(*(openvino.classify(images[i:i + 1]) for i in range(len(images))))],
                openvino.classify_stream(images.split(7), batch_size=8)]:
        assert torch.equal(got[1], want[1])
        assert torch.equal(got[0], want[0])
        assert torch.allclose(got[2], want[2], atol=1e-5)
    # No image can leave before the last exit: OpenVINO runs the stage graphs joined into one, last exit only.
    whole = l2w.Thresholds([float("inf")] * (net.num_exits - 1) + [float("-inf")])
    with torch.no_grad():
        last = torch.softmax(net(images)[-1], 1).max(1)
    for got in [l2w.Classifier(net, whole, list(shape), precision="fp32", engine=engine, onnx=folder).classify(x)
                for engine in ["libtorch", "openvino"] for x in [images, images[:1]]]:
        n = len(got[0])
        assert torch.equal(got[0], last.indices[:n]) and torch.equal(got[1], torch.full([n], net.num_exits - 1))
        assert torch.allclose(got[2], last.values[:n], atol=1e-5)
    # A NaN image: LibTorch would hand it on to a NaN confidence, OpenVINO to an ordinary-looking answer.
    bad = images[:5].clone()
    bad[3, 0, 1, 1] = float("nan")
    for classifier in [libtorch, openvino]:
        with pytest.raises(ValueError, match="images: image 3 has NaN or infinite values"):
            classifier.classify(bad)
        with pytest.raises(ValueError, match="images: image 3 has NaN or infinite values"):
            classifier.classify_stream([bad])


def test_a_folder_that_is_not_this_checkpoints_export_is_refused(tmp_path):
    net = l2w.msdnet(seed=1, **ARCH).eval()
    shape = [1, 28, 28]
    every_exit = [float("inf"), float("inf"), float("-inf")]
    folder = str(tmp_path / "same")
    l2w.export_onnx(net, folder, shape)

    def deploy(onnx, network=net, **kwargs):
        return l2w.Classifier(network, every_exit, shape, precision="fp32", engine="openvino", onnx=onnx, **kwargs)

    with pytest.raises(ValueError, match="engine: 'tensorrt' is not one of auto, libtorch, openvino"):
        l2w.Classifier(net, every_exit, shape, engine="tensorrt")
    with pytest.raises(ValueError, match="--engine openvino needs the folder l2w export wrote"):
        deploy("")
    with pytest.raises(ValueError, match="no manifest.json"):
        deploy(str(tmp_path / "missing"))
    with pytest.raises(ValueError, match=r"not exported from this checkpoint \(their logits"):
        deploy(folder, network=l2w.msdnet(seed=2, **ARCH))  # the same architecture, other weights
    other = str(tmp_path / "other")
    l2w.export_onnx(l2w.msdnet(seed=1, **{**ARCH, "nChannels": 12}), other, shape)
    with pytest.raises(ValueError, match=r"exported from another network \(exit 1 costs \d+ MUL-ADDs there"):
        deploy(other)
    imta = str(tmp_path / "imta")
    l2w.export_onnx(l2w.msdnet(seed=1, imta_stage2=True, **ARCH), imta, shape)
    with pytest.raises(ValueError, match=r"has no stage graphs \(IMTA"):
        deploy(imta)
    with open(os.path.join(folder, "stage_2.onnx"), "r+b") as f:
        f.truncate(100)
    with pytest.raises(ValueError, match="stage_2.onnx: OpenVINO cannot compile it"):
        deploy(folder)


def test_l2w_eval_and_infer_with_openvino_equal_libtorch(tmp_path, command_runs):
    run = command_runs["plain"]
    checkpoint = str(run / "save_models" / "model_best.pth.tar")
    folder = str(tmp_path / "exported")
    run_l2w("export", *ARCH_FLAGS, "--evaluate_from", checkpoint, "--output", folder)
    budget = str(int(1.3 * l2w.load(str(run)).exit_costs([1, 28, 28])[0][0]))
    evaluate = [*ARCH_FLAGS, *DATA_FLAGS, "--evaluate_from", checkpoint, "--evalmode", "dynamic", "--budget", budget]
    run_l2w("eval", *evaluate, "--train_url", str(tmp_path / "eval"))
    thresholds = tmp_path / "eval" / "thresholds.txt"
    # Thresholds fitted on OpenVINO's outputs (f32): the network's to float32's rounding, so the same
    # thresholds, and the report compares OpenVINO's outputs with LibTorch's.
    out = run_l2w("eval", *evaluate, "--train_url", str(tmp_path / "eval_ov"), "--onnx", folder)
    assert re.search(r"Engine: OpenVINO \S+ on the 3 stage graphs of " + re.escape(folder), out)
    same_exit = float(re.search(r"openvino_fp32 against fp32.*same exit for at least ([0-9.]+)%", out, re.S).group(1))
    assert same_exit >= 99
    mine, theirs = l2w.read_thresholds(str(thresholds)), l2w.read_thresholds(str(tmp_path / "eval_ov" / "thresholds.txt"))
    assert mine.index == theirs.index and mine.thresholds == pytest.approx(theirs.thresholds, rel=1e-5)
    out = run_l2w("eval", *evaluate, "--train_url", str(tmp_path / "eval_ov_bf16"), "--onnx", folder,
                  "--precision", "bf16")
    assert "openvino_bf16 against fp32" in out and "(CPU, bf16," in out
    assert l2w.read_thresholds(str(tmp_path / "eval_ov_bf16" / "thresholds.txt")).precision == "bf16"
    common = [*ARCH_FLAGS, *DATA_FLAGS, "--evaluate_from", checkpoint, "--thresholds", str(thresholds),
              "--latency-images", "8", "--precision", "fp32"]
    libtorch = run_l2w("infer", *common)
    openvino = run_l2w("infer", *common, "--engine", "openvino", "--onnx", folder)
    for line in ["top-1 accuracy", "exits taken", "mean MUL-ADDs"]:
        assert re.search(line + r".*", openvino).group(0) == re.search(line + r".*", libtorch).group(0)
    assert re.search(r"network\s+OpenVINO \S+ on the 3 stage graphs of " + re.escape(folder), openvino)
    done = subprocess.run([L2W_BIN, "infer", *common, "--engine", "openvino", "--onnx", str(tmp_path / "nowhere")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"l2w: error: --onnx: {tmp_path / 'nowhere'}: no manifest.json "
                                                "(give a folder l2w export wrote)"]
