"""``ganloops devices``: what the instrument could play on and listen to.

Audio: every PortAudio device with its index (what ``play --device N`` takes), host API,
input and output channels and default rate; ``*`` marks the output ``play`` uses when no
``--device`` is given (JACK's when a JACK server runs). MIDI: the input and output ports
mido sees through python-rtmidi (ALSA sequencer on Linux, CoreMIDI on macOS, Windows MM),
and, while a JACK server runs, JACK's MIDI ports too.

A part that cannot be listed (PortAudio missing, no ALSA sequencer in a container, no
MIDI backend) is one line saying so; the rest is still listed. ``--json`` prints the same
as one JSON object, for scripts and tests. Exit status 1 only when audio cannot be listed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from dataclasses import asdict, dataclass, field
from typing import Iterator

from instrument.portaudio_host import AudioError, JACK_HOST_API, one_line, portaudio_host

# (label, mido backend): the default rtmidi API of the platform first, JACK's when a server runs.
_DEFAULT_MIDI_BACKEND = ("rtmidi", "mido.backends.rtmidi")
_JACK_MIDI_BACKEND = ("rtmidi JACK", "mido.backends.rtmidi/UNIX_JACK")


@dataclass
class AudioDeviceRow:
    index: int
    name: str
    host_api: str
    input_channels: int
    output_channels: int
    default_sample_rate_hz: int
    play_default: bool


@dataclass
class MidiPorts:
    backend: str
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    error: str | None = None


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Hide what C libraries print on file descriptor 2 (ALSA and JACK complain loudly)."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def list_audio() -> tuple[list[AudioDeviceRow], str]:
    """Every PortAudio device, and PortAudio's version text; AudioError when PortAudio is missing."""
    from instrument.audio import default_output_index

    host = portaudio_host()
    with host.lock:
        host.ensure_fresh_scan()
        sd = host.sounddevice()
        apis = sd.query_hostapis()
        default = default_output_index(sd)
        rows = [AudioDeviceRow(index=int(d["index"]), name=str(d["name"]), host_api=str(apis[d["hostapi"]]["name"]),
                               input_channels=int(d["max_input_channels"]),
                               output_channels=int(d["max_output_channels"]),
                               default_sample_rate_hz=int(round(d["default_samplerate"])),
                               play_default=int(d["index"]) == default)
                for d in sd.query_devices()]
        return rows, sd.get_portaudio_version()[1]


def _midi_ports(label: str, backend_name: str) -> MidiPorts:
    ports = MidiPorts(backend=label)
    try:
        import mido

        with _quiet_stderr():
            backend = mido.Backend(backend_name, load=True)
            ports.inputs = list(backend.get_input_names())
            ports.outputs = list(backend.get_output_names())
    except Exception as e:  # rtmidi raises SystemError without a sequencer, ImportError without rtmidi
        ports.error = one_line(e)
    return ports


def list_midi() -> list[MidiPorts]:
    """MIDI ports per backend: the platform's, and JACK's while a JACK server runs."""
    found = [_midi_ports(*_DEFAULT_MIDI_BACKEND)]
    if sys.platform.startswith("linux"):
        with _quiet_stderr():
            jack_running = portaudio_host().jack.server_alive()
        if jack_running:
            found.append(_midi_ports(*_JACK_MIDI_BACKEND))
    return found


def _print_audio(rows: list[AudioDeviceRow], version: str) -> None:
    print(f"Audio ({version}); * = what `ganloops play` uses without --device")
    if not rows:
        print("  no devices (no sound card found, and no JACK server running)")
        return
    api_width = max(len(r.host_api) for r in rows)
    print(f"  {'':1} {'idx':>3}  {'host API'.ljust(api_width)}  {'in':>3} {'out':>3}  {'rate Hz':>7}  name")
    for r in rows:
        mark = "*" if r.play_default else " "
        print(f"  {mark} {r.index:>3}  {r.host_api.ljust(api_width)}  {r.input_channels:>3} {r.output_channels:>3}"
              f"  {r.default_sample_rate_hz:>7}  {r.name}")
    if any(r.host_api == JACK_HOST_API for r in rows):
        print("  (JACK: ganloops plays as client 'ganloops', ports ganloops:out_0, ganloops:out_1)")


def _print_midi(sections: list[MidiPorts]) -> None:
    for s in sections:
        if s.error is not None:
            print(f"MIDI ({s.backend}): unavailable ({s.error})")
            continue
        print(f"MIDI ({s.backend}):")
        print(f"  inputs:  {', '.join(s.inputs) if s.inputs else 'none'}")
        print(f"  outputs: {', '.join(s.outputs) if s.outputs else 'none'}")


def devices_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ganloops devices", description="List audio devices and MIDI ports.")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    args = parser.parse_args(argv)
    audio_error: str | None = None
    rows: list[AudioDeviceRow] = []
    version = ""
    try:
        rows, version = list_audio()
    except AudioError as e:
        audio_error = str(e)
    midi = list_midi()
    if args.json:
        print(json.dumps({"audio": {"portaudio": version, "devices": [asdict(r) for r in rows],
                                    "error": audio_error},
                          "midi": [asdict(m) for m in midi]}, indent=2))
    else:
        if audio_error is not None:
            print(f"Audio: unavailable ({audio_error})")
        else:
            _print_audio(rows, version)
        _print_midi(midi)
    return 1 if audio_error is not None else 0
