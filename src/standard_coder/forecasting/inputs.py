"""Sprint inputs and historical outcomes: pydantic models, loaders and readable errors.

Every problem becomes a :class:`ForecastInputError` whose message names the file, the JSON path
(``$.tickets[2].status``) and what was expected, e.g.::

    sprint.json: $.tickets[1].status: expected one of 'todo', 'in_progress', 'in_review', 'done'
    (got 'blocked')

Regenerate the JSON Schemas in ``docs/`` with
``PYTHONPATH=src python -m standard_coder.forecasting.schema_gen docs``.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import IO, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from standard_coder.forecasting._io import atomic_write
from standard_coder.runner.jsonfile import read_json_object
from standard_coder.runner.suggest import did_you_mean, fields_at

TicketStatus = Literal["todo", "in_progress", "in_review", "done"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_M = TypeVar("_M", bound=BaseModel)
_MON_TO_FRI: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")
DEFAULT_REMAINING_FRACTION: dict[str, float] = {
    "todo": 1.0,
    "in_progress": 0.5,
    "in_review": 0.2,
    "done": 0.0,
}
"""Share of a ticket's effort still to do when it gives no ``remaining_fraction``: an
``in_progress`` ticket is taken as half done, an ``in_review`` one as 80 % done (review rounds
and fixes are left), a ``todo`` one as not started."""
MAX_STORY_POINTS = 1_000_000
"""Story points above this are taken for a typo (a sprint ticket is not a million points)."""


class ForecastInputError(ValueError):
    """A sprint-inputs or historical-outcomes file is unreadable or invalid (one clear message)."""

    exit_code = 2


class _Model(BaseModel):
    # Numbers are finite: JSON's non-standard Infinity/NaN (which Python's json reads) are errors.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _numbers_are_numbers(cls, v: Any, info: ValidationInfo) -> Any:
        """A number written as text (``"story_points": "3"``, as some tracker exports write
        it) is refused by name, as the JSON schema says: it was read as the number quietly."""
        if isinstance(v, str) and info.field_name is not None:
            field = cls.model_fields[info.field_name]
            kinds = set(getattr(field.annotation, "__args__", ()) or (field.annotation,))
            if kinds & {int, float}:
                what = "a number" if float in kinds else "an integer"
                try:
                    float(v)
                except ValueError:
                    raise ValueError(f"expected {what}, not text") from None
                raise ValueError(f"expected {what}, not text (write it without quotes)")
        return v


class Member(_Model):
    """A team member and their availability."""

    name: str = Field(min_length=1, description="unique within the sprint")
    daily_capacity_hours: float = Field(
        ge=0, le=24, description="hours per working day available for sprint work"
    )
    days_off: list[date] = Field(default_factory=list, description="ISO dates the member is off")


class Ticket(_Model):
    """One sprint ticket. Effort comes from the model (diff / commit ids) or story points."""

    id: str = Field(min_length=1, description="unique within the sprint")
    title: str = Field("", description="shown in tables")
    status: TicketStatus = Field(description="done tickets have no remaining effort")
    priority: int | None = Field(
        None, description="work order: lower first; tickets without one follow, in listed order"
    )
    story_points: float | None = Field(
        None, ge=0, le=MAX_STORY_POINTS, description="estimate in story points"
    )
    diff: str | None = Field(None, description="unified diff text of the (planned) change")
    commit_ids: list[str] = Field(
        default_factory=list, description="commits of the change (mined by the pipeline)"
    )
    remaining_fraction: float | None = Field(
        None,
        gt=0,
        le=1,
        description=(
            "share of the ticket's effort still to do; default by status: todo 1.0, "
            "in_progress 0.5, in_review 0.2"
        ),
    )

    @property
    def remaining(self) -> float:
        """``remaining_fraction``, or the status default (:data:`DEFAULT_REMAINING_FRACTION`)."""
        if self.status == "done":
            return 0.0
        if self.remaining_fraction is not None:
            return self.remaining_fraction
        return DEFAULT_REMAINING_FRACTION[self.status]

    @property
    def needs_model(self) -> bool:
        """True when effort should come from the trained model (diff or commit ids, not done)."""
        return self.status != "done" and (bool(self.diff) or bool(self.commit_ids))

    @model_validator(mode="after")
    def _has_effort_source(self) -> Ticket:
        if self.status != "done" and self.story_points is None and not self.needs_model:
            raise ValueError(
                "expected story_points, diff or commit_ids (a ticket that is not done needs one)"
            )
        return self


class SprintInputs(_Model):
    """The sprint to forecast."""

    sprint_id: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="letters, digits, '.', '_' or '-' (it names the output files)",
    )
    start_date: date = Field(description="first day of the sprint (ISO date)")
    end_date: date = Field(description="last day of the sprint, inclusive (ISO date)")
    working_weekdays: list[Weekday] = Field(
        default_factory=lambda: list(_MON_TO_FRI),
        min_length=1,
        description="weekdays the team works",
    )
    holidays: list[date] = Field(default_factory=list, description="non-working dates")
    members: list[Member] = Field(min_length=1, description="the team")
    tickets: list[Ticket] = Field(description="sprint scope")

    @field_validator("end_date")
    @classmethod
    def _end_after_start(cls, v: date, info: ValidationInfo) -> date:
        start = info.data.get("start_date")
        if start is not None and v < start:
            raise ValueError(f"expected a date on or after start_date {start.isoformat()}")
        if start is not None and (v - start).days > 366:
            raise ValueError("expected a sprint shorter than a year")
        return v

    @field_validator("members")
    @classmethod
    def _unique_members(cls, v: list[Member]) -> list[Member]:
        _check_unique([m.name for m in v], "member name", "members")
        return v

    @field_validator("tickets")
    @classmethod
    def _unique_tickets(cls, v: list[Ticket]) -> list[Ticket]:
        _check_unique([t.id for t in v], "ticket id", "tickets")
        return v

    def working_days(self) -> list[date]:
        """Dates in ``[start_date, end_date]`` on a working weekday and not a holiday."""
        return self._working_days(self.start_date, stop=self.end_date)

    def working_days_after_end(self, n: int) -> list[date]:
        """The next ``n`` working days after ``end_date`` (same weekdays and holidays)."""
        return self._working_days(self.end_date + timedelta(days=1), count=n)

    def _working_days(
        self, first: date, *, stop: date | None = None, count: int | None = None
    ) -> list[date]:
        wanted = {WEEKDAYS.index(d) for d in self.working_weekdays}
        holidays = set(self.holidays)
        days: list[date] = []
        d = first
        while (stop is None or d <= stop) and (count is None or len(days) < count):
            if d.weekday() in wanted and d not in holidays:
                days.append(d)
            d += timedelta(days=1)
        return days

    def ordered_tickets(self) -> list[Ticket]:
        """Tickets in work order: by ``priority`` (lower first), then listed order."""
        return sorted(
            self.tickets,
            key=lambda t: (t.priority is None, t.priority if t.priority is not None else 0),
        )


class HistoricalSprint(_Model):
    """One finished sprint."""

    sprint_id: str = Field(min_length=1, description="unique")
    start_date: date = Field(description="first day (ISO date)")
    end_date: date = Field(description="last day, inclusive (ISO date)")
    committed_sch: float = Field(ge=0, description="scope committed at sprint start, SCH hours")
    done_sch: float = Field(ge=0, description="effort finished by the end, SCH hours")
    committed_story_points: float | None = Field(
        None,
        ge=0,
        le=MAX_STORY_POINTS,
        description=(
            "the committed scope in story points (optional): with committed_sch it teaches the "
            "forecast how many SCH hours a story point is"
        ),
    )
    workdays: int = Field(ge=1, le=366, description="working days in the sprint")
    completed: bool = Field(description="was the committed scope finished by the end")
    completed_on_day: int | None = Field(
        None, ge=1, description="working day (1 = first) the scope was finished; when completed"
    )

    @field_validator("end_date")
    @classmethod
    def _end_after_start(cls, v: date, info: ValidationInfo) -> date:
        start = info.data.get("start_date")
        if start is not None and v < start:
            raise ValueError(f"expected a date on or after start_date {start.isoformat()}")
        return v

    @field_validator("completed_on_day")
    @classmethod
    def _day_in_sprint(cls, v: int | None, info: ValidationInfo) -> int | None:
        completed = info.data.get("completed")
        workdays = info.data.get("workdays")
        if v is None and completed:
            raise ValueError("expected a working day number when completed is true")
        if v is not None and completed is False:
            raise ValueError("expected null when completed is false")
        if v is not None and workdays is not None and v > workdays:
            raise ValueError(f"expected a day between 1 and workdays ({workdays})")
        return v

    @model_validator(mode="before")
    @classmethod
    def _require_day_field(cls, data: Any) -> Any:
        # Run the completed_on_day validator even when the key is absent.
        if isinstance(data, dict) and "completed_on_day" not in data:
            data = {**data, "completed_on_day": None}
        return data

    @property
    def estimated_completion_day(self) -> float | None:
        """``completed_on_day``, or for an unfinished sprint the day it would have finished at
        its own pace: ``workdays * committed / done`` (None when nothing was done)."""
        if self.completed:
            return float(self.completed_on_day or self.workdays)
        if self.done_sch <= 0:
            return None
        return self.workdays * self.committed_sch / self.done_sch

    @property
    def throughput(self) -> float:
        """SCH per working day: done effort over the days it took (completion day if finished)."""
        days = self.completed_on_day if self.completed and self.completed_on_day else self.workdays
        return self.done_sch / days


class HistoricalOutcomes(_Model):
    """Past sprints of the team, any order (they are sorted by start date)."""

    sprints: list[HistoricalSprint] = Field(min_length=1, description="finished sprints")

    @field_validator("sprints")
    @classmethod
    def _unique_sprints(cls, v: list[HistoricalSprint]) -> list[HistoricalSprint]:
        _check_unique([s.sprint_id for s in v], "sprint id", "sprints")
        return sorted(v, key=lambda s: s.start_date)


def _check_unique(values: list[str], what: str, field: str) -> None:
    seen: dict[str, int] = {}
    for i, value in enumerate(values):
        if value in seen:
            raise ValueError(
                f"duplicate {what} {value!r} ({field}[{seen[value]}] and {field}[{i}])"
            )
        seen[value] = i


def _json_path(loc: tuple[int | str, ...]) -> str:
    out = "$"
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _describe(err: Any, model: type[BaseModel]) -> str:
    loc = tuple(err["loc"])
    path = _json_path(loc)
    kind = err["type"]
    got = err.get("input")
    if kind == "missing":
        return f"{path}: required field is missing"
    if kind == "extra_forbidden":
        valid = fields_at(model, loc[:-1])
        hint = did_you_mean(str(loc[-1]), valid)
        return f"{path}: unknown field{hint}"
    if kind == "too_short" and isinstance(got, list) and not got:
        least = err.get("ctx", {}).get("min_length", 1)
        return f"{path}: the list is empty (expected at least {least} item(s))"
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        listed = expected.replace(" or ", ", ").replace("'", '"')  # as the file spells them
        return f"{path}: expected one of {listed} (got {_json(got)})"
    if kind == "string_pattern_mismatch":  # the field's own words, not its regular expression
        said = _field_description(model, loc) or f"text matching {err['ctx']['pattern']}"
        return f"{path}: expected {said} (got {_json(got)})"
    if kind.startswith(("date_", "datetime_")):  # "invalid character in year": which form
        why = str(err["msg"]).split(", ", 1)[-1]
        return f"{path}: expected a date written YYYY-MM-DD ({why}) (got {_json(got)})"
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    else:
        msg = "expected " + msg[0].lower() + msg[1:] if msg.startswith("Input should") else msg
        msg = msg.replace("expected input should be", "expected")
    shown = "" if isinstance(got, (dict, list)) else f" (got {_json(got)})"
    return f"{path}: {msg}{shown}"


def _json(value: Any) -> str:
    """A value as the JSON file spells it (``null``, ``true``, ``"S 1"``), not Python's repr."""
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def _field_description(model: type[BaseModel], loc: tuple[Any, ...]) -> str | None:
    """The ``description`` of the field at ``loc`` (list indexes skipped), else None."""
    current: Any = model
    field = None
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", None)
        if not fields or str(part) not in fields:
            return None
        field = fields[str(part)]
        ann = field.annotation
        args = getattr(ann, "__args__", ()) or (ann,)
        current = next((a for a in args if isinstance(a, type) and issubclass(a, BaseModel)), ann)
    return field.description if field is not None else None


def _load(path: Path, model: type[_M], what: str) -> _M:
    path = Path(path)
    data = read_json_object(path, ForecastInputError, what)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [_describe(e, model) for e in exc.errors()]
        if len(problems) == 1:
            raise ForecastInputError(f"{path}: {problems[0]}") from None
        body = "\n".join(f"  {p}" for p in problems)
        raise ForecastInputError(f"{path}: {len(problems)} problems in {what}\n{body}") from None


def load_sprint_inputs(path: Path) -> SprintInputs:
    """Read and validate a sprint-inputs JSON file.

    Raises:
        ForecastInputError: missing file, not JSON, or a field of the wrong form.
    """
    return _load(path, SprintInputs, "sprint inputs")


def load_historical_outcomes(path: Path) -> HistoricalOutcomes:
    """Read and validate a historical-outcomes JSON file (sprints come back sorted by start).

    Raises:
        ForecastInputError: missing file, not JSON, or a field of the wrong form.
    """
    return _load(path, HistoricalOutcomes, "historical outcomes")


SCHEMA_FILES: dict[str, type[BaseModel]] = {
    "sprint_inputs.schema.json": SprintInputs,
    "historical_outcomes.schema.json": HistoricalOutcomes,
}


def schema_text(model: type[BaseModel]) -> str:
    """The JSON Schema of ``model`` as committed in ``docs/`` (indented, trailing newline)."""
    schema = model.model_json_schema()
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
    return json.dumps(schema, indent=2) + "\n"


def write_schemas(docs_dir: Path) -> list[Path]:
    """Write every input JSON Schema into ``docs_dir``."""
    out = []
    for name, model in SCHEMA_FILES.items():
        text = schema_text(model)
        data = text.encode("utf-8")

        def write(fh: IO[bytes], data: bytes = data) -> None:
            fh.write(data)

        out.append(atomic_write(Path(docs_dir) / name, write))
    return out
