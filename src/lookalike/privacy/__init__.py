"""Privacy: measuring what a synthetic table gives away about the people it was trained on.

- ``risk.py``     the typed results (rates, risks, intervals, verdicts) and the interval maths
- ``attacks.py``  the attack suite: singling out, linkability, attribute and membership inference

The QA report runs the suite (``lookalike.qa``); nothing here is public API.
"""
