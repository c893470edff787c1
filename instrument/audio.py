"""Audio output: the engine's blocks to a sound card or a JACK server, through PortAudio.

``AudioOutput(source_callback, device, sample_rate_hz, block_frames, channels)`` opens a
``sounddevice.OutputStream`` whose callback calls ``source_callback(outdata, frames)``
and nothing else (the engine's real-time rules live in that function); PortAudio's
underflow flags are counted in a preallocated array.

Device choice: ``None`` plays on the JACK server when one runs (its "system" ports),
otherwise on the platform's default output. A string picks by name (every word must
appear in the device name or its host API, case-insensitively; an exact name wins); an
integer (or a string of digits) is a PortAudio device index, as ``ganloops devices``
lists them. Under JACK the client is called "ganloops", so its ports are
``ganloops:out_0``, ``ganloops:out_1``... and can be wired into a DAW.

When the stream dies (JACK server stopped, card unplugged), the output goes to
"waiting": a watchdog thread rescans every ``retry_seconds`` and reopens the same device
when it is back, without restarting the process. Meanwhile a clock thread keeps calling
``source_callback`` at the audio rate into a scratch buffer, so the engine behind it
(mixer, position, recording) carries on as if the device were there; when the device
returns, playing resumes at the engine's current position. See ``portaudio_host`` for
why a dead JACK stream is abandoned rather than closed.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from instrument.portaudio_host import (JACK_HOST_API, AudioError, PortAudioHost, jack_server_name, one_line,
                                      portaudio_host)

SourceCallback = Callable[[np.ndarray, int], None]
DeviceSpec = str | int | None

MIN_BLOCK_FRAMES = 16
MAX_BLOCK_FRAMES = 16384
MIN_SAMPLE_RATE_HZ = 8000
MAX_SAMPLE_RATE_HZ = 384000
# How long closing a stream may take before it is abandoned as hung.
_CLOSE_TIMEOUT_SECONDS = 3.0
# Most blocks the clock thread renders in one wake-up when it has fallen behind.
_CLOCK_MAX_CATCH_UP_BLOCKS = 64

STOPPED, PLAYING, WAITING = "stopped", "playing", "waiting"


class _NotBackYet(AudioError):
    """The lost device is not in the new scan (yet)."""


@dataclass(frozen=True)
class OutputDevice:
    """One PortAudio device that can play, as the current scan sees it."""

    index: int
    name: str
    host_api: str
    max_output_channels: int
    default_sample_rate_hz: int

    @property
    def is_jack(self) -> bool:
        return self.host_api == JACK_HOST_API

    def label(self) -> str:
        return f"'{self.name}' [{self.host_api}]"


@dataclass(frozen=True)
class AudioStatus:
    """A snapshot of the output for the status line and the tests."""

    state: str                      # "playing", "waiting" (for the device) or "stopped"
    device: str                     # label of the device in use or awaited
    sample_rate_hz: int
    block_frames: int
    underflows: int                 # blocks PortAudio flagged as output underflow
    callback_errors: int            # exceptions raised by the source callback (output silenced)
    reconnects: int                 # times playing resumed after the device was lost
    clock_blocks: int               # blocks rendered by the clock thread while waiting
    last_error: str                 # why the output is waiting, or the last retry's failure
    latency_seconds: float          # PortAudio's reported output latency of the open stream


# ---------------------------------------------------------------------------------------
# Devices
# ---------------------------------------------------------------------------------------


def list_output_devices(sd: Any) -> list[OutputDevice]:
    """Every device of the current scan with at least one output channel."""
    apis = sd.query_hostapis()
    devices = []
    for info in sd.query_devices():
        if info["max_output_channels"] > 0:
            devices.append(OutputDevice(index=int(info["index"]), name=str(info["name"]),
                                        host_api=str(apis[info["hostapi"]]["name"]),
                                        max_output_channels=int(info["max_output_channels"]),
                                        default_sample_rate_hz=int(round(info["default_samplerate"]))))
    return devices


def default_output_index(sd: Any) -> int | None:
    """JACK's default output when a JACK server is known, else PortAudio's default, else None."""
    apis = sd.query_hostapis()
    for api in apis:
        if api["name"] == JACK_HOST_API and api["default_output_device"] >= 0:
            return int(api["default_output_device"])
    default_api = apis[sd.default.hostapi] if 0 <= sd.default.hostapi < len(apis) else None
    if default_api is not None and default_api["default_output_device"] >= 0:
        return int(default_api["default_output_device"])
    for api in apis:
        if api["default_output_device"] >= 0:
            return int(api["default_output_device"])
    return None


def choose_output_device(devices: Sequence[OutputDevice], spec: DeviceSpec,
                         default_index: int | None) -> OutputDevice:
    """The device `spec` names among `devices`; AudioError (one line) when none or several fit."""
    if not devices:
        raise AudioError("no audio output device found (is the sound card connected, or JACK running?); "
                         "`ganloops devices` lists what PortAudio sees")
    by_index = {d.index: d for d in devices}
    if spec is None:
        if default_index in by_index:
            return by_index[default_index]
        return devices[0]
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
        index = int(spec)
        if index not in by_index:
            known = ", ".join(f"{d.index} {d.label()}" for d in devices[:6])
            raise AudioError(f"--device {index}: no output device with that index (outputs: {known})")
        return by_index[index]
    words = spec.lower().split()
    if not words:
        raise AudioError("--device '': give a device name or index (`ganloops devices` lists them)")
    matches = [d for d in devices if all(w in f"{d.name} {d.host_api}".lower() for w in words)]
    if not matches:
        known = ", ".join(d.label() for d in devices[:6])
        raise AudioError(f"--device '{spec}': no output device matches (outputs: {known})")
    if len(matches) == 1:
        return matches[0]
    for narrowed in ([d for d in matches if d.name.lower() == spec.lower()], [d for d in matches if d.is_jack]):
        if len(narrowed) == 1:
            return narrowed[0]
    listed = "; ".join(f"{d.index} {d.label()}" for d in matches[:6])
    raise AudioError(f"--device '{spec}': matches {len(matches)} devices ({listed}); give the index or more words")


def _check_settings(sd: Any, device: OutputDevice, sample_rate_hz: int, channels: int) -> None:
    """AudioError unless `device` can play `channels` float32 channels at `sample_rate_hz`."""
    if channels > device.max_output_channels:
        raise AudioError(f"{device.label()} has {device.max_output_channels} output channel(s); "
                         f"ganloops plays {channels}")
    try:
        sd.check_output_settings(device=device.index, channels=channels, dtype="float32",
                                 samplerate=sample_rate_hz)
    except (sd.PortAudioError, ValueError) as e:
        if device.is_jack:
            raise AudioError(f"JACK runs at {device.default_sample_rate_hz} Hz, not {sample_rate_hz} Hz: use "
                             f"--sample-rate {device.default_sample_rate_hz} or restart jackd with "
                             f"-r {sample_rate_hz}") from None
        raise AudioError(f"{device.label()} cannot play {sample_rate_hz} Hz ({one_line(e)}); its default rate "
                         f"is {device.default_sample_rate_hz} Hz (--sample-rate)") from None


def resolve_output(device: DeviceSpec = None, sample_rate_hz: int | None = None, channels: int = 2,
                   host: PortAudioHost | None = None) -> tuple[OutputDevice, int]:
    """The device `device` names and the rate it will play at (its default when None).

    ``ganloops play`` asks this before it builds the engine, whose rate must be the
    device's; AudioError (one line) when the device or the rate cannot be used.
    """
    host = host or portaudio_host()
    with host.lock:
        host.ensure_fresh_scan()
        sd = host.sounddevice()
        chosen = choose_output_device(list_output_devices(sd), device, default_output_index(sd))
        rate_hz = int(sample_rate_hz) if sample_rate_hz is not None else chosen.default_sample_rate_hz
        _check_settings(sd, chosen, rate_hz, channels)
        host.keep_scan()
        return chosen, rate_hz


# ---------------------------------------------------------------------------------------
# The output
# ---------------------------------------------------------------------------------------


class AudioOutput:
    """Plays `source_callback` on a PortAudio device and survives the device going away.

    `sample_rate_hz` None plays at the device's default rate (for JACK: the server's);
    read ``sample_rate_hz`` after ``start()`` to configure the engine. ``start()`` raises
    AudioError (one line) when the device, rate or block size cannot be used; after it
    returns, nothing raises: device trouble shows in ``status()``.
    """

    def __init__(self, source_callback: SourceCallback, device: DeviceSpec = None,
                 sample_rate_hz: int | None = None, block_frames: int = 256, channels: int = 2, *,
                 retry_seconds: float = 1.0, keep_clock: bool = True, latency: str | float = "low",
                 host: PortAudioHost | None = None) -> None:
        if not callable(source_callback):
            raise AudioError("source_callback must be callable as source_callback(outdata, frames)")
        if sample_rate_hz is not None and not MIN_SAMPLE_RATE_HZ <= int(sample_rate_hz) <= MAX_SAMPLE_RATE_HZ:
            raise AudioError(f"--sample-rate {sample_rate_hz}: must be between {MIN_SAMPLE_RATE_HZ} and "
                             f"{MAX_SAMPLE_RATE_HZ} Hz")
        if not MIN_BLOCK_FRAMES <= int(block_frames) <= MAX_BLOCK_FRAMES:
            raise AudioError(f"--block {block_frames}: must be between {MIN_BLOCK_FRAMES} and "
                             f"{MAX_BLOCK_FRAMES} frames")
        if not 1 <= int(channels) <= 64:
            raise AudioError(f"channels {channels}: must be between 1 and 64")
        if not retry_seconds > 0:
            raise AudioError(f"retry_seconds {retry_seconds}: must be positive")
        self._source = source_callback
        self._device_spec = device
        self._requested_rate_hz = None if sample_rate_hz is None else int(sample_rate_hz)
        self.block_frames = int(block_frames)
        self.channels = int(channels)
        self.retry_seconds = float(retry_seconds)
        self.keep_clock = keep_clock
        self.latency = latency
        self._host = host or portaudio_host()

        # Written by the audio callback: preallocated, never resized.
        self._underflows = np.zeros(1, dtype=np.int64)
        self._callback_errors = np.zeros(1, dtype=np.int64)
        self.last_callback_exception: BaseException | None = None

        self._state = STOPPED
        self._device: OutputDevice | None = None
        self.sample_rate_hz: int = self._requested_rate_hz or 0
        self._stream: Any = None
        self._finished = threading.Event()
        self._stop = threading.Event()
        self._watchdog: threading.Thread | None = None
        self._clock: threading.Thread | None = None
        self._clock_stop = threading.Event()
        self._clock_blocks = 0
        self._reconnects = 0
        self._last_error = ""
        self._latency_seconds = 0.0
        self._jack_server: str | None = None  # the server a JACK stream plays on
        self._status_lock = threading.Lock()

    # -- the function PortAudio calls --------------------------------------------------------

    def _portaudio_callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        """Runs on the audio thread: the source fills `outdata`; flags are counted, never logged."""
        if status and status.output_underflow:
            self._underflows[0] += 1
        try:
            self._source(outdata, frames)
        except Exception as e:  # a failing source must not stop the stream: silence this block
            outdata.fill(0.0)
            self._callback_errors[0] += 1
            self.last_callback_exception = e

    def _on_finished(self) -> None:
        """PortAudio's finished callback: the stream ended (by us, or because it died)."""
        self._finished.set()

    # -- public control -----------------------------------------------------------------------

    def start(self) -> None:
        """Open the device and start playing; AudioError (one line) when it cannot be used."""
        if self._state != STOPPED:
            return
        with self._host.lock:
            device, rate_hz = resolve_output(self._device_spec, self._requested_rate_hz, self.channels, self._host)
            sd = self._host.sounddevice()
            self._device, self.sample_rate_hz = device, rate_hz
            self._stream = self._open(sd, device)
            self._start_stream()
        self._stop.clear()
        self._set_state(PLAYING, "")
        self._watchdog = threading.Thread(target=self._watch, name="audio-watchdog", daemon=True)
        self._watchdog.start()

    def stop(self) -> None:
        """Stop playing and close the device (a dead stream is abandoned, never waited on)."""
        if self._state == STOPPED:
            return
        self._stop.set()
        if self._watchdog is not None:
            self._watchdog.join()
            self._watchdog = None
        self._stop_clock()
        with self._host.lock:
            stream, self._stream = self._stream, None
            if stream is not None:
                if self._stream_alive(stream):
                    self._close(stream, stop_first=True)
                else:
                    self._dispose_dead(stream)
        self._set_state(STOPPED, "")

    def status(self) -> AudioStatus:
        """What the output is doing now (cheap: reads counters, no PortAudio call)."""
        with self._status_lock:
            state, last_error = self._state, self._last_error
        return AudioStatus(state=state, device=self._device.label() if self._device else "",
                           sample_rate_hz=self.sample_rate_hz, block_frames=self.block_frames,
                           underflows=int(self._underflows[0]), callback_errors=int(self._callback_errors[0]),
                           reconnects=self._reconnects, clock_blocks=self._clock_blocks,
                           last_error=last_error, latency_seconds=self._latency_seconds)

    @property
    def state(self) -> str:
        return self._state

    @property
    def device(self) -> OutputDevice | None:
        return self._device

    # -- streams ----------------------------------------------------------------------------

    def _open(self, sd: Any, device: OutputDevice) -> Any:
        """An OutputStream on `device` (not started); AudioError when PortAudio refuses it."""
        self._finished.clear()
        try:
            stream = sd.OutputStream(device=device.index, samplerate=self.sample_rate_hz,
                                     blocksize=self.block_frames, channels=self.channels, dtype="float32",
                                     latency=self.latency, callback=self._portaudio_callback,
                                     finished_callback=self._on_finished)
        except (sd.PortAudioError, ValueError) as e:
            raise AudioError(f"{device.label()}: cannot open {self.channels} channels at {self.sample_rate_hz} Hz, "
                             f"{self.block_frames} frames per block ({one_line(e)})") from None
        self._latency_seconds = float(stream.latency)
        self._jack_server = jack_server_name() if device.is_jack else None
        return stream

    def _start_stream(self) -> None:
        sd = self._host.sounddevice()
        try:
            self._stream.start()
        except sd.PortAudioError as e:
            stream, self._stream = self._stream, None
            self._dispose_dead(stream)
            raise AudioError(f"{self._device.label() if self._device else 'device'}: cannot start the stream "
                             f"({one_line(e)})") from None

    @staticmethod
    def _stream_alive(stream: Any) -> bool:
        try:
            return bool(stream.active)
        except Exception:
            return False

    def _close(self, stream: Any, stop_first: bool) -> None:
        """Stop and close `stream` on a helper thread; abandon it if that hangs."""
        def close() -> None:
            try:
                if stop_first:
                    stream.stop(ignore_errors=True)
                stream.close(ignore_errors=True)
            except Exception:
                pass

        helper = threading.Thread(target=close, name="audio-close", daemon=True)
        helper.start()
        helper.join(_CLOSE_TIMEOUT_SECONDS)
        if helper.is_alive():
            self._abandon(stream)

    def _dispose_dead(self, stream: Any) -> None:
        """Get rid of a stream that stopped by itself; a JACK one is never touched again."""
        if self._device is not None and self._device.is_jack:
            self._abandon(stream)
        else:
            self._close(stream, stop_first=False)

    def _abandon(self, stream: Any) -> None:
        try:
            self._host.abandon(stream, self._portaudio_callback)
        except AudioError as e:
            self._set_state(self._state, one_line(e))

    # -- watchdog: noticing loss, retrying -----------------------------------------------------

    def _set_state(self, state: str, last_error: str) -> None:
        with self._status_lock:
            self._state, self._last_error = state, last_error

    def _loss_reason(self) -> str | None:
        """Why the open stream is dead, or None while it plays."""
        stream = self._stream
        if stream is not None and not self._finished.is_set() and self._stream_alive(stream):
            return None
        if self._device is not None and self._device.is_jack:
            alive = self._host.jack.server_alive(self._jack_server)
            return "JACK server stopped" if not alive else "JACK dropped the client"
        return "the device stopped (unplugged or taken by another program?)"

    def _watch(self) -> None:
        check_seconds = min(0.25, self.retry_seconds)
        next_retry = 0.0
        while not self._stop.wait(check_seconds):
            if self._state == PLAYING:
                with self._host.lock:
                    reason = self._loss_reason()
                    if reason is None:
                        continue
                    self._set_state(WAITING, reason)
                    stream, self._stream = self._stream, None
                    if stream is not None:
                        self._dispose_dead(stream)
                self._start_clock()
                next_retry = time.monotonic() + self.retry_seconds
            elif self._state == WAITING and time.monotonic() >= next_retry:
                self._retry()
                next_retry = time.monotonic() + self.retry_seconds

    def _retry(self) -> None:
        """Rescan; when the device is back, reopen it and take over from the clock thread."""
        with self._host.lock:
            try:
                self._host.rescan()
                sd = self._host.sounddevice()
                device = self._find_again(sd)
                _check_settings(sd, device, self.sample_rate_hz, self.channels)
                self._device = device
                stream = self._open(sd, device)
            except _NotBackYet:
                return  # the reason it was lost still says it best
            except AudioError as e:
                self._set_state(WAITING, one_line(e))
                return
            except Exception as e:  # PortAudio surprises must not end the watchdog
                self._set_state(WAITING, one_line(e))
                return
            self._stop_clock()  # the source has one caller at a time
            self._stream = stream
            try:
                self._start_stream()
            except AudioError as e:
                self._set_state(WAITING, one_line(e))
                self._start_clock()
                return
            self._reconnects += 1
            self._set_state(PLAYING, "")

    def _find_again(self, sd: Any) -> OutputDevice:
        """The lost device in the new scan: same name and host API first, then the original choice."""
        devices = list_output_devices(sd)
        lost = self._device
        if lost is not None:
            for d in devices:
                if d.name == lost.name and d.host_api == lost.host_api:
                    return d
        if lost is not None and isinstance(self._device_spec, (int, type(None))):
            raise _NotBackYet(lost.label())
        return choose_output_device(devices, self._device_spec, default_output_index(sd))

    # -- clock thread: the engine keeps time while there is no device ---------------------------

    def _start_clock(self) -> None:
        if not self.keep_clock or self._clock is not None:
            return
        self._clock_stop.clear()
        self._clock = threading.Thread(target=self._run_clock, name="audio-clock", daemon=True)
        self._clock.start()

    def _stop_clock(self) -> None:
        if self._clock is not None:
            self._clock_stop.set()
            self._clock.join()
            self._clock = None

    def _run_clock(self) -> None:
        """Call the source at the audio rate (discarding its output) until the device is back."""
        scratch = np.zeros((self.block_frames, self.channels), dtype=np.float32)
        block_seconds = self.block_frames / float(self.sample_rate_hz)
        next_block = time.monotonic()
        while not self._clock_stop.is_set():
            due = int((time.monotonic() - next_block) // block_seconds) + 1
            if due > _CLOCK_MAX_CATCH_UP_BLOCKS:  # fell far behind (suspended?): skip, don't race
                next_block = time.monotonic()
                due = 1
            for _ in range(due):
                self._portaudio_callback(scratch, self.block_frames, None, None)
                self._clock_blocks += 1
            next_block += due * block_seconds
            self._clock_stop.wait(max(0.0, min(0.02, next_block - time.monotonic())))
