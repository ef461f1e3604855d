"""Seed corpora for the fuzz targets: small well-formed files of each format, so that fuzzing starts
inside the format rather than at random bytes.  Usage: make_seeds.py TARGET DIR (with the torch l2w
was built against, for torch_save)."""
import collections
import gzip
import os
import struct
import sys


def idx_pair(n, h, w):
    images = struct.pack(">IIII", 0x0803, n, h, w) + bytes(i % 251 for i in range(n * h * w))
    labels = struct.pack(">II", 0x0801, n) + bytes(i % 10 for i in range(n))
    return images, labels


def idx(out):
    for name, (images, labels) in {"plain": idx_pair(2, 3, 3), "one": idx_pair(1, 28, 28)}.items():
        yield name, struct.pack(">H", len(images)) + images + labels
    images, labels = idx_pair(3, 4, 4)
    packed = gzip.compress(images)
    yield "gzipped", struct.pack(">H", len(packed)) + packed + gzip.compress(labels)


def cifar(out):
    record10 = lambda i: bytes([i % 10]) + bytes((i + j) % 256 for j in range(3072))
    record100 = lambda i: bytes([i % 20, 90 + i]) + bytes((i * j) % 256 for j in range(3072))
    yield "cifar10", b"\x00" + b"".join(record10(i) for i in range(2))
    yield "cifar100", b"\x01" + b"".join(record100(i) for i in range(2))


def thresholds(out):
    yield "three_exits", (b"l2w-thresholds 1\nexits 3\nbudget_muladds 5000000\np_index 12\n"
                          b"valid_accuracy 89.42\nvalid_expected_muladds 4823120.5\n"
                          b"exit 1 threshold 0.987654321 muladds 2560000\n"
                          b"exit 2 threshold 0.91234 muladds 5420000\n# a comment\n"
                          b"exit 3 threshold -inf muladds 8370000\n")


def torch_save(out):
    import io
    import torch
    torch.manual_seed(0)

    def saved(obj):
        buffer = io.BytesIO()
        torch.save(obj, buffer)
        return buffer.getvalue()

    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2), torch.nn.Linear(2, 2))
    yield "state_dict", saved(net.state_dict())
    sgd = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    adam = torch.optim.Adam(net.parameters(), lr=1e-3)
    for optimizer in (sgd, adam):
        for p in net.parameters():
            p.grad = torch.ones_like(p)
        optimizer.step()
    yield "checkpoint", saved({"epoch": 3, "arch": "msdnet", "state_dict": net.state_dict(), "best_prec1": 12.5,
                               "optimizer": sgd.state_dict(), "meta_optimizer": adam.state_dict()})
    base = torch.arange(12, dtype=torch.float32)
    yield "values", saved({"view": base.view(3, 4)[:, 1:3], "shared": base, "half": base.half(),
                           "bf16": base.bfloat16(), "long": base.long(), "bool": base > 5, "none": None,
                           "tuple": (1, 2.5, "x", True), "list": [[1], [2, 3]],
                           "ordered": collections.OrderedDict(a=torch.zeros(0)), "scalar": torch.tensor(7)})


if __name__ == "__main__":
    target, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    for name, data in globals()[target](out):
        with open(os.path.join(out, "seed_" + name), "wb") as f:
            f.write(data)
