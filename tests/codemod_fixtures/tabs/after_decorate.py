import os
from inbox.distil import instructions


class C:
	@staticmethod
	@instructions.distil
	def f(x: int) -> M:
		return M()

	@classmethod
	@instructions.distil
	def g(cls,
	      x: int) -> M:  # note
		return M()
