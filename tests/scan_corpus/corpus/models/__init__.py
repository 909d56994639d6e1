from .chain_c import *  # noqa: F401,F403
from .core import *  # noqa: F401,F403
