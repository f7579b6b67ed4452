"""Deep networks: ResNets written functionally with every run of a grid stacked.

A run's convolution weights ``[Cout, Cin, k, k]`` are stacked into ``[runs, Cout, Cin, k, k]``
and applied to the runs' own mini-batches ``[runs, B, C, H, W]`` as ONE grouped convolution
; batch norm is per (run, channel); the
classifier is a batched matrix product. So a grid of networks trains as one tensor program, each run with its own data
order, step size and weights.

Architecture (He et al. 2016, the CIFAR variant of the authors' ``resnet18_plain``): 3x3 conv
stem, BN, ReLU; stages of basic blocks (two 3x3 convs with BN, ReLU after the residual sum,
1x1 conv + BN shortcut when the shape changes); global average pooling; linear classifier.
ResNet-18 is ``widths = [64, 128, 256, 512]``, ``blocks = [2, 2, 2, 2]``; the quick scale uses
a small ResNet of the same code. Initialisation as the authors': He normal (fan out) for
convolutions, BN weight 1 / bias 0, classifier weight U(-1/sqrt(fan_in), 1/sqrt(fan_in)), bias 0.

SGD (no momentum, no weight decay, no augmentation: the paper's plain setting) on the
cross-entropy with the step size of :func:`schedules.exponential_warmup_lr`. The feature
sparsity of stage s is the fraction of positive entries of its output (after its final ReLU)
over (samples x units), units = channels x height x width, on a fixed subset of training
images, after the authors' ``compute_feature_sparsity``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from sgdrepro.core import RunRandom

__all__ = ["Architecture", "init_params", "forward", "cross_entropy_runs"]

BN_MOMENTUM, BN_EPS = 0.1, 1e-5


class Architecture:
    """Names and shapes of a ResNet's parameters; ``in_channels``, ``widths``, ``blocks``, ``n_classes``."""

    def __init__(self, in_channels: int, widths: list[int], blocks: list[int], n_classes: int):
        self.in_channels, self.widths, self.blocks, self.n_classes = in_channels, list(widths), list(blocks), n_classes
        self.convs: dict[str, tuple] = {}  # name -> (cout, cin, k, stride)
        self.bns: dict[str, int] = {}
        self.units = []  # per stage: list of block descriptors
        self._conv("stem", widths[0], in_channels, 3, 1)
        cin = widths[0]
        for s, (width, n_blocks) in enumerate(zip(widths, blocks)):
            stage = []
            for j in range(n_blocks):
                stride = 2 if (s > 0 and j == 0) else 1
                name = f"s{s}b{j}"
                self._conv(name + "c1", width, cin, 3, stride)
                self._conv(name + "c2", width, width, 3, 1)
                short = stride != 1 or cin != width
                if short:
                    self._conv(name + "sc", width, cin, 1, stride)
                stage.append((name, short))
                cin = width
            self.units.append(stage)
        self.feature_dim = cin

    def _conv(self, name, cout, cin, k, stride):
        self.convs[name] = (cout, cin, k, stride)
        self.bns[name] = cout

    @property
    def n_stages(self) -> int:
        return len(self.widths)


def init_params(arch, random: RunRandom, dtype=torch.float32) -> dict:
    """Per-run parameters and BN buffers ``[runs, ...]`` from counter-based streams, for any
    architecture that lists its convolutions (``convs``: name -> (cout, cin, k, ...)), its batch
    norms (``bns``: name -> channels), ``feature_dim`` and ``n_classes`` (ResNets, DenseNets)."""
    params, buffers = {}, {}
    runs = random.n_runs
    for name, (cout, cin, k, *_) in arch.convs.items():
        std = math.sqrt(2.0 / (cout * k * k))  # He normal, fan_out, ReLU gain
        params[name + ".w"] = std * random.normal("init." + name, 0, (cout, cin, k, k), dtype)
    for name, channels in arch.bns.items():
        params[name + ".g"] = torch.ones(runs, channels, dtype=dtype, device=random.device)
        params[name + ".b"] = torch.zeros(runs, channels, dtype=dtype, device=random.device)
        buffers[name + ".mean"] = torch.zeros(runs, channels, dtype=dtype, device=random.device)
        buffers[name + ".var"] = torch.ones(runs, channels, dtype=dtype, device=random.device)
    bound = 1.0 / math.sqrt(arch.feature_dim)
    u = random.uniform("init.fc", 0, (arch.n_classes, arch.feature_dim), dtype)
    params["fc.w"] = (2 * u - 1) * bound
    params["fc.b"] = torch.zeros(runs, arch.n_classes, dtype=dtype, device=random.device)
    return {"params": params, "buffers": buffers}


def conv_runs(x: torch.Tensor, weight: torch.Tensor, stride: int, padding: int) -> torch.Tensor:
    """Per-run 2-D convolution as one grouped convolution (groups = runs):
    x [runs, B, Cin, H, W], weight [runs, Cout, Cin, k, k] -> [runs, B, Cout, H', W']."""
    runs, batch, cin, height, width = x.shape
    cout, k = weight.shape[1], weight.shape[-1]
    h = x.transpose(0, 1).reshape(batch, runs * cin, height, width)
    out = F.conv2d(h, weight.reshape(runs * cout, cin, k, k), stride=stride, padding=padding, groups=runs)
    return out.reshape(batch, runs, cout, *out.shape[2:]).transpose(0, 1)


def batch_norm_runs(x, gamma, beta, mean, var, training: bool):
    """Batch norm per (run, channel) on x [runs, B, C, H, W]; updates ``mean``/``var`` in place when training."""
    if training:
        batch_mean = x.mean(dim=(1, 3, 4))
        batch_var = x.var(dim=(1, 3, 4), unbiased=False)
        count = x.shape[1] * x.shape[3] * x.shape[4]
        with torch.no_grad():  # running statistics as torch's batch norm (unbiased variance)
            mean.mul_(1 - BN_MOMENTUM).add_(BN_MOMENTUM * batch_mean.detach())
            var.mul_(1 - BN_MOMENTUM).add_(BN_MOMENTUM * batch_var.detach() * count / max(count - 1, 1))
    else:
        batch_mean, batch_var = mean, var
    shape = (x.shape[0], 1, x.shape[2], 1, 1)
    scale = gamma * torch.rsqrt(batch_var + BN_EPS)
    return x * scale.view(shape) + (beta - batch_mean * scale).view(shape)


def _conv_bn(arch, name, x, params, buffers, training):
    cout, cin, k, stride = arch.convs[name]
    x = conv_runs(x, params[name + ".w"], stride, k // 2)
    return batch_norm_runs(x, params[name + ".g"], params[name + ".b"], buffers[name + ".mean"],
                           buffers[name + ".var"], training)


def forward(arch: Architecture, params: dict, buffers: dict, x: torch.Tensor, training: bool,
            return_features: bool = False):
    """Logits ``[runs, B, classes]`` for images ``x`` [runs, B, C, H, W] (and the stage outputs
    ``[runs, B, units]``). In training mode the BN buffers are updated in place, as torch's
    batch norm does; pass copies to keep the old ones."""
    h = torch.relu(_conv_bn(arch, "stem", x, params, buffers, training))
    features = []
    for stage in arch.units:
        for name, short in stage:
            out = torch.relu(_conv_bn(arch, name + "c1", h, params, buffers, training))
            out = _conv_bn(arch, name + "c2", out, params, buffers, training)
            shortcut = _conv_bn(arch, name + "sc", h, params, buffers, training) if short else h
            h = torch.relu(out + shortcut)
        if return_features:
            features.append(h.reshape(h.shape[0], h.shape[1], -1))
    pooled = h.mean(dim=(3, 4))  # [runs, B, C]
    logits = torch.baddbmm(params["fc.b"].unsqueeze(1), pooled, params["fc.w"].transpose(1, 2))
    return (logits, features) if return_features else logits


def cross_entropy_runs(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy per run: logits [runs, B, classes], labels [runs, B] -> [runs]."""
    logp = torch.log_softmax(logits, dim=2)
    return -logp.gather(2, labels.unsqueeze(2)).squeeze(2).mean(dim=1)


def synthetic_cifar(n_train: int, n_test: int, seed: int = 0, n_classes: int = 10) -> dict:
    """A stand-in of CIFAR-10's shape (float32 [n, 3, 32, 32] in [0, 1], 10 classes) whose
    class is a fixed random low-frequency template plus noise; it exercises the paper-scale
    path without the real files (it is not a substitute for CIFAR-10's results)."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 1, size=(n_classes, 3, 4, 4)).astype(np.float32)
    templates = coarse.repeat(8, axis=2).repeat(8, axis=3)

    def draw(n):
        y = rng.integers(0, n_classes, size=n)
        x = 0.6 * templates[y] + 0.4 * rng.uniform(0, 1, size=(n, 3, 32, 32)).astype(np.float32)
        return x.astype(np.float32), y.astype(np.int64)

    x_train, y_train = draw(n_train)
    x_test, y_test = draw(n_test)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
