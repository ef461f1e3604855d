"""The Python side of l2w's checkpoint interoperability test (the Python l2w was built against, L2W_PYTHON).

  write DIR KEYS_TSV   torch.save the reference's checkpoint dictionary for the keys and shapes of KEYS_TSV
                       (random values, a real OrderedDict state_dict and a real torch.optim.SGD state), the
                       same as a bare state_dict and with DistributedDataParallel's 'module.' prefix, an input
                       and the first layer's outputs, and a file whose pickle has an unknown opcode.
  check DIR FILE       FILE (written by l2w) must torch.load into the same dictionary: keys in order, values
                       bit-equal to DIR/reference.pth.tar's, an optimizer state torch.optim.SGD accepts.
  resave IN OUT        torch.load IN and torch.save it to OUT unchanged.
  write_l2w REF OUT LAYERS INPUTS
                       REF/reference.pth.tar plus an L2W weight prediction network as the reference defines it
                       (MLP_tanh: LAYERS hidden layers of 16, INPUTS inputs, 3 exits) after one Adam step, as
                       meta_state_dict and meta_optimizer, to OUT/l2w_LAYERS.pth.tar; its tanh outputs on a
                       fixed input to OUT/l2w_LAYERS_outputs.pt.
  check_l2w DIR LAYERS INPUTS FILE
                       MLP_tanh.load_state_dict (strict) and torch.optim.Adam.load_state_dict accept FILE's
                       meta entries (written by l2w), which equal DIR/l2w_LAYERS.pth.tar's bit for bit, and
                       Adam takes a step from them.
  write_imta OUT KEYS_TSV
                       OUT/imta.pth.tar: a second-stage checkpoint as IMTA's main_IMTA.py saves it, for the
                       backbone of KEYS_TSV (10 classes): its IMTA_MSDNet in DataParallel, the pretrained
                       backbone wrapped inside (module.net.module.*), the heads' SGD in two groups, best_acc1.
  check_imta OUT KEYS_TSV FILE
                       FILE (l2w's second-stage checkpoint) loads strictly into IMTA_MSDNet's module layout
                       (net, classifier.k, isc_modules.j) and equals OUT/imta.pth.tar's tensors.
Commands may be joined by "+" to run in one process.
"""
import collections
import shutil
import sys
import zipfile

import torch


def read_keys(tsv):
    keys = []
    for line in open(tsv):
        name, _, shape = line.rstrip("\n").partition("\t")
        keys.append((name, [int(s) for s in shape.split("x")] if shape else []))
    return keys


def is_buffer(name):
    return name.endswith(("running_mean", "running_var", "num_batches_tracked"))


def write(out, tsv):
    torch.manual_seed(0)
    state = collections.OrderedDict()
    for name, shape in read_keys(tsv):
        if name.endswith("num_batches_tracked"):
            state[name] = torch.tensor(7, dtype=torch.long)
        elif name.endswith("running_var"):
            state[name] = torch.rand(shape) + 0.5
        else:
            state[name] = torch.randn(shape) * 0.2
    params = [torch.nn.Parameter(v.clone()) for k, v in state.items() if not is_buffer(k)]
    sgd = torch.optim.SGD(params, lr=0.05, momentum=0.9, weight_decay=1e-4)
    for p in params:
        p.grad = torch.randn_like(p)
    sgd.step()
    checkpoint = {
        "epoch": 12,
        "arch": "msdnet",
        "state_dict": state,
        "best_prec1": torch.tensor(61.25),
        "optimizer": sgd.state_dict(),
    }
    torch.save(checkpoint, f"{out}/reference.pth.tar")
    torch.save(state, f"{out}/bare.pth")
    ddp = dict(checkpoint)
    ddp["state_dict"] = collections.OrderedDict(("module." + k, v) for k, v in state.items())
    torch.save(ddp, f"{out}/ddp.pth.tar")

    # The first layer, as a plain conv -> BatchNorm (eval) -> ReLU per scale, on a fixed input.
    x = torch.randn(2, 3, 32, 32)
    outputs, h = [], x
    for s in range(3):
        p = f"blocks.0.0.layers.{s}.net."
        h = torch.nn.functional.conv2d(h, state[p + "0.weight"], stride=1 if s == 0 else 2, padding=1)
        h = torch.nn.functional.batch_norm(h, state[p + "1.running_mean"], state[p + "1.running_var"],
                                           state[p + "1.weight"], state[p + "1.bias"], training=False, eps=1e-5)
        h = torch.relu(h)
        outputs.append(h)
    torch.save({"input": x, "scale0": outputs[0], "scale1": outputs[1], "scale2": outputs[2]},
               f"{out}/first_layer.pt")

    # The same archive with an opcode torch.save never writes (0xff) in its pickle.
    with zipfile.ZipFile(f"{out}/reference.pth.tar") as src, \
            zipfile.ZipFile(f"{out}/bad_opcode.pth.tar", "w", zipfile.ZIP_STORED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.endswith("/data.pkl"):
                data = b"\x80\x02\xff."
            dst.writestr(item, data)


def check(ref_dir, path):
    ref = torch.load(f"{ref_dir}/reference.pth.tar")
    got = torch.load(path)
    assert list(got["state_dict"].keys()) == list(ref["state_dict"].keys()), "keys differ"
    for k, v in ref["state_dict"].items():
        w = got["state_dict"][k]
        assert w.dtype == v.dtype and w.shape == v.shape and torch.equal(w, v), k
    assert got["epoch"] == ref["epoch"] and got["arch"] == ref["arch"], (got["epoch"], got["arch"])
    params = [torch.nn.Parameter(v.clone()) for k, v in ref["state_dict"].items() if not is_buffer(k)]
    sgd = torch.optim.SGD(params, lr=0.05, momentum=0.9, weight_decay=1e-4)
    sgd.load_state_dict(got["optimizer"])
    for i, s in ref["optimizer"]["state"].items():
        assert torch.equal(sgd.state_dict()["state"][i]["momentum_buffer"], s["momentum_buffer"]), i
    print(f"{path}: torch.load gives the reference's {len(ref['state_dict'])} tensors bit for bit and its SGD state")


class HiddenLayer(torch.nn.Module):
    """The reference's WPN hidden layer: `fc`, then ReLU."""

    def __init__(self, input_size, output_size):
        super().__init__()
        self.fc = torch.nn.Linear(input_size, output_size)
        self.relu = torch.nn.ReLU()

    def forward(self, x):
        return self.relu(self.fc(x))


class MLP_tanh(torch.nn.Module):
    """The reference's weight prediction network, with its attribute names."""

    def __init__(self, input_size, hidden_size, num_layers, output_size):
        super().__init__()
        self.first_hidden_layer = HiddenLayer(input_size, hidden_size)
        self.rest_hidden_layers = torch.nn.Sequential(
            *[HiddenLayer(hidden_size, hidden_size) for _ in range(num_layers - 1)])
        self.output_layer = torch.nn.Linear(hidden_size, output_size)

    def forward(self, x):
        return torch.tanh(self.output_layer(self.rest_hidden_layers(self.first_hidden_layer(x))))


def wpn_and_adam(layers, inputs):
    mlp = MLP_tanh(int(inputs), 16, int(layers), 3)
    adam = torch.optim.Adam(mlp.parameters(), lr=1e-3, weight_decay=1e-4)
    return mlp, adam


def write_l2w(ref_dir, out, layers, inputs):
    torch.manual_seed(int(layers))
    mlp, adam = wpn_and_adam(layers, inputs)
    mlp(torch.rand(8, int(inputs))).sum().backward()
    adam.step()
    checkpoint = torch.load(f"{ref_dir}/reference.pth.tar")
    checkpoint["meta_state_dict"] = mlp.state_dict()
    checkpoint["meta_optimizer"] = adam.state_dict()
    torch.save(checkpoint, f"{out}/l2w_{layers}.pth.tar")
    x = torch.rand(5, int(inputs))
    with torch.no_grad():
        torch.save({"input": x, "output": mlp(x)}, f"{out}/l2w_{layers}_outputs.pt")


def check_l2w(ref_dir, layers, inputs, path):
    ref = torch.load(f"{ref_dir}/l2w_{layers}.pth.tar")
    got = torch.load(path)
    mlp, adam = wpn_and_adam(layers, inputs)
    mlp.load_state_dict(got["meta_state_dict"], strict=True)
    assert list(got["meta_state_dict"].keys()) == list(ref["meta_state_dict"].keys()), "names or order differ"
    for k, v in ref["meta_state_dict"].items():
        assert torch.equal(got["meta_state_dict"][k], v), k
    adam.load_state_dict(got["meta_optimizer"])
    for i, s in ref["meta_optimizer"]["state"].items():
        for name in ("exp_avg", "exp_avg_sq"):
            assert torch.equal(adam.state_dict()["state"][i][name], s[name]), (i, name)
        assert float(adam.state_dict()["state"][i]["step"]) == float(s["step"]), i
    mlp(torch.rand(4, int(inputs))).sum().backward()
    adam.step()
    print(f"{path}: MLP_tanh and torch.optim.Adam load l2w's meta_state_dict and meta_optimizer ({layers} layers)")


def module_tree(keys):
    """A module with exactly these parameter and buffer names and shapes (a layout from its key list)."""
    root = torch.nn.Module()
    for name, shape in keys:
        *path, leaf = name.split(".")
        m = root
        for part in path:
            if not hasattr(m, part):
                m.add_module(part, torch.nn.Module())
            m = getattr(m, part)
        if is_buffer(name):
            dtype = torch.long if name.endswith("num_batches_tracked") else torch.float32
            m.register_buffer(leaf, torch.zeros(shape, dtype=dtype))
        else:
            m.register_parameter(leaf, torch.nn.Parameter(torch.zeros(shape)))
    return root


class Wrapped(torch.nn.Module):
    """What DataParallel and IMTA's WrappedModel add to a key: 'module.'."""

    def __init__(self, module):
        super().__init__()
        self.module = module


class ImtaLayout(torch.nn.Module):
    """IMTA_MSDNet's attributes: the backbone `net`, heads `classifier`, ISC modules `isc_modules`."""

    def __init__(self, net, widths, classes):
        super().__init__()
        self.net = net
        self.classifier = torch.nn.ModuleList(
            torch.nn.Linear(w if i == 0 else 2 * w, classes) for i, w in enumerate(widths))
        self.isc_modules = torch.nn.ModuleList(
            torch.nn.Sequential(torch.nn.Linear(classes, w), torch.nn.BatchNorm1d(w), torch.nn.ReLU(inplace=True))
            for w in widths[1:])


def imta_layout(tsv, wrapped):
    keys = read_keys(tsv)
    widths = [shape[1] for name, shape in keys if name.startswith("classifier.") and name.endswith("linear.weight")]
    return ImtaLayout(Wrapped(module_tree(keys)) if wrapped else module_tree(keys), widths, 10)


def write_imta(out, tsv):
    torch.manual_seed(3)
    model = Wrapped(imta_layout(tsv, wrapped=True))  # DataParallel(IMTA_MSDNet) with a pretrained backbone
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                t.fill_(11)
            elif name.endswith("running_var"):
                t.copy_(torch.rand(t.shape) + 0.5)
            else:
                t.copy_(torch.randn(t.shape) * 0.2)
    imta = model.module
    sgd = torch.optim.SGD([{"params": imta.classifier.parameters()}, {"params": imta.isc_modules.parameters()}],
                          lr=0.05, momentum=0.9, weight_decay=1e-4)
    for p in list(imta.classifier.parameters()) + list(imta.isc_modules.parameters()):
        p.grad = torch.randn_like(p)
    sgd.step()
    torch.save({"epoch": 4, "arch": "IMTA_MSDNet", "state_dict": model.state_dict(), "best_acc1": 55.5,
                "optimizer": sgd.state_dict()}, f"{out}/imta.pth.tar")


def check_imta(out, tsv, path):
    got = torch.load(path)
    layout = imta_layout(tsv, wrapped=False)
    layout.load_state_dict(got["state_dict"], strict=True)
    ref = torch.load(f"{out}/imta.pth.tar")["state_dict"]
    for k, v in layout.state_dict().items():
        r = ref["module." + k.replace("net.", "net.module.", 1)]
        assert torch.equal(v, r), k
    print(f"{path}: IMTA_MSDNet's layout loads l2w's second-stage state_dict strictly, {len(ref)} tensors bit for bit")


def resave(src, dst):
    torch.save(torch.load(src), dst)


if __name__ == "__main__":
    # Several commands may be joined by "+": importing torch is most of a call's time.
    commands = {"write": write, "check": check, "resave": resave, "write_l2w": write_l2w, "check_l2w": check_l2w,
                "write_imta": write_imta, "check_imta": check_imta}
    words = sys.argv[1:]
    while words:
        end = words.index("+") if "+" in words else len(words)
        commands[words[0]](*words[1:end])
        words = words[end + 1:]
