import os
from inbox.distil import instructions


class C:
	@staticmethod
	@instructions.distil(mode="dispatch", model="ft:gpt-4o-mini:acme::abc123")
	def f(x: int) -> M:
		return M()

	@classmethod
	@instructions.distil(mode="dispatch", model="ft:gpt-4o-mini:acme::abc123")
	def g(cls,
	      x: int) -> M:  # note
		return M()
