"""Shape drift: valid answers, mutated where the guide does not pin them down, still decode.

Hypothesis takes each sample answer (both forms, tests/fixtures/answers) and
applies a few mutations at any level: drop a field, null it, add an unknown
one, or swap a number for a numeric string (and back) where API.md says either
is seen (``version``, ``classId``). Decoding through the pipeline's own decode
step must then either succeed and surface every id the answer still holds, or
fail with ``APIDecodeError`` naming a field the SDK needs (an item's ``id``, a
result's ``dataId``, an item's kind, the pre-signed URL, the envelope's
``code``/``data``), and only when a mutation touched such a field.
"""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from test_models_corpus import CASES, FORMS, load

from basicai_async import APIDecodeError
from basicai_async._http import decode_answer

# Keys whose loss (or null) may rightly make decoding fail, and how the error names them.
NEEDED_KEYS = frozenset({"id", "dataId", "itemType", "type", "preSignedUrl", "presignedUrl", "code", "data"})
NEEDED_IN_MESSAGE = re.compile(
    r"`id`|\.id`|`dataId`|\.dataId`|itemType|preSignedUrl|`code`|\.code`|data is null"
)
EITHER_NUMBER_OR_STRING = frozenset({"version", "classId"})
ID_KEYS = ("id", "dataId")

SAMPLES = [(form, endpoint) for form in FORMS for endpoint in sorted(CASES)]


def _dicts(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path of every dict in a JSON document, the root included."""
    found: list[tuple[Any, ...]] = []
    if isinstance(node, dict):
        found.append(path)
        for key in sorted(node):
            found += _dicts(node[key], (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _dicts(value, (*path, index))
    return found


def _at(doc: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        doc = doc[step]
    return doc


def _swapped(value: Any) -> Any:
    """A number as a numeric string, a numeric string as a number; anything else unchanged."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value
        return int(number) if number.is_integer() and "." not in value else number
    return value


def _ids(node: Any, skip: frozenset[str] = frozenset()) -> Counter[tuple[str, str]]:
    """Every non-null ``id``/``dataId`` in a JSON-like document, not looking under ``skip`` keys."""
    found: Counter[tuple[str, str]] = Counter()
    if isinstance(node, dict):
        for key, value in node.items():
            if key in skip:
                continue
            if key in ID_KEYS and value is not None and not isinstance(value, (dict, list)):
                found[(key, repr(value))] += 1
            found += _ids(value, skip)
    elif isinstance(node, list):
        for value in node:
            found += _ids(value, skip)
    return found


# What hangs off a file of the platform's content tree and is not a file of the item (by design).
NOT_FILES = frozenset(
    {"largeThumbnail", "mediumThumbnail", "smallThumbnail", "binary", "binaryCompressed", "renderImage"}
)


def _wire_ids(data: Any) -> Counter[tuple[str, str]]:
    """The ids an answer holds for users: thumbnails aside; a leaf without its file keeps its ``fileId``."""
    found = _ids(data, skip=NOT_FILES)
    found += _leaf_ids(data)
    return found


def _leaf_ids(node: Any) -> Counter[tuple[str, str]]:
    found: Counter[tuple[str, str]] = Counter()
    if isinstance(node, dict):
        if node.get("fileId") is not None and node.get("file") is None and "files" not in node:
            found[("id", repr(node["fileId"]))] += 1
        for key, value in node.items():
            if key not in NOT_FILES:
                found += _leaf_ids(value)
    elif isinstance(node, list):
        for value in node:
            found += _leaf_ids(value)
    return found


def _read_ids(data: Any) -> Counter[tuple[str, str]]:
    """The ids users can read from decoded models (``objects`` is folded into ``instances``, not read)."""
    return _ids(msgspec.to_builtins(data), skip=frozenset({"objects"}))


@st.composite
def drifted(draw: st.DrawFn) -> tuple[str, str, dict[str, Any], set[str]]:
    """A sample answer with 1 to 4 mutations, and the keys the mutations dropped or nulled."""
    form, endpoint = draw(st.sampled_from(SAMPLES))
    doc = copy.deepcopy(load(form)[endpoint])
    hit: set[str] = set()
    for _ in range(draw(st.integers(1, 4))):
        target = _at(doc, draw(st.sampled_from(_dicts(doc))))
        op = draw(st.sampled_from(["drop", "null", "add", "swap"]))
        if op == "add" or not target:
            unknown = draw(st.sampled_from(["zzNew", "extraInfo2", "tenantId"]))
            target[unknown] = draw(st.sampled_from([None, 1, "x", [], {"nested": {"deeper": [1, "two"]}}]))
            continue
        key = draw(st.sampled_from(sorted(target)))
        if op == "drop":
            del target[key]
            hit.add(key)
        elif op == "null":
            target[key] = None
            hit.add(key)
        elif key in EITHER_NUMBER_OR_STRING:
            target[key] = _swapped(target[key])
    return form, endpoint, doc, hit


@settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=drifted())
def test_drifted_answers_decode_to_the_same_ids_or_fail_on_a_needed_field(
    case: tuple[str, str, dict[str, Any], set[str]],
) -> None:
    form, endpoint, doc, hit = case
    type_ = CASES[endpoint][0]
    raw = json.dumps(doc).encode()
    refused: APIDecodeError | None = None
    try:
        data = decode_answer(raw, type_, "GET", endpoint)
    except APIDecodeError as exc:
        refused = exc
    if refused is not None:
        event("refused on a needed field")
        assert hit & NEEDED_KEYS, f"{form} {endpoint}: refused without a needed field touched: {refused}"
        assert NEEDED_IN_MESSAGE.search(str(refused)), f"{form} {endpoint}: names no needed field: {refused}"
        return
    event("decoded")
    assert _read_ids(data) == _wire_ids(doc.get("data")), f"{form} {endpoint}: ids lost"


@pytest.mark.parametrize(("form", "endpoint"), SAMPLES)
def test_every_unmutated_sample_keeps_all_its_ids(form: str, endpoint: str) -> None:
    doc = load(form)[endpoint]
    data = decode_answer(json.dumps(doc).encode(), CASES[endpoint][0], "GET", endpoint)
    assert _read_ids(data) == _wire_ids(doc["data"])


def test_a_needed_id_nulled_is_refused_by_name() -> None:
    doc = copy.deepcopy(load("xtreme1")["GET /dataset/listItem/{datasetId}"])
    doc["data"]["list"][2]["id"] = None
    with pytest.raises(APIDecodeError, match=r"\$\.data\.list\[2\]\.id"):
        decode_answer(json.dumps(doc).encode(), CASES["GET /dataset/listItem/{datasetId}"][0], "GET", "x")
