"""DenseNets written functionally with every run of a grid stacked (as :mod:`.deep`'s ResNets).

Architecture (Huang et al. 2017, the CIFAR DenseNet; the paper trains DenseNet-100-12, whose
definition is not in the authors' public code, so we take the standard DenseNet-BC of Huang et al.):

- stem: 3x3 convolution to ``2 * growth`` channels (BC) or 16 channels (plain DenseNet);
- three dense blocks of ``n = (depth - 4) / 6`` bottleneck layers (BC) or ``(depth - 4) / 3``
  plain layers. A layer is pre-activation: BN-ReLU-1x1 conv to ``4 * growth`` channels,
  BN-ReLU-3x3 conv to ``growth`` channels (plain: BN-ReLU-3x3 conv to ``growth``); its output is
  concatenated to its input, so a block of n layers adds ``n * growth`` channels;
- between blocks a transition: BN-ReLU-1x1 conv to ``floor(compression * c)`` channels, 2x2
  average pooling;
- BN-ReLU, global average pooling, linear classifier.

DenseNet-BC-100-12 (depth 100, growth 12, bottleneck, compression 0.5) has 16 layers per block
and 769,162 parameters for 10 classes (the test counts them by hand). Convolutions carry no bias.
Initialisation as :mod:`.deep` (the authors' ``init_weights``): He normal (fan out) for
convolutions, BN weight 1 / bias 0, classifier U(-1/sqrt(fan_in), 1/sqrt(fan_in)) and bias 0.

The feature of dense block b is its post-ReLU output ReLU(BN(concatenation)), the input of the
next transition's convolution (or of the pooling after the last block): the activations whose
fraction of positive entries is the block's feature sparsity, as for ResNet stages.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .deep import batch_norm_runs, conv_runs, init_params  # init_params: shared with ResNets
from .layout import layers_per_block

__all__ = ["DenseNetArchitecture", "init_params", "forward", "layers_per_block"]


class DenseNetArchitecture:
    """Names and shapes of a DenseNet's parameters (``convs``: name -> (cout, cin, k); ``bns``: name -> channels)."""

    def __init__(self, in_channels: int, depth: int, growth: int, n_classes: int, bottleneck: bool = True,
                 compression: float = 0.5, n_blocks: int = 3):
        self.in_channels, self.depth, self.growth, self.n_classes = in_channels, depth, growth, n_classes
        self.bottleneck, self.compression = bottleneck, compression
        n_layers = layers_per_block(depth, bottleneck, n_blocks)
        self.convs: dict[str, tuple] = {}
        self.bns: dict[str, int] = {}
        c = 2 * growth if bottleneck else 16
        self.convs["stem"] = (c, in_channels, 3)
        self.blocks = []  # per block: (layer names, BN-ReLU after it, transition conv or None)
        for b in range(n_blocks):
            names = []
            for i in range(n_layers):
                name = f"b{b}l{i}"
                self.bns[name + "n1"] = c
                if bottleneck:
                    self.convs[name + "c1"] = (4 * growth, c, 1)
                    self.bns[name + "n2"] = 4 * growth
                    self.convs[name + "c2"] = (growth, 4 * growth, 3)
                else:
                    self.convs[name + "c2"] = (growth, c, 3)
                names.append(name)
                c += growth
            if b < n_blocks - 1:
                out = int(math.floor(compression * c))
                self.bns[f"t{b}n"] = c
                self.convs[f"t{b}c"] = (out, c, 1)
                self.blocks.append((names, f"t{b}n", f"t{b}c"))
                c = out
            else:
                self.bns["final"] = c
                self.blocks.append((names, "final", None))
        self.feature_dim = c

    @property
    def n_stages(self) -> int:
        return len(self.blocks)

    def n_parameters(self) -> int:
        """Trainable parameters of one network: conv weights, BN scales and shifts, classifier."""
        conv = sum(cout * cin * k * k for cout, cin, k in self.convs.values())
        return conv + 2 * sum(self.bns.values()) + self.feature_dim * self.n_classes + self.n_classes


def _bn_relu(name, x, params, buffers, training):
    return torch.relu(batch_norm_runs(x, params[name + ".g"], params[name + ".b"], buffers[name + ".mean"],
                                      buffers[name + ".var"], training))


def _conv(arch, name, x, params):
    k = arch.convs[name][2]
    return conv_runs(x, params[name + ".w"], 1, k // 2)


def _avg_pool_runs(x: torch.Tensor) -> torch.Tensor:
    """2x2 average pooling of x [runs, B, C, H, W]."""
    runs, batch = x.shape[:2]
    out = F.avg_pool2d(x.reshape(runs * batch, *x.shape[2:]), 2)
    return out.reshape(runs, batch, *out.shape[1:])


def forward(arch: DenseNetArchitecture, params: dict, buffers: dict, x: torch.Tensor, training: bool,
            return_features: bool = False):
    """Logits ``[runs, B, classes]`` for images ``x`` [runs, B, C, H, W] (and the post-ReLU dense
    block outputs ``[runs, B, units]``). In training mode the BN buffers are updated in place."""
    h = _conv(arch, "stem", x, params)
    features = []
    for names, norm, transition in arch.blocks:
        maps = [h]
        for name in names:
            inp = torch.cat(maps, dim=2) if len(maps) > 1 else maps[0]
            out = _bn_relu(name + "n1", inp, params, buffers, training)
            if arch.bottleneck:
                out = _bn_relu(name + "n2", _conv(arch, name + "c1", out, params), params, buffers, training)
            maps.append(_conv(arch, name + "c2", out, params))
        h = _bn_relu(norm, torch.cat(maps, dim=2), params, buffers, training)
        if return_features:
            features.append(h.reshape(h.shape[0], h.shape[1], -1))
        if transition is not None:
            h = _avg_pool_runs(_conv(arch, transition, h, params))
    pooled = h.mean(dim=(3, 4))  # [runs, B, C]
    logits = torch.baddbmm(params["fc.b"].unsqueeze(1), pooled, params["fc.w"].transpose(1, 2))
    return (logits, features) if return_features else logits
