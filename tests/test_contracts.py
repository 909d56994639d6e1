"""The closed vocabularies (`distilgen.contracts`): one definition each, checked where values enter."""

from __future__ import annotations

import typing

import pytest
from pydantic import BaseModel

from distilgen import config, contracts
from distilgen.analysis import scan_output
from distilgen.analysis import scan
from distilgen.codemods import decorate, edits
from distilgen.runtime import dispatch, formats, instructions


def test_each_tuple_is_its_literal_s_values_and_the_old_names_are_the_same_objects() -> None:
    pairs = [
        (contracts.Mode, contracts.MODES), (contracts.FinetuneFormat, contracts.FORMATS),
        (contracts.ResponseFormat, contracts.RESPONSE_FORMATS), (contracts.Fallback, contracts.FALLBACKS),
        (contracts.ScanStatus, contracts.SCAN_STATUSES), (contracts.ApplyAction, contracts.APPLY_ACTIONS),
        (contracts.EditStatus, contracts.EDIT_STATUSES), (contracts.ReportFormat, contracts.REPORT_FORMATS),
    ]
    for literal, values in pairs:
        assert typing.get_args(literal) == values and len(set(values)) == len(values)
    # the names modules exported before are the contract's tuples, not copies that can drift
    assert config.FORMATS is formats.FORMATS is contracts.FORMATS
    assert instructions.MODES is contracts.MODES
    assert dispatch.RESPONSE_FORMATS is contracts.RESPONSE_FORMATS
    assert scan.STATUSES is contracts.SCAN_STATUSES and scan.KINDS is contracts.DEF_KINDS
    assert decorate.ACTIONS is contracts.APPLY_ACTIONS and edits.STATUSES is contracts.EDIT_STATUSES
    assert scan_output.FORMATS is contracts.REPORT_FORMATS


def test_one_of_narrows_a_value_or_says_none() -> None:
    assert contracts.one_of("shadow", contracts.MODES) == "shadow"
    assert contracts.one_of("Shadow", contracts.MODES) is None
    assert contracts.one_of(None, contracts.MODES) is None
    assert contracts.one_of(1, contracts.FORMATS) is None


@pytest.mark.parametrize("bad", [
    {"mode": "replay"},
    {"mode": "dispatch", "model": "m", "fallback": "retry"},
    {"mode": "dispatch", "model": "m", "response_format": "yaml"},
])
def test_a_value_outside_the_contract_is_a_usage_error_at_decoration(bad: dict[str, str]) -> None:
    from distilgen.errors import UsageError

    class Answer(BaseModel):
        text: str

    inst = instructions.Instructions(name="contracts")
    with pytest.raises(UsageError, match=next(iter(k for k in bad if k != "model" and bad[k] not in ("dispatch",)))):
        @inst.distil(**bad)  # type: ignore[call-overload]
        def f(x: int) -> Answer:
            raise AssertionError
