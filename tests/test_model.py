"""The network's shortcuts give the same numbers as the plain computation."""

import torch

from lookalike.model import TabularModel, order_masks


def test_loss_skipping_context_heads_and_unseen_inputs_is_exact():
    torch.manual_seed(0)
    # 5 columns, two with a detail sub-token (numeric bin + position inside the bin)
    cards, column_of_sub = [7, 5, 11, 20, 3, 20, 4], [0, 1, 2, 2, 3, 4, 4]
    model = TabularModel(cards, column_of_sub, size="small").eval()
    tokens = torch.stack([torch.randint(0, c, (64,)) for c in cards], dim=1)
    ranks = torch.stack([torch.randperm(5) for _ in range(64)])
    mask = order_masks(column_of_sub, ranks)
    weights = torch.tensor([0.0, 1, 0, 0, 1, 1, 1])  # columns 0 and 2 are context: no heads
    fast = model.loss(tokens, mask, weights)
    # the plain computation: every head, every input, context heads weighted out
    logits = model.logits_from(model.embed(tokens), mask)
    S, B, V = logits.shape
    ce = torch.nn.functional.cross_entropy(logits.reshape(S * B, V), tokens.T.reshape(S * B),
                                           reduction="none").view(S, B).mean(1)
    assert torch.allclose(fast, (ce * weights).sum(), rtol=1e-5, atol=1e-5)
    # the context column's detail sub-token (index 3) is seen by no head, and really is left out
    assert not model.visible[[1, 4, 5, 6]].bool().any(0)[3]
