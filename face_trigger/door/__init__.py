"""The door: a camera watches an entrance and actions fire when, and only when, an enrolled
and allowed person is in front of it.

Modules: ``trigger`` (the loop: DoorTrigger, DoorEvent), ``tracking`` (tracks and cuts),
``decision`` (gates, K-of-N votes, verification), ``policy`` (who may pass, when, once per
visit), ``sources`` (camera and video frames), ``actions`` (command, webhook, MQTT, log),
``audit`` (the chained log), ``config`` (TOML settings), ``app`` (config in, decisions out).
"""
from .actions import Action, CommandAction, LogAction, MqttAction, WebhookAction
from .app import door_overrides, run_door
from .audit import AuditLog, verify_chain
from .config import DoorConfig, load_config
from .decision import DecisionSettings
from .policy import GrantPolicy
from .sources import Frame, FrameSource
from .tracking import IoUTracker
from .trigger import DoorEvent, DoorTrigger

__all__ = ["DoorTrigger", "DoorEvent", "DecisionSettings", "GrantPolicy", "Frame",
           "FrameSource", "IoUTracker", "AuditLog", "verify_chain", "Action", "CommandAction",
           "WebhookAction", "MqttAction", "LogAction", "DoorConfig", "load_config", "run_door",
           "door_overrides"]
