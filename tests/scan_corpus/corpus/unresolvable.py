"""Bases and names the scanner cannot locate: reported as unresolved, never dropped."""

from nowhere_sdk import Mystery  # not installed anywhere


class Built(Mystery):
    pass


def mystery(x: int) -> Mystery:
    raise NotImplementedError


def built(x: int) -> Built:
    raise NotImplementedError


def undefined_name(x: int) -> "NoSuchName":  # noqa: F821
    raise NotImplementedError
