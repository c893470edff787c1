"""``ganloops play`` end to end through a real JACK server (no mocks).

A private ``jackd -d dummy`` gives a real audio clock without a sound card. ``ganloops
play`` runs as a subprocess on a tiny exported bundle with ``--control-stdin``; this test
process records its output with a PortAudio input stream of its own, wired to
``ganloops:out_0``/``out_1`` with ``jack_connect`` (tests/instrument/jack.py).

How "the audio changed" is judged: the bundle's loop is one bar (2 s at 120 BPM), so the
output is periodic with a period of 96000 frames at 48 kHz; a stretch of the output is
compared with one captured period with ``loop_similarity`` (tests/instrument/audio_checks.py).
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.instrument.audio_checks import OTHER_LOOP_MAX, SAME_LOOP_MIN, loop_similarity, mono
from tests.instrument.jack import JackCapture, JackServer, require_jackd, require_tool, wait_for

ROOT = Path(__file__).resolve().parents[2]
RATE_HZ = 48000
LOOP_FRAMES = 96000  # 1 bar of 4/4 at 120 BPM, at 48 kHz


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stereo style_wavegan bundle, 1 bar at 120 BPM (made as tests/instrument/conftest.py does)."""
    from tests.instrument.conftest import _export_tiny

    return _export_tiny(tmp_path_factory.mktemp("play_bundle"), "style_wavegan", channels=2)


@pytest.fixture
def jack(monkeypatch: pytest.MonkeyPatch):
    require_jackd()
    require_tool("jack_lsp")
    require_tool("jack_connect")
    server = JackServer(sample_rate_hz=RATE_HZ, period_frames=256).start()
    server.activate(monkeypatch)
    yield server
    server.stop()


def _play(jack: JackServer, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "instrument.cli", "play", *args, "--control-stdin", "--no-midi"],
                            cwd=ROOT, env=jack.env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, bufsize=1)


def _send(proc: subprocess.Popen, line: str) -> None:
    assert proc.stdin is not None
    proc.stdin.write(line + "\n")
    proc.stdin.flush()


def _finish(proc: subprocess.Popen, how: str) -> tuple[int, str, str]:
    """Stop `proc` by 'quit' on stdin or by a signal (SIGINT is Ctrl-C); return (exit status, stdout, stderr)."""
    if how == "quit":
        _send(proc, "quit")
    else:
        proc.send_signal({"sigint": signal.SIGINT, "sigterm": signal.SIGTERM}[how])
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"ganloops play did not stop after {how}:\n{err}")
    return proc.returncode, out, err


def _ports_up(jack: JackServer) -> bool:
    ports = jack.ports() or []
    return "ganloops:out_0" in ports and "ganloops:out_1" in ports


def _status(proc: subprocess.Popen) -> str:
    """Ask for a status line on stdin and read it from stdout."""
    assert proc.stdout is not None
    _send(proc, "status")
    return proc.stdout.readline()


def test_loop_similarity_tells_a_shift_from_another_signal() -> None:
    rng = np.random.default_rng(0)
    loop = rng.standard_normal(4800)
    shifted = np.roll(loop, 1234)
    assert loop_similarity(loop, shifted) > 0.999
    dropped = np.concatenate([shifted[:2000], shifted[2300:], shifted[:300]])  # a dropout mid-way
    assert loop_similarity(loop, dropped) > 0.99
    assert loop_similarity(loop, rng.standard_normal(4800)) < 0.3


def _check_recording(take: Path) -> list[str]:
    """The WAV is complete and not silent, its journal ends properly; returns the journal's lines."""
    recorded, rate = sf.read(take, dtype="float32")
    assert rate == RATE_HZ and recorded.ndim == 2 and recorded.shape[1] == 2
    assert float(np.sqrt(np.mean(recorded ** 2))) > 1e-3
    lines = take.with_suffix(".journal.jsonl").read_text().splitlines()
    assert '"format"' in lines[0] and '"kind": "end"' in lines[-1]
    return lines


def test_play_streams_through_jack_and_a_seed_changes_the_sound(jack: JackServer, tiny_bundle: Path,
                                                                tmp_path: Path) -> None:
    take = tmp_path / "ctrl-c.wav"
    proc = _play(jack, str(tiny_bundle), "--osc-port", "0", "--record", str(take))
    capture = JackCapture(jack)
    try:
        assert wait_for(lambda: _ports_up(jack) or proc.poll() is not None, 60), "ganloops ports never appeared"
        assert proc.poll() is None, proc.communicate()[1]
        connections = jack.ports(connections=True) or []
        assert connections[connections.index("ganloops:out_0") + 1].strip() == "system:playback_1"

        capture.start(["ganloops:out_0", "ganloops:out_1"])
        settle = RATE_HZ // 2
        assert capture.wait_frames(settle + 2 * LOOP_FRAMES, 30)
        first = capture.take(settle, settle + LOOP_FRAMES)
        second = capture.take(settle + LOOP_FRAMES, settle + 2 * LOOP_FRAMES)
        rms = float(np.sqrt(np.mean(first ** 2)))
        assert rms > 1e-3, f"captured audio is silent (rms {rms})"
        same = loop_similarity(mono(first), mono(second))
        assert same > SAME_LOOP_MIN, f"two periods of the same loop differ (similarity {same:.3f})"

        sent_at = capture.frames
        _send(proc, "seed 1 7")
        start = sent_at + RATE_HZ  # a second for the render and the crossfade
        assert capture.wait_frames(start + LOOP_FRAMES, 30)
        after = capture.take(start, start + LOOP_FRAMES)
        assert float(np.sqrt(np.mean(after ** 2))) > 1e-3
        changed = loop_similarity(mono(first), mono(after))
        assert changed < OTHER_LOOP_MAX, f"seed 7 sounds like seed 0 (similarity {changed:.3f} vs {same:.3f})"
        assert " s7" in _status(proc)
    finally:
        capture.stop()
        code, out, err = _finish(proc, "sigint")
    assert code == 0, err
    assert "OSC on 127.0.0.1:" in err  # the OSC controller was started through play's hook
    assert "Traceback" not in err
    assert "stopping" in err and "recorded" in err
    lines = _check_recording(take)  # Ctrl-C finished the WAV and the journal
    assert any('"/ganloops/deck/1/seed", [7]' in line for line in lines)


def test_play_waits_while_jackd_is_gone_and_resumes_with_the_recording_intact(
        jack: JackServer, tiny_bundle: Path, tmp_path: Path) -> None:
    take = tmp_path / "take.wav"
    proc = _play(jack, str(tiny_bundle), "--no-osc", "--record", str(take))
    capture = JackCapture(jack)
    try:
        assert wait_for(lambda: _ports_up(jack) or proc.poll() is not None, 60), "ganloops ports never appeared"
        assert proc.poll() is None, proc.communicate()[1]
        assert _status(proc).startswith("PLAY")

        jack.kill()
        assert wait_for(lambda: _status(proc).startswith("WAIT for device (JACK server stopped)"), 15)
        assert proc.poll() is None  # the process lives on without its device
        _send(proc, "seed 1 3")  # controls still work while waiting

        jack.start()  # the same server name
        assert wait_for(lambda: _status(proc).startswith("PLAY"), 30), "playing did not resume"
        assert wait_for(lambda: _ports_up(jack), 10)
        capture.start(["ganloops:out_0", "ganloops:out_1"])
        assert capture.wait_frames(RATE_HZ, 20)
        resumed = capture.take(RATE_HZ // 4, RATE_HZ)
        assert float(np.sqrt(np.mean(resumed ** 2))) > 1e-3, "no audio after the server came back"
        assert " s3" in _status(proc)
    finally:
        capture.stop()
        code, out, err = _finish(proc, "quit")
    assert code == 0, err
    assert "Traceback" not in err
    assert "recorded" in err and str(take) in err
    lines = _check_recording(take)
    assert any('"/ganloops/deck/1/seed", [3]' in line for line in lines)  # the seed sent while waiting
