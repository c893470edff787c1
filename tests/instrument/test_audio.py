"""Audio output: device choice, the callback's bookkeeping, one-line errors, and real JACK.

The JACK tests start their own ``jackd -d dummy`` (tests/instrument/jack.py) and play a
sine through PortAudio's JACK host API in this process, so they exercise the same path
as ``ganloops play``: ports named ganloops:out_N, device loss and recovery.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from instrument.audio import AudioOutput, OutputDevice, choose_output_device
from instrument.portaudio_host import JACK_HOST_API, AudioError, one_line, portaudio_host
from tests.instrument.jack import JackServer, require_jackd, require_tool, wait_for

ROOT = Path(__file__).resolve().parents[2]


class Sine:
    """A stand-in source with the engine's callback signature: fills blocks with a sine."""

    def __init__(self, sample_rate_hz: int = 48000, frequency_hz: float = 440.0, channels: int = 2) -> None:
        self.step = 2 * np.pi * frequency_hz / sample_rate_hz
        self.phase = 0.0
        self.frames = 0
        self.block_sizes: set[int] = set()
        self.threads: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self, outdata: np.ndarray, frames: int) -> None:
        t = self.phase + self.step * np.arange(frames)
        outdata[:] = 0.25 * np.sin(t)[:, None]
        self.phase = float(t[-1] + self.step)
        with self.lock:
            self.frames += frames
            self.block_sizes.add(frames)
            self.threads.add(threading.current_thread().name)


# ---------------------------------------------------------------------------------------
# Choosing a device (pure)
# ---------------------------------------------------------------------------------------

ALSA = "ALSA"
DEVICES = [
    OutputDevice(0, "HDA Intel PCH: ALC3246 Analog (hw:0,0)", ALSA, 2, 44100),
    OutputDevice(3, "USB Audio CODEC: USB Audio (hw:1,0)", ALSA, 2, 48000),
    OutputDevice(5, "pulse", ALSA, 32, 44100),
    OutputDevice(6, "default", ALSA, 32, 44100),
    OutputDevice(9, "system", JACK_HOST_API, 2, 48000),
]


def test_no_device_spec_takes_the_default_index() -> None:
    assert choose_output_device(DEVICES, None, 9).index == 9
    assert choose_output_device(DEVICES, None, 6).index == 6


def test_device_by_index_and_by_digit_string() -> None:
    assert choose_output_device(DEVICES, 3, None).name.startswith("USB")
    assert choose_output_device(DEVICES, "5", None).name == "pulse"


def test_device_by_name_words_in_any_case_including_the_host_api() -> None:
    assert choose_output_device(DEVICES, "usb", None).index == 3
    assert choose_output_device(DEVICES, "system jack", None).index == 9


def test_exact_name_wins_over_substring_matches() -> None:
    # "default" is also a substring of nothing else, "pulse" is exact; "hw" matches two.
    assert choose_output_device(DEVICES, "default", None).index == 6


def test_ambiguous_name_is_one_line_listing_the_candidates() -> None:
    with pytest.raises(AudioError) as info:
        choose_output_device(DEVICES, "hw", None)
    message = str(info.value)
    assert "\n" not in message and "'hw'" in message and "0 " in message and "3 " in message


def test_ambiguous_name_prefers_the_single_jack_match() -> None:
    devices = DEVICES + [OutputDevice(11, "system monitor", ALSA, 2, 44100)]
    assert choose_output_device(devices, "system", None).index == 9


def test_unknown_name_and_index_name_the_culprit() -> None:
    with pytest.raises(AudioError, match="--device 'focusrite': no output device matches"):
        choose_output_device(DEVICES, "focusrite", None)
    with pytest.raises(AudioError, match="--device 4: no output device with that index"):
        choose_output_device(DEVICES, 4, None)


def test_no_devices_at_all_says_so() -> None:
    with pytest.raises(AudioError, match="no audio output device found"):
        choose_output_device([], None, None)


# ---------------------------------------------------------------------------------------
# The output object without a device
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, culprit", [
    ({"block_frames": 3}, "--block 3"),
    ({"block_frames": 100000}, "--block 100000"),
    ({"sample_rate_hz": 100}, "--sample-rate 100"),
    ({"channels": 0}, "channels 0"),
])
def test_bad_settings_are_refused_naming_the_option(kwargs: dict, culprit: str) -> None:
    with pytest.raises(AudioError) as info:
        AudioOutput(Sine(), **kwargs)
    assert str(info.value).startswith(culprit)


def test_callback_passes_blocks_to_the_source_and_counts_underflows() -> None:
    sd = portaudio_host().sounddevice()
    source = Sine()
    output = AudioOutput(source, block_frames=64)
    block = np.zeros((64, 2), dtype=np.float32)
    output._portaudio_callback(block, 64, None, sd.CallbackFlags())
    output._portaudio_callback(block, 64, None, sd.CallbackFlags(sd._lib.paOutputUnderflow))
    output._portaudio_callback(block, 64, None, sd.CallbackFlags(sd._lib.paOutputUnderflow))
    assert source.frames == 192 and np.abs(block).max() > 0.2
    assert output.status().underflows == 2


def test_a_failing_source_gives_silence_and_is_counted() -> None:
    def broken(outdata: np.ndarray, frames: int) -> None:
        outdata.fill(1.0)
        raise RuntimeError("render exploded")

    output = AudioOutput(broken, block_frames=32)
    block = np.ones((32, 2), dtype=np.float32)
    output._portaudio_callback(block, 32, None, None)
    assert not block.any()
    assert output.status().callback_errors == 1
    assert isinstance(output.last_callback_exception, RuntimeError)


def test_one_line_joins_multiline_portaudio_messages() -> None:
    assert one_line("Error opening\nOutputStream:  Invalid sample rate") == "Error opening OutputStream: Invalid sample rate"


def test_the_sounddevice_internals_the_host_relies_on_exist() -> None:
    sd = portaudio_host().sounddevice()
    for name in ("_lib", "_ffi", "_libname", "_initialize", "_terminate", "_initialized"):
        assert hasattr(sd, name), f"sounddevice.{name} is gone: instrument/portaudio_host.py needs an update"


FAKE_SOUNDDEVICE = textwrap.dedent(
    """
    # What sounddevice does at import when libportaudio2 is missing.
    raise OSError("PortAudio library not found")
    """
)


def test_missing_portaudio_is_one_line_naming_libportaudio2(tmp_path: Path) -> None:
    (tmp_path / "sounddevice.py").write_text(FAKE_SOUNDDEVICE)
    code = textwrap.dedent(
        """
        import sys
        from instrument.audio import AudioOutput
        from instrument.portaudio_host import AudioError
        try:
            AudioOutput(lambda out, frames: None).start()
        except AudioError as e:
            print(e)
        """
    )
    env_path = f"{tmp_path}:{ROOT}"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"})
    lines = proc.stdout.strip().splitlines()
    assert proc.returncode == 0, proc.stderr
    assert len(lines) == 1 and "PortAudio library not found" in lines[0] and "libportaudio2" in lines[0]


# ---------------------------------------------------------------------------------------
# Through a real JACK server
# ---------------------------------------------------------------------------------------


@pytest.fixture
def jack(monkeypatch: pytest.MonkeyPatch):
    require_jackd()
    require_tool("jack_lsp")
    server = JackServer(sample_rate_hz=48000, period_frames=256).start()
    server.activate(monkeypatch)
    yield server
    server.stop()


def test_plays_through_jack_on_ports_named_ganloops(jack: JackServer) -> None:
    source = Sine()
    output = AudioOutput(source, block_frames=256)
    output.start()
    try:
        assert output.device is not None and output.device.is_jack and output.device.name == "system"
        assert output.sample_rate_hz == 48000  # the server's rate, since none was asked for
        assert wait_for(lambda: source.frames >= 48000, 10), f"only {source.frames} frames in 10 s"
        assert source.block_sizes == {256}
        ports = jack.ports(connections=True)
        assert "ganloops:out_0" in ports and "ganloops:out_1" in ports
        after_out_0 = ports[ports.index("ganloops:out_0") + 1].strip()
        assert after_out_0 == "system:playback_1"  # wired to the system ports by default
        assert output.status().state == "playing"
    finally:
        output.stop()
    assert output.state == "stopped"
    assert wait_for(lambda: "ganloops:out_0" not in (jack.ports() or []), 5)


def test_jack_rate_mismatch_names_the_server_rate(jack: JackServer) -> None:
    output = AudioOutput(Sine(), sample_rate_hz=44100)
    with pytest.raises(AudioError) as info:
        output.start()
    assert "JACK runs at 48000 Hz" in str(info.value) and "--sample-rate 48000" in str(info.value)
    assert output.state == "stopped"


def test_unknown_device_under_jack_lists_the_outputs(jack: JackServer) -> None:
    with pytest.raises(AudioError, match=r"--device 'no such card'.*'system' \[JACK"):
        AudioOutput(Sine(), device="no such card").start()


def test_jack_server_killed_and_restarted_resumes_playing(jack: JackServer) -> None:
    source = Sine()
    output = AudioOutput(source, block_frames=256, retry_seconds=0.5)
    output.start()
    try:
        assert wait_for(lambda: source.frames >= 4800, 10)
        jack.kill()
        assert wait_for(lambda: output.state == "waiting", 10), output.status()
        status = output.status()
        assert status.last_error == "JACK server stopped"
        # The clock thread keeps the source going while there is no device.
        clock_before = output.status().clock_blocks
        assert wait_for(lambda: output.status().clock_blocks >= clock_before + 20, 10)
        assert "audio-clock" in source.threads

        jack.start()  # same server name
        assert wait_for(lambda: output.state == "playing", 20), output.status()
        assert output.status().reconnects == 1
        # Audio flows through JACK again: frames keep coming while the clock is idle.
        clock_after = output.status().clock_blocks
        frames_after = source.frames
        assert wait_for(lambda: source.frames >= frames_after + 24000, 10)
        assert output.status().clock_blocks == clock_after
        assert "ganloops:out_0" in (jack.ports() or [])
    finally:
        output.stop()
    assert output.state == "stopped"


def test_stop_while_waiting_for_the_device_returns(jack: JackServer) -> None:
    output = AudioOutput(Sine(), retry_seconds=0.2)
    output.start()
    jack.kill()
    assert wait_for(lambda: output.state == "waiting", 10)
    output.stop()
    assert output.state == "stopped"
