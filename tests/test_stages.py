"""Stage by stage: decode, condition, speech, windows, features, runtime choice."""
from __future__ import annotations

import numpy as np
import pytest

from engine.condition import CHUNK_SAMPLES, condition
from engine.decode import SAMPLE_RATE, DecodeReport, decode_all, probe, stream_audio
from engine.errors import InputError
from engine.hardware import GIB, batch_size_for_vram, plan_runtime
from engine.options import TranscribeOptions
from engine.speech import SpeechDetector, SpeechSettings, make_clips, speech_regions
from engine.windowing import cut_windows
from support.audio import session, write_audio
from support.recordings import real_recording


def test_decode_streams_any_rate_and_channel_count_to_16k_mono(tmp_path):
    tone = np.sin(2 * np.pi * 440 * np.arange(SAMPLE_RATE * 3) / SAMPLE_RATE).astype(np.float32) * 0.5
    path = write_audio(tmp_path / "tone.wav", tone, out_rate=48000, channels=6, bit_depth=24)
    info = probe(path)
    assert (info.sample_rate, info.channels) == (48000, 6)
    blocks = list(stream_audio(path, block_samples=SAMPLE_RATE))
    assert all(block.dtype == np.float32 and block.ndim == 1 for block in blocks)
    assert [len(block) for block in blocks[:-1]] == [SAMPLE_RATE] * (len(blocks) - 1)
    audio = np.concatenate(blocks)
    assert abs(len(audio) - 3 * SAMPLE_RATE) <= 32
    # Still a 440 Hz tone after downmix and resampling.
    spectrum = np.abs(np.fft.rfft(audio[:SAMPLE_RATE]))
    assert abs(np.argmax(spectrum) - 440) <= 1


def test_decode_follows_a_stream_whose_format_changes_midway(tmp_path):
    """Two MP3s joined byte for byte (as some recorders and `cat` make them): the second half
    changes rate and channel count, and must still be decoded, at the right pitch."""
    low = np.sin(2 * np.pi * 300 * np.arange(SAMPLE_RATE * 3) / SAMPLE_RATE).astype(np.float32) * 0.5
    high = np.sin(2 * np.pi * 900 * np.arange(SAMPLE_RATE * 4) / SAMPLE_RATE).astype(np.float32) * 0.5
    first = write_audio(tmp_path / "first.mp3", low, out_rate=22050, channels=1)
    second = write_audio(tmp_path / "second.mp3", high, out_rate=44100, channels=2)
    joined = tmp_path / "joined.mp3"
    joined.write_bytes(first.read_bytes() + second.read_bytes())
    audio = decode_all(joined)
    assert abs(len(audio) / SAMPLE_RATE - 7.0) < 0.2

    def peak_hz(seconds: np.ndarray) -> int:
        return int(np.argmax(np.abs(np.fft.rfft(seconds[:SAMPLE_RATE]))))

    assert abs(peak_hz(audio[SAMPLE_RATE:]) - 300) <= 2
    assert abs(peak_hz(audio[5 * SAMPLE_RATE:]) - 900) <= 2


def test_mixing_down_first_gives_ffmpegs_samples(tmp_path):
    """The decoder mixes to mono before resampling (cheaper); the result must be what
    FFmpeg's one-step conversion gives, to float rounding."""
    import av

    rng = np.random.default_rng(3)
    noise = (rng.standard_normal(SAMPLE_RATE * 5) * 0.1).astype(np.float32)
    path = write_audio(tmp_path / "noise.wav", noise, out_rate=44100, channels=2, codec="pcm_f32le")
    ours = decode_all(path)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    pieces = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            pieces += [out.to_ndarray().reshape(-1) for out in resampler.resample(frame)]
    pieces += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
    reference = np.concatenate(pieces)
    assert ours.shape == reference.shape
    assert np.abs(ours - reference).max() < 1e-5


def test_decode_works_with_pyav_19_which_dropped_metadata_errors(tmp_path, monkeypatch):
    """PyAV 19 (what pip installs on Python 3.12+) has no `metadata_errors` in av.open: with
    it, every job failed with "unexpected error (TypeError)"."""
    import av

    path = write_audio(tmp_path / "a.wav", np.zeros(16000, np.float32))
    real_open = av.open

    def pyav_19_open(file, *args, **kwargs):
        if "metadata_errors" in kwargs:
            raise TypeError("open() got an unexpected keyword argument 'metadata_errors'")
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(av, "open", pyav_19_open)
    monkeypatch.setattr(av, "__version__", "19.0.2")
    assert probe(path).duration_s == pytest.approx(1.0, abs=0.05)
    assert decode_all(path).size == 16000


def test_decode_works_with_pyav_before_17_which_has_no_resampler_options(tmp_path, monkeypatch):
    """PyAV 12-16 (pyproject allows >= 12) have no `options` in AudioResampler: every job
    failed with "the decoder failed (TypeError)". Stereo takes that path (mixed down first)."""
    import av

    rng = np.random.default_rng(3)
    speech = (0.1 * rng.standard_normal(32000)).astype(np.float32)
    path = write_audio(tmp_path / "stereo.flac", speech, out_rate=44100, channels=2)
    expected = decode_all(path)
    real = av.AudioResampler

    def pyav_16_resampler(*args, **kwargs):
        if "options" in kwargs:
            raise TypeError("__cinit__() got an unexpected keyword argument 'options'")
        return real(*args, **kwargs)

    monkeypatch.setattr(av, "AudioResampler", pyav_16_resampler)
    older = decode_all(path)
    assert older.shape == expected.shape == (32000,)
    # The same sound; FFmpeg's own downmix may sit up to 3 dB above the mix-first one
    # (a 16-bit stereo FLAC here: sum x 0.707 against the mean; equal on MP3s).
    assert np.corrcoef(older, expected)[0, 1] > 0.9999
    assert 1.0 <= older.std() / expected.std() <= 1.42


def test_decode_rejects_what_is_not_audio(tmp_path):
    (tmp_path / "empty.flac").write_bytes(b"")
    (tmp_path / "text.mp3").write_text("hello " * 1000)
    for name in ("empty.flac", "text.mp3", "missing.wav"):
        with pytest.raises(InputError) as caught:
            decode_all(tmp_path / name)
        assert str(caught.value).startswith(name + ":")


def test_condition_keeps_the_level_removes_dc_and_keeps_length():
    """Whisper hears the recording at its own level: only the DC offset is taken out."""
    rng = np.random.default_rng(0)
    signal = np.concatenate([
        np.zeros(SAMPLE_RATE * 2, np.float32),
        (rng.standard_normal(SAMPLE_RATE * 3) * 0.02).astype(np.float32),
        np.zeros(SAMPLE_RATE, np.float32),
    ])
    audio = signal + np.float32(0.3)  # a recorder with a DC offset of 0.3
    result = condition(audio.copy())
    assert result.audio.shape == audio.shape  # the clock never moves
    assert abs(result.dc_offset - audio.mean()) < 1e-4
    assert np.abs(result.audio - (signal - signal.mean())).max() < 1e-4  # level as recorded
    active = np.flatnonzero(result.chunk_active)
    assert active[0] == 20 and active[-1] == 49  # 100 ms chunks 2.0 s .. 5.0 s
    start, end = result.edge_trim()
    assert (start, end) == (2 * SAMPLE_RATE, 5 * SAMPLE_RATE)


def test_one_click_or_one_nan_hides_no_quiet_speech():
    """Seed behaviour: silence was judged against the window's peak, so one loud click in a
    quiet recording made everything else 'silence', and one NaN blanked the whole window."""
    t = np.arange(SAMPLE_RATE * 60) / SAMPLE_RATE
    quiet = (np.sin(2 * np.pi * 220 * t) * 10 ** (-30 / 20)).astype(np.float32)  # -30 dBFS
    quiet[: SAMPLE_RATE * 5] = 0.0
    clicked = quiet.copy()
    clicked[SAMPLE_RATE * 30 : SAMPLE_RATE * 30 + 640] = 0.89  # 40 ms at -1 dBFS
    reference = condition(quiet.copy())
    with_click = condition(clicked.copy())
    assert np.array_equal(reference.chunk_active, with_click.chunk_active)
    assert with_click.chunk_active[50:].all() and not with_click.chunk_active[:50].any()
    assert abs(with_click.loud_dbfs - reference.loud_dbfs) < 1.0  # a click moves no level

    damaged = quiet.copy()
    damaged[SAMPLE_RATE * 20] = np.nan
    damaged[SAMPLE_RATE * 40] = np.inf
    result = condition(damaged)
    assert result.nonfinite == 2 and np.isfinite(result.audio).all()
    assert result.chunk_active[50:].all()
    assert np.abs(result.audio[SAMPLE_RATE * 10 :]).max() < 0.04  # nothing else changed


def test_silence_stays_silence():
    silent = condition(np.zeros(SAMPLE_RATE, np.float32))
    assert not silent.chunk_active.any() and not silent.audio.any() and silent.nonfinite == 0


def test_speech_regions_follow_hysteresis_and_minimums():
    settings = SpeechSettings()
    probs = np.zeros(200, np.float32)
    probs[10:40] = 0.9  # ~1 s of speech
    probs[40:43] = 0.1  # a 96 ms dip: shorter than the minimum silence, speech goes on
    probs[43:60] = 0.9
    probs[100:103] = 0.95  # a 96 ms burst: shorter than the minimum speech
    assert speech_regions(probs, settings) == [(10, 60)]


def test_clips_pack_speech_up_to_30s_and_cover_every_region():
    """Clips are filled like faster-whisper's chunks (pauses left out) instead of stopping
    at every long pause: the encoder always pays for 30 s."""
    settings = SpeechSettings()
    frames_per_s = SAMPLE_RATE / 512
    f = lambda seconds: int(seconds * frames_per_s)  # noqa: E731
    regions = [(f(0.5), f(3)), (f(4), f(6)), (f(9), f(12)), (f(20), f(24)), (f(30), f(90))]
    probs = np.full(f(100), 0.9, np.float32)
    clips = make_clips(regions, probs, f(100) * 512, 0, settings)
    for clip in clips:
        assert clip.duration <= 30.0
        assert all(a < b <= c for (a, b), (c, _) in zip(clip.spans, clip.spans[1:]))
    # The four short regions (2.5 + 2 + 3 + 4 s, over 24 s with pauses up to 8 s) share a clip.
    assert clips[0].voiced[:4] == tuple(
        (round(a * 512 / SAMPLE_RATE, 3), round(b * 512 / SAMPLE_RATE, 3)) for a, b in regions[:4]
    )
    assert clips[0].start < 0.5 and clips[0].spans[1][0] > 3.0  # the pause is left out
    # Every voiced second is in exactly one clip; the 60-s monologue is cut without a gap.
    voiced = [span for clip in clips for span in clip.voiced]
    assert abs(sum(b - a for a, b in voiced) - (2.5 + 2 + 3 + 4 + 60)) < 0.2
    assert all(b[0] >= a[1] for a, b in zip(voiced, voiced[1:]))
    # A conversation of 4-s turns with 3-s pauses fills its clips (the pause rule: 57 %).
    turns = [(f(7 * i), f(7 * i + 4)) for i in range(30)]
    packed = make_clips(turns, np.full(f(215), 0.9, np.float32), f(215) * 512, 0, settings)
    assert sum(clip.duration for clip in packed) / (30 * len(packed)) > 0.85


def test_clip_audio_and_times_map_back_to_the_recording():
    from engine.speech import Clip

    window = np.arange(SAMPLE_RATE * 10, dtype=np.float32)
    clip = Clip(spans=((11.0, 12.0), (15.0, 16.5)), voiced=((11.1, 11.9), (15.2, 16.3)))
    audio = clip.audio(window, offset_samples=SAMPLE_RATE * 10)  # window starts at 10 s
    assert audio.shape[0] == int(2.5 * SAMPLE_RATE)
    assert audio[0] == SAMPLE_RATE and audio[SAMPLE_RATE] == 5 * SAMPLE_RATE
    assert clip.to_recording_span(0.2, 0.5) == pytest.approx((11.2, 11.5))
    assert clip.to_recording_span(1.1, 1.4) == pytest.approx((15.1, 15.4))
    # A word whose middle is in the second span never starts inside the cut-out pause.
    start, end = clip.to_recording_span(0.9, 1.5)
    assert start == pytest.approx(15.0) and end == pytest.approx(15.5)


def test_silero_finds_the_speech_in_a_session(speech_available):
    audio, spans = session([4.0, "I would like to talk about my sleep.", 5.0, "It has been better."])
    window = condition(audio.copy())
    conditioned = window.audio.copy()
    clips = SpeechDetector(workers=2).clips(window, offset_samples=0)
    assert len(clips) == 1 and len(clips[0].spans) == 2  # one clip, the 5-s pause left out
    # Finding speech must leave the audio that goes on to Whisper untouched.
    assert np.array_equal(window.audio, conditioned)
    for (c0, c1), (start, end) in zip(clips[0].spans, spans):
        assert c0 <= start + 0.2 and end - 0.2 <= c1
        assert c0 >= start - 0.6 and c1 <= end + 0.6


def test_a_very_quiet_recording_is_raised_for_the_detector_only(speech_available):
    audio, spans = session([2.0, "I would like to talk about my sleep.", 2.0], noise_dbfs=-90)
    audio *= np.float32(10 ** (-55 / 20) / np.abs(audio).max())  # speech peaking at -55 dBFS
    window = condition(audio.copy())
    clips = SpeechDetector(workers=1).clips(window, offset_samples=0)
    assert clips and clips[0].voiced[0][0] < spans[0][0] + 0.3
    assert np.abs(window.audio).max() < 10 ** (-54 / 20)  # Whisper hears it as recorded


def test_jfk_regions_match_the_reference(tmp_path):
    audio = decode_all(real_recording("jfk.flac"))
    clips = SpeechDetector(workers=2).clips(condition(audio.copy()), 0)
    regions = [span for clip in clips for span in clip.voiced]
    assert len(regions) == 5  # as the data README reports for Silero with 160 ms silences
    assert regions[0][0] < 0.4 and regions[-1][1] > 10.45  # at the recording's own level


def test_windows_are_cut_in_silence_and_cover_everything():
    rng = np.random.default_rng(3)
    audio = (rng.standard_normal(SAMPLE_RATE * 130) * 0.1).astype(np.float32)
    audio[SAMPLE_RATE * 55 : SAMPLE_RATE * 56] = 0.0  # the only quiet moment near 60 s
    blocks = [audio[i : i + 12345] for i in range(0, len(audio), 12345)]
    windows = list(cut_windows(blocks, window_s=60.0, search_s=10.0))
    assert sum(len(w) for _, w in windows) == len(audio)
    assert np.array_equal(np.concatenate([w for _, w in windows]), audio)
    first_cut = windows[1][0]
    assert SAMPLE_RATE * 55 <= first_cut <= SAMPLE_RATE * 56 and first_cut % CHUNK_SAMPLES == 0
    # Cuts depend on the samples only, not on how they were blocked.
    again = list(cut_windows([audio], window_s=60.0, search_s=10.0))
    assert [offset for offset, _ in again] == [offset for offset, _ in windows]


def test_windows_are_cut_in_the_longest_pause_not_a_breath():
    """Among equally quiet moments the cut goes in the longest pause: a cut in a breath
    would split one clip for the model into two."""
    rng = np.random.default_rng(4)
    audio = (rng.standard_normal(SAMPLE_RATE * 80) * 0.1).astype(np.float32)
    floor = (rng.standard_normal(audio.shape[0]) * 1e-4).astype(np.float32)
    breath = slice(int(SAMPLE_RATE * 57.0), int(SAMPLE_RATE * 57.7))
    pause = slice(SAMPLE_RATE * 51, SAMPLE_RATE * 55)
    audio[breath] = floor[breath] * 0.8  # a touch quieter, but short
    audio[pause] = floor[pause]
    (offset, first), (second_offset, _) = cut_windows([audio], window_s=60.0, search_s=10.0)
    assert SAMPLE_RATE * 52 <= second_offset <= SAMPLE_RATE * 54


def test_windows_survive_damaged_float_audio():
    """A float WAV can hold NaN samples (damage, or random bytes): the cut search treats
    them as loud and the windows still cover every sample."""
    audio = (np.random.default_rng(5).standard_normal(SAMPLE_RATE * 100) * 0.1).astype(np.float32)
    audio[SAMPLE_RATE * 40 : SAMPLE_RATE * 45] = np.nan
    windows = list(cut_windows([audio], window_s=60.0, search_s=10.0))
    assert sum(len(w) for _, w in windows) == len(audio)
    audio[:] = np.nan
    assert sum(len(w) for _, w in cut_windows([audio], window_s=60.0, search_s=10.0)) == len(audio)


def test_torch_features_match_faster_whisper():
    from faster_whisper.feature_extractor import FeatureExtractor

    from engine.features import TorchFeatureExtractor

    audio = (np.random.default_rng(1).standard_normal(SAMPLE_RATE * 7) * 0.1).astype(np.float32)
    for mels in (80, 128):
        expected = FeatureExtractor(feature_size=mels)(audio)
        got = TorchFeatureExtractor(feature_size=mels)(audio)
        assert got.shape == expected.shape
        assert np.abs(got - expected).max() < 1e-3


@pytest.mark.parametrize(
    "free_gib, model_bytes, expected",
    [(8, None, 8), (16, None, 16), (24, 3 * GIB, 16), (6, 3 * GIB, 4), (2, 3 * GIB, 2),
     (8, 300 * 2**20, 32), (8, 450 * 2**20, 16), (16, 1000 * 2**20, 32)],
)
def test_batch_size_follows_free_vram_and_model_size(free_gib, model_bytes, expected):
    assert batch_size_for_vram(free_gib * GIB, model_bytes) == expected


def test_runtime_choice_on_cpu_and_gpu():
    cpu = plan_runtime(TranscribeOptions(), cuda_usable=False, cores=8)
    from engine.hardware import CPU_BATCH_SIZE

    assert (cpu.device, cpu.compute_type, cpu.model, cpu.batch_size) == ("cpu", "int8", "small", CPU_BATCH_SIZE)
    # Every core works, as parallel workers of one or a few threads (each decodes its own
    # clips), never as one worker whose OpenMP team must wake for every small decoder step.
    assert (cpu.num_workers, cpu.cpu_threads) == (4, 2)
    two = plan_runtime(TranscribeOptions(), cuda_usable=False, cores=2)
    assert (two.num_workers, two.cpu_threads) == (2, 1)
    one = plan_runtime(TranscribeOptions(), cuda_usable=False, cores=1)
    assert (one.num_workers, one.cpu_threads) == (1, 1)
    told = plan_runtime(TranscribeOptions(num_workers=1), cuda_usable=False, cores=8)
    assert (told.num_workers, told.cpu_threads) == (1, 8)
    # Threads asked for: as many workers of that many threads as the cores hold, never more
    # threads than cores (the cluster's CPU workers are planned the same way, on their share).
    wide = plan_runtime(TranscribeOptions(cpu_threads=4), cuda_usable=False, cores=8)
    assert (wide.num_workers, wide.cpu_threads) == (2, 4)
    from engine.hardware import cpu_split

    assert [cpu_split(c) for c in (1, 2, 3, 4, 16)] == [(1, 1), (2, 1), (3, 1), (4, 1), (4, 4)]
    assert cpu_split(2, threads=4) == (1, 4)
    gpu = plan_runtime(TranscribeOptions(), cuda_usable=True, free_vram_bytes=20 * GIB, cores=24)
    assert (gpu.device, gpu.compute_type, gpu.model, gpu.batch_size) == ("cuda", "float16", "large-v3-turbo", 16)
    assert gpu.cpu_threads <= 4 and gpu.vad_workers <= 4  # never one thread per core on GPU runs
    assert gpu.num_workers == 1  # the GPU takes big batches from one worker
    explicit = plan_runtime(TranscribeOptions(batch_size=3, device="cuda"), cuda_usable=False)
    assert explicit.device == "cpu" and explicit.batch_size == 3 and explicit.notes


def test_decoding_in_a_child_process_gives_the_same_blocks_report_and_errors(speech_available, tmp_path):
    from engine.decode import stream_audio_in_child

    audio, _ = session([1.0, "Decoded in another process.", 12.0])
    whole = write_audio(tmp_path / "whole.mp3", audio, out_rate=44100, channels=2)
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 2 // 3])
    for path in (whole, cut):
        here, there = DecodeReport(), DecodeReport()
        expected = list(stream_audio(path, here, block_samples=SAMPLE_RATE * 4))
        got = list(stream_audio_in_child(path, there, block_samples=SAMPLE_RATE * 4))
        assert [len(b) for b in got] == [len(b) for b in expected]
        assert all(np.array_equal(a, b) for a, b in zip(got, expected))
        assert there == here
    (tmp_path / "notes.mp3").write_text("not audio " * 500)
    with pytest.raises(InputError) as caught:
        list(stream_audio_in_child(tmp_path / "notes.mp3"))
    assert str(caught.value).startswith("notes.mp3: not a recording")


def test_the_decoder_process_never_shows_the_path(tmp_path):
    """The recording's name reaches the decoding process on its stdin: it is not on any
    process's command line, which other local users can list."""
    import psutil

    from engine.decode import stream_audio_in_child

    tone = np.sin(2 * np.pi * 440 * np.arange(SAMPLE_RATE * 20) / SAMPLE_RATE).astype(np.float32) * 0.3
    path = write_audio(tmp_path / "Client Jane Doe session.mp3", tone, out_rate=44100, channels=2)
    blocks = stream_audio_in_child(path, block_samples=SAMPLE_RATE)
    next(blocks)
    children = psutil.Process().children()
    assert any("engine.decode" in " ".join(child.cmdline()) for child in children)
    assert not any("Jane" in " ".join(child.cmdline()) for child in children)
    assert sum(len(block) for block in blocks) >= SAMPLE_RATE * 18
