"""l2w.export_onnx: the exported graph passes ONNX's checker and ONNX Runtime computes the network's
every exit's logits, at batch sizes other than the traced one, for MSDNet, RANet and an IMTA network."""
import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

import l2w
from conftest import ARCH


def run_onnx(path, images):
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return [torch.from_numpy(o) for o in session.run(None, {"images": images.numpy()})]


@pytest.mark.parametrize("make, shape", [
    (lambda: l2w.msdnet(seed=3, **ARCH), (1, 28, 28)),
    (lambda: l2w.ranet(seed=3, n_blocks=2, n_channels=8, growth_rate=4, step=2, scale_list=[1, 2, 3],
                       gr_factor=[4, 2, 1], bn_factor=[4, 2, 1], num_classes=10, in_channels=3), (3, 32, 32)),
    (lambda: l2w.msdnet(seed=3, imta_stage2=True, **ARCH), (1, 28, 28)),
])
def test_onnx_runtime_computes_every_exit_as_l2w_does(tmp_path, make, shape):
    net = make().train()
    path = str(tmp_path / "network.onnx")
    l2w.export_onnx(net, path, shape)
    assert net.training  # the network's mode is left as it was
    model = onnx.load(path)
    onnx.checker.check_model(model)
    assert [o.name for o in model.graph.output] == [f"exit{k + 1}" for k in range(net.num_exits)]
    # The inference form: every BatchNorm after a convolution folded into it (IMTA's heads keep their
    # BatchNorm1d after a linear layer).
    made_by = {out: n.op_type for n in model.graph.node for out in n.output}
    assert {made_by.get(n.input[0]) for n in model.graph.node if n.op_type == "BatchNormalization"} <= {"Gemm"}
    net.eval()
    for batch in (1, 5, 33):
        images = torch.randn(batch, *shape, generator=torch.Generator().manual_seed(batch))
        with torch.no_grad():
            want = net(images)
        got = run_onnx(path, images)
        assert len(got) == len(want)
        for w, g in zip(want, got):
            assert g.shape == w.shape
            assert float((g - w).abs().max() / w.abs().max()) < 1e-4


def test_bad_shapes_and_paths_raise_and_leave_nothing(tmp_path):
    net = l2w.msdnet(**ARCH)
    with pytest.raises(ValueError, match=r"image_shape: \(28, 28\)"):
        l2w.export_onnx(net, str(tmp_path / "a.onnx"), (28, 28))
    with pytest.raises(ValueError):
        l2w.export_onnx(net, str(tmp_path / "b.onnx"), (3, 28, 28))  # a one-channel network
    with pytest.raises(OSError, match="does not exist"):
        l2w.export_onnx(net, str(tmp_path / "missing" / "c.onnx"), (1, 28, 28))
    assert os.listdir(tmp_path) == []
