"""Checking a model service's answer against the Plugin API contract, as BasicAI would read it.

How the platform reads an answer (its model caller and converters):

- anything but HTTP 200 makes it throw and retry at once;
- the envelope's ``code`` must be a code it knows: ``"OK"``, or ``"ERROR"`` when
  every item failed. Its image path reads only the envelope's code, so an item
  that failed under an envelope ``"OK"`` is saved as a success with no objects;
- a box is kept only when its ``label`` equals one of the model's class codes set
  in the platform ignoring case, and then finds its class by exact case.
"""

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
    the contract allows but which mean the model did not predict them;
    ``warnings`` are what BasicAI accepts but reads otherwise than the service
    means (labels that differ only by case, a failure it would take for success).
    """

    status: int
    answer: Any
    problems: list[str] = field(default_factory=list)
    failed_items: list[str] = field(default_factory=list)
    ok_items: int = 0
    warnings: list[str] = field(default_factory=list)

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


def _check_labels(data: list[Any], class_codes: Sequence[str] | None, report: ContractReport) -> None:
    """Warn about labels BasicAI would match to no class, or to one only by case."""
    labels = sorted(
        {
            obj["label"]
            for entry in data
            if isinstance(entry, dict) and entry.get("code") == EnvelopeCode.OK
            for obj in entry.get("objects") or ()
            if isinstance(obj, dict) and isinstance(obj.get("label"), str)
        }
    )
    spellings: dict[str, list[str]] = {}
    for label in labels:
        spellings.setdefault(label.casefold(), []).append(label)
    for same in spellings.values():
        if len(same) > 1:
            report.warnings.append(
                f"labels {', '.join(map(repr, same))} differ only by case: BasicAI finds a box's class "
                "by the exact class code, so at most one spelling can be right"
            )
    if class_codes is None:
        return
    codes = {code.casefold(): code for code in class_codes}
    for label in labels:
        code = codes.get(label.casefold())
        if code is None:
            report.warnings.append(f"label {label!r} is none of the class codes: BasicAI drops its boxes")
        elif code != label:
            report.warnings.append(
                f"label {label!r} matches class code {code!r} only by case: BasicAI keeps its boxes "
                "but finds no class for them"
            )


def check_answer(
    status: int,
    body: bytes,
    *,
    kind: str,
    sent_ids: Sequence[int | str],
    class_codes: Sequence[str] | None = None,
) -> ContractReport:
    """Check one HTTP answer to a request for ``sent_ids``; never raises for a bad answer.

    ``class_codes`` (the model's class codes as set in the platform) adds a
    warning for each label that matches none of them, or one only by case.
    """
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
    envelope = answer.get("code")
    if envelope not in (EnvelopeCode.OK, EnvelopeCode.ERROR):
        report.problems.append(
            f"envelope code is {envelope!r} (message {answer.get('message')!r}); "
            'it must be the string "OK" (or "ERROR" when every item failed)'
        )
    data = answer.get("data")
    if not isinstance(data, list) or not data:
        report.problems.append(f"envelope data is {data!r}; expected a non-empty array, one entry per item")
        return report
    box = Box2D if kind == "image" else Box3D
    for index, entry in enumerate(data):
        _check_entry(entry, index, box, report)
    report.ok_items = sum(isinstance(e, dict) and e.get("code") == EnvelopeCode.OK for e in data)
    if envelope == EnvelopeCode.ERROR and report.ok_items:
        report.problems.append(
            f'envelope code is "ERROR" but {report.ok_items} item(s) succeeded: BasicAI drops their objects'
        )
    if envelope == EnvelopeCode.OK and report.failed_items and not report.ok_items and kind == "image":
        report.warnings.append(
            'every item failed under envelope code "OK": BasicAI saves a failed image as a success '
            'with no objects; answer "ERROR" in the envelope when every item failed'
        )
    _check_labels(data, class_codes, report)
    answered = [e.get("id") for e in data if isinstance(e, dict)]
    missing = [i for i in sent_ids if i not in answered]
    if missing:
        report.problems.append(f"no answer for item ids {missing}")
    unknown = [i for i in answered if i not in sent_ids]
    if unknown:
        report.problems.append(f"answers for ids that were not sent: {unknown}")
    return report
