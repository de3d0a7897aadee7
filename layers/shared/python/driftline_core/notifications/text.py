"""Small rules for the sentences people read: emails, pages, the quality gate's reasons."""

from __future__ import annotations


def sentence_start(text: str) -> str:
    """``text`` with its first letter upper-cased, to open a sentence (a dataset's name may start one)."""
    return text[:1].upper() + text[1:]
