"""The training loop's per-head stopping: a column that overfits stops alone."""

import numpy as np
import pandas as pd
import pytest
import torch

import lookalike
from lookalike.model import TabularModel
from lookalike.training import HEAD_MARGIN, HEAD_PATIENCE, HeadStopping

CARDS, COLUMN_OF_SUB = [7, 5, 11, 20], [0, 1, 2, 2]


@pytest.mark.parametrize("first_layer", ["dense", "prefix"])
def test_per_row_losses_add_up_to_the_loss(first_layer):
    torch.manual_seed(0)
    model = TabularModel(CARDS, COLUMN_OF_SUB, size="small", first_layer=first_layer).eval()
    tokens = torch.stack([torch.randint(0, c, (32,)) for c in CARDS], dim=1)
    ranks = torch.stack([torch.randperm(3) for _ in range(32)])
    weights = torch.tensor([1.0, 0.0, 1.0, 1.0])
    rows = model.loss(tokens, ranks, weights, per_row=True)
    assert rows.shape == (4, 32) and (rows[1] == 0).all() and (rows[[0, 2, 3]] > 0).all()
    assert torch.allclose(rows.mean(1).sum(), model.loss(tokens, ranks, weights))


def test_a_head_that_overfits_goes_back_to_its_best_weights_and_stops():
    torch.manual_seed(0)
    model = TabularModel(CARDS, COLUMN_OF_SUB, size="small")
    opt = torch.optim.AdamW(model.parameters())
    heads = HeadStopping(model, torch.ones(4))
    base = 1.0 + 0.1 * torch.rand(200)  # a head's loss on each of 200 validation rows
    heads.update(base.expand(4, -1), opt, epoch=1)
    best_w2 = model.w2[0].detach().clone()
    for p in model.parameters():  # a step: every gradient non-zero, so Adam has moments
        p.grad = torch.ones_like(p)
    opt.step()
    assert not torch.equal(model.w2[0], best_w2)
    # head 0 rises on every row; head 1 by as much on average, but as noise (rows ±6 nats);
    # heads 2-3 improve
    noise = torch.where(torch.arange(200) % 2 == 0, 6.0, -6.0)[torch.randperm(200)]
    for epoch in range(2, 2 + HEAD_PATIENCE):
        means, stopped = heads.update(torch.stack([base + 0.5, base + 0.5 + noise, base - epoch / 10,
                                                   base - epoch / 10]), opt, epoch)
    assert torch.allclose(means[0], base.mean() + 0.5)
    assert stopped == 1 and heads.stopped.tolist() == [True, False, False, False]
    assert heads.stopped_at == {0: 1 + HEAD_PATIENCE}
    assert torch.equal(model.w2[0], best_w2)  # back at its best
    assert (opt.state[model.w2]["exp_avg"][0] == 0).all() and (opt.state[model.w2]["exp_avg"][1] != 0).all()
    assert heads.train_weights.tolist() == [0.0, 1.0, 1.0, 1.0]
    # weight decay moves a stopped head; hold() puts it back
    opt.step()
    heads.hold()
    assert torch.equal(model.w2[0], best_w2)
    # every head now rises on every row: head 1 (not improved since epoch 1) stops; heads
    # 2-3 would stop later, but the heads still training never all stop (the model's own
    # early stopping ends training then)
    worse = (base + HEAD_MARGIN * 50).expand(4, -1)
    assert heads.update(worse, opt, 10)[1] == 1
    for epoch in range(11, 11 + HEAD_PATIENCE):
        assert heads.update(worse, opt, epoch)[1] == 0
    assert heads.train_weights.tolist() == [0.0, 0.0, 1.0, 1.0]
    heads.restart()  # annealing
    assert heads.train_weights.tolist() == [1.0, 1.0, 1.0, 1.0]


def test_a_near_unique_number_stops_early_and_the_others_train_on():
    """An account number beside a category and an amount that depends on it: the number's
    heads overfit from the first epochs and stop, the others go on learning the pair (other
    heads may stop later, when they overfit too)."""
    rng = np.random.default_rng(0)
    n = 2000
    kind = rng.choice(list("abcde"), n)
    amount = pd.Series(kind).map({"a": 1, "b": 5, "c": 10, "d": 20, "e": 50}).to_numpy() * rng.lognormal(0, 0.3, n)
    df = pd.DataFrame({"kind": kind, "amount": amount.round(2), "account": rng.integers(10**7, 10**8, n)})
    g = lookalike.train(df, seed=0, progress=False, max_epochs=40)
    early = g.training_["columns_stopped_early"]
    # the number stops first, and the model goes on to a better epoch after it
    assert early["account"] == min(early.values()) and early["account"] < g.training_["best_epoch"]
    syn = g.sample(2000, seed=0)
    # the amount still follows its category: medians in the same order as the real ones
    real_order = df.groupby("kind")["amount"].median().sort_values().index.tolist()
    assert syn.groupby("kind")["amount"].median().sort_values().index.tolist() == real_order
