"""StreamRecorder: what goes in comes out, the header tells the truth while recording, and a
SIGKILLed recording is still a WAV holding all but the last second."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import wave
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from instrument import recorder as recorder_module
from instrument.recorder import RecorderError, StreamRecorder

ROOT = Path(__file__).resolve().parents[2]
SR = 48000


def ramp_signal(start_frame: int, frames: int, channels: int = 2) -> np.ndarray:
    """A deterministic, position-dependent signal: any lost, doubled or shifted block shows."""
    n = np.arange(start_frame, start_frame + frames)[:, None]
    return (0.5 * np.sin(2 * np.pi * n * np.array([[0.0011, 0.0017]])[:, :channels]) + 1e-6 * (n % 97)).astype(np.float32)


def record(path: Path, blocks: list[np.ndarray], **kwargs: object) -> recorder_module.RecordingSummary:
    rec = StreamRecorder(path, SR, blocks[0].shape[1], **kwargs).start()  # type: ignore[arg-type]
    for block in blocks:
        rec.write_block(block)
    return rec.close()


def blocks_of(total_frames: int, block_frames: int = 256, channels: int = 2) -> list[np.ndarray]:
    return [ramp_signal(i, min(block_frames, total_frames - i), channels) for i in range(0, total_frames, block_frames)]


@pytest.mark.parametrize("subtype, atol", [("PCM_16", 2 ** -15), ("PCM_24", 2 ** -23), ("FLOAT", 0.0)])
def test_recording_holds_every_block_in_order(tmp_path: Path, subtype: str, atol: float) -> None:
    path = tmp_path / "take.wav"
    summary = record(path, blocks_of(SR + 123), subtype=subtype)
    assert summary.error is None and summary.dropped_frames == 0
    assert summary.frames == SR + 123 and summary.paths == (path,)
    audio, rate = sf.read(path, dtype="float32")
    assert rate == SR and audio.shape == (SR + 123, 2)
    np.testing.assert_allclose(audio, ramp_signal(0, SR + 123), atol=atol)


def test_header_states_the_length_while_still_recording(tmp_path: Path) -> None:
    path = tmp_path / "live.wav"
    rec = StreamRecorder(path, SR, 2, commit_interval_seconds=0.05).start()
    for block in blocks_of(SR // 2):
        rec.write_block(block)
    deadline = time.monotonic() + 10.0
    while rec.frames < SR // 2 and time.monotonic() < deadline:  # the writer catches up
        time.sleep(0.01)
    while time.monotonic() < deadline:  # ... and commits the header within its interval
        with wave.open(str(path), "rb") as w:  # Python's wave trusts the header sizes only
            if w.getnframes() == SR // 2:
                break
        time.sleep(0.05)
    with wave.open(str(path), "rb") as w:
        assert (w.getnframes(), w.getnchannels(), w.getsampwidth(), w.getframerate()) == (SR // 2, 2, 3, SR)
    rec.close()


def test_sigkilled_recording_is_valid_up_to_the_last_second(tmp_path: Path) -> None:
    path = tmp_path / "crash.wav"
    child = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_recorder import ramp_signal
        from instrument.recorder import StreamRecorder
        rec = StreamRecorder({str(path)!r}, {SR}, 2).start()
        block, frames, start = 256, 0, time.monotonic()
        while True:
            rec.write_block(ramp_signal(frames, block))
            frames += block
            print(time.monotonic(), frames, flush=True)
            delay = start + frames / {SR} - time.monotonic()   # real time, like a sound card
            if delay > 0:
                time.sleep(delay)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    progress: list[tuple[float, int]] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            stamp, frames = line.split()
            progress.append((float(stamp), int(frames)))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 30.0
        while (not progress or progress[-1][1] < 3 * SR) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert progress and progress[-1][1] >= 3 * SR, "the recording child did not get going"
        os.kill(proc.pid, signal.SIGKILL)
        killed_at = time.monotonic()
    finally:
        proc.kill()
        proc.wait()
    reader.join(5.0)
    written_a_second_before = max(frames for stamp, frames in progress if stamp <= killed_at - 1.0)
    info = sf.info(str(path))
    assert info.frames >= written_a_second_before
    audio, _ = sf.read(path, dtype="float32")
    np.testing.assert_allclose(audio, ramp_signal(0, len(audio)), atol=2 ** -23)
    with wave.open(str(path), "rb") as w:  # a strict reader sees the same length
        assert w.getnframes() == info.frames


def test_a_full_queue_becomes_silence_and_keeps_the_timeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    original = recorder_module._WavPart.write

    def stalled_write(self: recorder_module._WavPart, block: np.ndarray) -> None:
        release.wait(10.0)  # a disk that hangs
        original(self, block)

    monkeypatch.setattr(recorder_module._WavPart, "write", stalled_write)
    path = tmp_path / "stall.wav"
    rec = StreamRecorder(path, SR, 2, queue_blocks=4).start()
    blocks = blocks_of(20 * 256)
    rec.write_block(blocks[0])
    time.sleep(0.2)  # the writer now holds block 0 and hangs; the queue takes 4 more
    for block in blocks[1:]:
        rec.write_block(block)  # never blocks
    release.set()
    summary = rec.close()
    assert summary.dropped_frames == 15 * 256
    assert summary.frames == 20 * 256
    audio, _ = sf.read(path, dtype="float32")
    expected = ramp_signal(0, 20 * 256)
    np.testing.assert_allclose(audio[:5 * 256], expected[:5 * 256], atol=2 ** -23)
    assert np.all(audio[5 * 256:] == 0.0)


def test_long_recordings_continue_in_numbered_parts(tmp_path: Path) -> None:
    path = tmp_path / "long.wav"
    summary = record(path, blocks_of(10000), max_data_bytes=4000 * 6)  # 4000 frames of 24-bit stereo per part
    assert summary.paths == (path, tmp_path / "long-2.wav", tmp_path / "long-3.wav")
    joined = np.concatenate([sf.read(p, dtype="float32")[0] for p in summary.paths])
    assert [sf.info(str(p)).frames for p in summary.paths] == [4000, 4000, 2000]
    np.testing.assert_allclose(joined, ramp_signal(0, 10000), atol=2 ** -23)


def test_a_failing_disk_stops_the_recording_with_one_line_and_no_exception(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full_disk(self: recorder_module._WavPart, block: np.ndarray) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(recorder_module._WavPart, "write", full_disk)
    path = tmp_path / "full.wav"
    rec = StreamRecorder(path, SR, 2).start()
    for block in blocks_of(4096):
        rec.write_block(block)
    summary = rec.close()
    assert summary.error is not None and str(path) in summary.error and "No space left" in summary.error
    assert "\n" not in summary.error
    rec.write_block(blocks_of(256)[0])  # after the failure: still no exception
    assert sf.info(str(path)).frames == 0  # the file that exists is a valid, empty WAV


def test_a_block_of_the_wrong_shape_stops_recording_without_raising(tmp_path: Path) -> None:
    rec = StreamRecorder(tmp_path / "shape.wav", SR, 2).start()
    rec.write_block(np.zeros((256, 3), dtype=np.float32))
    summary = rec.close()
    assert summary.error is not None and "[frames, 2]" in summary.error and "shape.wav" in summary.error


@pytest.mark.parametrize("name, kwargs, message", [
    ("take.flac", {}, "recordings are WAV files"),
    ("take.wav", {"subtype": "PCM_8"}, "subtype must be one of"),
    ("missing/take.wav", {}, "does not exist"),
    ("exists.wav", {}, "exists already"),
])
def test_recordings_that_cannot_start_say_why_in_one_line(tmp_path: Path, name: str, kwargs: dict,
                                                          message: str) -> None:
    (tmp_path / "exists.wav").write_bytes(b"keep me")
    with pytest.raises(RecorderError, match=message) as caught:
        StreamRecorder(tmp_path / name, SR, 2, **kwargs)
    assert "\n" not in str(caught.value) and name.split("/")[-1] in str(caught.value)
    assert (tmp_path / "exists.wav").read_bytes() == b"keep me"
