"""Actions fired by door decisions: run a command, POST a webhook, log. They run on a
worker thread with timeouts and retries, so a slow or failing action never blocks or
stops the video loop."""
from __future__ import annotations

import importlib.util
import json
import logging
import os
import queue
import signal
import string
import subprocess
import shutil
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Type, TypeVar

from .._secrets import redact
from .._validate import check_range
from .policy import GrantPolicy
from ..errors import InvalidParameterError

logger = logging.getLogger(__name__)

#: Fields of an event that command arguments and webhook bodies may use.
EVENT_FIELDS = ("event_id", "time", "frame", "track_id", "decision", "person", "similarity",
                "margin", "votes", "snapshot", "action")


class Action:
    """Base class: ``run(event)`` performs the action once and returns a short result
    string, raising on failure (the runner retries)."""

    name: str = "action"
    timeout_s: float = 5.0
    retries: int = 2
    policy: GrantPolicy = GrantPolicy()

    def run(self, event: Mapping[str, Any]) -> str:  # pragma: no cover - interface
        raise NotImplementedError

    def describe(self, event: Mapping[str, Any]) -> str:
        """What :meth:`run` would do, for ``--dry-run``."""
        return f"{self.name} for {event.get('person')}"

    def cancel(self) -> None:
        """Stop a run in progress, if the action can (called at shutdown)."""

    def preflight(self) -> Optional[str]:
        """What is certain to make this action fail, checked at start without running it
        (a program that does not exist, a URL without a host), or None."""
        return None

    def _check_delivery(self) -> None:
        """Timeout in (0, 3600] s and retries in [0, 100]: a negative count never runs the
        action, a zero or NaN timeout never lets it finish."""
        check_range(self.timeout_s, f"{self.name}: timeout_s", 0.0, 3600.0, low_open=True)
        if isinstance(self.retries, bool) or not isinstance(self.retries, int):
            raise InvalidParameterError(f"{self.name}: retries must be an integer, got "
                                        f"{self.retries!r}")
        check_range(self.retries, f"{self.name}: retries", 0, 100)


#: The action types a door configuration may name (``type = "..."``): type -> class. A new
#: action type is one dataclass of :class:`Action` and one :func:`register_action`; its
#: fields (but ``policy``) are the keys of its ``[[actions]]`` table.
ACTION_TYPES: Dict[str, Type[Action]] = {}

_A = TypeVar("_A", bound=Type[Action])


def register_action(kind: str) -> Callable[[_A], _A]:
    """Class decorator: ``type = "<kind>"`` in ``[[actions]]`` builds this action class."""
    def add(cls: _A) -> _A:
        ACTION_TYPES[kind] = cls
        return cls
    return add


def _fill(template: str, event: Mapping[str, Any]) -> str:
    """``template`` with ``{field}`` placeholders replaced by event fields (only those)."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:  # a lone "{" or "}"
        raise InvalidParameterError(f"bad placeholder in {template!r}: {exc}") from None
    names = [name for _, name, _, _ in parts if name is not None]
    unknown = [n for n in names if n not in EVENT_FIELDS]
    if unknown:
        raise InvalidParameterError(f"unknown placeholder(s) {unknown} in {template!r}; "
                                    f"available: {', '.join(EVENT_FIELDS)}")
    if any(spec or conversion for _, name, spec, conversion in parts if name is not None):
        # "{person:>50000000}" would build a 50 MB argument; only plain {field} is allowed
        raise InvalidParameterError(f"placeholders take no format spec or conversion: "
                                    f"{template!r}")
    return template.format_map({k: "" if event.get(k) is None else event.get(k)
                                for k in EVENT_FIELDS})


#: Bytes of a command's stderr kept for the audit log; the rest is read and dropped.
OUTPUT_LIMIT = 4096


class _BoundedReader:
    """Drains a pipe on a thread, keeping its first ``limit`` bytes: the writer never blocks
    on a full pipe and memory stays bounded whatever it writes."""

    def __init__(self, pipe: Any, limit: int) -> None:
        self._pipe, self._limit = pipe, limit
        self._kept = bytearray()
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        try:
            while True:
                chunk = self._pipe.read1(65536) if hasattr(self._pipe, "read1") else \
                    self._pipe.read(65536)
                if not chunk:
                    return
                room = self._limit - len(self._kept)
                if room > 0:
                    self._kept += chunk[:room]
        except (OSError, ValueError):  # the pipe was closed under us
            return

    def join(self, timeout: float = 5.0) -> None:
        """Wait for the writer's end of the pipe to close (all its writers exited)."""
        self._thread.join(timeout)
        if self._thread.is_alive():  # a grandchild outside the group still holds it open
            try:
                self._pipe.close()
            except OSError:
                pass

    def text(self) -> str:
        return bytes(self._kept).decode(errors="replace")


def _kill_group(process: "subprocess.Popen", reap: bool = True) -> None:
    """SIGKILL the process group of ``process`` (it leads its own session) and reap it
    (``reap=False`` from another thread: the thread waiting on it reaps it)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if not reap:
        return
    try:
        process.wait(timeout=5)  # its pipes are drained by their readers
    except (subprocess.TimeoutExpired, ValueError, OSError):
        pass


@register_action("command")
@dataclass
class CommandAction(Action):
    """Run a program with arguments — never through a shell.

    ``argv`` items may hold placeholders such as ``{person}`` or ``{snapshot}``; each
    item stays one argument whatever the value contains.
    """

    argv: Sequence[str] = ()
    name: str = "command"
    timeout_s: float = 10.0
    retries: int = 1
    policy: GrantPolicy = field(default_factory=GrantPolicy)

    def __post_init__(self) -> None:
        self._check_delivery()
        if isinstance(self.argv, (str, bytes)) or not self.argv or \
                not all(isinstance(a, str) for a in self.argv):
            raise InvalidParameterError(f"a command action needs argv: a non-empty list of "
                                        f"strings (program first), got {self.argv!r}")
        for item in self.argv:
            _fill(item, {})  # reject unknown placeholders at start, not at the door

    def arguments(self, event: Mapping[str, Any]) -> List[str]:
        return [_fill(item, event) for item in self.argv]

    def preflight(self) -> Optional[str]:
        program = self.argv[0]
        if os.sep in program:
            if not os.path.isfile(program):
                return f"program {program} does not exist"
            if not os.access(program, os.X_OK):
                return f"program {program} is not executable"
            return None
        if shutil.which(program) is None:
            return f"program {program!r} is not on the PATH"
        return None

    def run(self, event: Mapping[str, Any]) -> str:
        """Run the program in a process group of its own; at the timeout (or on
        :meth:`cancel`) the whole group is killed, children included. Its stdout is
        discarded and its stderr kept up to OUTPUT_LIMIT bytes (the rest is read and
        dropped), so a chatty program cannot grow the door's memory."""
        process = subprocess.Popen(self.arguments(event), shell=False, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   start_new_session=True)
        self._running().add(process)
        stderr = _BoundedReader(process.stderr, OUTPUT_LIMIT)
        try:
            process.wait(timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            raise RuntimeError(f"timed out after {self.timeout_s:g} s: its process group was "
                               "killed") from None
        finally:
            self._running().discard(process)
            stderr.join()
        if process.returncode < 0 and -process.returncode == signal.SIGKILL:
            raise RuntimeError("killed: the door stopped while it ran")
        if process.returncode != 0:
            raise RuntimeError(f"exit status {process.returncode}: "
                               f"{stderr.text().strip()[:200]}")
        return "exit status 0"

    def _running(self) -> "set[subprocess.Popen]":
        running = self.__dict__.get("_processes")
        if running is None:
            running = self.__dict__["_processes"] = set()
        return running

    def cancel(self) -> None:
        for process in list(self._running()):
            _kill_group(process, reap=False)

    def describe(self, event: Mapping[str, Any]) -> str:
        return f"{self.name}: would run {self.arguments(event)}"


@register_action("webhook")
@dataclass
class WebhookAction(Action):
    """POST the event as JSON to a URL (stdlib HTTP, no shell, no extra dependency)."""

    url: str = ""
    headers: Dict[str, str] = field(default_factory=dict)
    name: str = "webhook"
    timeout_s: float = 5.0
    retries: int = 2
    policy: GrantPolicy = field(default_factory=GrantPolicy)

    def __post_init__(self) -> None:
        self._check_delivery()
        if not isinstance(self.url, str) or not self.url.startswith(("http://", "https://")):
            raise InvalidParameterError(f"webhook url must start with http:// or https://, got "
                                        f"{redact(str(self.url))!r}")
        for name, value in dict(self.headers).items():
            text = f"{name}{value}"
            if not isinstance(name, str) or not isinstance(value, str) or any(
                    c in text for c in "\r\n\x00") or not name.strip() or ":" in name:
                raise InvalidParameterError(f"webhook header {name!r} must be a name and a "
                                            "value without line breaks")

    def preflight(self) -> Optional[str]:
        try:
            parts = urllib.parse.urlsplit(self.url)
            parts.port  # noqa: B018 - raises for a port that is no number
        except ValueError as exc:
            return f"url {redact(self.url)} does not parse: {exc}"
        return None if parts.hostname else f"url {redact(self.url)} names no host"

    def run(self, event: Mapping[str, Any]) -> str:
        body = json.dumps(dict(event), default=str).encode("utf-8")
        request = urllib.request.Request(
            self.url, data=body, method="POST",
            headers={"Content-Type": "application/json", **self.headers})
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
            return f"HTTP {response.status}"

    def describe(self, event: Mapping[str, Any]) -> str:
        return f"{self.name}: would POST to {redact(self.url)}"


@register_action("mqtt")
@dataclass
class MqttAction(Action):
    """Publish the event as JSON to an MQTT broker (needs paho-mqtt, the ``[mqtt]`` extra).

    ``topic`` may hold placeholders; the default ``face_trigger/{decision}`` gives
    ``face_trigger/identified`` and ``face_trigger/unknown``, easy to trigger a Home
    Assistant automation on (``platform: mqtt``, ``topic: face_trigger/identified``,
    then ``trigger.payload_json.person``). The password is read from the environment
    variable named by ``password_env`` at publish time, never stored in the config.
    """

    host: str = "localhost"
    port: int = 1883
    topic: str = "face_trigger/{decision}"
    username: Optional[str] = None
    password_env: Optional[str] = None
    qos: int = 1
    retain: bool = False
    name: str = "mqtt"
    timeout_s: float = 5.0
    retries: int = 2
    policy: GrantPolicy = field(default_factory=GrantPolicy)

    def __post_init__(self) -> None:
        self._check_delivery()
        if not self.host or not 0 < int(self.port) < 65536:
            raise InvalidParameterError(f"mqtt needs a host and a port in 1..65535, got "
                                        f"{self.host!r}:{self.port!r}")
        if self.qos not in (0, 1, 2):
            raise InvalidParameterError(f"mqtt qos must be 0, 1 or 2, got {self.qos!r}")
        _fill(self.topic, {})

    def preflight(self) -> Optional[str]:
        if importlib.util.find_spec("paho") is None:
            return "the mqtt action needs paho-mqtt: pip install paho-mqtt (the [mqtt] extra)"
        return None

    def run(self, event: Mapping[str, Any]) -> str:
        try:
            import paho.mqtt.client as mqtt  # noqa: PLC0415 - optional extra
        except ImportError as exc:
            raise RuntimeError("the mqtt action needs paho-mqtt: pip install "
                               "'face_trigger[mqtt]'") from exc
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                             client_id=f"face_trigger-{event.get('event_id', '')[:12]}")
        if self.username:
            password = os.environ.get(self.password_env) if self.password_env else None
            client.username_pw_set(self.username, password)
        client.connect(self.host, int(self.port), keepalive=max(5, int(self.timeout_s)))
        client.loop_start()
        try:
            info = client.publish(_fill(self.topic, event), json.dumps(dict(event), default=str),
                                  qos=self.qos, retain=self.retain)
            info.wait_for_publish(timeout=self.timeout_s)
            if not info.is_published():
                raise TimeoutError(f"broker {self.host}:{self.port} did not acknowledge within "
                                   f"{self.timeout_s} s")
        finally:
            client.disconnect()
            client.loop_stop()
        return f"published to {_fill(self.topic, event)}"

    def describe(self, event: Mapping[str, Any]) -> str:
        return f"{self.name}: would publish to {self.host}:{self.port} {self.topic}"


@register_action("log")
@dataclass
class LogAction(Action):
    """Write the event to the ``face_trigger.actions`` logger."""

    name: str = "log"
    timeout_s: float = 5.0
    retries: int = 0
    policy: GrantPolicy = field(default_factory=GrantPolicy)

    def __post_init__(self) -> None:
        self._check_delivery()

    def run(self, event: Mapping[str, Any]) -> str:
        logger.info("door event %s: %s %s", event.get("event_id"), event.get("decision"),
                    event.get("person"))
        return "logged"


@register_action("print")
@dataclass
class PrintAction(LogAction):
    """One line per firing on standard output: time, person, similarity, event id (what
    ``watch --print`` adds; easy to pipe into another program)."""

    name: str = "print"

    def run(self, event: Mapping[str, Any]) -> str:
        print(f"{event.get('time')}\t{event.get('person')}\t{event.get('similarity')}\t"
              f"{event.get('event_id')}", flush=True)
        return "printed"


ResultCallback = Callable[[Mapping[str, Any], Action, bool, str], None]


class ActionRunner:
    """Runs actions on a background thread, in order, with retries and backoff.

    ``submit`` never blocks: when more than ``max_queue`` jobs wait, the new job is
    refused and reported as failed (the loop goes on). ``on_result(event, action, ok,
    detail)`` is called on the worker thread after each job.
    """

    def __init__(self, on_result: Optional[ResultCallback] = None, max_queue: int = 100,
                 backoff_s: float = 0.5) -> None:
        self.on_result = on_result
        self.backoff_s = backoff_s
        self._current: Optional[Action] = None
        self._stopping = threading.Event()
        self._queue: "queue.Queue[Optional[tuple]]" = queue.Queue(maxsize=max_queue)
        self._thread = threading.Thread(target=self._work, name="face_trigger-actions",
                                        daemon=True)
        self._thread.start()

    def submit(self, event: Mapping[str, Any], action: Action) -> bool:
        try:
            self._queue.put_nowait((dict(event), action))
            return True
        except queue.Full:
            logger.error("action queue full: %s for event %s dropped", action.name,
                         event.get("event_id"))
            self._report(event, action, False, "dropped: action queue full")
            return False

    def _report(self, event, action, ok, detail) -> None:
        detail = redact(detail)  # an error may quote a URL with its password
        if self.on_result is not None:
            try:
                self.on_result(event, action, ok, detail)
            except Exception:  # a broken callback must not kill the worker
                logger.exception("action result callback failed")

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                self._queue.task_done()
                return
            event, action = job
            detail, ok = "not run: the door stopped", False
            self._current = action
            for attempt in range(action.retries + 1):
                if self._stopping.is_set():
                    break
                try:
                    detail, ok = action.run(event), True
                    break
                except Exception as exc:  # report every failure, never raise
                    detail = f"{type(exc).__name__}: {exc}"
                    logger.warning("action %s failed (attempt %d of %d): %s", action.name,
                                   attempt + 1, action.retries + 1, detail)
                    if attempt < action.retries:
                        self._stopping.wait(self.backoff_s * 2 ** attempt)
            self._current = None
            self._report(event, action, ok, detail)
            self._queue.task_done()

    def close(self, timeout: float = 30.0) -> None:
        """Finish queued jobs (up to ``timeout`` seconds), then stop what still runs (a
        command's process group is killed), report the rest as not run, and stop the
        worker: a hung action never outlives the door, and every outcome is reported."""
        deadline = time.monotonic() + timeout
        try:
            self._queue.put(None, timeout=timeout)
            sentinel = True
        except queue.Full:
            sentinel = False
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if self._thread.is_alive():
            self._stopping.set()
            current = self._current
            if current is not None:
                current.cancel()
            if not sentinel:  # the queue drains at once now: end it after the rest
                try:
                    self._queue.put(None, timeout=10.0)
                except queue.Full:
                    logger.error("action worker did not drain its queue at shutdown")
            self._thread.join(10.0)
