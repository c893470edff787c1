"""The control surfaces in patches/: well-formed, up to date with their generator, and speaking
exactly the OSC address space the server accepts.

There is no Max and no Open Stage Control here, so their files are checked as data: the
JSON parses, every patch cord joins existing boxes at existing inlets and outlets, each
control's value reaches [udpsend] through a [prepend] with its address, and each address
coming back from [udpreceive] is routed to the same control with "set". Every address and
range a surface uses is checked against ``instrument.osc_schema.parse_command``: the
ends of a range are accepted, values just beyond are refused. The Pure Data patch is also
played for real in tests/e2e/test_pd_patch.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from instrument.osc_schema import GROUPS, Rejected, parse_command

ROOT = Path(__file__).resolve().parents[2]
PATCHES = ROOT / "patches"
DECKS, KNOBS = 2, 8

DECK_ADDRESSES = [f"/ganloops/deck/{d}/{what}" for d in range(1, DECKS + 1)
                  for what in [*(f"knob/{k}" for k in range(1, KNOBS + 1)), *(f"mix/{g}" for g in GROUPS),
                               "psi", "gain", "mute", "seed", "bseed"]]
CONTROL_ADDRESSES = [*DECK_ADDRESSES, "/ganloops/crossfade", "/ganloops/tempo"]
SCENE_ADDRESSES = ["/ganloops/scene/save", "/ganloops/scene/recall", "/ganloops/scene/morph"]

# Pure Data vanilla objects the patches may use (no externals)
PD_VANILLA = {"cnv", "vsl", "hsl", "tgl", "bng", "r", "s", "oscformat", "oscparse", "netsend", "netreceive",
              "fudiformat", "fudiparse", "route", "random", "list", "print", "loadbang", "t", "f", "moses",
              "v", "delay", "symbol", "ganloops-deck"}


def accepts(address: str, value: Any) -> bool:
    try:
        parse_command(address, [value])
        return True
    except Rejected:
        return False


def check_range(address: str, low: float, high: float) -> None:
    """The surface's range for `address` is one the server takes, end to end."""
    assert accepts(address, low) and accepts(address, high), (address, low, high)
    if address.endswith(("seed", "bseed")):
        assert not accepts(address, -1)
    elif not address.endswith("mute"):
        assert not accepts(address, low - 0.01) and not accepts(address, high + 0.01), (address, low, high)


def test_the_files_are_what_the_generator_writes() -> None:
    proc = subprocess.run([sys.executable, str(PATCHES / "generate.py"), "--check"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# ---------------------------------------------------------------------------------------
# Pure Data
# ---------------------------------------------------------------------------------------


def pd_objects(path: Path) -> tuple[list[str], list[tuple[int, int, int, int]]]:
    """Objects (each record's text) in creation order, and connections (source, outlet, sink, inlet)."""
    records = [r.strip() for r in re.split(r"(?<!\\);\n", path.read_text()) if r.strip()]
    objects, connections = [], []
    for record in records[1:]:  # the first is the canvas
        parts = record.split()
        if parts[:2] == ["#X", "connect"]:
            connections.append(tuple(int(p) for p in parts[2:6]))  # type: ignore[arg-type]
        elif parts[1] in ("obj", "msg", "text", "floatatom", "symbolatom"):
            objects.append(record)
    return objects, connections


@pytest.mark.parametrize("name", ["ganloops.pd", "ganloops-deck.pd"])
def test_pd_patches_use_vanilla_objects_and_valid_connections(name: str) -> None:
    objects, connections = pd_objects(PATCHES / name)
    for record in objects:
        parts = record.split()
        if parts[1] == "obj":
            assert parts[4] in PD_VANILLA, record
    assert connections
    for source, _, sink, _ in connections:
        assert 0 <= source < len(objects) and 0 <= sink < len(objects)


def test_the_pd_deck_formats_every_deck_address() -> None:
    text = (PATCHES / "ganloops-deck.pd").read_text()
    formats = re.findall(r"oscformat ganloops deck \\\$1 ([^;]+);", text)
    sent = {"/ganloops/deck/1/" + f.replace(" ", "/") for f in formats}
    assert sent == {a for a in DECK_ADDRESSES if a.startswith("/ganloops/deck/1/")}
    for address in sent:  # the slider ranges are the server's
        name = address.split("/", 4)[4].replace("/", "-").replace("knob-", "knob")
        if name in ("seed", "bseed"):
            continue
        gui = re.search(rf"(?:vsl|hsl|tgl) \S+ \S+ (\S+) (\S+) 0 0 \S+ ganloops-d\\\$1-{name} ", text)
        if name == "mute":
            assert re.search(r"tgl \S+ 0 \S+ ganloops-d\\\$1-mute ", text)
            continue
        assert gui is not None, name
        check_range(address, float(gui.group(1)), float(gui.group(2)))


def test_the_pd_main_patch_subscribes_and_sends_the_master_controls() -> None:
    text = (PATCHES / "ganloops.pd").read_text()
    for kind in ("subscribe", "query", "crossfade", "tempo", "scene save", "scene recall", "scene morph"):
        assert f"oscformat ganloops {kind};" in text, kind
    assert "netsend -u -b;" in text and "netreceive -u -b;" in text and "oscparse;" in text
    assert "loadbang;" in text
    assert text.count("ganloops-deck ") == DECKS


# ---------------------------------------------------------------------------------------
# Max
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def maxpat() -> dict[str, Any]:
    return json.loads((PATCHES / "ganloops.maxpat").read_text())


def max_graph(patch: dict[str, Any]) -> tuple[dict[str, dict], dict[str, list[tuple[int, str, int]]]]:
    boxes = {b["box"]["id"]: b["box"] for b in patch["patcher"]["boxes"]}
    assert len(boxes) == len(patch["patcher"]["boxes"]), "box ids must be unique"
    cords: dict[str, list[tuple[int, str, int]]] = defaultdict(list)
    for line in patch["patcher"]["lines"]:
        (src, outlet), (dst, inlet) = line["patchline"]["source"], line["patchline"]["destination"]
        assert src in boxes and dst in boxes, line
        assert 0 <= outlet < boxes[src]["numoutlets"], (boxes[src], outlet)
        assert 0 <= inlet < boxes[dst]["numinlets"], (boxes[dst], inlet)
        cords[src].append((outlet, dst, inlet))
    return boxes, cords


def test_the_max_patch_is_well_formed(maxpat: dict[str, Any]) -> None:
    boxes, cords = max_graph(maxpat)
    assert maxpat["patcher"]["openinpresentation"] == 1
    for box in boxes.values():
        assert len(box["patching_rect"]) == 4
        if box.get("presentation"):
            x, y, w, h = box["presentation_rect"]
            assert y + h <= 170, box  # a Live device is 170 px high


def test_every_max_control_sends_its_address_and_follows_feedback(maxpat: dict[str, Any]) -> None:
    boxes, cords = max_graph(maxpat)
    by_text = {b.get("text"): i for i, b in boxes.items()}
    send = by_text["udpsend 127.0.0.1 9000"]
    receive = by_text["udpreceive 9001"]
    route_id = cords[receive][0][1]
    routed = boxes[route_id]["text"].split()[1:]
    assert sorted(routed) == sorted(CONTROL_ADDRESSES)
    for outlet, address in enumerate(routed):
        # udpreceive -> route -> [prepend set] -> the control -> [prepend address] -> udpsend
        setters = [dst for o, dst, _ in cords[route_id] if o == outlet]
        assert len(setters) == 1 and boxes[setters[0]]["text"] == "prepend set", address
        controls = [dst for _, dst, _ in cords[setters[0]]]
        assert len(controls) == 1, address
        control = boxes[controls[0]]
        prepends = [dst for o, dst, _ in cords[controls[0]] if o == 0]
        assert [boxes[p]["text"] for p in prepends] == [f"prepend {address}"], address
        assert (0, send, 0) in cords[prepends[0]], address
        if control["maxclass"] in ("live.dial", "live.toggle"):
            value = control["saved_attribute_attributes"]["valueof"]
            check_range(address, value["parameter_mmin"], value["parameter_mmax"])
        else:
            check_range(address, control["minimum"], control["maximum"])
    for address in SCENE_ADDRESSES:
        assert (0, send, 0) in cords[by_text[f"prepend {address}"]], address


def test_the_max_patch_subscribes_at_load(maxpat: dict[str, Any]) -> None:
    boxes, cords = max_graph(maxpat)
    by_text = {b.get("text"): i for i, b in boxes.items()}
    subscribe = by_text["/ganloops/subscribe 9001"]
    assert boxes[subscribe]["maxclass"] == "message"
    assert (0, by_text["udpsend 127.0.0.1 9000"], 0) in cords[subscribe]
    defer = by_text["deferlow"]
    assert (0, subscribe, 0) in cords[defer]
    assert (0, defer, 0) in cords[by_text["loadbang"]]
    assert accepts("/ganloops/subscribe", 9001)


# ---------------------------------------------------------------------------------------
# Open Stage Control
# ---------------------------------------------------------------------------------------


def osc_widgets(node: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for child in [*node.get("widgets", []), *node.get("tabs", [])]:
        out.append(child)
        out.extend(osc_widgets(child))
    return out


def test_the_open_stage_control_session_speaks_the_address_space() -> None:
    session = json.loads((PATCHES / "open-stage-control" / "ganloops.json").read_text())
    assert session["type"] == "session" and session["content"]["type"] == "root"
    assert "send('/ganloops/subscribe', 9001)" in session["content"]["onCreate"]
    widgets = osc_widgets(session["content"])
    ids = [w["id"] for w in widgets]
    assert len(ids) == len(set(ids)), "widget ids must be unique"
    addressed = {w["address"]: w for w in widgets if not w.get("bypass") and w.get("type") != "tab"}
    assert sorted(addressed) == sorted(CONTROL_ADDRESSES)
    for address, widget in addressed.items():
        if "range" in widget:
            check_range(address, widget["range"]["min"], widget["range"]["max"])
        else:
            assert accepts(address, widget["default"]), address
    scripts = " ".join(w.get("onValue", "") for w in widgets)
    for address in [*SCENE_ADDRESSES, "/ganloops/query"]:
        assert f"send('{address}'" in scripts, address
