"""State records the region core keeps per incident, unit and post (pure).

Pydantic keeps, on every model instance, the set of field names given when it was made
(``__pydantic_fields_set__``, for ``exclude_unset``). These records never use it (they are
written with ``exclude_defaults``), yet those sets were 45% of the memory an open incident
costs (3.6 of 8.1 KB: a probe over 2,000 open incidents of the region core). Every instance
of a state record shares one set instead. Pydantic still adds a field's name to it when the
field is assigned; with nobody reading it that is harmless, and equality ignores it.
"""

from __future__ import annotations

from pydantic import BaseModel

_SHARED_FIELDS_SET: set[str] = set()


def share_fields_set(model: BaseModel) -> None:
    """Called by a state record's ``model_post_init``: its own fields set for the shared one."""
    object.__setattr__(model, "__pydantic_fields_set__", _SHARED_FIELDS_SET)
