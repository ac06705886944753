"""The selector's beliefs about engagement rates and Thompson sampling over them."""

from __future__ import annotations

import math
import random

import pytest

from sociallab.content.learning import (
    DEFAULT_RATE,
    Belief,
    Evidence,
    Prior,
    belief,
    choice_probabilities,
    thompson,
)

pytestmark = pytest.mark.unit


def test_a_workspace_with_few_posts_gets_the_default_prior() -> None:
    assert Prior.from_rates(2, 0.2, 0.1) == Prior(DEFAULT_RATE, DEFAULT_RATE / 2)
    assert Prior.from_rates(10, 0.04, 0.01) == Prior(0.04, 0.01)
    assert Prior.from_rates(10, 0.04, 0.0) == Prior(0.04, pytest.approx(0.004))  # identical rates are luck


def test_the_prior_counts_as_one_post() -> None:
    prior = Prior(0.05, 0.02)
    assert belief(prior, None) == Belief(0.05, 0.02, 0)
    after = belief(prior, Evidence(3, 0.09))
    assert after.mean == pytest.approx((0.05 + 3 * 0.09) / 4)
    assert after.sd == pytest.approx(0.02 / math.sqrt(4))
    low, high = after.interval
    assert low == pytest.approx(after.mean - 1.96 * after.sd) and high == pytest.approx(after.mean + 1.96 * after.sd)
    assert belief(Prior(0.01, 0.05), None).interval[0] == 0.0  # a rate is never negative


def test_thompson_is_deterministic_under_a_seed_and_needs_candidates() -> None:
    beliefs = [Belief(0.05, 0.01, 3), Belief(0.06, 0.01, 3)]
    assert thompson(beliefs, random.Random(4)) == thompson(beliefs, random.Random(4))
    with pytest.raises(ValueError, match="at least one"):
        thompson([], random.Random(1))


def test_choice_probabilities_follow_the_beliefs() -> None:
    sure = [Belief(0.05, 0.001, 100), Belief(0.08, 0.001, 100)]
    assert choice_probabilities(sure) == [0.0, 1.0]
    even = choice_probabilities([Belief(0.05, 0.01, 1), Belief(0.05, 0.01, 1)])
    assert sum(even) == pytest.approx(1.0) and abs(even[0] - 0.5) < 0.05
    assert even == choice_probabilities([Belief(0.05, 0.01, 1), Belief(0.05, 0.01, 1)])  # stable answers
    assert choice_probabilities([]) == []
