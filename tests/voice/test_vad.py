"""Voice-activity detection: the live segmenter finds each utterance of a real recording, and nothing in silence."""

from __future__ import annotations

import numpy as np

from assistant.voice.audio import Audio, load_audio
from assistant.voice.vad import FRAME, Segmenter, StreamingVad, utterances_in
from tests.voice.conftest import DATA


def test_streaming_probabilities_equal_whole_file_ones():
    # The live path (frame by frame, state carried) must hear exactly what Whisper's own VAD hears on the file.
    from faster_whisper.vad import get_vad_model

    audio = load_audio(DATA / "jfk.wav").samples
    n = len(audio) // FRAME * FRAME
    whole = np.asarray(get_vad_model()(audio[:n])).reshape(-1)
    vad = StreamingVad()
    live = np.array([vad.frame_probability(audio[i:i + FRAME]) for i in range(0, n, FRAME)])
    assert np.allclose(live, whole[: len(live)], atol=1e-5)


def test_silence_and_hum_are_not_speech():
    quiet = Audio(np.random.default_rng(1).normal(0, 0.002, 16000 * 4).astype(np.float32))
    t = np.arange(16000 * 3) / 16000.0
    hum = Audio((0.2 * np.sin(2 * np.pi * 50 * t)).astype(np.float32))
    assert list(utterances_in(Audio.concat([quiet, hum, Audio.silence(2)]))) == []


def test_speech_between_silences_is_cut_out_with_its_times():
    speech = load_audio(DATA / "stereo_diarization.wav", channel=1)  # one short sentence
    utterances = list(utterances_in(Audio.concat([Audio.silence(3), speech, Audio.silence(3)])))
    assert len(utterances) == 1
    u = utterances[0]
    assert 2.5 < u.start_s < 4.0 and u.end_s < 3 + speech.duration_s + 0.5
    assert u.audio.duration_s < speech.duration_s + 1.5  # the silences are trimmed away


def test_a_long_pause_splits_two_commands_and_a_short_one_does_not():
    [trimmed] = utterances_in(load_audio(DATA / "stereo_diarization.wav", channel=1))
    speech = trimmed.audio  # the recording's own trailing silence removed
    two = list(utterances_in(Audio.concat([speech, Audio.silence(2), speech, Audio.silence(1)])))
    assert len(two) == 2 and two[1].start_s > two[0].end_s + 1.5
    # The clip keeps ~0.5 s of its own quiet around the words: with 0.1 s more the pause stays under 0.7 s.
    one = list(utterances_in(Audio.concat([speech, Audio.silence(0.1), speech, Audio.silence(1)])))
    assert len(one) == 1


def test_speech_still_open_at_the_end_of_the_stream_is_kept():
    speech = load_audio(DATA / "stereo_diarization.wav", channel=1)
    utterances = list(utterances_in(Audio.concat([Audio.silence(1), speech.slice(0, 1.5)])))
    assert len(utterances) == 1 and utterances[0].audio.duration_s > 1.0


def test_in_speech_is_true_only_while_someone_talks():
    speech = load_audio(DATA / "stereo_diarization.wav", channel=1)
    seg = Segmenter()
    seg.feed(Audio.silence(1).samples)
    assert not seg.in_speech
    seg.feed(speech.samples[: 16000])  # the first second of words
    assert seg.in_speech
