"""What the router's mixins (analyses, know-your-data, lint) use of ``ClusterProject``.

Declared once for the type checker; ``ClusterProject`` (``router.py``) defines
every one of them.  Nothing here exists at run time except the annotations.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cohortd.cluster.shards import ShardSet
    from cohortd.lang import ast as A
    from cohortd.storage.catalog import Catalog
    from cohortd.times import Instant

__all__ = ["ProjectFace"]


class ProjectFace:
    """The attributes and methods of a cluster project its mixins call."""

    name: str
    shards: ShardSet
    catalog: Catalog
    engine: Any
    _clock: Callable[[], int]

    if TYPE_CHECKING:

        def _tops(self, name: str | None, definition: Any) -> list[A.Top]: ...

        def _resolve(self, name: str) -> A.Expr | None: ...

        def _check_target(self, name: str | None, definition: Any) -> None: ...

        def _plan(
            self, names: Sequence[str | None], definition: Any, as_of: Instant | None, partial: bool
        ) -> tuple[int | None, dict[A.Top, float] | None]: ...
