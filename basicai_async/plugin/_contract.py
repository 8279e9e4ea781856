"""Checking a model service's answer against the Plugin API contract, as BasicAI would read it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from .._constants import BODY_SNIPPET, EnvelopeCode
from ._models import Box2D, Box3D

__all__ = ["ContractReport", "check_answer"]


@dataclass
class ContractReport:
    """What a service answered and how it measures up.

    ``problems`` are contract violations (BasicAI would reject the answer);
    ``failed_items`` are items the service answered with an error code, which
    the contract allows but which mean the model did not predict them.
    """

    status: int
    answer: Any
    problems: list[str] = field(default_factory=list)
    failed_items: list[str] = field(default_factory=list)
    ok_items: int = 0

    @property
    def ok(self) -> bool:
        """True when the answer follows the contract and every item succeeded."""
        return not self.problems and not self.failed_items


def _wire_names(box: type[Box2D] | type[Box3D]) -> list[str]:
    return [f.encode_name for f in msgspec.structs.fields(box)]


def _check_object(obj: Any, box: type[Box2D] | type[Box3D], where: str) -> str | None:
    if not isinstance(obj, dict):
        return f"{where} is a {type(obj).__name__}, expected an object"
    missing = [name for name in _wire_names(box) if name not in obj]
    if missing:
        return f"{where} lacks {', '.join(missing)}"
    try:
        msgspec.convert(obj, box)
    except msgspec.ValidationError as exc:
        return f"{where}: {exc}"
    return None


def _check_entry(entry: Any, index: int, box: type[Box2D] | type[Box3D], report: ContractReport) -> None:
    where = f"data[{index}]"
    if not isinstance(entry, dict):
        report.problems.append(f"{where} is a {type(entry).__name__}, expected an object")
        return
    for name in ("id", "code"):
        if name not in entry:
            report.problems.append(f"{where} has no {name!r}")
    code = entry.get("code")
    if not isinstance(code, str):
        report.problems.append(f"{where}.code is {code!r}, expected a string")
        return
    if code != EnvelopeCode.OK:
        report.failed_items.append(f"item {entry.get('id')}: {code}: {entry.get('message') or ''}")
        return
    objects = entry.get("objects")
    if not isinstance(objects, list):
        report.problems.append(f"{where}.objects is {objects!r}, expected an array")
        return
    confidence = entry.get("confidence")
    if confidence is not None and not isinstance(confidence, (int, float)):
        report.problems.append(f"{where}.confidence is {confidence!r}, expected a number")
    for position, obj in enumerate(objects):
        problem = _check_object(obj, box, f"{where}.objects[{position}]")
        if problem:
            report.problems.append(problem)


def check_answer(status: int, body: bytes, *, kind: str, sent_ids: Sequence[int | str]) -> ContractReport:
    """Check one HTTP answer to a request for ``sent_ids``; never raises for a bad answer."""
    try:
        answer: Any = msgspec.json.decode(body) if body else None
    except msgspec.DecodeError:
        answer = body[:BODY_SNIPPET].decode("utf-8", "replace")
        report = ContractReport(status, answer)
        report.problems.append("the body is not JSON")
    else:
        report = ContractReport(status, answer)
    if status != 200:
        report.problems.append(f"HTTP {status}; BasicAI reads only HTTP 200 answers")
    if report.problems or not isinstance(answer, dict):
        if not report.problems:
            report.problems.append(f"the body is a {type(answer).__name__}, expected the envelope object")
        return report
    if answer.get("code") != EnvelopeCode.OK:
        report.problems.append(
            f"envelope code is {answer.get('code')!r} (message {answer.get('message')!r}); "
            'it must be the string "OK"'
        )
    data = answer.get("data")
    if not isinstance(data, list) or not data:
        report.problems.append(f"envelope data is {data!r}; expected a non-empty array, one entry per item")
        return report
    box = Box2D if kind == "image" else Box3D
    for index, entry in enumerate(data):
        _check_entry(entry, index, box, report)
    report.ok_items = sum(isinstance(e, dict) and e.get("code") == EnvelopeCode.OK for e in data)
    answered = [e.get("id") for e in data if isinstance(e, dict)]
    missing = [i for i in sent_ids if i not in answered]
    if missing:
        report.problems.append(f"no answer for item ids {missing}")
    unknown = [i for i in answered if i not in sent_ids]
    if unknown:
        report.problems.append(f"answers for ids that were not sent: {unknown}")
    return report
