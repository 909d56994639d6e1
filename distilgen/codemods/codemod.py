"""The decorator transform as a `libcst.codemod.Codemod`, for `CodemodTest` fixtures and libcst's tooling.

`python -m libcst.tool codemod` or any `Codemod` pipeline can run it; `distilgen apply` runs the same
transform (`decorate.DecoratorEdit`) without importing `libcst.codemod`.
"""

from __future__ import annotations

from typing import Iterable

import libcst as cst
from libcst.codemod import Codemod, CodemodContext
from libcst.metadata import PositionProvider

from ..contracts import ApplyAction
from .decorate import DecoratorEdit, InstanceRef, ModuleEdit, Target

__all__ = ["DistilDecorators"]


class DistilDecorators(Codemod):
    """`CodemodContext.full_module_name` names the module (relative imports, its own names)."""

    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(
        self,
        context: CodemodContext,
        targets: Iterable[Target | str],
        instance: InstanceRef | str,
        action: ApplyAction = "decorate",
        model: str | None = None,
        is_package: bool = False,
    ) -> None:
        super().__init__(context)
        self.edit = DecoratorEdit(targets, instance, action, model, is_package=is_package)

    @property
    def result(self) -> ModuleEdit:
        return self.edit.result

    def transform_module_impl(self, tree: cst.Module) -> cst.Module:
        self.edit.module = self.context.full_module_name or ""
        positions = self.metadata[PositionProvider]
        return self.edit.run(tree, positions)  # type: ignore[arg-type]  # CodeRange values
