"""Who an action may fire for and when (GrantPolicy), and once per visit (PersonArming).
Pure logic: no models, no I/O."""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Dict, FrozenSet, Iterable, Optional, Tuple

from ..errors import InvalidParameterError
from ..types import UNKNOWN


class PersonArming:
    """One firing per visit: after firing, a person is disarmed until out of view for
    ``rearm_s`` seconds, and at least ``cooldown_s`` have passed since the firing."""

    def __init__(self, cooldown_s: float, rearm_s: float) -> None:
        self.cooldown_s = cooldown_s
        self.rearm_s = rearm_s
        self._last_fire: Dict[str, float] = {}
        self._last_seen: Dict[str, float] = {}
        self._rearmed: Dict[str, bool] = {}

    def can_fire(self, person: str, now: float) -> bool:
        if person not in self._last_fire:
            return True
        return now - self._last_fire[person] >= self.cooldown_s and self._rearmed[person]

    def fired(self, person: str, now: float) -> None:
        self._last_fire[person] = now
        self._last_seen[person] = now
        self._rearmed[person] = False

    def tick(self, now: float, visible: Iterable[str]) -> None:
        """Call once per frame with the people whose tracks are identified and visible."""
        visible = set(visible)
        for person in visible:
            self._last_seen[person] = now
        for person in self._last_fire:
            if person not in visible and now - self._last_seen[person] >= self.rearm_s:
                self._rearmed[person] = True


def _parse_window(text: str) -> Tuple[_dt.time, _dt.time]:
    try:
        start, end = (part.strip() for part in text.split("-"))
        return _dt.time.fromisoformat(start), _dt.time.fromisoformat(end)
    except ValueError:
        raise InvalidParameterError(
            f"time window must look like '08:00-18:30', got {text!r}") from None


@dataclass(frozen=True)
class GrantPolicy:
    """Who an action may fire for, and when.

    Attributes
    ----------
    people : frozenset of str or None
        Allowed people; ``None`` means every enrolled person except known strangers.
    windows : tuple of str
        Local time windows "HH:MM-HH:MM" (may wrap midnight); empty = always.
    known_strangers : frozenset of str
        Enrolled only so that nobody is mistaken for them: never granted.
    """

    people: Optional[FrozenSet[str]] = None
    windows: Tuple[str, ...] = ()
    known_strangers: FrozenSet[str] = frozenset()

    def __post_init__(self) -> None:
        for field_name in ("people", "known_strangers", "windows"):
            value = getattr(self, field_name)
            if isinstance(value, (str, bytes)):  # frozenset("alice") would grant "a", "l"...
                raise InvalidParameterError(f"{field_name} must be a collection of strings, "
                                            f"got the single string {value!r}")
        for window in self.windows:
            _parse_window(window)

    def allows(self, person: str, when: _dt.datetime) -> Tuple[bool, str]:
        """(granted, reason)."""
        if person == UNKNOWN:
            return False, "unknown person"
        if person in self.known_strangers:
            return False, "known stranger"
        if self.people is not None and person not in self.people:
            return False, "not in the allowed people"
        if self.windows and not any(_in_window(when.time(), _parse_window(w))
                                    for w in self.windows):
            return False, "outside the time windows"
        return True, "allowed"


def _in_window(now: _dt.time, window: Tuple[_dt.time, _dt.time]) -> bool:
    start, end = window
    return start <= now <= end if start <= end else (now >= start or now <= end)
