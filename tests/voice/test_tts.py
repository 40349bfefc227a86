"""Text to speech with the real system synthesizer (espeak-ng on Linux) behind pyttsx3."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest

from assistant.voice.tts import Synthesizer, TextToSpeechError, VoiceInfo, find_voice

QUESTION = "what is twelve times seven"


@pytest.fixture(scope="module")
def synth():
    s = Synthesizer()
    yield s
    s.close()


def test_a_question_is_spoken_with_a_plausible_length_and_real_sound(synth):
    audio = synth.synthesize(QUESTION)
    assert audio.rate == 16_000
    assert 0.5 < audio.duration_s < 10
    assert audio.rms() > 0.01
    assert np.abs(audio.samples).max() <= 1.0


def test_a_faster_rate_gives_shorter_speech():
    with Synthesizer(rate=100) as slow, Synthesizer(rate=300) as fast:
        slow_s = slow.synthesize(QUESTION).duration_s
        fast_s = fast.synthesize(QUESTION).duration_s
    assert fast_s < slow_s * 0.6


def test_rates_of_two_synthesizers_used_in_turn_do_not_leak_into_each_other():
    # espeak can drop a rate change it has not taken yet; each synthesizer must keep its own pace.
    with Synthesizer(rate=100) as slow, Synthesizer(rate=300) as fast:
        lengths = {"slow": set(), "fast": set()}
        for _ in range(6):
            lengths["slow"].add(round(slow.synthesize(QUESTION).duration_s, 1))
            lengths["fast"].add(round(fast.synthesize(QUESTION).duration_s, 1))
    assert max(lengths["fast"]) < min(lengths["slow"])
    assert len(lengths["slow"]) == 1 and len(lengths["fast"]) == 1


def test_empty_text_gives_empty_audio_at_once(synth):
    for text in ["", "   ", "\n\t"]:
        future = synth.submit(text)
        assert future.done()
        assert len(future.result().samples) == 0
    assert synth.synthesize(" ").duration_s == 0


def test_voices_are_listed_with_ids_names_and_languages(synth):
    voices = synth.voices()
    assert len(voices) > 0
    assert all(isinstance(v, VoiceInfo) and v.id and v.name for v in voices)
    assert any(lang.startswith("en") for v in voices for lang in v.languages)


def test_a_voice_is_found_by_id_name_or_language(synth):
    english = next(v for v in synth.voices() if any(lang.startswith("en") for lang in v.languages))
    with Synthesizer(voice=english.id) as by_id, Synthesizer(voice=english.name.upper()) as by_name:
        assert by_id.voice == by_name.voice == english.id
    with Synthesizer(voice=english.languages[0]) as by_language:
        assert english.languages[0] in next(v for v in synth.voices() if v.id == by_language.voice).languages
        assert by_language.synthesize("hello").rms() > 0.01


def test_find_voice_prefers_exact_matches():
    voices = [VoiceInfo("gmw/en-029", "English (Caribbean)", ["en-029"]),
              VoiceInfo("gmw/en", "English (Great Britain)", ["en-gb"]),
              VoiceInfo("gmw/en-us", "English (America)", ["en-us"])]
    assert find_voice(voices, "en").id == "gmw/en"
    assert find_voice(voices, "EN-US").id == "gmw/en-us"
    assert find_voice(voices, "english (america)").id == "gmw/en-us"
    assert find_voice(voices, "en-gb").id == "gmw/en"
    assert find_voice(voices, "fr") is None
    assert find_voice(voices, "") is None


def test_an_unknown_voice_is_refused_naming_valid_ones(synth):
    with pytest.raises(TextToSpeechError) as err:
        Synthesizer(voice="no-such-voice-anywhere")
    message = str(err.value)
    assert "no-such-voice-anywhere" in message
    assert any(v.id in message for v in synth.voices())
    assert "--list-voices" in message


@pytest.mark.parametrize("rate", [0, 10, 10_000])
def test_an_impossible_rate_is_refused(rate):
    with pytest.raises(TextToSpeechError, match="words per minute"):
        Synthesizer(rate=rate)


def test_two_threads_synthesizing_at_once_each_get_their_own_speech(synth):
    texts = {0: "the first thread speaks here", 1: "and the second one answers with a longer sentence"}
    expected = {i: len(synth.synthesize(t).samples) for i, t in texts.items()}
    results: dict[int, list[int]] = {0: [], 1: []}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for _ in range(5):
                results[i].append(len(synth.synthesize(texts[i]).samples))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in texts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert expected[1] > expected[0] * 1.3  # the two texts are told apart by their length
    for i in texts:  # the same text gives the same length (to a few samples) every time
        assert len(results[i]) == 5
        assert all(abs(n - expected[i]) < expected[i] * 0.02 for n in results[i])


def test_nothing_is_printed_on_stdout(synth, capfd):
    synth.synthesize("this must not print anything")
    Synthesizer(rate=250).synthesize("nor this")
    out, _err = capfd.readouterr()
    assert out == ""


def test_queued_texts_are_dropped_when_the_user_speaks_over_the_reply(synth):
    futures = [synth.submit(f"sentence number {i} of a long reply that goes on") for i in range(40)]
    dropped = synth.cancel_pending()
    assert dropped == sum(f.cancelled() for f in futures)
    assert dropped > 0
    for f in futures:
        if not f.cancelled():
            assert f.result(timeout=30).duration_s > 0.5
    assert synth.synthesize("still speaking afterwards").rms() > 0.01


def test_a_closed_synthesizer_refuses_work_and_a_new_one_starts_afresh():
    first = Synthesizer()
    first.close()
    first.close()  # closing twice is harmless
    with pytest.raises(TextToSpeechError, match="closed"):
        first.synthesize("hello")
    with Synthesizer(rate=200) as again:
        assert again.synthesize("hello again").rms() > 0.01


def test_a_missing_espeak_is_reported_with_the_install_command(monkeypatch):
    import pyttsx3

    from assistant.voice import tts

    def no_library(*_args, **_kwargs):
        raise RuntimeError("This means you probably do not have eSpeak or eSpeak-ng installed!")

    monkeypatch.setattr(pyttsx3, "Engine", no_library)
    worker = tts._EngineThread()  # a private engine thread, so the shared one keeps its engine
    try:
        with pytest.raises(TextToSpeechError) as err:
            worker.call(lambda w: w.engine()).result(timeout=10)
    finally:
        worker.stop()
    if sys.platform.startswith("linux"):
        assert "sudo apt install espeak-ng" in str(err.value)
    assert "Traceback" not in str(err.value)


@pytest.mark.slow
def test_whisper_hears_what_the_synthesizer_said(synth, transcriber):
    heard = transcriber.transcribe(synth.synthesize(QUESTION)).text.lower()
    assert "times" in heard, heard
    assert ("12" in heard or "twelve" in heard) and ("7" in heard or "seven" in heard), heard
