"""The MQTT action against a real broker (mosquitto) on 127.0.0.1."""
from __future__ import annotations

import json
import socket
import threading
import time

import numpy as np
import pytest
from test_door import SETTINGS, build

import face_trigger as ft
from face_trigger.door.actions import MqttAction
from face_trigger.door.config import load_config
from face_trigger.door.sources import FrameSource
from face_trigger.testing import Visit
from face_trigger.door.trigger import DoorTrigger
from conftest import require

pytestmark = pytest.mark.slow  # real videos and servers: not in the fast tier


def subscribe(port):
    import paho.mqtt.client as mqtt

    received, ready = [], threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-subscriber")
    client.on_connect = lambda c, *a: c.subscribe("face_trigger/#", qos=1)
    client.on_subscribe = lambda *a: ready.set()
    client.on_message = lambda c, u, m: received.append((m.topic, json.loads(m.payload)))
    client.connect("127.0.0.1", port)
    client.loop_start()
    assert ready.wait(10)
    return client, received


def test_events_are_published(broker, reference, pipeline, tmp_path_factory, images):
    crop = ft.image_io.crop_around(images["obama2"], reference["obama2"].box, 0.6)
    path, _ = build(tmp_path_factory, "mqtt.avi",
                    [Visit("obama", crop, reference["obama2"].width, start_s=0.2)], 3.0)
    recognizer = ft.FaceRecognizer(classifier="knn").fit(
        np.stack([reference[n].embedding for n in ("obama", "obama3", "biden")]),
        ["obama", "obama", "biden"])
    client, received = subscribe(broker)
    try:
        action = MqttAction(host="127.0.0.1", port=broker, topic="face_trigger/{decision}/{person}")
        trigger = DoorTrigger(recognizer, pipeline, settings=SETTINGS, actions=[action])
        events = list(trigger.run(FrameSource(path)))
        trigger.close()
        deadline = time.monotonic() + 10
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        client.loop_stop()
        client.disconnect()
    fired = [e for e in events if e.fired]
    assert len(fired) == 1 and len(received) == 1
    topic, payload = received[0]
    assert topic == "face_trigger/identified/obama"
    assert payload["event_id"] == fired[0].event_id and payload["action"] == "mqtt"


def test_unreachable_broker_fails_in_the_action_not_the_loop():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the probe closes
    action = MqttAction(host="127.0.0.1", port=port, timeout_s=1)
    require("paho.mqtt.client", "mqtt")
    with pytest.raises(OSError):
        action.run({"event_id": "e1", "decision": "identified", "person": "x"})


def test_mqtt_config(tmp_path):
    path = tmp_path / "door.toml"
    path.write_text('[source]\nuri = "0"\n[recognizer]\nmodel = "m.pkl"\n[[actions]]\n'
                    'type = "mqtt"\nhost = "broker.local"\nport = 1883\nqos = 1\n'
                    'username = "door"\npassword_env = "MQTT_PASSWORD"\n')
    (action,) = load_config(path).build_actions()
    assert isinstance(action, MqttAction) and action.host == "broker.local"
    path.write_text(path.read_text().replace("qos = 1", "qos = 5"))
    with pytest.raises(ValueError, match=r"actions\[0\].*qos"):
        load_config(path)
