"""What the selector believes about a template's engagement rate (interactions / reach), and
Thompson sampling over those beliefs.

Each post's engagement rate is one noisy observation of its template's true rate. The prior is
the workspace's: its mean rate, with the spread of one post (`Prior.sd`), so the prior counts as
one post. After n posts with mean r the belief is normal with

    mean = (prior.mean + n r) / (1 + n),  sd = prior.sd / sqrt(1 + n).

Thompson sampling draws one rate from every candidate's belief and takes the highest: a template
with few posts has a wide belief and still wins now and then (it gets tried), one that keeps
doing worse narrows below the others and fades.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

DEFAULT_RATE = 0.05  # a typical Instagram engagement rate, the prior before the workspace has data
MIN_PRIOR_POSTS = 3  # fewer workspace posts than this: the default prior
MIN_RELATIVE_SD = 0.1  # the per-post spread never falls below 10 % of the mean (identical rates are luck)
PROBABILITY_DRAWS = 4000
PROBABILITY_SEED = 20260  # choice probabilities are estimates; a fixed seed keeps answers stable
Z95 = 1.96


@dataclass(frozen=True)
class Prior:
    """The workspace-level prior: mean engagement rate and the spread of a single post."""

    mean: float
    sd: float

    @classmethod
    def from_rates(cls, count: int, mean: float | None, sd: float | None) -> Prior:
        """From the workspace's posts (how many, their mean rate and standard deviation)."""
        if count < MIN_PRIOR_POSTS or mean is None or mean <= 0:
            return cls(DEFAULT_RATE, DEFAULT_RATE / 2)
        return cls(mean, max(sd or 0.0, MIN_RELATIVE_SD * mean))


@dataclass(frozen=True)
class Evidence:
    """A template's posts with insights (for one account, or pooled) and their mean rate."""

    posts: int
    mean_rate: float


@dataclass(frozen=True)
class Belief:
    mean: float
    sd: float
    posts: int

    @property
    def interval(self) -> tuple[float, float]:
        """The 95 % interval of the rate (never below 0)."""
        return max(0.0, self.mean - Z95 * self.sd), self.mean + Z95 * self.sd

    def sample(self, rng: random.Random) -> float:
        return rng.gauss(self.mean, self.sd)


def belief(prior: Prior, evidence: Evidence | None) -> Belief:
    """The posterior of a template's rate given its posts (none: the prior)."""
    n = evidence.posts if evidence else 0
    total = prior.mean + (n * evidence.mean_rate if evidence else 0.0)
    return Belief(total / (1 + n), prior.sd / math.sqrt(1 + n), n)


def thompson(beliefs: Sequence[Belief], rng: random.Random) -> tuple[int, list[float]]:
    """The index of the belief whose draw is highest (the first on a tie), and the draws.

    Raises:
        ValueError: no beliefs.
    """
    if not beliefs:
        raise ValueError("Thompson sampling needs at least one candidate.")
    draws = [b.sample(rng) for b in beliefs]
    return max(range(len(draws)), key=lambda i: (draws[i], -i)), draws


def choice_probabilities(beliefs: Sequence[Belief], *, draws: int = PROBABILITY_DRAWS) -> list[float]:
    """How often Thompson sampling picks each candidate under the current beliefs (an estimate
    from `draws` rounds with a fixed seed, so the same beliefs always give the same answer)."""
    if not beliefs:
        return []
    rng = random.Random(PROBABILITY_SEED)
    wins = [0] * len(beliefs)
    for _ in range(draws):
        wins[thompson(beliefs, rng)[0]] += 1
    return [w / draws for w in wins]
