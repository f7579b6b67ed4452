"""The MLP's evaluation over a whole data set, block by block: the same per-run means as all at
once (to rounding), and exactly the same when the set fits one block (the quick scale's digits)."""

import torch

from sgdrepro.heavy_tail.experiments import _blocks


def _loss(W):
    return lambda x, y: torch.nn.functional.cross_entropy((x @ W).transpose(1, 2), y, reduction="none").mean(dim=1)


def test_blocked_means_equal_the_whole_set_means():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(10_000, 5, dtype=torch.float64, generator=gen)
    y = torch.randint(0, 3, (10_000,), generator=gen)
    W = torch.randn(4, 5, 3, dtype=torch.float64, generator=gen)
    whole = _loss(W)(x.expand(4, -1, -1), y.expand(4, -1))
    blocked = _blocks(_loss(W), x, y, 4, block=999)  # 11 blocks, the last of 10 images
    torch.testing.assert_close(blocked, whole, rtol=1e-13, atol=0)
    assert torch.equal(_blocks(_loss(W), x, y, 4, block=10_000), whole)
    # a per-run fraction (accuracy) weights each block by its size, not equally
    hits = _blocks(lambda xb, yb: ((xb @ W).argmax(dim=2) == yb).double().mean(dim=1), x, y, 4, block=999)
    torch.testing.assert_close(hits * 10_000, ((x @ W).argmax(dim=2) == y).double().sum(dim=1), rtol=1e-12, atol=0)
