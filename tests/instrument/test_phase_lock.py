"""PhaseLock and FrameClock on simulated time: the engine's bars follow a clock's, by jumps and slews.

The ground truth is what the simulated sound card plays (``SimRig`` records each block's
position as rendered and when it is heard), not the lock's own estimate.
"""

from __future__ import annotations

import random

import pytest

from instrument.phase_lock import FrameClock, PhaseLock, beats_at_frame, shift_transport
from tests.instrument.link_sim import SIM_BLOCK_FRAMES, SIM_RATE_HZ, FakeClock, SimRig, Timeline, phase_errors_seconds
from tests.instrument.link_sim import run as run_sim

TOLERANCE_SECONDS = 0.002  # the simulation has no scheduling noise: much tighter than the 5 ms promise


def make(latency_seconds: float = 0.01, device_ppm: float = 0.0, tempo_bpm: float = 128.0
         ) -> tuple[SimRig, PhaseLock, Timeline]:
    clock = FakeClock()
    rig = SimRig.create(clock, latency_seconds=latency_seconds, device_ppm=device_ppm, tempo_bpm=tempo_bpm)
    lock = PhaseLock(rig.engine, output_latency_seconds=lambda: latency_seconds)
    timeline = Timeline(tempo_bpm, beat=0.7, origin_seconds=clock.now)  # bars unrelated to the engine's
    return rig, lock, timeline


def follow(rig: SimRig, lock: PhaseLock, timeline: Timeline, seconds: float) -> None:
    run_sim(rig, rig.clock.now + seconds, lambda: lock.update(rig.clock.now, timeline.beat_at(rig.clock.now)))


# ---------------------------------------------------------------------------------------
# FrameClock
# ---------------------------------------------------------------------------------------


def staircase_samples(clock: FrameClock, start: float, seconds: float, seed: int = 3) -> float:
    """Feed samples of a device taking one block per block period; returns the last sample time."""
    rng = random.Random(seed)
    t = start
    block_seconds = SIM_BLOCK_FRAMES / SIM_RATE_HZ
    while t < start + seconds:
        t += 0.01 * (1 + 0.3 * (2 * rng.random() - 1))
        taken = (int((t - start) / block_seconds) + 1) * SIM_BLOCK_FRAMES  # the block playing now, and all before
        clock.add(t, taken)
    return t


def test_the_heard_frame_is_the_middle_of_the_staircase_minus_the_latency() -> None:
    clock = FrameClock(SIM_RATE_HZ, SIM_BLOCK_FRAMES)
    t = staircase_samples(clock, 10.0, 1.0)
    heard = clock.heard_frame(t, output_latency_seconds=0.0)
    assert heard is not None
    # the block that started at the last block boundary is playing; frame = elapsed time * rate
    assert heard == pytest.approx((t - 10.0) * SIM_RATE_HZ, abs=0.1 * SIM_BLOCK_FRAMES)
    later = clock.heard_frame(t, output_latency_seconds=0.02)
    assert heard - later == pytest.approx(0.02 * SIM_RATE_HZ)


def test_too_few_samples_or_a_stopped_clock_give_no_estimate() -> None:
    clock = FrameClock(SIM_RATE_HZ, SIM_BLOCK_FRAMES)
    clock.add(1.0, 128)
    assert clock.heard_frame(1.0) is None
    t = staircase_samples(clock, 10.0, 1.0)
    assert clock.heard_frame(t) is not None
    for i in range(30):  # the device stopped taking frames
        clock.add(t + 0.01 * (i + 1), 100000)
    assert clock.heard_frame(t + 0.3) is None


def test_a_stray_sample_is_ignored_and_a_moved_clock_starts_over() -> None:
    clock = FrameClock(SIM_RATE_HZ, SIM_BLOCK_FRAMES)
    t = staircase_samples(clock, 10.0, 1.0)
    before = clock.heard_frame(t)
    clock.add(t, (t - 10.0) * SIM_RATE_HZ + 5000)  # one sample read mid-update
    assert clock.heard_frame(t) == pytest.approx(before, abs=1.0) and clock.resets == 0
    t2 = staircase_samples(clock, 10.0 - 2.0, 0.5, seed=4)  # the same device, now 2 s further on (a restart)
    assert clock.resets == 1
    assert clock.heard_frame(t2) == pytest.approx((t2 - 8.0) * SIM_RATE_HZ, abs=0.2 * SIM_BLOCK_FRAMES)


# ---------------------------------------------------------------------------------------
# PhaseLock
# ---------------------------------------------------------------------------------------


def test_the_first_lock_jumps_the_bars_onto_the_clock() -> None:
    rig, lock, timeline = make()
    follow(rig, lock, timeline, 0.1)
    assert not lock.locked  # too few samples yet: nothing moved
    before = phase_errors_seconds(rig, timeline, 0.0)
    assert max(abs(e) for e in before) > 0.1
    follow(rig, lock, timeline, 1.0)
    assert lock.locked and lock.jumps == 1
    errors = phase_errors_seconds(rig, timeline, rig.clock.now - 0.5)
    assert max(abs(e) for e in errors) <= TOLERANCE_SECONDS


@pytest.mark.parametrize("device_ppm", [-500.0, 100.0, 1000.0])
def test_sound_card_drift_is_slewed_without_jumps(device_ppm: float) -> None:
    rig, lock, timeline = make(device_ppm=device_ppm)
    follow(rig, lock, timeline, 1.0)
    follow(rig, lock, timeline, 30.0)  # uncorrected, 1000 ppm would be 30 ms off by now
    assert lock.jumps == 1
    errors = phase_errors_seconds(rig, timeline, rig.clock.now - 25.0)
    assert max(abs(e) for e in errors) <= TOLERANCE_SECONDS


def test_a_jump_of_the_clock_is_followed_after_confirmation() -> None:
    rig, lock, timeline = make()
    follow(rig, lock, timeline, 1.0)
    moved = Timeline(timeline.tempo_bpm, timeline.beat_at(rig.clock.now) + 1.3, rig.clock.now)
    reports = []
    run_sim(rig, rig.clock.now + 1.0,
            lambda: reports.append(lock.update(rig.clock.now, moved.beat_at(rig.clock.now))))
    actions = [r.action for r in reports]
    assert actions[:3] == ["hold", "hold", "jump"]
    assert lock.jumps == 2
    errors = phase_errors_seconds(rig, moved, rig.clock.now - 0.5)
    assert max(abs(e) for e in errors) <= TOLERANCE_SECONDS


@pytest.mark.parametrize("blocks", [1, 4])
def test_an_underrun_slip_is_caught_up(blocks: int) -> None:
    """An underrun: the card plays silence while the engine's clock waits, so everything after is late."""
    rig, lock, timeline = make()
    follow(rig, lock, timeline, 1.0)
    rig.underrun(blocks)  # 8 ms (slewed back) or 32 ms (a jump)
    follow(rig, lock, timeline, 3.0)
    assert lock.jumps == (1 if blocks == 1 else 2)
    errors = phase_errors_seconds(rig, timeline, rig.clock.now - 0.5)
    assert max(abs(e) for e in errors) <= TOLERANCE_SECONDS


def test_the_lock_uses_the_engines_bar_as_quantum() -> None:
    rig, lock, timeline = make()
    rig.engine.transport.beats_per_bar = 3
    follow(rig, lock, timeline, 1.0)
    errors = phase_errors_seconds(rig, timeline, rig.clock.now - 0.5, quantum=3)
    assert max(abs(e) for e in errors) <= TOLERANCE_SECONDS
    assert lock.last_report.quantum_beats == 3


def test_a_shift_survives_a_tempo_change_on_the_mixer_side() -> None:
    rig, _, _ = make()
    engine = rig.engine
    engine.render_offline(SIM_BLOCK_FRAMES)
    at = engine.transport_frames
    before = beats_at_frame(engine, at)
    shift_transport(engine, 0.25)
    engine.set_tempo(140.0)
    engine.render_offline(SIM_BLOCK_FRAMES)  # the tempo change re-anchors at this block's start
    assert beats_at_frame(engine, at) == pytest.approx(before + 0.25)


def test_a_correction_still_queued_is_not_counted_twice() -> None:
    """Until the mixer applies a shift, the lock only samples: no second jump for the same gap (long blocks)."""
    rig, lock, timeline = make()
    follow(rig, lock, timeline, 1.0)
    while rig.engine.shifts_pending:  # let the last slew land
        rig.clock.now += 0.001
        rig.advance_to(rig.clock.now)
    now = rig.clock.now
    moved = Timeline(timeline.tempo_bpm, timeline.beat_at(now) + 1.3, now)
    actions = [lock.update(now, moved.beat_at(now)).action for _ in range(7)]  # no block made meanwhile
    assert actions == ["hold", "hold", "jump", "pending", "pending", "pending", "pending"]
    assert rig.engine.shifts_pending == 1 and lock.jumps == 2
    assert lock.last_report.error_seconds is not None and abs(lock.last_report.error_seconds) > 0.5
    blocks = len(rig.blocks)
    while len(rig.blocks) == blocks:  # the mixer makes its next block: the jump is in the transport
        rig.clock.now += 0.001
        rig.advance_to(rig.clock.now)
    assert rig.engine.shifts_pending == 0
    report = lock.update(rig.clock.now, moved.beat_at(rig.clock.now))
    assert report.action == "slew"  # measured again: the jump closed the gap
    assert report.error_seconds is not None and abs(report.error_seconds) < 0.001
