"""Clustering of the normalised feature rows: k-means, K chosen by silhouette, stability by bootstrap.

- **Sample.** K is chosen and the stability measured on a seeded sample of
  at most ``SAMPLE_ROWS`` rows (all rows when fewer); the final clustering
  starts from the sample's centres and runs Lloyd iterations on every row.
- **K.** ``--k 5`` fixes K; ``--k 3..10`` (or ``auto`` = ``3..10``) fits
  k-means for every K in the range and keeps the K with the highest mean
  silhouette on a seeded sub-sample of ``SILHOUETTE_ROWS`` rows (ties: the
  smaller K).  K never exceeds rows / ``MIN_ROWS_PER_CLUSTER`` nor the number
  of distinct rows; when no K in the range is possible the run is refused.
- **Numbering.** Clusters are numbered by size, largest first (ties by centre
  order), so a seed gives the same numbers every time.
- **Stability.** ``RESAMPLES`` bootstrap resamples of the sample are each
  clustered again (seed + 1 + i); the adjusted Rand index between their
  labels and the final labels on the sample rows is reported per resample,
  with the mean and the minimum.
- **Threads.** The fits run with one OpenMP/BLAS thread (``threadpool_limits``):
  they are small, and on the shared 2-core machine threads cost far more than
  they give (k-means, 20,000 x 11, K = 8, 4 inits: 13.6 s wall with the
  default threads under load, 1.45 s with one).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import adjusted_rand_score, pairwise_distances, silhouette_score
from threadpoolctl import threadpool_limits

from cohortd.errors import InvalidArgumentError

AUTO_RANGE = (3, 10)
SAMPLE_ROWS = 20_000
SILHOUETTE_ROWS = 3_000
MIN_ROWS_PER_CLUSTER = 10
RESAMPLES = 5
N_INIT = 2
MAX_K = 50


@dataclass(frozen=True)
class Clustering:
    """Labels of every row, the K chosen and how it was chosen, and the stability."""

    labels: np.ndarray  # int32 per row, 0 = largest cluster
    k: int
    criterion: str
    silhouette: dict[int, float]
    ari: list[float]


def parse_k(text: str | int) -> tuple[int, int]:
    """``5`` → (5, 5); ``3..10`` → (3, 10); ``auto`` → ``AUTO_RANGE``."""
    if isinstance(text, int) and not isinstance(text, bool):
        lo = hi = text
    else:
        spec = str(text).strip().lower()
        if spec == "auto":
            return AUTO_RANGE
        m = re.fullmatch(r"(\d+)(?:\s*\.\.\s*(\d+))?", spec)
        if m is None:
            raise InvalidArgumentError(f"k {text!r}: give a number (5), a range (3..10) or auto")
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) else lo
    if not 2 <= lo <= hi <= MAX_K:
        raise InvalidArgumentError(f"k {text!r}: K must be between 2 and {MAX_K}, low end first")
    return lo, hi


def cluster(matrix: sp.csr_matrix, k_range: tuple[int, int], seed: int) -> Clustering:
    """Cluster the rows of ``matrix`` (module docstring for every choice)."""
    with threadpool_limits(1):
        return _cluster(matrix, k_range, seed)


def _cluster(matrix: sp.csr_matrix, k_range: tuple[int, int], seed: int) -> Clustering:
    n = matrix.shape[0]
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(n, SAMPLE_ROWS, replace=False)) if n > SAMPLE_ROWS else np.arange(n)
    xs = matrix[sample].toarray()
    distinct = len(np.unique(xs, axis=0))
    lo, hi = k_range
    top = min(hi, n // MIN_ROWS_PER_CLUSTER, distinct)
    if top < lo:
        raise InvalidArgumentError(
            f"population too small to cluster: {n:,} users with events in the window "
            f"({distinct:,} distinct feature rows); {lo} clusters need at least "
            f"{lo * MIN_ROWS_PER_CLUSTER:,} users and {lo} distinct rows"
        )
    sil_rows = (
        np.sort(rng.choice(len(xs), SILHOUETTE_ROWS, replace=False)) if len(xs) > SILHOUETTE_ROWS else None
    )
    dist = pairwise_distances(xs if sil_rows is None else xs[sil_rows])
    fits: dict[int, KMeans] = {}
    scores: dict[int, float] = {}
    for k in range(lo, top + 1):
        fits[k] = KMeans(n_clusters=k, n_init=N_INIT, random_state=seed).fit(xs)
        labels = fits[k].labels_ if sil_rows is None else fits[k].labels_[sil_rows]
        scores[k] = (
            float(silhouette_score(dist, labels, metric="precomputed")) if len(set(labels)) > 1 else -1.0
        )
    k = max(scores, key=lambda c: (scores[c], -c))
    model = fits[k]
    if n > len(sample):
        model = KMeans(n_clusters=k, init=model.cluster_centers_, n_init=1, random_state=seed).fit(matrix)
    labels = _by_size(model.labels_, k)
    sample_labels = labels[sample]
    ari = []
    for i in range(RESAMPLES):
        boot = np.random.default_rng(seed + 1 + i).integers(0, len(xs), len(xs))
        with warnings.catch_warnings():  # a resample may hold fewer distinct rows than K
            warnings.simplefilter("ignore", ConvergenceWarning)
            again = KMeans(n_clusters=k, n_init=N_INIT, random_state=seed + 1 + i).fit(xs[boot])
        ari.append(float(adjusted_rand_score(sample_labels, again.predict(xs))))
    return Clustering(labels, k, "fixed" if lo == hi else "silhouette", scores, ari)


def _by_size(labels: np.ndarray, k: int) -> np.ndarray:
    """Renumber clusters largest first (ties: the lower original number first)."""
    sizes = np.bincount(labels, minlength=k)
    order = sorted(range(k), key=lambda c: (-sizes[c], c))
    new = np.empty(k, np.int32)
    new[order] = np.arange(k, dtype=np.int32)
    return new[labels]
