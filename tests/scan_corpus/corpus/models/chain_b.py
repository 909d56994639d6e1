from . import chain_a


class Mid(chain_a.Base):
    pass
