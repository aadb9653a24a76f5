"""Door configuration: TOML, overrides, and rejection of bad keys and values by name."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pytest

from face_trigger.door.actions import ACTION_TYPES, Action, CommandAction, WebhookAction
from face_trigger.door.config import LIVENESS_FIELDS, ConfigError, load_config
from face_trigger.door.decision import DecisionSettings
from face_trigger.door.policy import GrantPolicy

GOOD = """
[source]
uri = "door.avi"
[recognizer]
model = "door.pkl"
[decision]
votes_needed = 2
window = 4
known_strangers = ["mallory"]
[[actions]]
type = "command"
argv = ["open-door", "{person}"]
people = ["alice"]
windows = ["07:00-20:00"]
[[actions]]
type = "webhook"
url = "http://127.0.0.1:8123/api/webhook/door"
"""


def write(tmp_path, text):
    path = tmp_path / "door.toml"
    path.write_text(text)
    return path


def test_good_config_and_overrides(tmp_path):
    config = load_config(write(tmp_path, GOOD), ["decision.window=5", "source.uri=0"])
    assert config.sections["decision"]["window"] == 5
    assert config.sections["source"]["uri"] == 0
    settings = config.decision_settings()
    assert settings.votes_needed == 2 and settings.cooldown_s == 10.0
    command, webhook = config.build_actions()
    assert isinstance(command, CommandAction) and isinstance(webhook, WebhookAction)
    assert command.policy.people == frozenset({"alice"})
    assert command.policy.known_strangers == frozenset({"mallory"})


@pytest.mark.parametrize("text, message", [
    (GOOD + "\n[camera]\nuri = 1\n", r"unknown section\(s\) \['camera'\]"),
    (GOOD.replace("votes_needed = 2", "votes = 2"), "decision.votes"),
    (GOOD.replace("window = 4", 'window = "four"'), "decision.window must be an integer"),
    (GOOD.replace("votes_needed = 2", "votes_needed = 9"), "votes_needed <= window"),
    (GOOD.replace('model = "door.pkl"', 'model = "door.pkl"\npeople = "p/"'), "exactly one"),
    (GOOD.replace('uri = "door.avi"', ""), r"source.uri \(or \[\[sources\]\] tables\) is required"),
    (GOOD + '\n[[sources]]\nuri = "cam.avi"\n', "not both"),
    (GOOD.replace('uri = "door.avi"', "") + '\n[[sources]]\nname = "front"\n',
     r"sources\[0\].uri must be"),
    (GOOD.replace('uri = "door.avi"', "") + '\n[[sources]]\nuri = "a.avi"\nport = 1\n',
     r"sources\[0\].port"),
    (GOOD.replace('uri = "door.avi"', "") + '\n[[sources]]\nuri = "a.avi"\n'
     'give_up_after_s = -1\n', r"sources\[0\].give_up_after_s"),
    (GOOD.replace('uri = "door.avi"', "") + '\n[[sources]]\nuri = "a.avi"\n[[sources]]\n'
     'uri = "a.avi"\n', "its own name"),
    (GOOD.replace('"{person}"', '"{name}"'), r"actions\[0\].*unknown placeholder"),
    (GOOD.replace('"07:00-20:00"', '"7 to 8"'), r"actions\[0\].*08:00-18:30"),
    (GOOD.replace('type = "webhook"', 'type = "email"'), r"actions\[1\].type"),
    (GOOD.replace("http://127.0.0.1", "ftp://127.0.0.1"), r"actions\[1\].*http"),
    (GOOD + '\n[[actions]]\ntype = "log"\ncolour = "red"\n', r"actions\[2\].colour"),
    ("[source\nuri=1", "not valid TOML"),
])
def test_bad_configs_name_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, text))


def test_sources_tables_name_each_camera_and_inherit_source_keys(tmp_path):
    text = GOOD.replace('uri = "door.avi"', "max_backoff_s = 2.0") + (
        '\n[[sources]]\nuri = "rtsp://front/stream"\nname = "front"\n'
        '\n[[sources]]\nuri = 1\ngive_up_after_s = 30\n')
    sources = load_config(write(tmp_path, text)).sources
    assert [(s["uri"], s["name"], s["max_backoff_s"], s["give_up_after_s"]) for s in sources] \
        == [("rtsp://front/stream", "front", 2.0, None), (1, "1", 2.0, 30)]
    # sources named on the command line replace the file's tables
    assert [s["uri"] for s in load_config(write(tmp_path, text), ['source.uri="x.avi"']).sources] \
        == ["x.avi"]
    # one source from [source] has no name: its events and records carry none
    assert load_config(write(tmp_path, GOOD)).sources[0]["name"] == ""


def test_bad_overrides(tmp_path):
    path = write(tmp_path, GOOD)
    with pytest.raises(ConfigError, match="section.key=value"):
        load_config(path, ["window=3"])
    with pytest.raises(ConfigError, match="decision.cooldown_s must be a number"):
        load_config(path, ["decision.cooldown_s=soon"])
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")


@dataclass
class BuzzerAction(Action):
    """An action type of one's own: its fields are its config keys."""

    pin: int = 17
    pulse_s: float = 0.5
    name: str = "buzzer"
    policy: GrantPolicy = field(default_factory=GrantPolicy)

    def __post_init__(self) -> None:
        self._check_delivery()

    def run(self, event):
        return f"buzzed pin {self.pin} for {self.pulse_s} s"


def test_a_new_action_type_is_one_registry_entry(tmp_path, monkeypatch):
    monkeypatch.setitem(ACTION_TYPES, "buzzer", BuzzerAction)  # = @register_action("buzzer")
    text = GOOD + '\n[[actions]]\ntype = "buzzer"\npin = 4\npulse_s = 1\npeople = ["alice"]\n'
    buzzer = load_config(write(tmp_path, text)).build_actions()[2]
    assert isinstance(buzzer, BuzzerAction) and buzzer.pin == 4 and buzzer.pulse_s == 1
    assert buzzer.policy.people == frozenset({"alice"})
    assert buzzer.run({}) == "buzzed pin 4 for 1 s"
    with pytest.raises(ConfigError, match=r"actions\[2\].pin must be an integer"):
        load_config(write(tmp_path, text.replace("pin = 4", 'pin = "four"')))
    with pytest.raises(ConfigError, match=r"actions\[2\].argv; a buzzer action takes"):
        load_config(write(tmp_path, text + 'argv = ["x"]\n'))
    monkeypatch.delitem(ACTION_TYPES, "buzzer")
    with pytest.raises(ConfigError, match="must be one of command, webhook, mqtt, log"):
        load_config(write(tmp_path, text))


def test_every_decision_setting_comes_from_toml(tmp_path):
    """[decision] is derived from DecisionSettings: each field settable, one set of defaults."""
    config = load_config(write(tmp_path, GOOD), ["decision.improve_ratio=1.5",
                                                 "decision.max_resize=2"])
    settings = config.decision_settings()
    assert settings.improve_ratio == 1.5 and settings.max_resize == 2.0
    defaults = DecisionSettings()
    for f in dataclasses.fields(DecisionSettings):
        if f.name in LIVENESS_FIELDS.values() or f.name in ("votes_needed", "window"):
            continue
        assert getattr(settings, f.name) == getattr(defaults, f.name) or f.name in (
            "improve_ratio", "max_resize"), f.name
    with pytest.raises(ConfigError, match="improve_ratio >= 1"):
        load_config(write(tmp_path, GOOD), ["decision.improve_ratio=0.5"])


def test_every_action_type_takes_timeout_s(tmp_path):
    text = GOOD + '\n[[actions]]\ntype = "log"\ntimeout_s = 2\n'
    log = load_config(write(tmp_path, text)).build_actions()[2]
    assert log.timeout_s == 2
