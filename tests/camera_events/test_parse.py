"""Reading notifications as cameras write them (pure)."""

from __future__ import annotations

import pytest
from lxml import etree

from agent.cameras.event_map import PropertyStates, classify, kind_of
from agent.cameras.event_parse import (
    NotificationError,
    normalise_topic,
    parse_bool,
    parse_duration,
    parse_time,
    read_pull,
)
from agent.cameras.events_config import CameraEventsConfig

NS = (
    'xmlns:tev="http://www.onvif.org/ver10/events/wsdl" '
    'xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" '
    'xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:tns1="http://www.onvif.org/ver10/topics"'
)
STATE = '<tt:SimpleItem Name="State" Value="{}"/>'


def message(topic: str, data: str, op: str = "Changed", source: str = "") -> str:
    return (
        f"<wsnt:NotificationMessage><wsnt:Topic>{topic}</wsnt:Topic><wsnt:Message>"
        f'<tt:Message UtcTime="0000-00-00T00:00:00Z" PropertyOperation="{op}">'
        f"<tt:Source>{source}</tt:Source><tt:Data>{data}</tt:Data></tt:Message>"
        "</wsnt:Message></wsnt:NotificationMessage>"
    )


def pull(*messages: str) -> etree._Element:
    return etree.fromstring(
        f"<tev:PullMessagesResponse {NS}><tev:CurrentTime>2026-01-01T00:00:00Z</tev:CurrentTime>"
        f"<tev:TerminationTime>2026-01-01T00:10:00Z</tev:TerminationTime>{''.join(messages)}"
        "</tev:PullMessagesResponse>"
    )


def test_topics_normalised_whatever_the_prefix_or_trailer() -> None:
    assert normalise_topic("tns1:RuleEngine/CellMotionDetector/Motion//.") == (
        "RuleEngine/CellMotionDetector/Motion"
    )
    assert normalise_topic("tns1:VideoSource/MotionAlarm/") == "VideoSource/MotionAlarm"
    assert (
        normalise_topic("tns1:RuleEngine/tnsaxis:VMD3/vmd3_video_1")
        == "RuleEngine/VMD3/vmd3_video_1"
    )


def test_values_durations_and_times() -> None:
    assert [parse_bool(v) for v in ("true", "1", "FALSE", "0", "maybe")] == [
        True, True, False, False, None,
    ]  # fmt: skip
    assert parse_duration("PT600S") == 600 and parse_duration("PT10M") == 600
    assert parse_duration("P1DT1H") == 90000 and parse_duration("soon") is None
    assert parse_time("0000-00-00T00:00:00Z") is None  # Hikvision writes this
    assert parse_time("2026-01-01T00:10:00Z") is not None


def test_pull_reply_read_with_bad_messages_counted() -> None:
    good = message("tns1:VideoSource/MotionAlarm", '<tt:SimpleItem Name="State" Value="1"/>')
    no_topic = message("", '<tt:SimpleItem Name="State" Value="1"/>')
    no_value = message("tns1:X/Y", '<tt:SimpleItem Name="State"/>')
    result = read_pull(pull(good, no_topic, no_value, "<wsnt:NotificationMessage/>"))
    assert [n.path for n in result.notifications] == ["VideoSource/MotionAlarm"]
    assert len(result.malformed) == 3
    assert "without a topic" in result.malformed[0] and "Name or Value" in result.malformed[1]
    assert result.termination is not None and result.current is not None


def test_kinds_and_values_across_vendors() -> None:
    assert kind_of("RuleEngine/CellMotionDetector/Motion") == "motion"
    assert kind_of("RuleEngine/MyRuleDetector/PeopleDetect") == "motion"
    assert kind_of("RuleEngine/TamperDetector/Tamper") == "tamper"
    assert kind_of("VideoSource/GlobalSceneChange/ImagingService") == "tamper"
    assert kind_of("RuleEngine/FieldDetector/ObjectsInside") == "intrusion"
    assert kind_of("RuleEngine/LineDetector/Crossed") == "line"
    assert kind_of("Device/Trigger/DigitalInput") is None
    rule = '<tt:SimpleItem Name="Rule" Value="MyLine"/>'
    item = '<tt:SimpleItem Name="{}" Value="{}"/>'
    result = read_pull(pull(
        message("tns1:RuleEngine/LineDetector/Crossed", item.format("ObjectId", 7), source=rule),
        message("tns1:RuleEngine/FieldDetector/ObjectsInside//.", item.format("IsInside", "true"),
                op="Initialized"),
        message("tns1:RuleEngine/CellMotionDetector/Motion", item.format("IsMotion", "on?")),
    ))  # fmt: skip
    line, field, bad = result.notifications
    assert classify(line).active is None and classify(line).rule == "MyLine"  # type: ignore[union-attr]
    assert classify(field).active is True and classify(field).initialised  # type: ignore[union-attr]
    with pytest.raises(NotificationError, match="not a boolean"):
        classify(bad)


def test_property_states_start_once_and_end_once() -> None:
    states = PropertyStates()
    on = read_pull(
        pull(message("tns1:VideoSource/MotionAlarm", '<tt:SimpleItem Name="State" Value="1"/>'))
    )
    off = read_pull(
        pull(message("tns1:VideoSource/MotionAlarm", '<tt:SimpleItem Name="State" Value="0"/>'))
    )
    signal_on = classify(on.notifications[0])
    signal_off = classify(off.notifications[0])
    assert signal_on is not None and signal_off is not None
    assert [states.observe(s) for s in (signal_off, signal_on, signal_on, signal_off)] == [
        None, "start", None, "end",
    ]  # fmt: skip


def test_config_validation_names_the_field() -> None:
    with pytest.raises(ValueError, match="renew_margin_s must be shorter"):
        CameraEventsConfig(subscription_s=60, renew_margin_s=60)
    with pytest.raises(ValueError, match="pull_timeout_s"):
        CameraEventsConfig(pull_timeout_s=120)
    with pytest.raises(ValueError, match="zones"):
        CameraEventsConfig.model_validate({"zones": {"MyRule": "Not A Zone"}})
