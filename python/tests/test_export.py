"""l2w.export_onnx: every graph passes ONNX's checker; ONNX Runtime and OpenVINO compute the network's every
exit's logits at batch sizes other than the traced one, for MSDNet (both stems), RANet and an IMTA network;
the stage graphs
run in sequence with the manifest's thresholds take each image's class and exit as l2w's classifier does."""
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
import openvino as ov
import pytest
import torch

import l2w
from conftest import ARCH

# The ImageNet stem (a 7x7 convolution and max-pooling, heads that pool 7x7): a small one on 224x224 images.
IMAGENET = dict(imagenet=True, n_blocks=2, n_channels=8, growth_rate=4, gr_factor=[1, 2, 4, 4], bn_factor=[1, 2, 4, 4],
                step=1, base=1, num_classes=10, in_channels=3)
RANET = dict(n_blocks=2, n_channels=8, growth_rate=4, step=2, scale_list=[1, 2, 3], gr_factor=[4, 2, 1],
             bn_factor=[4, 2, 1], num_classes=10, in_channels=3)


def session(path):
    return ort.InferenceSession(path, providers=["CPUExecutionProvider"])


def openvino_f32(path):
    """OpenVINO's CPU plugin in float32 (its default on CPUs with bf16 units is bf16), as a function of
    the images giving every output."""
    compiled = ov.Core().compile_model(path, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    return lambda images: [np.asarray(v) for v in compiled(images).values()]


@pytest.mark.parametrize("make, shape", [
    (lambda: l2w.msdnet(seed=3, **ARCH), (1, 28, 28)),
    (lambda: l2w.msdnet(seed=3, **IMAGENET), (3, 224, 224)),
    (lambda: l2w.ranet(seed=3, **RANET), (3, 32, 32)),
    (lambda: l2w.msdnet(seed=3, imta_stage2=True, **ARCH), (1, 28, 28)),
])
def test_onnx_runtime_computes_every_exit_as_l2w_does(tmp_path, make, shape):
    net = make().train()
    out = str(tmp_path / "exported")
    manifest = l2w.export_onnx(net, out, shape, mean=[0.5] * shape[0], std=[0.25] * shape[0])
    assert net.training  # the network's mode is left as it was
    assert json.load(open(os.path.join(out, "manifest.json"))) == manifest
    assert [e["muladds"] for e in manifest["exits"]] == [m for m, _ in net.exit_costs(list(shape))]
    model = onnx.load(os.path.join(out, "network.onnx"))
    assert [o.name for o in model.graph.output] == [f"exit{k + 1}" for k in range(net.num_exits)]
    # The inference form: every BatchNorm after a convolution folded into it (IMTA's heads keep their
    # BatchNorm1d after a linear layer).
    made_by = {o: n.op_type for n in model.graph.node for o in n.output}
    assert {made_by.get(n.input[0]) for n in model.graph.node if n.op_type == "BatchNormalization"} <= {"Gemm"}
    net.eval()
    path = os.path.join(out, "network.onnx")
    onnx_runtime = session(path)
    runtimes = {"ONNX Runtime": lambda images: onnx_runtime.run(None, {"images": images}), "OpenVINO": openvino_f32(path)}
    for batch in (1, 5, 33):
        images = torch.randn(batch, *shape, generator=torch.Generator().manual_seed(batch))
        with torch.no_grad():
            want = net(images)
        for name, run in runtimes.items():
            got = [torch.from_numpy(np.array(o)) for o in run(images.numpy())]
            assert len(got) == len(want), name
            for w, g in zip(want, got):
                assert g.shape == w.shape, name
                assert float((g - w).abs().max() / w.abs().max()) < 1e-4, name


def test_real_images_through_both_runtimes(tmp_path, fashion_mnist):
    """Fashion-MNIST test images, as l2w's batches normalise them: the same logits from both runtimes."""
    _, test_set = fashion_mnist
    images = torch.stack([test_set[i][0] for i in range(64)])
    net = l2w.msdnet(seed=5, **ARCH).eval()
    out = str(tmp_path / "exported")
    l2w.export_onnx(net, out, (1, 28, 28))
    path = os.path.join(out, "network.onnx")
    with torch.no_grad():
        want = net(images)
    for got in (session(path).run(None, {"images": images.numpy()}), openvino_f32(path)(images.numpy())):
        for w, g in zip(want, got):
            assert float((torch.from_numpy(np.array(g)) - w).abs().max() / w.abs().max()) < 1e-4


def run_stages(folder, manifest, images):
    """Early exit as a runtime would run it from the manifest: stage by stage, each image leaving at the
    first exit whose top softmax probability reaches its threshold."""
    values = [float(v) for v in manifest["thresholds"]["values"]]
    classes = torch.full((len(images),), -1)
    exits = torch.full((len(images),), -1)
    feeds = {"images": images.numpy()}
    remaining = torch.arange(len(images))
    for k, stage in enumerate(manifest["exits"]):
        outputs = session(os.path.join(folder, stage["graph"])).run(None, feeds)
        logits = torch.from_numpy(outputs[-1])
        confidence, predicted = torch.softmax(logits, 1).max(1)
        leave = confidence >= values[k] if k + 1 < len(values) else torch.ones(len(logits), dtype=torch.bool)
        classes[remaining[leave]] = predicted[leave]
        exits[remaining[leave]] = k
        remaining = remaining[~leave]
        kept = {name: value[(~leave).numpy()] for name, value in zip(stage["outputs"][:-1], outputs[:-1])}
        if k + 1 < len(manifest["exits"]):
            feeds = {name: kept[name] for name in manifest["exits"][k + 1]["inputs"]}
        if len(remaining) == 0:
            break
    return classes, exits


@pytest.mark.parametrize("make, shape", [
    (lambda: l2w.msdnet(seed=4, **ARCH), (1, 28, 28)),
    (lambda: l2w.msdnet(seed=4, **IMAGENET), (3, 224, 224)),
    (lambda: l2w.ranet(seed=4, **RANET), (3, 32, 32)),
])
def test_the_stages_with_the_manifests_thresholds_exit_as_the_classifier(tmp_path, make, shape):
    net = make().eval()
    images = torch.randn(64, *shape, generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        top = [torch.softmax(logits, 1).max(1).values for logits in net(images)]
    # Thresholds midway between the two middle confidences at each early exit: about half the images
    # leave there, none within rounding of its threshold.
    thresholds = l2w.Thresholds([float(torch.quantile(t, 0.5)) for t in top[:-1]] + [float("-inf")])
    out = str(tmp_path / "exported")
    manifest = l2w.export_onnx(net, out, shape, thresholds=thresholds)
    assert manifest["thresholds"]["values"][-1] == "-inf"
    want_classes, want_exits, _ = l2w.Classifier(net, thresholds, image_shape=list(shape)).classify(images)
    classes, exits = run_stages(out, manifest, images)
    assert torch.equal(exits, want_exits), (exits, want_exits)
    assert torch.equal(classes, want_classes)
    assert len(set(exits.tolist())) > 1  # images left at several exits


def test_bad_input_raises_and_leaves_nothing(tmp_path):
    net = l2w.msdnet(**ARCH)
    with pytest.raises(ValueError, match=r"image_shape: \(28, 28\)"):
        l2w.export_onnx(net, str(tmp_path / "a"), (28, 28))
    with pytest.raises(ValueError, match="the network cannot take such images"):
        l2w.export_onnx(net, str(tmp_path / "b"), (3, 28, 28))  # a one-channel network
    with pytest.raises(ValueError, match="thresholds: 2 given, the network has 3 exits"):
        l2w.export_onnx(net, str(tmp_path / "c"), (1, 28, 28), thresholds=l2w.Thresholds([0.5, 0.5]))
    other = l2w.Thresholds([0.5, 0.5, 0.5], exit_muladds=[1, 2, 3])
    with pytest.raises(ValueError, match="chosen for another network"):
        l2w.export_onnx(net, str(tmp_path / "d"), (1, 28, 28), thresholds=other)
    with pytest.raises(OSError, match="does not exist"):
        l2w.export_onnx(net, str(tmp_path / "missing" / "e"), (1, 28, 28))
    os.mkdir(tmp_path / "taken")
    with pytest.raises(OSError, match="already exists"):
        l2w.export_onnx(net, str(tmp_path / "taken"), (1, 28, 28))
    assert sorted(os.listdir(tmp_path)) == ["taken"]
