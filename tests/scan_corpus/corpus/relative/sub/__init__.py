from ...models.core import Tagged as SubTagged  # re-exported one level down

__all__ = ["SubTagged"]
