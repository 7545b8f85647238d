"""What the tests and the benchmarks share: one server launcher, the data sets, the references.

* :mod:`support.server`: :class:`~support.server.ServerProcess`, the one way a test or a
  benchmark starts a real ``cohortd`` server process on 127.0.0.1;
* :mod:`support.data`: small deterministic SaaS event/user tables and the console's seed;
* :mod:`support.oracle`, :mod:`support.analysis_reference`: slow, obviously-correct references;
* :mod:`support.strategies`: hypothesis strategies of cohort-language trees;
* :mod:`support.faultfs`: injected write faults and simulated power loss for the storage tests.

``tests/conftest.py`` puts ``tests/`` on ``sys.path`` for the tests; a benchmark script does
``sys.path.insert(0, <repo>/tests)`` before ``from support.server import ServerProcess``.
"""
