from .chain_b import Mid as MidAlias

__all__ = ["Leaf"]


class Leaf(MidAlias):
    pass


class _Hidden(Leaf):
    pass
