"""Stacked ResNets and DenseNets, the momentum / weight-decay / augmentation step, and the CIFAR-100 /
Tiny ImageNet loaders."""

from __future__ import annotations

import logging
import math
import pickle

import numpy as np
import pytest
import torch

from sgdrepro.core import RunContext, RunRandom, run_keys
from sgdrepro.core.datasets import DatasetMissing, check_dataset, load_cifar100, load_tiny_imagenet
from sgdrepro.large_step_sparse import deep, deep_runs, densenet, experiments


def ctx_for(experiment: str) -> RunContext:
    return RunContext(paper="large_step_sparse", experiment=experiment, device=torch.device("cpu"),
                      dtype=torch.float64, log=logging.getLogger("test"))


def keys(n: int) -> np.ndarray:
    return run_keys("t", [{"seed": s} for s in range(n)], key_dims=("seed",))


# ---------------------------------------------------------------- DenseNet

def densenet_bc_count(depth: int, growth: int, n_classes: int, compression: float = 0.5, in_channels: int = 3) -> int:
    """DenseNet-BC parameters by hand (Huang et al. 2017): 3x3 stem to 2k channels; per layer on c
    input channels BN(c) + 1x1 conv c->4k + BN(4k) + 3x3 conv 4k->k; transitions BN(c) + 1x1 conv
    c->floor(theta c); final BN(c) + linear c->classes with bias. No conv biases."""
    n = (depth - 4) // 6
    c, total = 2 * growth, in_channels * 2 * growth * 9
    for block in range(3):
        for _ in range(n):
            total += 2 * c + c * 4 * growth + 2 * 4 * growth + 4 * growth * growth * 9
            c += growth
        if block < 2:
            out = math.floor(compression * c)
            total += 2 * c + c * out
            c = out
    return total + 2 * c + c * n_classes + n_classes


def test_densenet_bc_100_12_has_the_known_parameter_count():
    """DenseNet-BC-100-12 on CIFAR-10: 769,162 parameters (the 0.8M of Huang et al., Table 2)."""
    assert densenet_bc_count(100, 12, 10) == 769_162
    arch = densenet.DenseNetArchitecture(3, 100, 12, 10)
    assert arch.n_parameters() == 769_162 and arch.feature_dim == 342
    assert densenet.DenseNetArchitecture(3, 100, 12, 100).n_parameters() == densenet_bc_count(100, 12, 100)
    # the stored parameters are the counted ones (tiny net, one run)
    small = densenet.DenseNetArchitecture(1, 16, 4, 10)
    state = densenet.init_params(small, RunRandom(keys(1)), torch.float32)
    assert sum(v[0].numel() for v in state["params"].values()) == densenet_bc_count(16, 4, 10, in_channels=1) == small.n_parameters()


def test_densenet_depth_must_fit_the_blocks():
    assert densenet.layers_per_block(100, True) == 16 and densenet.layers_per_block(40, False) == 12
    with pytest.raises(ValueError, match="4 \\+ 6 \\* n"):
        densenet.layers_per_block(101, True)


ARCHITECTURES = {  # small networks of both kinds, on 3-channel 8x8 images
    "resnet": (deep, deep.Architecture(3, [4, 8], [1, 1], 10)),
    "densenet": (densenet, densenet.DenseNetArchitecture(3, 10, 4, 7)),
}


def stacked_forward(kind: str, n_runs: int = 3):
    """A training-mode forward pass of ``n_runs`` stacked networks of ``kind`` on random 8x8
    images: (initial state, images, updated BN buffers, logits, per-stage/block features)."""
    net, arch = ARCHITECTURES[kind]
    state = net.init_params(arch, RunRandom(keys(n_runs)), torch.float64)
    x = torch.rand(n_runs, 5, 3, 8, 8, dtype=torch.float64)
    buffers = {k: v.clone() for k, v in state["buffers"].items()}
    logits, feats = net.forward(arch, state["params"], buffers, x, training=True, return_features=True)
    return state, x, buffers, logits, feats


@pytest.mark.parametrize("kind", list(ARCHITECTURES))
def test_stacked_networks_equal_networks_alone(kind):
    """Stacked runs (grouped convolutions, per-run BN) give each run's own forward pass and buffers."""
    net, arch = ARCHITECTURES[kind]
    state, x, buffers, logits, _ = stacked_forward(kind)
    for r in range(3):
        alone = {k: v[r:r + 1] for k, v in state["params"].items()}
        alone_buffers = {k: v[r:r + 1].clone() for k, v in state["buffers"].items()}
        single = net.forward(arch, alone, alone_buffers, x[r:r + 1], training=True)
        np.testing.assert_allclose(single[0], logits[r], rtol=1e-10, atol=1e-12)
        for name in alone_buffers:
            np.testing.assert_allclose(alone_buffers[name][0], buffers[name][r], rtol=1e-12)


def test_resnet_stage_features_are_post_relu():
    _, _, _, logits, feats = stacked_forward("resnet")
    assert logits.shape == (3, 5, 10)
    assert [f.shape for f in feats] == [(3, 5, 4 * 8 * 8), (3, 5, 8 * 4 * 4)]
    assert all(bool((f >= 0).all()) for f in feats)  # stage outputs are post-ReLU


def test_densenet_block_features_grow_by_the_growth_rate():
    _, _, _, logits, feats = stacked_forward("densenet")
    arch = ARCHITECTURES["densenet"][1]
    assert logits.shape == (3, 5, 7)
    # block outputs: 2k + k channels at 8x8, then floor(c/2) + k at 4x4, floor(.../2) + k at 2x2
    c1 = 8 + 4
    c2 = c1 // 2 + 4
    c3 = c2 // 2 + 4
    assert [f.shape for f in feats] == [(3, 5, c1 * 64), (3, 5, c2 * 16), (3, 5, c3 * 4)]
    assert c3 == arch.feature_dim and all(bool((f >= 0).all()) for f in feats)  # post-ReLU
    assert 0.2 < float((feats[0] > 0).double().mean()) < 0.8


def test_densenet_100_12_forward_on_cifar_shape():
    """Paper-scale architecture: one forward pass on two CIFAR-shaped images (evaluation mode)."""
    arch = densenet.DenseNetArchitecture(3, 100, 12, 100)
    state = densenet.init_params(arch, RunRandom(keys(1)), torch.float32)
    logits, feats = densenet.forward(arch, state["params"], state["buffers"], torch.rand(1, 2, 3, 32, 32),
                                     training=False, return_features=True)
    assert logits.shape == (1, 2, 100) and torch.isfinite(logits).all()
    # block 1: 24 + 16 * 12 = 216 channels at 32x32; block 2: 108 + 192 at 16x16; block 3: 150 + 192 at 8x8
    assert [f.shape[2] for f in feats] == [216 * 32 * 32, 300 * 16 * 16, 342 * 8 * 8]


# ---------------------------------------------------------------- momentum, weight decay, augmentation

def test_momentum_weight_decay_step_equals_torch_sgd():
    """Three heavy-ball steps with weight decay equal torch.optim.SGD(momentum, weight_decay), run by run."""
    gen = torch.Generator().manual_seed(0)
    runs, lr, momentum, wd = 2, torch.tensor([0.1, 0.03], dtype=torch.float64), torch.tensor([0.9, 0.5], dtype=torch.float64), \
        torch.tensor([5e-4, 1e-2], dtype=torch.float64)
    params = {"w": torch.randn(runs, 3, 4, generator=gen, dtype=torch.float64),
              "b": torch.randn(runs, 4, generator=gen, dtype=torch.float64)}
    grads_seq = [{k: torch.randn(v.shape, generator=gen, dtype=torch.float64) for k, v in params.items()} for _ in range(3)]
    ours, bufs = dict(params), {k: torch.zeros_like(v) for k, v in params.items()}
    for grads in grads_seq:
        ours, bufs = deep_runs.sgd_momentum_step(ours, grads, bufs, lr, momentum, wd)
    for r in range(runs):
        leaves = [params[k][r].clone().requires_grad_(True) for k in ("w", "b")]
        opt = torch.optim.SGD(leaves, lr=float(lr[r]), momentum=float(momentum[r]), weight_decay=float(wd[r]))
        for grads in grads_seq:
            for leaf, k in zip(leaves, ("w", "b")):
                leaf.grad = grads[k][r].clone()
            opt.step()
        for leaf, k in zip(leaves, ("w", "b")):
            np.testing.assert_allclose(ours[k][r], leaf.detach(), rtol=1e-13, atol=1e-15)
    # no momentum buffer and no decay: plain SGD
    plain, none = deep_runs.sgd_momentum_step(params, grads_seq[0], None, lr)
    assert none is None
    np.testing.assert_allclose(plain["w"], params["w"] - lr.view(-1, 1, 1) * grads_seq[0]["w"])


def test_augmentation_crops_flips_and_determinism():
    rr = RunRandom(keys(3))
    x = torch.rand(3, 6, 3, 8, 8)
    assert torch.equal(deep_runs.augment_batch(x, rr, 0, 0, False), x)  # no padding, no flip: identity
    out = deep_runs.augment_batch(x, rr, 5, 2, True)
    assert out.shape == x.shape and not torch.equal(out, x)
    assert torch.equal(out, deep_runs.augment_batch(x, rr, 5, 2, True))  # same (run, step): same crops
    assert not torch.equal(out, deep_runs.augment_batch(x, rr, 6, 2, True))  # next step: new crops
    # every output is a crop of the zero-padded image, mirrored or not
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for r in range(3):
        for b in range(6):
            crops = [padded[r, b, :, i:i + 8, j:j + 8] for i in range(5) for j in range(5)]
            assert any(torch.equal(out[r, b], c) or torch.equal(out[r, b], c.flip(-1)) for c in crops)
    # a run alone draws the same crops as in the batch
    alone = deep_runs.augment_batch(x[1:2], rr.subset([1]), 5, 2, True)
    assert torch.equal(alone[0], out[1])
    # runs with augmentation disabled keep their images
    mixed = deep_runs.augment_batch(x, rr, 5, 2, True, enabled=torch.tensor([1.0, 0.0, 1.0]))
    assert torch.equal(mixed[1], x[1]) and torch.equal(mixed[0], out[0])


def base_cfg(**overrides) -> dict:
    cfg = dict(dataset="synthetic_cifar", architecture="resnet", widths=[2, 4], blocks=[1, 1], batch_size=8, epochs=1,
               lr=[0.005, 0.05], large_phase=[0.0, 0.5], warmup_exp=1.0, momentum=0.9, weight_decay=5e-4, augment=True,
               crop_padding=4, hflip=True, n_seeds=1, n_eval_train=8, n_eval_test=8, n_sparsity=8, n_relu_max=20,
               corr_threshold=0.95, eval_batch=8, synthetic_n_train=16, synthetic_n_test=8, synthetic_n_classes=10)
    cfg.update(overrides)
    return cfg


def test_sota_path_on_synthetic_cifar_and_run_alone_equals_in_batch():
    ds = experiments.run_deep_sota(base_cfg(epochs=2), ctx_for("deep_sota"))
    assert ds["test_error"].dims == ("large_phase", "seed", "epoch") and ds.attrs["momentum"] == 0.9
    assert np.isfinite(ds["train_loss"].values).all() and (ds["diverged_step"].values == -1).all()
    # the schedule without warm-up (4 steps, step k at progress (k + 1) / 4): the initial step during
    # the large phase, / 10 after it, / 100 from 90 % on
    np.testing.assert_allclose(ds["lr_now"].sel(large_phase=0.5).isel(seed=0).values, [0.05, 0.005, 0.0005], rtol=1e-6)
    np.testing.assert_allclose(ds["lr_now"].sel(large_phase=0.0).isel(seed=0).values, [0.005] * 3, rtol=1e-6)
    alone = experiments.run_deep_sota(base_cfg(epochs=2, lr=[0.05], large_phase=[0.5]), ctx_for("deep_sota"))
    np.testing.assert_allclose(alone["test_loss"].sel(large_phase=0.5).values,
                               ds["test_loss"].sel(large_phase=0.5).values, rtol=1e-5)
    plain = experiments.run_deep_sota(base_cfg(epochs=2, momentum=0.0, weight_decay=0.0, augment=False), ctx_for("deep_sota"))
    assert float(plain["test_loss"].isel(epoch=1, large_phase=1, seed=0)) != float(ds["test_loss"].isel(epoch=1, large_phase=1, seed=0))


def test_densenet_path_on_synthetic_cifar_100_classes():
    cfg = base_cfg(architecture="densenet", densenet={"depth": 10, "growth": 4, "bottleneck": True, "compression": 0.5},
                   momentum=0.0, weight_decay=0.0, augment=False, warmup_exp=1.05, synthetic_n_classes=100)
    ds = experiments.run_deep_densenet(cfg, ctx_for("deep_densenet"))
    assert ds.sizes["stage"] == 3 and ds.attrs["n_classes"] == 100
    assert ds.attrs["n_parameters"] == densenet.DenseNetArchitecture(3, 10, 4, 100).n_parameters()
    assert np.isfinite(ds["test_loss"].values).all()
    assert ((ds["feature_sparsity"] >= 0) & (ds["feature_sparsity"] <= 1)).all()


def test_densenet_100_12_paper_scale_trains_two_steps():
    """The paper-scale architecture through the whole training path: 2 SGD steps on CIFAR-shaped data."""
    cfg = base_cfg(architecture="densenet", densenet={"depth": 100, "growth": 12, "bottleneck": True, "compression": 0.5},
                   batch_size=2, synthetic_n_train=4, synthetic_n_test=2, n_eval_train=2, n_eval_test=2, n_sparsity=2,
                   eval_batch=2, lr=[0.1], large_phase=[0.5], warmup_exp=1.05, momentum=0.0, weight_decay=0.0,
                   augment=False, synthetic_n_classes=100)
    ds = experiments.run_deep_densenet(cfg, ctx_for("deep_densenet"))
    assert ds.attrs["steps_per_epoch"] == 2 and ds.attrs["n_parameters"] == densenet_bc_count(100, 12, 100)
    assert np.isfinite(ds["train_loss"].values).all() and (ds["diverged_step"].values == -1).all()
    assert float(ds["train_loss"].isel(epoch=0, large_phase=0, seed=0)) != float(ds["train_loss"].isel(epoch=1, large_phase=0, seed=0))


def test_synthetic_stand_in_has_the_requested_classes():
    data = deep.synthetic_cifar(300, 50, n_classes=100)
    assert data["x_train"].shape == (300, 3, 32, 32) and data["y_train"].max() < 100 and len(np.unique(data["y_train"])) > 50


# ---------------------------------------------------------------- loaders

def write_cifar100(root, n_train=6, n_test=4):
    base = root / "cifar-100-python"
    base.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name, n in (("train", n_train), ("test", n_test)):
        batch = {b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
                 b"fine_labels": list(rng.integers(0, 100, size=n)), b"coarse_labels": list(rng.integers(0, 20, size=n))}
        with open(base / name, "wb") as handle:
            pickle.dump(batch, handle)
    return batch


def test_cifar100_loader_reads_fine_labels(tmp_path):
    test_batch = write_cifar100(tmp_path)
    data = load_cifar100(tmp_path)
    assert data["x_train"].shape == (6, 3, 32, 32) and data["x_test"].shape == (4, 3, 32, 32)
    assert data["x_train"].dtype == np.float32 and 0 <= data["x_train"].min() and data["x_train"].max() <= 1
    np.testing.assert_array_equal(data["y_test"], test_batch[b"fine_labels"])
    np.testing.assert_allclose(data["x_test"][1, 2, 0, :3], test_batch[b"data"][1, 2048:2051] / 255.0, rtol=1e-6)


def test_cifar100_missing_file_names_key_and_source(tmp_path):
    write_cifar100(tmp_path)
    (tmp_path / "cifar-100-python" / "test").unlink()
    with pytest.raises(DatasetMissing, match="datasets_dir.*cifar-100-python/test.*missing: test.*cifar-100-python.tar.gz"):
        check_dataset("cifar100", tmp_path)


def write_tiny_imagenet(root):
    from PIL import Image

    base = root / "tiny-imagenet-200"
    wnids = ["n01443537", "n01629819", "n01641577"]
    (base / "val" / "images").mkdir(parents=True)
    (base / "wnids.txt").write_text("\n".join(wnids) + "\n")
    colors = {wnid: (40 * k + 10, 200 - 50 * k, 90) for k, wnid in enumerate(wnids)}
    for wnid in wnids:
        folder = base / "train" / wnid / "images"
        folder.mkdir(parents=True)
        for i in range(2):
            Image.new("RGB", (64, 64), colors[wnid]).save(folder / f"{wnid}_{i}.JPEG", quality=100)
    lines = []
    for i, wnid in enumerate([wnids[2], wnids[0]]):
        mode = "L" if i == 1 else "RGB"  # Tiny ImageNet holds a few grayscale images
        Image.new(mode, (64, 64), 128 if mode == "L" else colors[wnid]).save(base / "val" / "images" / f"val_{i}.JPEG", quality=100)
        lines.append(f"val_{i}.JPEG\t{wnid}\t0\t0\t63\t63")
    (base / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    return colors


def test_tiny_imagenet_loader_on_a_fake_tree(tmp_path):
    colors = write_tiny_imagenet(tmp_path)
    data = load_tiny_imagenet(tmp_path)
    assert data["x_train"].shape == (6, 3, 64, 64) and data["x_test"].shape == (2, 3, 64, 64)
    np.testing.assert_array_equal(data["y_train"], [0, 0, 1, 1, 2, 2])  # class = line of wnids.txt
    np.testing.assert_array_equal(data["y_test"], [2, 0])
    red = colors["n01641577"][0] / 255.0
    assert abs(float(data["x_test"][0, 0].mean()) - red) < 0.02  # channels first, scaled to [0, 1]
    assert np.allclose(data["x_test"][1, 0], data["x_test"][1, 2], atol=1e-6)  # grayscale -> RGB


def test_tiny_imagenet_missing_annotations_fail_early(tmp_path):
    write_tiny_imagenet(tmp_path)
    (tmp_path / "tiny-imagenet-200" / "val" / "val_annotations.txt").unlink()
    with pytest.raises(DatasetMissing, match="val/val_annotations.txt.*tiny-imagenet-200.zip"):
        load_tiny_imagenet(tmp_path)
