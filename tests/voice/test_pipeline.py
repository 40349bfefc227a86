"""The voice loop with a scripted model, hearing and voice: streaming speech, spoken approvals, barge-in."""

from __future__ import annotations

import threading
import time

import pytest

from assistant.app import Assistant
from assistant.events import ApprovalRequested, Final, Token, ToolResult
from assistant.settings import Settings, ToolSettings, VoiceSettings
from assistant.voice.audio import Audio
from assistant.voice.events import ApprovalHeard, BargeIn, Heard, Ignored, Spoken, VoiceTiming, WakeHeard
from assistant.voice.handsfree import HandsFree
from assistant.voice.pipeline import VoicePipeline
from assistant.voice.sinks import RecordingSink
from assistant.voice.sources import RecordingSource
from tests.voice.fakes import FakeSynth, FakeTranscriber, tone

WRITE = {"tool": "files", "arguments": {"action": "write", "path": "todo.txt", "content": "buy milk"}}


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "docs"
    root.mkdir()
    return root


def make(fake_backend, folder, decisions=(), answers=(), heard=(), realtime=False, **voice):
    settings = Settings(tools=ToolSettings(file_roots=[str(folder)]), voice=VoiceSettings(**voice))
    backend = fake_backend(list(decisions), list(answers))
    app = Assistant(settings, backend=backend, builtin_plugins=("plugins.files", "plugins.calculator"))
    synth = FakeSynth()
    sink = RecordingSink(realtime=realtime)
    pipeline = VoicePipeline(app, FakeTranscriber(list(heard)), synth, sink, settings.voice)
    return app, pipeline, synth, sink


def run(pipeline, text, source=None, **kw):
    return list(pipeline.command(text, None, t_end_speech=time.monotonic(), source=source, **kw))


def test_the_reply_is_spoken_sentence_by_sentence_while_it_still_streams(fake_backend, folder):
    app, pipeline, synth, sink = make(fake_backend, folder, answers=["Twelve times seven is 84. Can I help with anything else? Have a nice day."])
    said_when_last_streamed = None
    events = []
    for event in pipeline.command("what is twelve times seven", None, t_end_speech=time.monotonic()):
        events.append(event)
        if isinstance(event, Token) and "day" in event.text:
            said_when_last_streamed = list(synth.said)
    assert said_when_last_streamed and said_when_last_streamed[0] == "Twelve times seven is 84."
    assert synth.said == ["Twelve times seven is 84.", "Can I help with anything else?", "Have a nice day."]
    spoken = [e for e in events if isinstance(e, Spoken)]
    assert [s.text for s in spoken] == synth.said and len(sink.clips) == 3
    timing = events[-1]
    assert isinstance(timing, VoiceTiming) and timing.first_audio_s is not None
    assert timing.first_audio_s <= timing.total_s
    app.close()


def test_code_in_a_reply_is_not_read_aloud(fake_backend, folder):
    app, pipeline, synth, _ = make(fake_backend, folder, answers=["Run this:\n```\nrm -rf build\n```\nDone."])
    run(pipeline, "how do I clean")
    assert not any("rm -rf" in s for s in synth.said)
    app.close()


def test_a_spoken_yes_runs_the_side_effecting_tool(fake_backend, folder):
    app, pipeline, synth, _ = make(fake_backend, folder, decisions=[WRITE, {"tool": "none"}],
                                   answers=["Saved."], heard=["Yes, please."])
    events = run(pipeline, "save buy milk to todo.txt", source=RecordingSource(tone(0.8)))
    question = [s for s in synth.said if "yes or no" in s]
    assert question and "todo.txt" in question[0] and "buy milk" in question[0]
    assert any(isinstance(e, ApprovalHeard) and e.approved for e in events)
    assert (folder / "todo.txt").read_text() == "buy milk"
    app.close()


@pytest.mark.parametrize("answer", ["No.", "Hmm, what?"])
def test_a_spoken_no_or_anything_unclear_denies_it(fake_backend, folder, answer):
    app, pipeline, _, _ = make(fake_backend, folder, decisions=[WRITE, {"tool": "none"}],
                               answers=["I did not save it."], heard=[answer])
    events = run(pipeline, "save buy milk to todo.txt", source=RecordingSource(tone(0.8)))
    result = [e for e in events if isinstance(e, ToolResult)][0]
    assert result.denied and not (folder / "todo.txt").exists()
    app.close()


def test_silence_after_the_question_means_no(fake_backend, folder):
    app, pipeline, _, _ = make(fake_backend, folder, decisions=[WRITE, {"tool": "none"}],
                               answers=["I did not save it."], heard=[])
    events = run(pipeline, "save buy milk to todo.txt", source=RecordingSource(Audio.silence(5)))
    heard = [e for e in events if isinstance(e, ApprovalHeard)][0]
    assert not heard.approved and heard.heard == ""
    result = [e for e in events if isinstance(e, ToolResult)][0]
    assert result.denied and "silence" in result.output
    assert not (folder / "todo.txt").exists()
    app.close()


def test_a_click_answers_before_anything_is_heard(fake_backend, folder):
    app, pipeline, _, _ = make(fake_backend, folder, decisions=[WRITE, {"tool": "none"}], answers=["Saved."],
                               heard=["no"])
    events = []
    for event in pipeline.command("save it", None, t_end_speech=time.monotonic(),
                                  source=RecordingSource(tone(0.8))):
        if isinstance(event, ApprovalRequested):
            event.approve()  # the window's Allow button
        events.append(event)
    assert (folder / "todo.txt").read_text() == "buy milk"
    assert not any(isinstance(e, ApprovalHeard) for e in events)
    app.close()


def test_barge_in_stops_the_speech_and_cancels_the_turn(fake_backend, folder):
    long_answer = " ".join(f"This is sentence number {i} of a very long answer." for i in range(40))
    app, pipeline, synth, sink = make(fake_backend, folder, answers=[long_answer], realtime=True)
    threading.Timer(0.6, pipeline.barge_in, args=("the user spoke",)).start()
    started = time.monotonic()
    events = run(pipeline, "tell me a long story")
    assert time.monotonic() - started < 10  # far less than the ~100 s it takes to say it all
    assert any(isinstance(e, BargeIn) for e in events)
    assert sink.interrupted and len(sink.clips) < 5
    final = [e for e in events if isinstance(e, Final)]
    assert final == [] or final[0].cancelled or len(sink.clips) < 40
    app.close()


def test_barge_in_with_nothing_running_does_nothing(fake_backend, folder):
    app, pipeline, _, _ = make(fake_backend, folder)
    assert pipeline.barge_in() is False
    app.close()


def test_hands_free_runs_only_commands_after_the_wake_phrase(fake_backend, folder):
    app, pipeline, synth, _ = make(fake_backend, folder, answers=["It is noon.", "Fine, thanks."],
                                   heard=["We went to the park.", "Hey Biseo, what time is it?",
                                          "And how are you?"], follow_up_s=8)
    audio = Audio.concat([tone(1), Audio.silence(2), tone(1.5), Audio.silence(2), tone(1), Audio.silence(1)])
    events = list(HandsFree(pipeline, RecordingSource(audio)).run())
    assert [e.text for e in events if isinstance(e, Ignored)] == ["We went to the park."]
    assert [e.command for e in events if isinstance(e, WakeHeard)] == ["what time is it?"]
    finals = [e for e in events if isinstance(e, Final)]
    assert [f.text for f in finals] == ["It is noon.", "Fine, thanks."]  # the follow-up needed no wake phrase
    assert finals[0].conversation_id == finals[1].conversation_id
    app.close()


def test_after_the_follow_up_window_the_wake_phrase_is_needed_again(fake_backend, folder):
    app, pipeline, _, _ = make(fake_backend, folder, answers=["It is noon."],
                               heard=["Hey Biseo, what time is it?", "And how are you?"], follow_up_s=2)
    audio = Audio.concat([tone(1.5), Audio.silence(6), tone(1), Audio.silence(1)])
    events = list(HandsFree(pipeline, RecordingSource(audio)).run())
    assert len([e for e in events if isinstance(e, Final)]) == 1
    assert [e.text for e in events if isinstance(e, Ignored)] == ["And how are you?"]
    app.close()


def test_the_wake_phrase_alone_opens_a_window_for_the_command(fake_backend, folder):
    app, pipeline, _, _ = make(fake_backend, folder, answers=["It is noon."],
                               heard=["Hey Biseo.", "What time is it?"])
    audio = Audio.concat([tone(0.8), Audio.silence(1.5), tone(1.2), Audio.silence(1)])
    events = list(HandsFree(pipeline, RecordingSource(audio)).run())
    assert [e.text for e in events if isinstance(e, Final)] == ["It is noon."]
    assert [e.text for e in events if isinstance(e, Heard)][1] == "What time is it?"
    app.close()


def test_hands_free_transcribes_with_the_wake_phrase_as_a_hint(fake_backend, folder):
    app, pipeline, _, _ = make(fake_backend, folder, heard=["nothing"])
    list(HandsFree(pipeline, RecordingSource(Audio.concat([tone(1), Audio.silence(1)]))).run())
    assert pipeline.transcriber.calls[0]["hotwords"] == "hey biseo"
    app.close()


def test_replies_are_not_spoken_when_speech_is_off(fake_backend, folder):
    app, pipeline, synth, sink = make(fake_backend, folder, answers=["Quiet answer."], speak_replies=False)
    events = run(pipeline, "hello")
    assert synth.said == [] and sink.clips == []
    assert [e.text for e in events if isinstance(e, Final)] == ["Quiet answer."]
    app.close()
