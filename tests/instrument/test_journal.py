"""Performance journals: a live performance replayed offline comes out bit for bit the same."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from instrument.engine import Engine, EngineConfig
from instrument.journal import JournalError, read_journal, replay

RATE_HZ = 8000
BLOCK_FRAMES = 64


class BlockList:
    """A stand-in for a sound file: keeps what is written."""

    def __init__(self) -> None:
        self.blocks: list[np.ndarray] = []

    def write(self, block: np.ndarray) -> None:
        self.blocks.append(np.array(block))


def play_live(engine: Engine, blocks: int, actions: dict[int, Callable[[], Any]]) -> np.ndarray:
    """Run the callback from this thread, faster than real time, doing `actions[i]` before block i."""
    out = np.zeros((BLOCK_FRAMES, engine.config.channels), dtype=np.float32)
    captured = []
    for i in range(blocks):
        if i in actions:
            actions[i]()
        deadline = time.monotonic() + 30
        while engine.frames_ready() < BLOCK_FRAMES:
            assert time.monotonic() < deadline, "the mixer thread stopped producing"
            time.sleep(0.0002)
        engine.callback(out, BLOCK_FRAMES)
        captured.append(out.copy())
    return np.concatenate(captured)


def test_a_live_performance_replays_bit_for_bit(style_bundle: Path, wavegan_bundle: Path, tmp_path: Path) -> None:
    journal = tmp_path / "set.jsonl"
    engine = Engine(EngineConfig(sample_rate_hz=RATE_HZ, block_frames=BLOCK_FRAMES, quantize="beat"),
                    provider="cpu")
    engine.record_journal(journal)
    engine.load_deck(1, style_bundle, wait=True)
    engine.set_gain(1, 0.7)
    engine.start()
    try:
        live = play_live(engine, 2500, {
            150: lambda: engine.load_deck(2, wavegan_bundle),
            400: lambda: engine.set_knob(1, 1, 0.7),
            420: lambda: [engine.set_knob(1, 2, v) for v in np.linspace(-1, 0.4, 20)],
            700: lambda: (engine.set_gain(2, 0.3), engine.set_crossfade(0.2)),
            900: lambda: engine.set_tempo(133.0),
            1200: lambda: (engine.set_mix(1, "coarse", 0.8), engine.set_seed(2, 9)),
            1500: lambda: engine.set_mute(1, True),
            1700: lambda: engine.morph_to({**engine.state(), "crossfade": 0.9}, beats=2),
            2000: lambda: engine.set_mute(1, False),
        })
    finally:
        engine.stop()
    assert engine.stats.underruns == 0
    events = read_journal(journal).events
    kinds = {e.kind for e in events}
    assert {"control", "swap", "meter", "end"} <= kinds
    assert sum(e.kind == "swap" for e in events) >= 6
    assert np.abs(live).max() > 0.05
    replayed = replay(journal, frames=live.shape[0])
    assert replayed is not None and replayed.shape == live.shape
    assert np.array_equal(replayed, live)
    streamed = BlockList()
    assert replay(journal, writer=streamed, frames=live.shape[0]) is None
    assert np.array_equal(np.concatenate(streamed.blocks), live)


def test_a_live_run_with_transport_shifts_replays_bit_for_bit(style_bundle: Path, tmp_path: Path) -> None:
    """Shifts (what Link's phase lock sends) from another thread, alone and beside tempo changes."""
    journal = tmp_path / "synced.jsonl"
    engine = Engine(EngineConfig(sample_rate_hz=RATE_HZ, block_frames=BLOCK_FRAMES, quantize="beat"),
                    provider="cpu")
    engine.record_journal(journal)
    engine.load_deck(1, style_bundle, wait=True)
    shifts = [0.37, -0.0042, 1e-5, -1.25, 0.5, 0.003]

    def shift_from_another_thread(delta_beats: float) -> None:
        thread = threading.Thread(target=engine.shift_transport, args=(delta_beats,))
        thread.start()
        thread.join()

    engine.start()
    try:
        live = play_live(engine, 900, {
            100: lambda: shift_from_another_thread(shifts[0]),
            101: lambda: shift_from_another_thread(shifts[1]),
            250: lambda: (engine.set_tempo(131.0), shift_from_another_thread(shifts[2])),
            400: lambda: (shift_from_another_thread(shifts[3]), engine.set_knob(1, 1, 0.6)),
            600: lambda: [shift_from_another_thread(v) for v in shifts[4:]],
        })
    finally:
        engine.stop()
    assert engine.stats.underruns == 0 and engine.shifts_pending == 0
    events = read_journal(journal).events
    recorded = [e for e in events if e.kind == "shift"]
    assert [e.args for e in recorded] == shifts
    assert all(e.frame % BLOCK_FRAMES == 0 for e in recorded)  # at block starts
    assert sum(e.kind == "swap" for e in events) >= 2  # the tempo change and the knob re-rendered
    replayed = replay(journal, frames=live.shape[0])
    assert replayed is not None and np.array_equal(replayed, live)
    # the shifts are what make it come out right: without them the replay is another performance
    unshifted = tmp_path / "unshifted.jsonl"
    lines = journal.read_text().splitlines()
    unshifted.write_text("\n".join(line for line in lines if '"kind": "shift"' not in line) + "\n")
    assert not np.array_equal(replay(unshifted, frames=live.shape[0]), live)


def test_a_journal_started_mid_performance_replays_from_there(style_bundle: Path, tmp_path: Path) -> None:
    journal = tmp_path / "late.jsonl"
    engine = Engine(EngineConfig(sample_rate_hz=RATE_HZ, block_frames=BLOCK_FRAMES, crossfade_seconds=0.5,
                                 limiter_ceiling_db=-3.0), provider="cpu")
    engine.load_deck(1, style_bundle, wait=True)
    engine.load_deck(2, style_bundle, wait=True)
    engine.render_offline(4800)  # the fade-in from silence is over at 4000
    engine.set_seed(1, 4)
    engine.set_gain(2, 0.2)
    engine.render_offline(BLOCK_FRAMES)  # now mid-crossfade (0.5 s), the limiter at work
    engine.record_journal(journal)
    engine.set_knob(2, 1, -0.5)
    expected = engine.render_offline(16000)
    engine.stop_journal()
    header = read_journal(journal).header
    deck1 = header["mixer"]["decks"][0]
    assert header["start_frame"] == 4864 and deck1["previous"] is not None and header["mixer"]["limiter_reduction"] > 0
    replayed = replay(journal)
    assert replayed is not None and np.array_equal(replayed, expected)


def test_events_reach_the_file_while_recording(style_bundle: Path, tmp_path: Path) -> None:
    journal = tmp_path / "crash.jsonl"
    engine = Engine(EngineConfig(sample_rate_hz=RATE_HZ, block_frames=BLOCK_FRAMES), provider="cpu")
    engine.record_journal(journal)
    engine.set_knob(1, 3, 0.25)
    engine.render_offline(BLOCK_FRAMES)
    deadline = time.monotonic() + 10
    while "knob/3" not in journal.read_text():
        assert time.monotonic() < deadline, "the event never reached the file"
        time.sleep(0.01)
    event = read_journal(journal).events[0]  # readable without an end event, as after a crash
    assert (event.frame, event.kind, event.args) == (0, "control", ["/ganloops/deck/1/knob/3", [0.25]])
    engine.stop_journal()


def test_a_torn_last_line_is_ignored_and_damage_elsewhere_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    engine = Engine(EngineConfig(sample_rate_hz=RATE_HZ, block_frames=BLOCK_FRAMES), provider="cpu")
    engine.record_journal(path)
    engine.set_gain(1, 0.5)
    engine.render_offline(BLOCK_FRAMES * 4)
    engine.stop_journal()
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1]) + '\n{"frame": 25')  # killed while writing the end event
    journal = read_journal(path)
    assert [e.kind for e in journal.events] == ["control"] and journal.end_frame == 0
    path.write_text(lines[0] + "\nnot json\n" + "\n".join(lines[1:]) + "\n")
    with pytest.raises(JournalError, match=r"j\.jsonl: line 2 is not JSON$"):
        read_journal(path)


@pytest.mark.parametrize("content, problem", [
    ("", "empty"),
    ('{"format": "something-else"}\n', "not a ganloops journal"),
    ('{"format": "ganloops-journal", "version": 99}\n', "version 99"),
    ('{"format": "ganloops-journal", "version": 1}\n{"frame": "x", "kind": "control", "args": []}\n',
     "line 2 is not an event"),
])
def test_bad_journals_are_refused_in_one_line(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(JournalError) as raised:
        read_journal(path)
    message = str(raised.value)
    assert message.startswith(str(path)) and problem in message and "\n" not in message


def test_a_journal_path_that_cannot_be_written_is_refused_at_once(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    engine = Engine(EngineConfig(sample_rate_hz=RATE_HZ, block_frames=BLOCK_FRAMES), provider="cpu")
    with pytest.raises(JournalError, match=r"file/j\.jsonl: cannot write a journal there"):
        engine.record_journal(blocker / "j.jsonl")
    engine.record_journal(tmp_path / "ok.jsonl")  # the failed attempt left nothing half-open


def test_the_header_describes_the_engine(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    engine = Engine(EngineConfig(sample_rate_hz=RATE_HZ, block_frames=BLOCK_FRAMES, tempo_bpm=100.0), provider="cpu")
    engine.record_journal(path)
    engine.stop_journal()
    header = json.loads(path.read_text().splitlines()[0])
    assert header["format"] == "ganloops-journal" and header["provider"] == "cpu"
    assert header["config"]["tempo_bpm"] == 100.0 and header["config"]["block_frames"] == BLOCK_FRAMES
    assert header["state"] == engine.state()
