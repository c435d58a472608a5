"""The network's shortcuts give the same numbers as the plain computation."""

import json
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch

import lookalike
from lookalike import model as network
from lookalike.model import TabularModel, order_masks
from lookalike.training import random_ranks

# 5 columns, two with detail sub-tokens (a numeric bin + the position inside it; one has two)
CARDS, COLUMN_OF_SUB = [7, 5, 11, 20, 3, 20, 4, 6], [0, 1, 2, 2, 3, 4, 4, 4]
WEIGHTS = torch.tensor([0.0, 1, 0, 0, 1, 1, 1, 1])  # columns 0 and 2 are context: no heads


def _tokens(n: int) -> torch.Tensor:
    return torch.stack([torch.randint(0, c, (n,)) for c in CARDS], dim=1)


def _plain_loss(model: TabularModel, tokens: torch.Tensor, ranks: torch.Tensor) -> torch.Tensor:
    """Every head, every input, through the masked path; context heads weighted out."""
    logits = model.logits_from(model.embed(tokens), order_masks(COLUMN_OF_SUB, ranks))
    S, B, V = logits.shape
    ce = torch.nn.functional.cross_entropy(logits.reshape(S * B, V), tokens.T.reshape(S * B),
                                           reduction="none").view(S, B).mean(1)
    return (ce * WEIGHTS).sum()


def test_loss_skipping_context_heads_and_unseen_inputs_is_exact():
    torch.manual_seed(0)
    model = TabularModel(CARDS, COLUMN_OF_SUB, size="small").eval()
    tokens = _tokens(64)
    ranks = torch.stack([torch.randperm(5) for _ in range(64)])
    fast = model.loss(tokens, ranks, WEIGHTS)
    assert torch.allclose(fast, _plain_loss(model, tokens, ranks), rtol=1e-5, atol=1e-5)
    # the context column's detail sub-token (index 3) is seen by no head, and really is left out
    assert not model.visible[[1, 4, 5, 6, 7]].bool().any(0)[3]


def test_detail_tokens_that_mean_nothing_for_their_row_are_left_out_of_the_loss():
    # column 4 (subs 5, 6, 7): its first token's values 0-2 (null, two point masses) have no
    # place inside a bin, so what their rows' detail tokens hold must not change the loss
    torch.manual_seed(0)
    model = TabularModel(CARDS, COLUMN_OF_SUB, size="small").eval()
    applies = [None] * len(CARDS)
    applies[6] = applies[7] = np.arange(CARDS[5]) > 2
    model.set_detail_rows(applies)
    tokens = _tokens(64)
    ranks = torch.stack([torch.randperm(5) for _ in range(64)])
    other = tokens.clone()
    free = tokens[:, 5] <= 2
    other[free, 6], other[free, 7] = (other[free, 6] + 1) % CARDS[6], (other[free, 7] + 1) % CARDS[7]
    assert free.any() and (~free).any()
    assert torch.allclose(model.loss(tokens, ranks, WEIGHTS), model.loss(other, ranks, WEIGHTS), atol=1e-6)
    # ... while a bin's row's detail token does
    moved = tokens.clone()
    moved[~free, 7] = (moved[~free, 7] + 1) % CARDS[7]
    assert not torch.allclose(model.loss(tokens, ranks, WEIGHTS), model.loss(moved, ranks, WEIGHTS), atol=1e-6)


@pytest.mark.parametrize("own_details", [[], [6, 7]])
def test_prefix_layer_in_row_order_equals_its_masked_sum(own_details):
    """Training's prefix sums in each row's order (linear in the columns) give what the
    masked sum over the same order gives, for random orders with context columns first."""
    torch.manual_seed(0)
    model = TabularModel(CARDS, COLUMN_OF_SUB, size="small", first_layer="prefix", own_details=own_details).eval()
    tokens = _tokens(64)
    context = torch.tensor([True, False, True, False, False])
    ranks = random_ranks(64, 5, torch.Generator().manual_seed(1), torch.device("cpu"), context)
    emb = model.embed(tokens)
    mask = order_masks(COLUMN_OF_SUB, ranks)  # [B, S, S]
    ordered, masked = model.ordered_context(emb, ranks), model.masked_context(emb, mask)
    assert torch.allclose(ordered, masked, rtol=1e-5, atol=1e-5)
    # the same holds for one target at a time with only its visible inputs (generation's path)
    inputs = torch.nonzero(model.visible[6].bool()).flatten()
    assert torch.allclose(ordered[[6]], model.masked_context(emb, mask[:, [6]], [6], inputs), rtol=1e-5, atol=1e-5)
    assert torch.allclose(model.loss(tokens, ranks, WEIGHTS), _plain_loss(model, tokens, ranks), rtol=1e-5, atol=1e-5)
    # and the gradients reach the projections
    model.loss(tokens, ranks, WEIGHTS).backward()
    assert model.w_src.grad.abs().sum() > 0


def test_prefix_model_trains_samples_and_round_trips(mixed_frame, tmp_path, monkeypatch):
    monkeypatch.setattr(network, "DEFAULT_FIRST_LAYER", "prefix")
    g = lookalike.train(mixed_frame, max_epochs=2, seed=1, progress=False, context_columns=["level"])
    assert g.model_.first_layer == "prefix" and not hasattr(g.model_, "w1")
    out = g.sample(300, seed=4)
    assert list(out.columns) == list(mixed_frame.columns) and len(out) == 300
    g2 = lookalike.load(g.save(tmp_path / "p.lookalike"))
    assert g2.model_.first_layer == "prefix"
    pd.testing.assert_frame_equal(g2.sample(300, seed=4), out)


def test_model_files_without_a_first_layer_load_as_dense(tiny_generator, tmp_path):
    path = tiny_generator.save(tmp_path / "d.lookalike")
    old = tmp_path / "old.lookalike"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(old, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "meta.json":
                meta = json.loads(data)
                del meta["model"]["first_layer"]
                data = json.dumps(meta).encode()
            dst.writestr(item, data)
    g = lookalike.load(old)
    assert g.model_.first_layer == "dense"
    pd.testing.assert_frame_equal(g.sample(50, seed=2), tiny_generator.sample(50, seed=2))


def test_unknown_first_layer_is_refused():
    with pytest.raises(ValueError, match="first_layer"):
        TabularModel(CARDS, COLUMN_OF_SUB, first_layer="sparse")
    assert network.first_layer_for(10) == "dense" and network.first_layer_for(500) == "prefix"
    assert network.first_layer_for(10, "prefix") == "prefix"
    assert np.isfinite(float(TabularModel([], [], first_layer="prefix").loss(torch.zeros((3, 0), dtype=torch.long),
                                                                              torch.zeros((3, 0), dtype=torch.long))))


@pytest.mark.parametrize("own_details", [[], [6, 7]])
@pytest.mark.parametrize("first_layer", network.FIRST_LAYERS)
def test_running_context_gives_the_logits_of_the_plain_path(first_layer, own_details):
    """Generation keeps the known inputs in running form; every step's logits must equal the
    plain masked computation with the same known set (seeded rows: any known pattern)."""
    torch.manual_seed(1)
    model = TabularModel(CARDS, COLUMN_OF_SUB, "small", first_layer, own_details=own_details).eval()
    B = 40
    tokens = _tokens(B)
    known = torch.rand(B, len(CARDS)) < 0.4
    allowed = [torch.rand(c) < 0.7 for c in CARDS]  # forbidden tokens (rare categories) get -inf
    for a in allowed:
        a[0] = True
    emb = model.embed(tokens)
    context = network.RunningContext(model, B, allowed)
    for j in range(len(CARDS)):
        context.add(j, emb[:, j], known[:, j])
    for i in range(len(CARDS)):
        expected = model.logits_for(emb, known.float(), i).masked_fill(~allowed[i], float("-inf"))
        got = context.logits(i)
        assert torch.equal(torch.isinf(got), ~allowed[i].expand_as(got)), f"sub-column {i}"
        assert torch.allclose(got[:, allowed[i]], expected[:, allowed[i]], atol=1e-5), f"sub-column {i}"
        todo = ~known[:, i]
        known[:, i] = True
        context.add(i, emb[:, i], todo)


@pytest.mark.parametrize("first_layer", network.FIRST_LAYERS)
def test_own_details_see_their_own_column_and_nothing_else(first_layer):
    """A detail sub-token in ``own_details`` (the position inside a narrow numeric bin) is
    predicted from its own column's earlier sub-tokens only: changing every other column
    leaves its logits as they were, while the other heads do change."""
    torch.manual_seed(2)
    model = TabularModel(CARDS, COLUMN_OF_SUB, "small", first_layer, own_details=[6, 7]).eval()
    a = _tokens(32)
    b = _tokens(32)
    b[:, 5:] = a[:, 5:]  # column 4 (sub-columns 5, 6, 7) the same, every other column different
    ranks = torch.arange(5).expand(32, 5)
    la = model.logits_from(model.embed(a), order_masks(COLUMN_OF_SUB, ranks))
    lb = model.logits_from(model.embed(b), order_masks(COLUMN_OF_SUB, ranks))
    assert torch.allclose(la[[6, 7]], lb[[6, 7]], atol=1e-6)
    assert not torch.allclose(la[5], lb[5], atol=1e-3)  # the column's first sub-token sees the row
    with pytest.raises(ValueError, match="own_details"):
        TabularModel(CARDS, COLUMN_OF_SUB, "small", first_layer, own_details=[5])


def test_ordered_tokens_start_near_their_neighbours():
    torch.manual_seed(0)
    model = TabularModel(CARDS, COLUMN_OF_SUB, size="small")
    before = model.embedding.weight.detach().clone()
    positions = [None] * len(CARDS)
    positions[2] = np.r_[np.nan, np.linspace(0, 1, 10)]  # sub-column 2: null, then 10 bins in order
    counts = [None] * len(CARDS)
    counts[2] = np.r_[5, [20] * 9, 100_000]  # the top bin is seen in many rows
    model.init_ordinal(positions, counts)
    w = model.embedding.weight.detach()
    lo = int(model.offsets[2])
    rare = w[lo + 1 : lo + 10]  # bins 0..8: few rows, near the line
    far = torch.cdist(rare[:1], rare)[0]  # distance from the lowest bin grows with the bin
    assert np.corrcoef(far.numpy(), np.arange(9))[0, 1] > 0.95
    assert torch.cdist(rare[:-1], rare[1:]).diagonal().max() < 0.5 * far[-1]  # neighbours start close
    # the frequent bin keeps (almost) its own random start; null and the other sub-columns keep theirs
    assert torch.nn.functional.cosine_similarity(w[lo + 10], before[lo + 10], dim=0) > 0.99
    untouched = torch.ones(len(w), dtype=torch.bool)
    untouched[lo + 1 : lo + 11] = False
    assert torch.equal(w[untouched], before[untouched])
