"""The dead-letter topic's one writer: a record that cannot be processed, with where and why.

Intake sends what it cannot decode; the region core sends an internal event whose processing
failed (a bug, not bad input: the region is rebuilt from its tables and goes on).
"""

from __future__ import annotations

from typing import Any

from schemas.deadletter import dead_letter_headers
from streams.app import dead_letters


async def dead_letter(message: Any, stage: str, error_class: str, error: str) -> None:
    """Forward the original key, value and headers, plus headers saying where and why."""
    original = list(
        message.headers.items() if isinstance(message.headers, dict) else (message.headers or [])
    )
    headers = original + dead_letter_headers(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        stage=stage,
        error_class=error_class,
        error_message=error,
    )
    await dead_letters.send(key=message.key, value=message.value, headers=headers)
