"""Audiences: saved cohorts synced to the tools that act on them.

``model`` (plain values, importable by the SDK without the engine), ``identifiers``
(user ids or user properties, optionally hashed), ``destinations`` (webhook, file
directory, a platform-shaped example), ``store`` (durable state in SQLite),
``delivery`` (one worker per audience: full first delivery, then deltas),
``static`` (uploaded id lists as cohorts) and ``export`` (streamed member files).
The delivery contract is written down in ``docs/audiences.md``.
"""
