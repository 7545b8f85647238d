"""cohortd past one machine: users hash-partitioned over Ray shard actors behind one router.

``pip install 'cohortd[ray]'``; ``cohortd serve --cluster local|ray://HOST:PORT --shards N``.
See ``docs/cluster.md`` for the model and :mod:`cohortd.cluster.router` for how answers merge.
"""

from __future__ import annotations

from cohortd.cluster.partition import shard_of

__all__ = ["shard_of"]
