"""QA forms and their scoring (pure).

A form is sections of questions; each question is ``yes_no`` or ``scale`` (1 to 5), with a
weight. An answer is worth 1 (yes, 5), 0 (no, 1) or in between on the scale ((n - 1) / 4);
a question left out (null) is not applicable and leaves the weighting. The score is

    100 * sum(weight * worth) / sum(weight)   over the questions answered

A ``critical`` question must be answered; answered "no" (or 1 on a scale) it fails the
whole review: the score is 0, whatever the rest (``raw_score`` keeps the weighted one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, model_validator

from app.schemas import Input

Kind = Literal["yes_no", "scale"]


class Question(Input):
    key: str = Field(pattern=r"^[a-z0-9_-]{1,40}$", description="unique in the form")
    text: str = Field(min_length=1, max_length=500)
    kind: Kind
    weight: float = Field(default=1.0, gt=0, le=100)
    critical: bool = Field(default=False, description="answered no (or 1) fails the form")


class Section(Input):
    title: str = Field(min_length=1, max_length=200)
    questions: list[Question] = Field(min_length=1, max_length=100)


class FormDefinition(Input):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    sections: list[Section] = Field(min_length=1, max_length=30)

    @model_validator(mode="after")
    def _unique_keys(self) -> FormDefinition:
        keys = [q.key for s in self.sections for q in s.questions]
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        if repeated:
            raise ValueError(f"question keys must be unique: {', '.join(repeated)}")
        return self


class ScoreError(ValueError):
    """The answers do not fit the form; ``field`` names the question."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Scored:
    score: float
    raw_score: float
    failed: bool
    failed_on: tuple[str, ...]


def score(sections: list[dict[str, Any]], answers: dict[str, Any]) -> Scored:
    """Score ``answers`` (question key -> true/false, 1-5, or null) against the form."""
    questions = {q["key"]: q for s in sections for q in s["questions"]}
    unknown = sorted(set(answers) - set(questions))
    if unknown:
        raise ScoreError(f"no such question: {', '.join(unknown)}", unknown[0])
    total = weights = 0.0
    failed: list[str] = []
    for key, q in questions.items():
        value = answers.get(key)
        if value is None:
            if q.get("critical"):
                raise ScoreError(f"{key}: a critical question must be answered", key)
            continue
        worth = _worth(key, q["kind"], value)
        if q.get("critical") and worth == 0.0:
            failed.append(key)
        total += float(q["weight"]) * worth
        weights += float(q["weight"])
    if weights == 0:
        raise ScoreError("answer at least one question", next(iter(questions), "answers"))
    raw = round(100 * total / weights, 1)
    return Scored(0.0 if failed else raw, raw, bool(failed), tuple(failed))


def _worth(key: str, kind: str, value: Any) -> float:
    if kind == "yes_no":
        if not isinstance(value, bool):
            raise ScoreError(f"{key}: answer yes (true) or no (false)", key)
        return 1.0 if value else 0.0
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise ScoreError(f"{key}: answer 1 to 5", key)
    return (value - 1) / 4
