"""Before/after fixtures for the distil decorator codemod, in LibCST's `CodemodTest` style.

Each case is the module before, the module after, and the codemod's arguments: the targets
(qualnames, optionally with the scan's line numbers), the instance `module:attr`, the action.
"""

from __future__ import annotations

import pytest
from libcst.codemod import CodemodContext, CodemodTest

from distilgen.codemods.codemod import DistilDecorators
from distilgen.codemods.decorate import InstanceRef, Target, edit_module, string_literal

INSTANCE = "inbox.distil:instructions"
MODEL = "ft:gpt-4o-mini:acme::abc123"


def ctx(module: str = "inbox.triage") -> CodemodContext:
    return CodemodContext(full_module_name=module)


class TestDecorate(CodemodTest):
    TRANSFORM = DistilDecorators

    def test_adds_decorator_and_import_after_the_import_block(self) -> None:
        before = """
            \"\"\"Doc.\"\"\"

            from inbox.models import Triage


            def classify(text: str) -> Triage:
                return Triage()
        """
        after = """
            \"\"\"Doc.\"\"\"

            from inbox.models import Triage
            from inbox.distil import instructions


            @instructions.distil
            def classify(text: str) -> Triage:
                return Triage()
        """
        self.assertCodemod(before, after, ["classify"], INSTANCE, context_override=ctx())

    def test_uses_an_existing_import_under_another_name(self) -> None:
        before = """
            from inbox.distil import instructions as ins

            def classify(text: str) -> Triage:
                return Triage()
        """
        after = """
            from inbox.distil import instructions as ins

            @ins.distil
            def classify(text: str) -> Triage:
                return Triage()
        """
        self.assertCodemod(before, after, ["classify"], INSTANCE, context_override=ctx())

    def test_uses_a_module_import(self) -> None:
        before = """
            import inbox.distil as d

            def classify(text: str) -> Triage: ...
        """
        after = """
            import inbox.distil as d

            @d.instructions.distil
            def classify(text: str) -> Triage: ...
        """
        self.assertCodemod(before, after, ["classify"], INSTANCE, context_override=ctx())

    def test_uses_a_plain_dotted_import(self) -> None:
        before = """
            import inbox.distil

            def classify(text: str) -> Triage: ...
        """
        after = """
            import inbox.distil

            @inbox.distil.instructions.distil
            def classify(text: str) -> Triage: ...
        """
        self.assertCodemod(before, after, ["classify"], INSTANCE, context_override=ctx())

    def test_resolves_a_relative_import(self) -> None:
        before = """
            from .distil import instructions as i
            from . import distil

            def classify(text: str) -> Triage: ...
        """
        after = """
            from .distil import instructions as i
            from . import distil

            @i.distil
            def classify(text: str) -> Triage: ...
        """
        self.assertCodemod(before, after, ["classify"], INSTANCE, context_override=ctx())

    def test_an_import_of_a_different_module_does_not_count(self) -> None:
        before = """
            from other.distil import instructions as i

            def classify(text: str) -> Triage: ...
        """
        after = """
            from other.distil import instructions as i
            from inbox.distil import instructions

            @instructions.distil
            def classify(text: str) -> Triage: ...
        """
        self.assertCodemod(before, after, ["classify"], INSTANCE, context_override=ctx())

    def test_leaves_existing_decorators_bare_called_and_aliased(self) -> None:
        before = """
            from inbox.distil import instructions as ins

            capture = ins.distil

            @ins.distil
            def a() -> M: ...

            @ins.distil(include_code_body=True)
            def b() -> M: ...

            @capture
            def c() -> M: ...
        """
        self.assertCodemod(before, before, ["a", "b", "c"], INSTANCE, context_override=ctx())

    def test_a_scan_reported_decorator_line_is_recognised(self) -> None:
        # re-exported elsewhere: the scan followed it, the file alone cannot tell
        before = """
            from inbox import instructions

            @instructions.distil
            def a() -> M: ...
        """
        self.assertCodemod(
            before, before, [Target("a", lineno=4, decorator_lineno=3)], INSTANCE, context_override=ctx()
        )

    def test_a_conflicting_name_gets_an_alias(self) -> None:
        before = """
            import json

            instructions = "Answer briefly."

            def classify(text: str) -> Triage: ...
        """
        after = """
            import json
            from inbox.distil import instructions as distil_instructions

            instructions = "Answer briefly."

            @distil_instructions.distil
            def classify(text: str) -> Triage: ...
        """
        self.assertCodemod(before, after, ["classify"], INSTANCE, context_override=ctx())

    def test_a_type_checking_only_import_is_imported_for_run_time(self) -> None:
        before = """
            from typing import TYPE_CHECKING

            if TYPE_CHECKING:
                from inbox.distil import instructions

            def classify(text: str) -> Triage: ...
        """
        after = """
            from typing import TYPE_CHECKING
            from inbox.distil import instructions

            if TYPE_CHECKING:
                from inbox.distil import instructions

            @instructions.distil
            def classify(text: str) -> Triage: ...
        """
        self.assertCodemod(before, after, ["classify"], INSTANCE, context_override=ctx())

    def test_no_imports_after_the_docstring(self) -> None:
        before = """
            \"\"\"Doc.\"\"\"


            def classify(text: str) -> Triage: ...
        """
        after = """
            \"\"\"Doc.\"\"\"

            from inbox.distil import instructions


            @instructions.distil
            def classify(text: str) -> Triage: ...
        """
        self.assertCodemod(before, after, ["classify"], INSTANCE, context_override=ctx())

    def test_no_imports_no_docstring(self) -> None:
        before = """
            # a header comment

            def classify(text: str) -> Triage: ...
        """
        after = """
            # a header comment

            from inbox.distil import instructions


            @instructions.distil
            def classify(text: str) -> Triage: ...
        """
        self.assertCodemod(before, after, ["classify"], INSTANCE, context_override=ctx())

    def test_methods_get_the_innermost_position(self) -> None:
        before = """
            from inbox.distil import instructions

            class Catalog:
                # summarise raw fields
                @staticmethod
                def summarise(name: str) -> Summary: ...

                @classmethod
                @other.cached  # keep me
                def build(cls, n: int) -> Summary: ...
        """
        after = """
            from inbox.distil import instructions

            class Catalog:
                # summarise raw fields
                @staticmethod
                @instructions.distil
                def summarise(name: str) -> Summary: ...

                @classmethod
                @other.cached  # keep me
                @instructions.distil
                def build(cls, n: int) -> Summary: ...
        """
        self.assertCodemod(
            before, after, ["Catalog.summarise", "Catalog.build"], INSTANCE, context_override=ctx()
        )

    def test_nested_function_qualnames(self) -> None:
        before = """
            from inbox.distil import instructions

            def outer() -> None:
                def inner(x: int) -> M: ...

                class Local:
                    def inner(self) -> M: ...
                return None
        """
        after = """
            from inbox.distil import instructions

            def outer() -> None:
                @instructions.distil
                def inner(x: int) -> M: ...

                class Local:
                    def inner(self) -> M: ...
                return None
        """
        self.assertCodemod(before, after, ["outer.<locals>.inner"], INSTANCE, context_override=ctx())

    def test_overloads_decorate_the_implementation(self) -> None:
        before = """
            from typing import overload
            from inbox.distil import instructions

            @overload
            def parse(x: int) -> M: ...
            @overload
            def parse(x: str) -> M: ...
            def parse(x: int | str) -> M: return M()
        """
        after = """
            from typing import overload
            from inbox.distil import instructions

            @overload
            def parse(x: int) -> M: ...
            @overload
            def parse(x: str) -> M: ...
            @instructions.distil
            def parse(x: int | str) -> M: return M()
        """
        self.assertCodemod(before, after, ["parse"], INSTANCE, context_override=ctx())

    def test_an_unresolvable_distil_decorator_is_not_doubled(self) -> None:
        # `ins` is local to the enclosing function: neither the scan nor the file can tell what it
        # is, so adding a second capture decorator under it would be a guess
        before = """
            from other import recorder

            def make():
                ins = Instructions()

                @ins.distil(mode="dispatch", model="ft:x")
                def fn(a: int) -> M: ...

                @recorder.distil
                def g(a: int) -> M: ...
                return fn
        """
        after = """
            from other import recorder
            from inbox.distil import instructions

            def make():
                ins = Instructions()

                @ins.distil(mode="dispatch", model="ft:x")
                def fn(a: int) -> M: ...

                @recorder.distil
                @instructions.distil
                def g(a: int) -> M: ...
                return fn
        """
        self.assertCodemod(before, after, ["make.<locals>.fn", "make.<locals>.g"], INSTANCE, context_override=ctx())
        _, result = edit_module(self.make_fixture_data(before), ["make.<locals>.fn"], INSTANCE, module="m")
        assert result.refused[0][0] == "make.<locals>.fn" and "@ins.distil" in result.refused[0][1]

    def test_a_definition_without_return_annotation_is_left_alone(self) -> None:
        # the runtime would reject it at import time: `apply` must not write code that cannot load
        before = """
            from typing import overload
            from inbox.distil import instructions

            @overload
            def parse(x: int) -> M: ...
            @overload
            def parse(x: str) -> M: ...
            def parse(x): return M()
        """
        self.assertCodemod(before, before, ["parse"], INSTANCE, context_override=ctx())
        _, result = edit_module(self.make_fixture_data(before), ["parse"], INSTANCE, module="m")
        assert result.refused and result.refused[0][0] == "parse" and "no return annotation" in result.refused[0][1]

    def test_line_numbers_pick_one_of_same_named_definitions(self) -> None:
        before = """
            from inbox.distil import instructions

            if FAST:
                def f() -> M: ...
            else:
                def f() -> M: ...
        """
        after = """
            from inbox.distil import instructions

            if FAST:
                @instructions.distil
                def f() -> M: ...
            else:
                def f() -> M: ...
        """
        self.assertCodemod(before, after, [Target("f", lineno=4)], INSTANCE, context_override=ctx())

    def test_the_instance_module_itself_uses_the_local_name(self) -> None:
        before = """
            from distilgen import Instructions

            instructions = Instructions(name="inbox")

            def probe() -> M: ...
        """
        after = """
            from distilgen import Instructions

            instructions = Instructions(name="inbox")

            @instructions.distil
            def probe() -> M: ...
        """
        self.assertCodemod(before, after, ["probe"], INSTANCE, context_override=ctx("inbox.distil"))


class TestDispatch(CodemodTest):
    TRANSFORM = DistilDecorators

    def test_bare_becomes_a_dispatch_call(self) -> None:
        before = """
            from inbox.distil import instructions

            @instructions.distil
            def classify(text: str) -> Triage: ...
        """
        after = f"""
            from inbox.distil import instructions

            @instructions.distil(mode="dispatch", model="{MODEL}")
            def classify(text: str) -> Triage: ...
        """
        self.assertCodemod(before, after, ["classify"], INSTANCE, "dispatch", MODEL, context_override=ctx())

    def test_other_arguments_are_kept(self) -> None:
        before = """
            from inbox.distil import instructions as ins

            @ins.distil(include_code_body=True)
            def a() -> M: ...

            @ins.distil(
                max_retries=3,
            )
            def b() -> M: ...
        """
        after = f"""
            from inbox.distil import instructions as ins

            @ins.distil(include_code_body=True, mode="dispatch", model="{MODEL}")
            def a() -> M: ...

            @ins.distil(
                max_retries=3,
                mode="dispatch",
                model="{MODEL}",
            )
            def b() -> M: ...
        """
        self.assertCodemod(before, after, ["a", "b"], INSTANCE, "dispatch", MODEL, context_override=ctx())

    def test_updates_the_model_id_in_place(self) -> None:
        before = """
            from inbox.distil import instructions

            @instructions.distil(mode='dispatch', model='ft:old', max_retries=1)
            def a() -> M: ...
        """
        after = f"""
            from inbox.distil import instructions

            @instructions.distil(mode='dispatch', model="{MODEL}", max_retries=1)
            def a() -> M: ...
        """
        self.assertCodemod(before, after, ["a"], INSTANCE, "dispatch", MODEL, context_override=ctx())

    def test_same_model_is_untouched_whatever_the_quotes(self) -> None:
        before = f"""
            from inbox.distil import instructions

            @instructions.distil(mode='dispatch', model='{MODEL}')
            def a() -> M: ...
        """
        self.assertCodemod(before, before, ["a"], INSTANCE, "dispatch", MODEL, context_override=ctx())

    def test_undecorated_gets_the_dispatch_form_and_the_import(self) -> None:
        before = """
            import re

            def a() -> M: ...
        """
        after = f"""
            import re
            from inbox.distil import instructions

            @instructions.distil(mode="dispatch", model="{MODEL}")
            def a() -> M: ...
        """
        self.assertCodemod(before, after, ["a"], INSTANCE, "dispatch", MODEL, context_override=ctx())

    def test_shadow_becomes_dispatch(self) -> None:
        before = """
            from inbox.distil import instructions

            @instructions.distil(mode="shadow", model="ft:x")
            def a() -> M: ...
        """
        after = """
            from inbox.distil import instructions

            @instructions.distil(mode="dispatch", model="ft:y")
            def a() -> M: ...
        """
        self.assertCodemod(before, after, ["a"], INSTANCE, "dispatch", "ft:y", context_override=ctx())


class TestCapture(CodemodTest):
    TRANSFORM = DistilDecorators

    def test_dispatch_back_to_bare(self) -> None:
        before = """
            from inbox.distil import instructions

            @instructions.distil(mode="dispatch", model="ft:x")
            def a() -> M: ...
        """
        after = """
            from inbox.distil import instructions

            @instructions.distil
            def a() -> M: ...
        """
        self.assertCodemod(before, after, ["a"], INSTANCE, "capture", context_override=ctx())

    def test_other_arguments_stay(self) -> None:
        before = """
            from inbox.distil import instructions

            @instructions.distil(mode="dispatch", include_code_body=True, model="ft:x")
            def a() -> M: ...

            @instructions.distil(
                max_retries=3,
                mode="dispatch",
                model="ft:x",
            )
            def b() -> M: ...
        """
        after = """
            from inbox.distil import instructions

            @instructions.distil(include_code_body=True)
            def a() -> M: ...

            @instructions.distil(
                max_retries=3,
            )
            def b() -> M: ...
        """
        self.assertCodemod(before, after, ["a", "b"], INSTANCE, "capture", context_override=ctx())

    def test_bare_is_untouched(self) -> None:
        before = """
            from inbox.distil import instructions

            @instructions.distil
            def a() -> M: ...
        """
        self.assertCodemod(before, before, ["a"], INSTANCE, "capture", context_override=ctx())


class TestRemove(CodemodTest):
    TRANSFORM = DistilDecorators

    def test_removes_decorator_and_the_import_it_used(self) -> None:
        before = """
            import re
            from inbox.distil import instructions

            @other
            @instructions.distil(mode="dispatch", model="ft:x")
            def a() -> M: ...
        """
        after = """
            import re

            @other
            def a() -> M: ...
        """
        self.assertCodemod(before, after, ["a"], INSTANCE, "remove", context_override=ctx())

    def test_keeps_an_import_still_used(self) -> None:
        before = """
            from inbox.distil import instructions

            @instructions.distil
            def a() -> M: ...

            def report() -> None:
                print(instructions.stats())
        """
        after = """
            from inbox.distil import instructions

            def a() -> M: ...

            def report() -> None:
                print(instructions.stats())
        """
        self.assertCodemod(before, after, ["a"], INSTANCE, "remove", context_override=ctx())

    def test_keeps_an_import_used_by_another_decorated_function(self) -> None:
        before = """
            from inbox.distil import instructions

            @instructions.distil
            def a() -> M: ...

            @instructions.distil
            def b() -> M: ...
        """
        after = """
            from inbox.distil import instructions

            def a() -> M: ...

            @instructions.distil
            def b() -> M: ...
        """
        self.assertCodemod(before, after, ["a"], INSTANCE, "remove", context_override=ctx())

    def test_removes_one_name_from_a_shared_import(self) -> None:
        before = """
            from inbox.distil import helper, instructions as ins, other
            from inbox.distil import (
                instructions,
                helper2,
            )

            @ins.distil
            @instructions.distil
            def a() -> M:
                return helper(helper2, other)
        """
        after = """
            from inbox.distil import helper, other
            from inbox.distil import (
                helper2,
            )

            def a() -> M:
                return helper(helper2, other)
        """
        self.assertCodemod(before, after, ["a"], INSTANCE, "remove", context_override=ctx())

    def test_keeps_comments_written_above_the_decorator(self) -> None:
        before = """
            from inbox.distil import instructions

            @first
            # why we distil this one
            @instructions.distil
            def a() -> M: ...
        """
        after = """
            @first
            # why we distil this one
            def a() -> M: ...
        """
        self.assertCodemod(before, after, ["a"], INSTANCE, "remove", context_override=ctx())

    def test_a_decorator_of_another_instance_found_by_the_scan(self) -> None:
        before = """
            import json
            from inbox.other import recorder

            @recorder.distil
            def a() -> M: ...
        """
        after = """
            import json

            def a() -> M: ...
        """
        self.assertCodemod(
            before, after, [Target("a", decorator_lineno=4)], INSTANCE, "remove", context_override=ctx()
        )


# -- round trips, byte for byte --------------------------------------------------------------


ROUND_TRIP_SOURCES = [
    # imports
    b'"""Doc."""\n\nimport os\n\n\ndef a() -> M:\n    return M()\n',
    # docstring only
    b'"""Doc."""\n\n\ndef a() -> M:\n    return M()\n',
    b'"""Doc."""\ndef a() -> M:\n    return M()\n',
    # nothing at all above the function
    b"def a() -> M:\n    return M()\n",
    b"# header\n\n\nclass C:\n    @staticmethod\n    def a() -> M:\n        return M()\n",
    # an unrelated statement first
    b"X = 1\ndef a() -> M:\n    return M()\n",
]


@pytest.mark.parametrize("source", ROUND_TRIP_SOURCES)
def test_apply_then_remove_gives_back_the_original_bytes(source: bytes) -> None:
    qual = "C.a" if b"class C" in source else "a"
    decorated, r1 = edit_module(source, [qual], INSTANCE, "decorate", module="inbox.x")
    assert r1.changed == (qual,) and decorated != source
    again, r2 = edit_module(decorated, [qual], INSTANCE, "decorate", module="inbox.x")
    assert again == decorated and r2.changed == ()
    dispatched, _ = edit_module(decorated, [qual], INSTANCE, "dispatch", module="inbox.x", model=MODEL)
    assert edit_module(dispatched, [qual], INSTANCE, "capture", module="inbox.x")[0] == decorated
    assert edit_module(decorated, [qual], INSTANCE, "remove", module="inbox.x")[0] == source
    assert edit_module(dispatched, [qual], INSTANCE, "remove", module="inbox.x")[0] == source


def test_missing_targets_are_reported() -> None:
    out, result = edit_module("def a() -> M: ...\n", ["b", "a.<locals>.x"], INSTANCE, module="m")
    assert out == "def a() -> M: ...\n"
    assert result.missing == ("b", "a.<locals>.x") and result.changed == ()


def test_unchanged_source_is_returned_as_is() -> None:
    src = b"from inbox.distil import instructions\n@instructions.distil\ndef a() -> M: ...\n"
    out, result = edit_module(src, ["a"], INSTANCE, module="m")
    assert out is src and result.changed == ()


def test_string_literal_round_trips() -> None:
    for value in ["ft:gpt-4o-mini:acme::abc", 'we"ird', "back\\slash", "new\nline", "ünï"]:
        text = string_literal(value)
        assert eval(text) == value  # noqa: S307 - a literal we just made
    assert string_literal("ft:x") == '"ft:x"'


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="package.module:attribute"):
        InstanceRef.parse("inbox.distil")
    with pytest.raises(ValueError, match="needs a model id"):
        DistilDecorators(CodemodContext(), ["a"], INSTANCE, "dispatch")
    with pytest.raises(ValueError, match="action must be one of"):
        DistilDecorators(CodemodContext(), ["a"], INSTANCE, "frobnicate")


@pytest.mark.parametrize("guard, guarded", [
    ("TYPE_CHECKING", True), ("typing.TYPE_CHECKING", True), ("t.TYPE_CHECKING", True),
    ("typing_extensions.TYPE_CHECKING", True), ("te.TYPE_CHECKING", True),
    ("DEBUG", False), ("TYPE_CHECKING_X", False), ("not TYPE_CHECKING", False),
])
def test_scan_and_codemod_read_one_type_checking_guard_alike(guard: str, guarded: bool) -> None:
    """One predicate (analysis.parsing.is_type_checking): the scan and the codemod must agree on
    which imports exist at run time, or apply adds an import the scan said was there."""
    import ast

    import libcst as cst

    from distilgen.analysis import file_index as index
    from distilgen.codemods.names import module_names

    source = f"import typing, typing_extensions as te\nif {guard}:\n    from inbox.distil import instructions\n"
    test = ast.parse(source).body[1].test  # type: ignore[attr-defined]
    assert index._is_type_checking(test) is guarded
    names = module_names(cst.parse_module(source), "inbox.triage")
    assert names.bindings["instructions"].runtime is (not guarded)
