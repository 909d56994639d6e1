"""A stand-in third-party SDK, installed (on the path) but not part of the scanned project."""

from ._base import AcmeObject as AcmeObject

__all__ = ["AcmeObject"]
