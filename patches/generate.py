"""Writes the ready-made control surfaces from one table of controls.

    python patches/generate.py          # rewrite the patches in place (from the repository root)
    python patches/generate.py --check  # exit 1 if a file differs from what this script writes

Three surfaces speak the OSC address space of docs/osc.md, with the same controls and
feedback (the surface follows the instrument when something else changes it):

- ``ganloops.pd`` + ``ganloops-deck.pd``: Pure Data vanilla ([oscformat], [oscparse],
  [netsend -u -b], [netreceive -u -b]);
- ``ganloops.maxpat``: Max ([udpsend], [udpreceive], live.* dials so that the patch can
  be saved as a Max for Live device with automatable parameters);
- ``open-stage-control/ganloops.json``: an Open Stage Control session for a phone or
  tablet.

The addresses and ranges come from ``instrument.osc_schema`` and ``instrument.controls``,
so a surface never sends what the server would refuse. Editing a surface by hand is fine;
running this script again overwrites the edit (tests/patches/test_patch_files.py checks
the files in the repository are this script's output).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from instrument.controls import PSI_RANGE, TEMPO_RANGE_BPM  # noqa: E402
from instrument.osc_schema import GROUPS, address_for  # noqa: E402

HERE = Path(__file__).resolve().parent
DECKS = 2
KNOBS = 8
OSC_PORT = 9000
FEEDBACK_PORT = 9001
RANDOM_SEEDS = 1000000  # randomise picks 0..999999: exact in Pd's 32-bit floats
MORPH_BEATS = 16


@dataclass(frozen=True)
class Control:
    """One control of a deck (or of the master section when `kind` has no deck)."""

    name: str  # short name, unique per deck: knob1, seed, mix-coarse, ...
    kind: str  # osc_schema kind
    label: str
    low: float
    high: float
    default: float
    knob: int | None = None
    group: str | None = None
    widget: str = "dial"  # dial | fader | toggle | number

    def address(self, deck: int | None) -> str:
        return address_for(self.kind, deck, knob=self.knob, group=self.group)

    @property
    def path(self) -> list[str]:
        """The address after /ganloops/deck/{d} (Pd's [oscformat] arguments)."""
        parts = [self.kind]
        if self.knob is not None:
            parts.append(str(self.knob))
        if self.group is not None:
            parts.append(self.group)
        return parts


DECK_CONTROLS: tuple[Control, ...] = (
    *(Control(f"knob{k}", "knob", f"k{k}", -1.0, 1.0, 0.0, knob=k) for k in range(1, KNOBS + 1)),
    *(Control(f"mix-{g}", "mix", g, 0.0, 1.0, 0.0, group=g, widget="fader") for g in GROUPS),
    Control("psi", "psi", "psi", PSI_RANGE[0], PSI_RANGE[1], 1.0),
    Control("gain", "gain", "gain", 0.0, 1.0, 1.0, widget="fader"),
    Control("mute", "mute", "mute", 0.0, 1.0, 0.0, widget="toggle"),
    Control("seed", "seed", "seed", 0.0, RANDOM_SEEDS - 1, 0.0, widget="number"),
    Control("bseed", "bseed", "B seed", 0.0, RANDOM_SEEDS - 1, 0.0, widget="number"),
)
CROSSFADE = Control("crossfade", "crossfade", "crossfade", 0.0, 1.0, 0.5, widget="fader")
TEMPO = Control("tempo", "tempo", "BPM", TEMPO_RANGE_BPM[0], TEMPO_RANGE_BPM[1], 120.0, widget="number")


def fmt(value: float) -> str:
    return f"{value:g}"


# =======================================================================================
# Pure Data
# =======================================================================================


class PdCanvas:
    """A Pd canvas written as text; objects are numbered in creation order (comments count too)."""

    def __init__(self, width: int, height: int, font: int = 10) -> None:
        self.header = f"#N canvas 0 50 {width} {height} {font};"
        self.lines: list[str] = []
        self.connections: list[str] = []
        self.footer: list[str] = []
        self.count = 0

    def _add(self, line: str) -> int:
        self.lines.append(line + ";")
        self.count += 1
        return self.count - 1

    def obj(self, x: int, y: int, text: str) -> int:
        return self._add(f"#X obj {x} {y} {text}")

    def msg(self, x: int, y: int, text: str) -> int:
        return self._add(f"#X msg {x} {y} {text}")

    def comment(self, x: int, y: int, text: str) -> int:
        return self._add(f"#X text {x} {y} {text}")

    def floatatom(self, x: int, y: int, width: int, low: float, high: float, label: str, receive: str,
                  send: str) -> int:
        return self._add(f"#X floatatom {x} {y} {width} {fmt(low)} {fmt(high)} 0 {label} {receive} {send} 0")

    def symbolatom(self, x: int, y: int, width: int, label: str, receive: str, send: str) -> int:
        return self._add(f"#X symbolatom {x} {y} {width} 0 0 0 {label} {receive} {send} 0")

    def connect(self, source: int, outlet: int, sink: int, inlet: int = 0) -> None:
        self.connections.append(f"#X connect {source} {outlet} {sink} {inlet};")

    def chain(self, *objects: int) -> None:
        for a, b in zip(objects, objects[1:]):
            self.connect(a, 0, b, 0)

    def text(self) -> str:
        return "\n".join([self.header, *self.lines, *self.footer, *self.connections]) + "\n"


def pd_colors() -> str:
    return "#fcfcfc #000000 #000000"


def pd_deck() -> str:
    """ganloops-deck.pd: one deck's controls (argument: the deck number), graph-on-parent."""
    c = PdCanvas(760, 900)
    width, height = 440, 190
    c.obj(0, 0, f"cnv 15 {width} {height} empty empty deck-\\$1 6 10 0 12 #dcdcdc #404040 0")
    own = "ganloops-d\\$1-"
    column = {f"knob{k}": k - 1 for k in range(1, KNOBS + 1)}  # one row of vertical sliders
    column.update({f"mix-{g}": KNOBS + i for i, g in enumerate(GROUPS)})
    column["gain"] = KNOBS + len(GROUPS)
    for control in DECK_CONTROLS:
        receive, send = own + control.name, own + control.name + "-out"
        position = 100 * int((control.default - control.low) / (control.high - control.low) * 99)
        if control.name in column:  # vertical sliders, one row
            x = 10 + 30 * column[control.name] + (12 if column[control.name] >= KNOBS else 0)
            c.obj(x, 40, f"vsl 15 100 {fmt(control.low)} {fmt(control.high)} 0 0 {send} {receive} "
                         f"{control.label} 0 -8 0 9 {pd_colors()} {position} 1")
        elif control.name == "psi":
            c.obj(330, 160, f"hsl 100 15 {fmt(control.low)} {fmt(control.high)} 0 0 {send} {receive} psi "
                            f"0 -8 0 9 {pd_colors()} {position} 1")
    c.obj(400, 80, f"tgl 20 0 {own}mute-out {own}mute mute 0 -8 0 9 {pd_colors()} 0 1")
    for i, which in enumerate(("seed", "bseed")):
        x = 10 + i * 150
        c.floatatom(x, 160, 8, 0, RANDOM_SEEDS - 1, which, own + which, own + which + "-out")
        c.obj(x + 80, 160, f"bng 17 250 50 0 {own}rand-{which} empty rand 20 8 0 9 {pd_colors()}")

    # sending: each control's send name -> [oscformat] -> the main patch's [netsend]
    y = height + 40
    c.comment(10, y - 25, "sending: control -> [oscformat] -> [s ganloops-out]")
    out = c.obj(10, y + 330, "s ganloops-out")
    for i, control in enumerate(DECK_CONTROLS):
        col, row = i % 4, i // 4
        x, yy = 10 + col * 185, y + row * 70
        r = c.obj(x, yy, f"r {own}{control.name}-out")
        f = c.obj(x, yy + 25, f"oscformat ganloops deck \\$1 {' '.join(control.path)}")
        c.chain(r, f)
        c.connect(f, 0, out)
    for i, which in enumerate(("seed", "bseed")):
        x = 10 + i * 185
        r = c.obj(x, y + 365, f"r {own}rand-{which}")
        rnd = c.obj(x, y + 390, f"random {RANDOM_SEEDS}")
        s = c.obj(x, y + 415, f"s {own}{which}")
        c.chain(r, rnd, s)

    # feedback: the main patch's [s ganloops-fb-deck] -> this deck's controls, with "set" (no echo back)
    y = height + 500
    c.comment(10, y - 25, "feedback: [r ganloops-fb-deck] -> set the control without sending")
    r = c.obj(10, y, "r ganloops-fb-deck")
    deck = c.obj(10, y + 25, "route \\$1")
    kinds = c.obj(10, y + 50, "route knob mix psi gain mute seed bseed error")
    c.chain(r, deck, kinds)
    knobs = c.obj(10, y + 80, "route " + " ".join(str(k) for k in range(1, KNOBS + 1)))
    mixes = c.obj(250, y + 80, "route " + " ".join(GROUPS))
    c.connect(kinds, 0, knobs)
    c.connect(kinds, 1, mixes)
    for i, control in enumerate(DECK_CONTROLS):
        if control.kind == "knob":
            assert control.knob is not None
            source, outlet, x = knobs, control.knob - 1, 10 + (control.knob - 1) * 60
            yy = y + 120
        elif control.kind == "mix":
            assert control.group is not None
            source, outlet, x = mixes, GROUPS.index(control.group), 250 + GROUPS.index(control.group) * 60
            yy = y + 200
        else:
            order = ("psi", "gain", "mute", "seed", "bseed")
            source, outlet, x = kinds, 2 + order.index(control.kind), 430 + order.index(control.kind) * 60
            yy = y + 200
        m = c.msg(x, yy, "set \\$1")
        s = c.obj(x, yy + 30 + (i % 2) * 20, f"s {own}{control.name}")
        c.connect(source, outlet, m)
        c.chain(m, s)
    error = c.obj(10, y + 290, "print ganloops-deck-\\$1-error")  # a model that failed to load or render
    c.connect(kinds, 7, error)
    c.footer.append(f"#X coords 0 -1 1 1 {width} {height} 2 0 0;")
    return c.text()


def pd_main() -> str:
    """ganloops.pd: both decks, the master section, the network and the feedback router."""
    c = PdCanvas(900, 720)
    c.obj(10, 10, "cnv 15 890 60 empty empty ganloops 8 14 0 16 #bcbcbc #202020 0")
    c.comment(110, 14, f"OSC to 127.0.0.1 port \\$1 (default {OSC_PORT}) \\, feedback on port \\$2 "
                       f"(default {FEEDBACK_PORT}). Open as is \\, or use as [ganloops 9000 9001].")
    c.comment(110, 44, "Values typed in number boxes go out on Enter. Scene: type a name \\, Enter \\, then a button.")
    for d in range(1, DECKS + 1):
        c.obj(10, 80 + (d - 1) * 200, f"ganloops-deck {d}")
    # master section
    x0 = 460
    c.obj(x0, 80, "cnv 15 430 390 empty empty master 6 10 0 12 #dcdcdc #404040 0")
    c.obj(x0 + 10, 115, f"hsl 200 18 0 1 0 0 ganloops-crossfade-out ganloops-crossfade deck1<->deck2 "
                        f"0 -9 0 10 {pd_colors()} 9950 1")
    c.floatatom(x0 + 10, 160, 7, TEMPO_RANGE_BPM[0], TEMPO_RANGE_BPM[1], "BPM", "ganloops-tempo",
                "ganloops-tempo-out")
    c.symbolatom(x0 + 10, 210, 16, "scene", "ganloops-scene-name", "ganloops-scene-name-out")
    for i, (name, label) in enumerate((("save", "save"), ("recall", "recall"), ("morph", "morph"))):
        c.obj(x0 + 10 + i * 70, 240, f"bng 20 250 50 0 ganloops-scene-{name} empty {label} 23 10 0 10 {pd_colors()}")
    c.floatatom(x0 + 220, 240, 5, 0, 4096, "beats", "ganloops-morph-beats", "ganloops-morph-beats-out")
    c.obj(x0 + 10, 290, f"bng 20 250 50 0 ganloops-subscribe empty subscribe 23 10 0 10 {pd_colors()}")
    c.obj(x0 + 120, 290, f"bng 20 250 50 0 ganloops-query empty query 23 10 0 10 {pd_colors()}")

    y = 500
    c.comment(10, y - 20, "network: ports from the arguments \\, connect \\, listen \\, subscribe")
    lb = c.obj(10, y, "loadbang")
    t = c.obj(10, y + 25, "t b b b b")
    c.connect(lb, 0, t)
    port = c.obj(150, y + 50, "f \\$1")
    port_default = c.obj(150, y + 75, "moses 1")
    port_msg = c.msg(150, y + 100, str(OSC_PORT))
    port_v = c.obj(220, y + 125, "v ganloops-osc-port")
    c.connect(t, 3, port)
    c.chain(port, port_default, port_msg, port_v)
    c.connect(port_default, 1, port_v)
    fb = c.obj(320, y + 50, "f \\$2")
    fb_default = c.obj(320, y + 75, "moses 1")
    fb_msg = c.msg(320, y + 100, str(FEEDBACK_PORT))
    fb_v = c.obj(390, y + 125, "v ganloops-fb-port")
    c.connect(t, 2, fb)
    c.chain(fb, fb_default, fb_msg, fb_v)
    c.connect(fb_default, 1, fb_v)
    beats = c.msg(480, y + 50, str(MORPH_BEATS))
    beats_s = c.obj(480, y + 75, "s ganloops-morph-beats")
    c.connect(t, 1, beats)
    c.chain(beats, beats_s)
    go = c.obj(10, y + 160, "s ganloops-connect")
    c.connect(t, 0, go)

    r_connect = c.obj(10, y + 200, "r ganloops-connect")
    t2 = c.obj(10, y + 225, "t b b b")
    c.chain(r_connect, t2)
    get_port = c.obj(200, y + 250, "v ganloops-osc-port")
    connect = c.msg(200, y + 275, "connect 127.0.0.1 \\$1")
    get_fb = c.obj(400, y + 250, "v ganloops-fb-port")
    listen = c.msg(400, y + 275, "listen \\$1")
    delay = c.obj(10, y + 250, "delay 50")
    subscribe_s = c.obj(10, y + 275, "s ganloops-subscribe")
    c.connect(t2, 2, get_port)
    c.chain(get_port, connect)
    c.connect(t2, 1, get_fb)
    c.chain(get_fb, listen)
    c.connect(t2, 0, delay)
    c.chain(delay, subscribe_s)

    r_out = c.obj(200, y + 320, "r ganloops-out")
    prepend = c.obj(200, y + 345, "list prepend send")
    trim = c.obj(200, y + 370, "list trim")
    netsend = c.obj(200, y + 395, "netsend -u -b")
    c.chain(r_out, prepend, trim, netsend)
    c.connect(connect, 0, netsend)

    for i, (name, kind) in enumerate((("subscribe", "subscribe"), ("query", "query"))):
        r = c.obj(10 + i * 150, y + 440, f"r ganloops-{name}")
        v = c.obj(10 + i * 150, y + 465, "v ganloops-fb-port")
        f = c.obj(10 + i * 150, y + 490, f"oscformat ganloops {kind}")
        s = c.obj(10 + i * 150, y + 515, "s ganloops-out")
        c.chain(r, v, f, s)

    # master controls
    for i, control in enumerate((CROSSFADE, TEMPO)):
        r = c.obj(320 + i * 160, y + 440, f"r ganloops-{control.name}-out")
        f = c.obj(320 + i * 160, y + 465, f"oscformat ganloops {control.kind}")
        s = c.obj(320 + i * 160, y + 490, "s ganloops-out")
        c.chain(r, f, s)
    r_name = c.obj(640, y + 200, "r ganloops-scene-name-out")
    r_beats = c.obj(800, y + 200, "r ganloops-morph-beats-out")
    for i, what in enumerate(("save", "recall", "morph")):
        x = 560 + i * 110
        r = c.obj(x, y + 250, f"r ganloops-scene-{what}")
        store = c.obj(x, y + 275, "symbol")
        c.chain(r, store)
        c.connect(r_name, 0, store, 1)
        if what == "morph":
            append = c.obj(x, y + 300, "list append")
            c.connect(r_beats, 0, append, 1)
            c.chain(store, append)
            store = append
        f = c.obj(x, y + 325, f"oscformat ganloops scene {what}")
        s = c.obj(x, y + 350, "s ganloops-out")
        c.chain(store, f, s)

    # feedback
    yy = y + 560
    c.comment(10, yy - 20, "feedback: [netreceive] -> [oscparse] -> numbers in addresses become floats "
                           "([fudiformat]/[fudiparse]) -> [route]")
    netreceive = c.obj(10, yy, "netreceive -u -b")
    c.connect(listen, 0, netreceive)
    parse = c.obj(10, yy + 25, "oscparse")
    trim2 = c.obj(10, yy + 50, "list trim")
    fudi = c.obj(10, yy + 75, "fudiformat -u")
    unfudi = c.obj(10, yy + 100, "fudiparse")
    ours = c.obj(10, yy + 125, "route ganloops")
    fan = c.obj(10, yy + 150, "t a a")
    c.chain(netreceive, parse, trim2, fudi, unfudi, ours, fan)
    everything = c.obj(150, yy + 175, "s ganloops-in")
    c.connect(fan, 1, everything)
    route = c.obj(10, yy + 200, "route deck crossfade tempo")
    c.connect(fan, 0, route)
    to_decks = c.obj(10, yy + 230, "s ganloops-fb-deck")
    c.connect(route, 0, to_decks)
    for i, control in enumerate((CROSSFADE, TEMPO)):
        m = c.msg(150 + i * 160, yy + 230, "set \\$1")
        s = c.obj(150 + i * 160, yy + 255, f"s ganloops-{control.name}")
        c.connect(route, 1 + i, m)
        c.chain(m, s)
    return c.text()


# =======================================================================================
# Max
# =======================================================================================


class MaxPatch:
    """A Max patcher as JSON boxes and patchlines."""

    def __init__(self) -> None:
        self.boxes: list[dict] = []
        self.lines: list[dict] = []

    def box(self, maxclass: str, rect: tuple[float, float, float, float], inlets: int, outlets: int,
            text: str | None = None, presentation: tuple[float, float, float, float] | None = None,
            **attributes: object) -> str:
        box_id = f"obj-{len(self.boxes) + 1}"
        box: dict[str, object] = {"id": box_id, "maxclass": maxclass, "numinlets": inlets, "numoutlets": outlets,
                                  "patching_rect": list(rect)}
        if outlets:
            box["outlettype"] = [""] * outlets
        if text is not None:
            box["text"] = text
        if presentation is not None:
            box["presentation"] = 1
            box["presentation_rect"] = list(presentation)
        box.update(attributes)
        self.boxes.append({"box": box})
        return box_id

    def obj(self, text: str, x: float, y: float, inlets: int, outlets: int, width: float = 120.0) -> str:
        return self.box("newobj", (x, y, width, 22.0), inlets, outlets, text=text)

    def connect(self, source: str, outlet: int, sink: str, inlet: int = 0) -> None:
        self.lines.append({"patchline": {"source": [source, outlet], "destination": [sink, inlet]}})

    def to_json(self) -> dict:
        return {"patcher": {
            "fileversion": 1,
            "appversion": {"major": 8, "minor": 5, "revision": 0, "architecture": "x64", "modernui": 1},
            "classnamespace": "box", "rect": [60.0, 80.0, 1240.0, 760.0], "openinpresentation": 1,
            "default_fontsize": 10.0, "default_fontface": 0, "default_fontname": "Arial Bold",
            "gridonopen": 1, "gridsize": [8.0, 8.0], "description": "ganloops: OSC control surface",
            "boxes": self.boxes, "lines": self.lines, "dependency_cache": [], "autosave": 0}}


def max_parameter(longname: str, shortname: str, control: Control) -> dict:
    kind = {"toggle": 2}.get(control.widget, 0)
    value: dict[str, object] = {
        "parameter_longname": longname, "parameter_shortname": shortname, "parameter_type": kind,
        "parameter_mmin": control.low, "parameter_mmax": control.high,
        "parameter_initial_enable": 1, "parameter_initial": [control.default]}
    if kind == 2:
        value["parameter_enum"] = ["off", "on"]
    else:
        value["parameter_unitstyle"] = 1  # float
    return {"valueof": value}


def max_control(p: MaxPatch, control: Control, deck: int | None, x: float, y: float) -> str:
    """The GUI object for `control` at presentation position (x, y); returns its id."""
    name = f"d{deck} {control.label}" if deck is not None else control.label
    if control.widget == "number":
        cls = "flonum" if control.kind == "tempo" else "number"
        return p.box(cls, (x, y + 400, 60, 22), 1, 2, presentation=(x, y + 18, 56, 20),
                     minimum=control.low, maximum=control.high, parameter_enable=0)
    if control.widget == "toggle":
        return p.box("live.toggle", (x, y + 400, 20, 20), 1, 1, presentation=(x + 12, y + 18, 20, 20),
                     parameter_enable=1, saved_attribute_attributes=max_parameter(name, control.label, control))
    return p.box("live.dial", (x, y + 400, 44, 48), 1, 2, presentation=(x, y, 44, 48), parameter_enable=1,
                 saved_attribute_attributes=max_parameter(name, control.label, control))


def labelled_button(p: MaxPatch, label: str, at: tuple[float, float], shown_at: tuple[float, float]) -> str:
    """A [button] (bang on click) with its name beside it in the presentation."""
    (x, y), (px, py) = at, shown_at
    p.box("comment", (x + 22, y, 60, 18), 1, 0, text=label, presentation=(px + 16, py, 50, 18))
    return p.box("button", (x, y, 20, 20), 1, 1, presentation=(px, py, 16, 16))


def max_patch() -> dict:
    """ganloops.maxpat: the same controls as the Pd patch; presentation fits a Live device (170 px)."""
    p = MaxPatch()
    send = p.obj(f"udpsend 127.0.0.1 {OSC_PORT}", 20, 1000, 1, 0, 160)
    receive = p.obj(f"udpreceive {FEEDBACK_PORT}", 400, 1000, 1, 1, 120)
    p.box("comment", (20, 970, 700, 20), 1, 0,
          text=f"OSC to 127.0.0.1:{OSC_PORT}; feedback on port {FEEDBACK_PORT} (subscribed at load). "
               f"Edit the udpsend / udpreceive / message boxes to change ports.")
    targets: list[tuple[str, str]] = []  # (address, GUI id) for feedback
    column = 0
    for deck in range(1, DECKS + 1):
        y = (deck - 1) * 80.0
        p.box("comment", (20, 300 + y, 40, 18), 1, 0, text=f"deck {deck}", presentation=(2, y + 2, 40, 18))
        column = 0
        for control in DECK_CONTROLS:
            x = 44.0 + column * 48.0
            column += 2 if control.widget == "number" else 1
            gui = max_control(p, control, deck, x, y)
            address = control.address(deck)
            prepend = p.obj(f"prepend {address}", 20 + len(targets) * 8, 600 + len(targets) * 10, 2, 1, 220)
            p.connect(gui, 0, prepend)
            p.connect(prepend, 0, send)
            targets.append((address, gui))
            if control.kind in ("seed", "bseed"):
                button = p.box("button", (x, y + 460, 20, 20), 1, 1, presentation=(x + 58, y + 18, 18, 18))
                rand = p.obj(f"random {RANDOM_SEEDS}", x, y + 490, 2, 1, 90)
                p.connect(button, 0, rand)
                p.connect(rand, 0, gui)
                p.box("comment", (x, y + 440, 56, 18), 1, 0, text=control.label,
                      presentation=(x, y + 2, 70, 18))
    x0 = 44.0 + column * 48.0 + 16.0
    for i, control in enumerate((CROSSFADE, TEMPO)):
        x = x0 + i * 64.0
        gui = max_control(p, control, None, x, 0.0)
        prepend = p.obj(f"prepend {control.address(None)}", 20 + len(targets) * 8, 600 + len(targets) * 10,
                        2, 1, 220)
        p.connect(gui, 0, prepend)
        p.connect(prepend, 0, send)
        targets.append((control.address(None), gui))
        if control.widget == "number":
            p.box("comment", (x, 440, 56, 18), 1, 0, text=control.label, presentation=(x, 2, 56, 18))

    # scenes: name (textedit), save / recall / morph over N beats
    name = p.box("textedit", (x0, 520, 120, 22), 1, 4, presentation=(x0, 80, 124, 22), lines=1, keymode=1)
    route_text = p.obj("route text", x0, 550, 2, 2, 70)  # with or without textedit's "text" prefix
    to_symbol = p.obj("tosymbol", x0, 580, 1, 1, 70)
    p.connect(name, 0, route_text)
    p.connect(route_text, 0, to_symbol)
    p.connect(route_text, 1, to_symbol)
    beats = p.box("number", (x0 + 200, 520, 50, 22), 1, 2, presentation=(x0 + 84, 106, 40, 20), minimum=0,
                  maximum=4096)
    beats_default = p.box("message", (x0 + 200, 490, 30, 22), 2, 1, text=str(MORPH_BEATS))
    loadbang = p.obj("loadbang", x0 + 300, 430, 1, 1, 60)
    p.connect(loadbang, 0, beats_default)
    p.connect(beats_default, 0, beats)
    for i, what in enumerate(("save", "recall", "morph")):
        x = x0 + i * 42
        button = labelled_button(p, what, (x0 + i * 70, 650), (x, 130))
        store = p.obj("zl reg", x0 + i * 70, 680, 2, 2, 60)  # the name typed last
        p.connect(to_symbol, 0, store, 1)
        p.connect(button, 0, store)
        if what == "morph":
            pack = p.obj(f"pack s {MORPH_BEATS}", x0 + i * 70, 710, 2, 1, 70)
            p.connect(beats, 0, pack, 1)
            p.connect(store, 0, pack)
            store = pack
        prepend = p.obj(f"prepend /ganloops/scene/{what}", x0 + i * 70, 770, 2, 1, 200)
        p.connect(store, 0, prepend)
        p.connect(prepend, 0, send)
    p.box("comment", (x0 + 130, 520, 40, 18), 1, 0, text="scene", presentation=(x0, 62, 60, 18))
    p.box("comment", (x0 + 260, 520, 40, 18), 1, 0, text="beats", presentation=(x0 + 42, 106, 40, 18))

    # subscribe at load (and on demand), query on demand: replies come to udpreceive
    subscribe = p.box("message", (20, 930, 200, 22), 2, 1, text=f"/ganloops/subscribe {FEEDBACK_PORT}")
    query = p.box("message", (240, 930, 200, 22), 2, 1, text=f"/ganloops/query {FEEDBACK_PORT}")
    defer = p.obj("deferlow", 20, 900, 1, 1, 60)
    p.connect(loadbang, 0, defer)
    p.connect(defer, 0, subscribe)
    for message, label, x in ((subscribe, "subscribe", x0), (query, "query", x0 + 64)):
        button = labelled_button(p, label, (x, 880), (x, 150))
        p.connect(button, 0, message)
        p.connect(message, 0, send)

    # feedback: every address to its control with "set" (no echo back to the instrument)
    route = p.obj("route " + " ".join(address for address, _ in targets), 400, 1040, 2, len(targets) + 1, 700)
    p.connect(receive, 0, route)
    for i, (address, gui) in enumerate(targets):
        setter = p.obj("prepend set", 400 + i * 20, 1080 + (i % 4) * 26, 2, 1, 80)
        p.connect(route, i, setter)
        p.connect(setter, 0, gui)
    return p.to_json()


# =======================================================================================
# Open Stage Control
# =======================================================================================


def osc_widget(kind: str, widget_id: str, label: str, left: int, top: int, width: int, height: int,
               **props: object) -> dict:
    widget: dict[str, object] = {"type": kind, "id": widget_id, "label": label, "left": left, "top": top,
                                 "width": width, "height": height, "interaction": True, "visible": True,
                                 "preArgs": "", "target": "", "bypass": False}
    widget.update(props)
    return widget


def osc_control(control: Control, deck: int | None, left: int, top: int) -> dict:
    widget_id = f"d{deck}_{control.name}" if deck is not None else control.name
    address = control.address(deck)
    common = {"address": address, "default": control.default, "value": control.default}
    if control.widget == "toggle":
        return osc_widget("button", widget_id, control.label, left, top, 70, 60, mode="toggle", on=1, off=0,
                          typeTags="i", **common)
    if control.widget == "number":
        return osc_widget("input", widget_id, control.label, left, top, 110, 50,
                          typeTags="f" if control.kind == "tempo" else "i", **common)
    kind = "knob" if control.widget == "dial" else "fader"
    extra: dict[str, object] = {"horizontal": True} if control.kind == "crossfade" else {}
    return osc_widget(kind, widget_id, control.label, left, top, 70 if kind == "knob" else 60,
                      90 if kind == "knob" else 160, range={"min": control.low, "max": control.high},
                      decimals=2, typeTags="f", **extra, **common)


def osc_session() -> dict:
    """open-stage-control/ganloops.json: one tab per deck, one for the master section."""
    tabs = []
    for deck in range(1, DECKS + 1):
        widgets = []
        for i, control in enumerate(c for c in DECK_CONTROLS if c.kind == "knob"):
            widgets.append(osc_control(control, deck, 10 + (i % 4) * 80, 10 + (i // 4) * 100))
        for i, control in enumerate(c for c in DECK_CONTROLS if c.kind == "mix"):
            widgets.append(osc_control(control, deck, 340 + i * 70, 10))
        named = {c.kind: c for c in DECK_CONTROLS}
        widgets.append(osc_control(named["psi"], deck, 10, 210))
        widgets.append(osc_control(named["gain"], deck, 560, 10))
        widgets.append(osc_control(named["mute"], deck, 560, 180))
        for i, kind in enumerate(("seed", "bseed")):
            widgets.append(osc_control(named[kind], deck, 100 + i * 190, 220))
            widgets.append(osc_widget("button", f"d{deck}_{kind}_random", "random", 215 + i * 190, 220, 70, 50,
                                      mode="tap", bypass=True,
                                      onValue=f"if (value) set('d{deck}_{kind}', Math.floor(Math.random() * "
                                              f"{RANDOM_SEEDS}))"))
        tabs.append({"type": "tab", "id": f"deck_{deck}", "label": f"deck {deck}", "widgets": widgets, "tabs": []})
    master = [osc_control(CROSSFADE, None, 10, 10), osc_control(TEMPO, None, 10, 100)]
    master[0].update(width=400, height=70)
    master.append(osc_widget("input", "scene_name", "scene", 10, 170, 200, 50, bypass=True, default="",
                             value="", typeTags="s"))
    master.append(osc_widget("input", "morph_beats", "beats", 220, 170, 80, 50, bypass=True,
                             default=MORPH_BEATS, value=MORPH_BEATS))
    for i, what in enumerate(("save", "recall", "morph")):
        args = "get('scene_name'), get('morph_beats')" if what == "morph" else "get('scene_name')"
        master.append(osc_widget("button", f"scene_{what}", what, 10 + i * 90, 230, 80, 50, mode="tap",
                                 bypass=True, onValue=f"if (value) send('/ganloops/scene/{what}', {args})"))
    master.append(osc_widget("button", "sync", "sync", 290, 230, 80, 50, mode="tap", bypass=True,
                             onValue=f"if (value) send('/ganloops/query', {FEEDBACK_PORT})"))
    tabs.append({"type": "tab", "id": "master", "label": "master", "widgets": master, "tabs": []})
    root = {"type": "root", "id": "root", "label": "ganloops", "address": "/root", "bypass": True,
            "onCreate": f"send('/ganloops/subscribe', {FEEDBACK_PORT})", "widgets": [], "tabs": tabs}
    return {"createdWith": "Open Stage Control", "version": "1.26.2", "type": "session", "content": root}


# =======================================================================================


def outputs() -> dict[Path, str]:
    """Every file this script writes, with its content."""
    return {
        HERE / "ganloops.pd": pd_main(),
        HERE / "ganloops-deck.pd": pd_deck(),
        HERE / "ganloops.maxpat": json.dumps(max_patch(), indent=2) + "\n",
        HERE / "open-stage-control" / "ganloops.json": json.dumps(osc_session(), indent=2) + "\n",
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when a file differs")
    args = parser.parse_args(argv)
    stale = []
    for path, text in outputs().items():
        if path.exists() and path.read_text() == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    for path in stale:
        print(f"{'differs' if args.check else 'wrote'}: {path.relative_to(HERE.parent)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
