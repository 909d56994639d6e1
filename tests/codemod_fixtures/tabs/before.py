import os


class C:
	@staticmethod
	def f(x: int) -> M:
		return M()

	@classmethod
	def g(cls,
	      x: int) -> M:  # note
		return M()
