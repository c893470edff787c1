"""``ganloops bench``: the instrument's performance figures, measured side by side in one run.

::

    ganloops bench [BUNDLE] [--soak-seconds 600] [--still-seconds 60] [--moves 200] [--rounds 30]
                   [--out docs/benchmarks.md] [--json FILE] [--provider P] [--no-torch]

What it measures, on this machine, with `BUNDLE` (the bundled default model when none is
given) at 48 kHz and 256-frame blocks:

1. render speed: onnxruntime against torch eager for the same generator, and the engine's
   whole render of a loop, as real-time factors (``instrument.bench_render``);
2. control-to-audio latency: an OSC knob move sent -> the first audio block that carries
   the loop rendered for it, through a private JACK dummy server (``instrument.bench_live``);
3. the audio callback's duration, against the block period;
4. underruns over a soak with two decks and knob moves at 50 Hz (``--soak-seconds``), beside
   a baseline with the same decks playing and nothing moving (``--still-seconds``).

The live figures come first and the render figures after, so that torch (imported only
for its one figure) is not loaded while the audio runs. The report states the machine it
came from and which goals are met; ``--out`` writes it as markdown (atomically, keeping a
hand-written ``## Notes`` section of the file it replaces), ``--json`` as JSON. Without
jackd the live figures are left out with the reason; without torch or the checkpoint the
bundle was exported from, the torch figure is.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from instrument.atomic import atomic_write_text
from instrument.bench_jack import BenchError
from instrument.bench_live import LiveFigures, run_live
from instrument.bench_render import RenderFigures, checkpoint_snapshot, measure_render
from instrument.bench_stats import Summary
from instrument.onnx_session import PROVIDER_CHOICES

PROG = "ganloops bench"
DEFAULT_SAMPLE_RATE_HZ = 48000
DEFAULT_BLOCK_FRAMES = 256
NOTES_HEADING = "## Notes"

# The goals of the issue "The instrument" (Performance).
GOAL_RENDER_RTF = 50.0
GOAL_ONNX_OVER_TORCH = 1.5
GOAL_LATENCY_P99_MS = 50.0
GOAL_CALLBACK_FRACTION = 0.10  # of the block period
GOAL_UNDERRUNS = 0

# Published latencies of other neural audio instruments, for scale.
REFERENCES: tuple[tuple[str, str], ...] = (
    ("nn~ (RAVE in Max/Pd)", "buffers 4096 samples: about 85 ms at 48 kHz"),
    ("DDSP-VST", "reports 64 ms"),
    ("Magenta RealTime 2", "about 200 ms"),
)


# How each figure is measured, for the report (the module docstrings have the details).
METHOD: tuple[str, ...] = (
    "**Render speed** (`instrument/bench_render.py`): one loop at batch 1 from the same style inputs (seed 0, "
    "every control at rest) for every contender. The rounds are interleaved: each runs every contender once, in a "
    "random order, with a 0.1 s pause after each run, so that all of them meet the same machine load and none "
    "starts while another's thread pool still spins. The medians compare them; the best runs show each one "
    "undisturbed. torch eager is the generator rebuilt from the checkpoint the bundle's provenance names, and "
    "must render what the bundle renders.",
    "**Latency** (`instrument/bench_live.py`): the engine (2 decks), the audio output and the OSC server run in the "
    "bench's process as `ganloops play` runs them, on a private `jackd -d dummy` server: a real audio clock without "
    "a sound card. A client thread of the same process sends one knob value at a time (a value no earlier move "
    "used), notes the send time, and sends the next one a random 20-80 ms after deck 1 plays the new loop. The "
    "engine's journal gives the output frame where the new loop's crossfade starts (its swap events carry the "
    "controls the loop was rendered from, so the value); a wrapper around the engine's callback notes, for every "
    "callback, the first frame it played and when it ran. The total runs from the send to the start of the "
    "callback that played that frame. The parts: send to the engine accepting the value (an engine listener), the "
    "render thread's own timing of the render, and the ring's configured depth; what is left is the rest.",
    "**Callback and soak**: both decks play and a client thread moves a knob on each deck 50 times a second; "
    "before that, the baseline plays the same decks with nothing moving. The "
    "callback durations are the engine's own timing of every callback (`stats.callback_us`), read once a second; "
    "the time between callback starts comes from the wrapper. Underruns are the engine's count (ring empty); xruns "
    "are counted from jackd's log; the CPU of other processes is the machine's busy time (`/proc/stat`) less this "
    "process's and jackd's.",
)


# ---------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Goal:
    """One goal of the issue and whether this run met it (None: not measured)."""

    name: str
    target: str
    measured: str
    met: bool | None

    @property
    def verdict(self) -> str:
        return {True: "met", False: "**not met**", None: "not measured"}[self.met]


@dataclass
class BenchReport:
    command: str
    machine: dict[str, Any]
    bundle: dict[str, Any]
    render: RenderFigures
    live: LiveFigures | None
    live_skipped: str | None
    goals: list[Goal] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"command": self.command, "machine": self.machine, "bundle": self.bundle,
                "render": self.render.to_json(), "live": None if self.live is None else self.live.to_json(),
                "live_skipped": self.live_skipped,
                "goals": [{"name": g.name, "target": g.target, "measured": g.measured, "met": g.met}
                          for g in self.goals]}


def machine_info(cpuinfo_path: Path = Path("/proc/cpuinfo")) -> dict[str, Any]:
    """What the figures depend on: CPU, cores, OS, library versions, load, date (UTC)."""
    cpu = platform.processor() or platform.machine()
    family = model = ""
    try:
        for line in cpuinfo_path.read_text(errors="replace").splitlines():
            key, _, value = (part.strip() for part in line.partition(":"))
            if key == "model name" and cpu in ("", platform.machine(), platform.processor()):
                cpu = value
            elif key == "cpu family" and not family:
                family = value
            elif key == "model" and not model:
                model = value
    except OSError:
        pass
    if family and model:
        cpu = f"{cpu} (family {family}, model {model})"

    def version(package: str) -> str | None:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return None

    import onnxruntime  # the package may be installed as onnxruntime, onnxruntime-gpu, ...

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu, "cores": os.cpu_count(), "cores_usable": usable, "os": platform.platform(),
            "python": platform.python_version(), "numpy": version("numpy"), "onnxruntime": onnxruntime.__version__,
            "onnxruntime_providers": list(onnxruntime.get_available_providers()),
            "torch": version("torch"), "load_average_1min": os.getloadavg()[0],
            "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def bundle_info(bundle: Any) -> dict[str, Any]:
    m = bundle.manifest
    graph = m.graphs.get("synthesis")
    synthesis = Path(bundle.path) / graph.file if graph is not None else None
    provenance = m.provenance
    path = Path(bundle.path).resolve()
    try:
        shown = str(path.relative_to(Path.cwd()))
    except ValueError:
        shown = str(path)
    return {"path": shown, "name": m.name, "family": m.family, "sample_rate_hz": m.sample_rate_hz,
            "channels": m.channels, "bpm": m.bpm, "bars": m.bars, "loop_samples": m.loop_samples,
            "loop_seconds": m.loop_seconds, "num_ws": m.num_ws, "w_dim": m.w_dim,
            "synthesis_bytes": synthesis.stat().st_size if synthesis is not None and synthesis.is_file() else None,
            "training_step": provenance.get("training_step"), "checkpoint": provenance.get("checkpoint")}


def evaluate_goals(render: RenderFigures, live: LiveFigures | None) -> list[Goal]:
    goals = [Goal("render speed (engine render, median)", f">= {GOAL_RENDER_RTF:g}x real time",
                  f"{render.engine_rtf:.1f}x", render.engine_rtf >= GOAL_RENDER_RTF)]
    ratio = render.onnx_over_torch
    goals.append(Goal("onnxruntime vs torch eager (median RTF ratio)", f">= {GOAL_ONNX_OVER_TORCH:g}x",
                      "not measured" if ratio is None else
                      f"{ratio:.2f}x (best runs: {render.onnx_over_torch_best:.2f}x)",
                      None if ratio is None else ratio >= GOAL_ONNX_OVER_TORCH))
    total = None if live is None else live.latency.total_ms
    goals.append(Goal("control-to-audio latency p99", f"<= {GOAL_LATENCY_P99_MS:g} ms",
                      "not measured" if total is None else f"{total.p99:.1f} ms",
                      None if total is None else total.p99 <= GOAL_LATENCY_P99_MS))
    callback = None if live is None else live.soak.callback_us
    if live is not None and callback is not None:
        limit_us = GOAL_CALLBACK_FRACTION * live.soak.block_period_us
        goals.append(Goal("audio callback duration p99", f"<= {GOAL_CALLBACK_FRACTION:.0%} of the block period "
                                                          f"({limit_us:.0f} us)",
                          f"{callback.p99:.1f} us ({callback.p99 / live.soak.block_period_us:.1%})",
                          callback.p99 <= limit_us))
    else:
        goals.append(Goal("audio callback duration p99", f"<= {GOAL_CALLBACK_FRACTION:.0%} of the block period",
                          "not measured", None))
    if live is not None:
        s = live.soak
        goals.append(Goal(f"underruns over the soak ({s.seconds:.0f} s)", f"{GOAL_UNDERRUNS}",
                          f"{s.dropouts} (ring empty {s.engine_underruns}, ganloops late {s.jack_client_xruns}, "
                          f"jackd late {s.jack_server_xruns})", s.dropouts <= GOAL_UNDERRUNS))
    else:
        goals.append(Goal("underruns over the soak", f"{GOAL_UNDERRUNS}", "not measured", None))
    return goals


# ---------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------


def _ms(value: float) -> str:
    return f"{value:.1f}" if abs(value) < 100 else f"{value:.0f}"


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _summary_cells(s: Summary | None, fmt: Any = _ms) -> list[str]:
    if s is None:
        return ["-", "-", "-"]
    return [fmt(s.p50), fmt(s.p99), fmt(s.worst)]


def _render_section(r: RenderFigures) -> list[str]:
    lines = ["## 1. Render speed", "",
             f"One loop ({r.loop_seconds:.2f} s of audio) at batch 1 from the same style inputs, {r.rounds} "
             f"interleaved rounds after 2 warm-up rounds (each round runs every contender once, in a random order). "
             f"RTF = loop seconds / render seconds, from the median (and the best) run.", "",
             _row(["what", "median ms", "best ms", "p99 ms", "RTF (median)", "RTF (best)"]),
             _row(["---"] * 6)]
    for c in (r.onnx, r.onnx_bound, r.torch, r.engine):
        if c is None:
            continue
        lines.append(_row([c.what, _ms(c.milliseconds.p50), _ms(c.milliseconds.best), _ms(c.milliseconds.p99),
                           f"{c.rtf(r.loop_seconds):.1f}x", f"{c.rtf(r.loop_seconds, 'best'):.1f}x"]))
    lines.append("")
    if r.torch is None:
        lines.append(f"torch eager: not measured: {r.torch_skipped}.")
    else:
        lines.append(f"onnxruntime / torch eager: **{r.onnx_over_torch:.2f}x** from the medians, "
                     f"{r.onnx_over_torch_best:.2f}x from the best runs. torch {r.torch_version} "
                     f"with {r.torch_threads} intra-op threads; onnxruntime with its default (one thread per "
                     f"physical core). The rebuilt torch generator renders what the bundle renders within "
                     f"{r.torch_max_abs_error:.1e} (max abs error), so both are the same generator.")
    lines.append("")
    return lines


def _latency_section(live: LiveFigures) -> list[str]:
    lat = live.latency
    lines = ["## 2. Control-to-audio latency", "",
             f"{lat.moves} knob moves, one at a time: `/ganloops/deck/1/knob/1` sent over UDP to the OSC server, "
             f"to the audio callback that hands JACK the first frame of the loop rendered for that value. "
             f"{lat.measured} of {lat.moves} moves were measured end to end.", "",
             _row(["part", "p50 ms", "p99 ms", "worst ms"]), _row(["---"] * 4),
             _row(["**total: OSC datagram sent -> first output block with the new loop**",
                   *[f"**{c}**" for c in _summary_cells(lat.total_ms)]]),
             _row(["OSC: sent -> engine accepted the value", *_summary_cells(lat.osc_ms, lambda v: f"{v:.2f}")]),
             _row(["render of the new loop (render thread)", *_summary_cells(lat.render_ms)]),
             _row(["ring: frames kept ready ahead of the callback (configured)", _ms(lat.ring_ms), _ms(lat.ring_ms),
                   _ms(lat.ring_ms)]),
             _row(["other: wake-ups, interpreter lock, mixer pick-up (total - the three above)",
                   *_summary_cells(lat.other_ms)]),
             "",
             f"The parts' percentiles do not add up to the total's (each is taken over its own values). "
             f"After the callback, JACK's buffer adds {_ms(lat.device_latency_ms)} ms (PortAudio's reported output "
             f"latency on this server) before a sound card would play it; one block is {_ms(lat.block_ms)} ms.", "",
             "For scale, other neural instruments:", "",
             _row(["instrument", "latency"]), _row(["---", "---"])]
    lines += [_row([name, text]) for name, text in REFERENCES]
    lines.append("")
    return lines


def _callback_section(live: LiveFigures) -> list[str]:
    s = live.soak
    c = s.callback_us
    lines = ["## 3. Audio callback", "",
             f"Duration of the engine's callback (`Engine.callback`: copy one block from the ring) over every one of "
             f"the soak's {s.callbacks} callbacks ({s.callbacks_not_timed} left the engine's history before they "
             f"were read). The block period is {s.block_period_us:.0f} us.", "",
             _row(["", "p50", "p99", "worst"]), _row(["---"] * 4)]
    if c is not None:
        lines.append(_row(["duration, us", f"{c.p50:.1f}", f"{c.p99:.1f}", f"{c.worst:.1f}"]))
        lines.append(_row(["duration, % of the block period", f"{c.p50 / s.block_period_us:.2%}",
                           f"{c.p99 / s.block_period_us:.2%}", f"{c.worst / s.block_period_us:.2%}"]))
    sp = s.callback_spacing_ms
    if sp is not None:
        lines.append(_row(["time between callback starts, ms", f"{sp.p50:.2f}", f"{sp.p99:.2f}", f"{sp.worst:.2f}"]))
    lines += ["", "The duration is measured inside the callback, so it leaves out the time the audio thread waited "
                  "to get there (for a core, or for Python's interpreter lock). That wait shows in the time between "
                  f"callback starts, {s.block_period_us / 1000:.2f} ms when every block is on time.", ""]
    return lines


def _soak_section(live: LiveFigures) -> list[str]:
    still, soak = live.still, live.soak

    def counted(count_of: Any) -> list[str]:
        return [f"{count_of(x)} ({x.per_minute(count_of(x)):.1f}/min)" for x in (still, soak)]

    def both(value_of: Any) -> list[str]:
        return [value_of(x) for x in (still, soak)]

    def renders(x: Any) -> str:
        r = x.render_ms
        return "-" if r is None else f"{_ms(r.p50)} / {_ms(r.p99)} / {_ms(r.worst)}"

    return ["## 4. Soak", "",
            f"Both decks play. **Moving**: knob 2 of each deck swept by OSC 50 times a second for {soak.seconds:.0f} s "
            f"({soak.moves_sent} messages), so renders never stop and coalesce when the knob is faster than they "
            f"are. **Still**, before it, for {still.seconds:.0f} s: the same decks with nothing moving, so nothing "
            f"renders: the baseline, what the machine does to the audio without the renders.", "",
            _row(["", "still (baseline)", "moving (the soak)"]), _row(["---"] * 3),
            _row(["**dropouts: the three below**", *[f"**{c}**" for c in counted(lambda x: x.dropouts)]]),
            _row(["engine underruns (callback found the ring empty)", *counted(lambda x: x.engine_underruns)]),
            _row(["xruns jackd reports: ganloops did not finish its cycle in time",
                  *counted(lambda x: x.jack_client_xruns)]),
            _row(["xruns jackd reports: jackd itself woke up late", *counted(lambda x: x.jack_server_xruns)]),
            _row(["PortAudio output underflow flags (echo jackd's xruns)", *counted(lambda x: x.portaudio_underflows)]),
            _row(["device losses / callback errors", *both(lambda x: f"{x.reconnects} / {x.callback_errors}")]),
            _row(["renders (both decks) / errors", *both(lambda x: f"{x.renders} / {x.render_errors}")]),
            _row(["render duration p50 / p99 / worst, ms", *both(renders)]),
            _row(["time between callback starts p99 / worst, ms",
                  *both(lambda x: "-" if x.callback_spacing_ms is None else
                        f"{x.callback_spacing_ms.p99:.1f} / {x.callback_spacing_ms.worst:.0f}")]),
            _row(["this process's CPU, % of one core", *both(lambda x: f"{x.process_cpu_percent:.0f}")]),
            _row(["every other process's CPU (jackd left out), % of one core",
                  *both(lambda x: "-" if x.others_cpu_percent is None else f"{x.others_cpu_percent:.0f}")]),
            _row(["machine load average (1 min), start / end",
                  *both(lambda x: f"{x.load_average_start:.2f} / {x.load_average_end:.2f}")]),
            ""]


def _gap_notes(report: BenchReport) -> list[str]:
    """Facts from the figures that explain a goal not met (written by the bench, not by hand)."""
    notes: list[str] = []
    r, live, m = report.render, report.live, report.machine
    load = m.get("load_average_1min")
    cores = m.get("cores_usable") or m.get("cores")
    others = None if live is None else live.soak.others_cpu_percent
    if isinstance(load, (int, float)) and cores and (load > 0.5 * cores or (others or 0.0) > 25.0 * cores):
        notes.append(f"The machine was shared: its load average was {load:.2f} on {cores} cores when the bench started"
                     + (f", {live.soak.load_average_end:.2f} at the end of the soak" if live is not None else "")
                     + (f"; during the soak other processes used {others:.0f} % of one core while ganloops used "
                        f"{live.soak.process_cpu_percent:.0f} %" if live is not None and others is not None else "")
                     + ". Every figure here includes waiting for the CPU behind other processes.")
    for goal in report.goals:
        if goal.met is not False:
            continue
        if goal.name.startswith("render speed"):
            need_ms = r.loop_seconds / GOAL_RENDER_RTF * 1000.0
            notes.append(f"Render speed: {GOAL_RENDER_RTF:g}x needs a render within {need_ms:.0f} ms; the engine's "
                         f"median was {r.engine.milliseconds.p50:.0f} ms, of which the synthesis graph "
                         f"{r.onnx.milliseconds.p50:.0f} ms (best run {r.engine.milliseconds.best:.0f} ms).")
        elif goal.name.startswith("onnxruntime vs torch") and r.torch is not None:
            notes.append(f"onnxruntime vs torch: medians {r.onnx.milliseconds.p50:.1f} ms against "
                         f"{r.torch.milliseconds.p50:.1f} ms, best runs {r.onnx.milliseconds.best:.1f} ms against "
                         f"{r.torch.milliseconds.best:.1f} ms.")
        elif goal.name.startswith("control-to-audio") and live is not None:
            lat = live.latency
            parts = {"render": lat.render_ms, "other (wake-ups, interpreter lock, mixer pick-up)": lat.other_ms,
                     "OSC": lat.osc_ms}
            biggest = max(((k, v.p99) for k, v in parts.items() if v is not None), key=lambda kv: kv[1],
                          default=None)
            if biggest is not None and lat.total_ms is not None:
                notes.append(f"Latency: of the p99 total {lat.total_ms.p99:.0f} ms, the largest part is {biggest[0]} "
                             f"(p99 {biggest[1]:.0f} ms); the ring adds a fixed {lat.ring_ms:.0f} ms.")
        elif goal.name.startswith("audio callback") and live is not None and live.soak.callback_us is not None:
            c = live.soak.callback_us
            notes.append(f"Callback: median {c.p50:.0f} us, p99 {c.p99:.0f} us, worst {c.worst:.0f} us for the same "
                         f"fixed work (one block copied from the ring): the slow calls are calls interrupted part-way, "
                         f"the thread losing its core (or the interpreter lock) to another.")
        elif goal.name.startswith("underruns") and live is not None:
            s, still = live.soak, live.still
            spacing = s.callback_spacing_ms
            moving_rate, still_rate = s.per_minute(s.dropouts), still.per_minute(still.dropouts)
            notes.append(f"Underruns: {moving_rate:.1f} dropouts per minute with the knobs moving, "
                         f"{still_rate:.1f} per minute with the same decks playing and nothing rendering (the "
                         f"baseline, same run); the ring was empty {s.engine_underruns} times, ganloops missed "
                         f"{s.jack_client_xruns} JACK cycles and jackd itself woke up late {s.jack_server_xruns} "
                         f"times; the longest gap between two callbacks was {spacing.worst if spacing else 0:.0f} ms "
                         f"(one block is {s.block_period_us / 1000:.2f} ms).")
    return notes


def render_markdown(report: BenchReport, notes: str | None = None) -> str:
    m, b = report.machine, report.bundle
    live = report.live
    lines = ["# Benchmarks", "",
             "Written by `ganloops bench` (`instrument/bench.py`); every figure above the Notes comes from this "
             "one run:", "",
             "```sh", report.command, "```", "",
             "## Machine", "",
             _row(["", ""]), _row(["---", "---"]),
             _row(["CPU", str(m["cpu"])]),
             _row(["cores", f"{m['cores']} ({m['cores_usable']} usable by this process)"]),
             _row(["OS", str(m["os"])]),
             _row(["Python / numpy", f"{m['python']} / {m['numpy']}"]),
             _row(["onnxruntime / provider", f"{m['onnxruntime']} / {report.render.provider}"]),
             _row(["torch", str(m["torch"] or "not installed")]),
             _row(["audio", "-" if live is None else
                   f"JACK dummy driver ({live.jackd_version or 'jackd'}), {live.sample_rate_hz} Hz, "
                   f"{live.block_frames} frames per block, "
                   + ("realtime-scheduled (jackd -R: SCHED_FIFO for jackd and the audio callback)" if live.realtime
                      else "not realtime-scheduled")]),
             _row(["load average (1 min) at start", f"{m['load_average_1min']:.2f}"]),
             _row(["date", str(m["date_utc"])]), "",
             "## Model", "",
             f"`{b['name']}` ({b['family']}, `{b.get('path', '?')}`), {b['sample_rate_hz']} Hz, "
             f"{b['channels']} channel(s), {b['bars']} bars at {b['bpm']:g} BPM ({b['loop_seconds']:.2f} s), "
             f"{b['num_ws']} style inputs of {b['w_dim']}; synthesis graph {(b['synthesis_bytes'] or 0) / 1e6:.1f} MB"
             + (f"; training step {b['training_step']}" if b.get("training_step") is not None else "") + ".", "",
             "## Goals", "",
             _row(["goal", "target", "measured", "verdict"]), _row(["---"] * 4)]
    lines += [_row([g.name, g.target, g.measured, g.verdict]) for g in report.goals]
    lines.append("")
    gap_notes = _gap_notes(report)
    if gap_notes:
        lines += [f"- {n}" for n in gap_notes] + [""]
    lines += _render_section(report.render)
    if live is not None:
        lines += _latency_section(live) + _callback_section(live) + _soak_section(live)
    else:
        lines += ["## 2-4. Live figures", "", f"Not measured: {report.live_skipped}.", ""]
    lines += ["## How it is measured", ""] + [f"- {paragraph}" for paragraph in METHOD] + [""]
    text = "\n".join(lines)
    notes_text = notes if notes is not None else (f"{NOTES_HEADING}\n\nWritten by hand; `ganloops bench` keeps this "
                                                  f"section when it rewrites the file.\n")
    return text + "\n" + notes_text.rstrip("\n") + "\n"


def existing_notes(path: Path) -> str | None:
    """The hand-written ``## Notes`` section (to the end) of the file at `path`, if it has one."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.rstrip() == NOTES_HEADING:
            return "".join(lines[i:])
    return None


write_atomically = atomic_write_text


# ---------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------


def bench_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Measure render speed, control-to-audio latency, callback "
                                                       "time and underruns, side by side in one run.")
    p.add_argument("bundle", nargs="?", type=Path, metavar="BUNDLE",
                   help="model bundle folder (default: the bundled default model)")
    p.add_argument("--soak-seconds", type=float, default=600.0, metavar="N",
                   help="length of the soak with two decks and knob moves at 50 Hz (default 600)")
    p.add_argument("--still-seconds", type=float, default=60.0, metavar="N",
                   help="length of the baseline before the soak: both decks playing, nothing moving (default 60)")
    p.add_argument("--moves", type=int, default=200, metavar="N", help="knob moves timed for latency (default 200)")
    p.add_argument("--rounds", type=int, default=30, metavar="N",
                   help="interleaved timing rounds for the render speed (default 30)")
    p.add_argument("--realtime", action="store_true",
                   help="run the JACK server realtime-scheduled (jackd -R), as on stage; needs the rights "
                        "(root or an rtprio limit)")
    p.add_argument("--out", type=Path, metavar="FILE.md", help="write the report as markdown (e.g. docs/benchmarks.md)")
    p.add_argument("--json", type=Path, metavar="FILE", help="write every figure as JSON")
    p.add_argument("--provider", choices=PROVIDER_CHOICES, default="auto",
                   help="onnxruntime execution provider (default auto)")
    p.add_argument("--no-torch", dest="torch", action="store_false",
                   help="leave out the torch eager comparison")
    return p


def _fail(message: str) -> SystemExit:
    return SystemExit(f"{PROG}: {message}")


def run_bench(argv: list[str]) -> BenchReport:
    """Parse `argv`, measure everything, write the files asked for; the report."""
    from instrument.bundle import BundleError, load_bundle
    from instrument.onnx_session import ProviderError
    from instrument.play import DEFAULT_MODEL_DIR, default_bundles

    args = bench_parser().parse_args(argv)
    if args.soak_seconds <= 0:
        raise _fail(f"--soak-seconds {args.soak_seconds:g}: must be positive")
    if args.still_seconds <= 0:
        raise _fail(f"--still-seconds {args.still_seconds:g}: must be positive")
    if not 1 <= args.moves <= 100000:
        raise _fail(f"--moves {args.moves}: must be between 1 and 100000")
    if args.rounds < 1:
        raise _fail(f"--rounds {args.rounds}: must be at least 1")
    if args.bundle is None:
        found = default_bundles()
        if not found:
            raise _fail(f"no bundle given and no default model installed ({DEFAULT_MODEL_DIR}/): pass a bundle "
                        f"folder, e.g. ganloops bench bundles/techno")
        args.bundle = found[0]
    try:
        bundle = load_bundle(args.bundle, provider=args.provider)
    except (BundleError, ProviderError) as e:
        raise _fail(str(e)) from None
    machine = machine_info()
    with checkpoint_snapshot(bundle) as checkpoint_copy:
        return _measure(args, argv, bundle, machine, checkpoint_copy)


def _measure(args: argparse.Namespace, argv: list[str], bundle: Any, machine: dict[str, Any],
             checkpoint_copy: Path | None) -> BenchReport:
    """The live figures, then the render speed (torch only now), then the files."""
    from instrument.portaudio_host import AudioError

    def progress(line: str) -> None:
        print(f"bench: {line}", file=sys.stderr, flush=True)

    live: LiveFigures | None = None
    live_skipped: str | None = None
    progress(f"{args.bundle} on {bundle.provider}; live figures first ({args.moves} moves, "
             f"{args.still_seconds:g} s still, {args.soak_seconds:g} s soak), then render speed ({args.rounds} rounds)")
    try:
        live = run_live(Path(args.bundle), args.provider, args.moves, args.soak_seconds,
                        still_seconds=args.still_seconds, sample_rate_hz=DEFAULT_SAMPLE_RATE_HZ,
                        block_frames=DEFAULT_BLOCK_FRAMES, realtime=args.realtime, progress=progress)
    except (BenchError, AudioError) as e:
        live_skipped = str(e)
        progress(f"live figures not measured: {live_skipped}")
    progress("render speed")
    render = measure_render(bundle, args.rounds, DEFAULT_SAMPLE_RATE_HZ, with_torch=args.torch,
                            checkpoint_copy=checkpoint_copy)
    report = BenchReport(command=" ".join(["ganloops bench", *map(shlex.quote, argv)]), machine=machine,
                         bundle=bundle_info(bundle), render=render, live=live, live_skipped=live_skipped)
    report.goals = evaluate_goals(render, live)
    if args.json is not None:
        write_atomically(args.json, json.dumps(report.to_json(), indent=1, allow_nan=False) + "\n")
    if args.out is not None:
        write_atomically(args.out, render_markdown(report, existing_notes(args.out)))
    return report


def bench_main(argv: list[str]) -> int:
    report = run_bench(argv)
    width = max(len(g.name) for g in report.goals)
    for goal in report.goals:
        print(f"{goal.name.ljust(width)}  {goal.measured:>12}  target {goal.target}: {goal.verdict.strip('*')}")
    return 0
