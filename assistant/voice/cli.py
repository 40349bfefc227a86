"""`biseo voice`: talk to the assistant from a recording (or the microphone) and hear or save the reply."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from typing import Iterable

from assistant.events import ApprovalRequested, ErrorEvent, Event, Final, Token, ToolCallRequested, ToolResult


class VoiceCLIError(Exception):
    """Reported as one plain line and exit code 1."""


def register(sub) -> None:
    p = sub.add_parser("voice", help="talk to the assistant: a recording or the microphone in, speech out")
    p.add_argument("--input", "-i", metavar="FILE", help="a recording of the command (wav, flac, mp3, ...); "
                   "without it the microphone is used")
    p.add_argument("--output", "-o", metavar="FILE.wav", help="write the spoken reply to this WAV file "
                   "instead of playing it")
    p.add_argument("--json", action="store_true", help="print one JSON event per line")
    p.add_argument("--hands-free", action="store_true", help="listen continuously; commands start with the "
                   "wake phrase (settings: voice.wake_phrase)")
    p.add_argument("--answer", metavar="FILE", help="a recording of your yes/no to a tool that needs approval "
                   "(push-to-talk with --input)")
    p.add_argument("--yes", "-y", action="store_true", help="approve every tool call without asking")
    p.add_argument("--no-speak", action="store_true", help="do not speak the reply (print it only)")
    p.add_argument("--conversation", "-c", help="continue this conversation (id or id prefix)")
    p.add_argument("--list-devices", action="store_true", help="list microphones and speakers and exit")
    p.set_defaults(func=cmd_voice)


def cmd_voice(args: argparse.Namespace) -> int:
    from assistant.voice.audio import AudioFileError
    from assistant.voice.devices import AudioDeviceError
    from assistant.voice.stt import SpeechToTextError
    from assistant.voice.tts import TextToSpeechError

    try:
        if args.list_devices:
            return _list_devices(args.json)
        return _run(args)
    except (VoiceCLIError, AudioFileError, AudioDeviceError, SpeechToTextError, TextToSpeechError) as exc:
        print(f"biseo: {exc}", file=sys.stderr)
        return 1


def _list_devices(as_json: bool) -> int:
    from assistant.voice.devices import list_devices

    devices = list_devices()
    if as_json:
        print(json.dumps(devices))
    elif not devices:
        print("No sound devices found.")
    for d in devices if not as_json else []:
        kinds = ", ".join(k for k, n in (("microphone", d["inputs"]), ("speaker", d["outputs"])) if n)
        print(f"{d['index']:>3}  {d['name']}  ({kinds})")
    return 0


def _run(args: argparse.Namespace) -> int:
    from assistant.app import Assistant
    from assistant.cli import _conversation_id
    from assistant.voice.audio import load_audio, write_wav
    from assistant.voice.devices import AudioDeviceError, Microphone, SpeakerSink
    from assistant.voice.pipeline import VoicePipeline
    from assistant.voice.sinks import NullSink, RecordingSink
    from assistant.voice.sources import MicrophoneSource, RecordingSource
    from assistant.voice.stt import Transcriber
    from assistant.voice.tts import Synthesizer

    command_audio = load_audio(args.input) if args.input else None  # a bad file fails before anything loads
    answer_audio = load_audio(args.answer) if args.answer else None
    microphone = None
    if command_audio is None:
        microphone = Microphone(_settings().voice.input_device)  # no microphone: a plain error, nothing started

    assistant = Assistant()
    assistant.warm_up_in_background()  # the model loads while the command is being transcribed
    settings = assistant.settings.voice
    speak = not args.no_speak
    if args.output or not speak:
        sink = RecordingSink() if speak else NullSink()
    else:
        try:
            sink = SpeakerSink(settings.output_device)
        except AudioDeviceError as exc:
            print(f"biseo: {exc} The reply is printed, not spoken.", file=sys.stderr)
            sink = NullSink()
    transcriber = Transcriber(settings, assistant.paths)
    synthesizer = Synthesizer(settings.tts_voice, settings.tts_rate) if speak else None
    pipeline = VoicePipeline(assistant, transcriber, synthesizer, sink, settings, speak=speak)
    out = _Printer(args.json)
    try:
        cid = _conversation_id(assistant, args.conversation)
        if microphone is None and not args.hands_free:
            ok = out.show(_push_to_talk_file(pipeline, command_audio, answer_audio, cid, args.yes))
        elif microphone is None:
            from assistant.voice.handsfree import HandsFree

            source = RecordingSource(command_audio, settings.end_of_speech_ms)
            ok = out.show(HandsFree(pipeline, source, conversation_id=cid, auto_yes=args.yes).run())
        else:
            ok = _live(pipeline, microphone, cid, args, out)
        if args.output and isinstance(sink, RecordingSink):
            write_wav(args.output, sink.audio())
            if not args.json:
                print(f"[reply written to {args.output}]", file=sys.stderr)
        return 0 if ok else 1
    finally:
        if synthesizer is not None:
            synthesizer.close()
        transcriber.close()
        assistant.close()


def _settings():
    from assistant.settings import load_settings

    return load_settings()


def _push_to_talk_file(pipeline, audio, answer_audio, cid, auto_yes) -> Iterable[Event]:
    """The whole recording is one command, as if the talk key was held while it played."""
    from assistant.voice.events import Ignored
    from assistant.voice.sources import RecordingSource

    ended = time.monotonic()
    heard = pipeline.hear(audio, hotwords=pipeline.assistant.settings.chat.assistant_name)
    yield heard
    if not heard.text:
        yield Ignored(text="", reason="no speech was recognised in the recording")
        return
    answers = RecordingSource(answer_audio, pipeline.settings.end_of_speech_ms) if answer_audio is not None else None
    if answers is not None:
        answers.clock_s = -1e9  # an answer recording is heard whenever the question comes
    yield from pipeline.command(heard.text, cid, t_end_speech=ended, stt_s=heard.stt_s, source=answers,
                                auto_yes=auto_yes)


def _live(pipeline, microphone, cid, args, out) -> bool:
    """Microphone: push-to-talk with Enter, or hands-free with the wake phrase; Ctrl+C leaves."""
    from assistant.voice.sources import MicrophoneSource

    microphone.start()

    def on_speech_start() -> None:
        if args.hands_free and pipeline.busy and not pipeline.awaiting_answer:
            pipeline.barge_in("the user spoke")

    source = MicrophoneSource(microphone, pipeline.settings.end_of_speech_ms, on_speech_start=on_speech_start)
    try:
        if args.hands_free:
            from assistant.voice.handsfree import HandsFree

            print(f"Listening. Say \"{pipeline.settings.wake_phrase}\" and a command; Ctrl+C stops.",
                  file=sys.stderr)
            return out.show(HandsFree(pipeline, source, conversation_id=cid, auto_yes=args.yes).run())
        return _push_to_talk_terminal(pipeline, microphone, cid, args, out)
    finally:
        source.close()


def _push_to_talk_terminal(pipeline, microphone, cid, args, out) -> bool:
    """Enter starts recording, Enter again stops it; Enter while the assistant answers interrupts it."""
    import queue

    from assistant.voice.push_to_talk import PushToTalk

    print("Press Enter to talk and Enter again when done; Enter while it answers interrupts; Ctrl+C quits.",
          file=sys.stderr)
    keys: queue.Queue = queue.Queue()  # one reader of the terminal, so no key press is lost between turns

    def read_keys() -> None:
        for line in sys.stdin:
            keys.put(line)
        keys.put(None)

    threading.Thread(target=read_keys, name="biseo-keys", daemon=True).start()
    talk = PushToTalk(microphone)
    ok = True
    while keys.get() is not None:
        talk.press()
        print("[listening... press Enter to stop]", file=sys.stderr)
        ended_input = keys.get() is None
        audio = talk.release()
        ended = time.monotonic()
        heard = pipeline.hear(audio, hotwords=pipeline.assistant.settings.chat.assistant_name)
        if heard.text:
            done = threading.Event()

            def interrupt_on_key() -> None:
                while not done.is_set():
                    try:
                        if keys.get(timeout=0.1) is not None:
                            pipeline.barge_in("the talk key was pressed")
                    except queue.Empty:
                        continue

            watcher = threading.Thread(target=interrupt_on_key, daemon=True)
            watcher.start()
            ok = out.show(_chain([heard], pipeline.command(heard.text, cid, t_end_speech=ended,
                                                           stt_s=heard.stt_s, auto_yes=args.yes)))
            done.set()
            watcher.join()
            cid = out.conversation_id or cid
        else:
            out.show([heard])
        if ended_input:
            break
    return ok


def _chain(first: list, rest: Iterable[Event]) -> Iterable[Event]:
    yield from first
    yield from rest


class _Printer:
    """Shows events as JSON lines or as a readable conversation."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.conversation_id: str | None = None

    def show(self, events: Iterable[Event]) -> bool:
        ok = True
        for event in events:
            if isinstance(event, Final):
                self.conversation_id = event.conversation_id
            if isinstance(event, ErrorEvent):
                ok = False
            if self.as_json:
                print(json.dumps(event.to_dict(), ensure_ascii=False), flush=True)
            else:
                self._human(event)
        return ok

    def _human(self, event: Event) -> None:
        kind = event.type
        if kind == "transcript":
            print(f"you> {event.text}" if event.text else "[nothing heard]", flush=True)
        elif kind == "wake":
            print(f"[wake phrase: {event.heard}]", file=sys.stderr)
        elif kind == "ignored" and event.text:
            print(f"[ignored: {event.text}]", file=sys.stderr)
        elif isinstance(event, Token):
            print(event.text, end="", flush=True)
        elif isinstance(event, ToolCallRequested):
            print(f"[tool] {event.name} {json.dumps(event.arguments, ensure_ascii=False)}", file=sys.stderr)
        elif isinstance(event, ToolResult):
            mark = "ok" if event.ok else ("denied" if event.denied else "failed")
            print(f"[tool] {event.name} {mark}: {event.output[:300]}", file=sys.stderr)
        elif isinstance(event, ApprovalRequested):
            print(f"[approval needed] {event.name} {json.dumps(event.arguments, ensure_ascii=False)}",
                  file=sys.stderr)
        elif kind == "approval_answer":
            print(f"[you said {event.heard!r}: {'approved' if event.approved else 'denied'}]", file=sys.stderr)
        elif isinstance(event, Final):
            print()
        elif isinstance(event, ErrorEvent):
            print(f"\nbiseo: {event.message}", file=sys.stderr)
        elif kind == "barge_in":
            print(f"\n[interrupted: {event.reason}]", file=sys.stderr)
        elif kind == "voice_timing" and event.first_audio_s is not None:
            print(f"[first audio {event.first_audio_s:.2f} s after you stopped speaking]", file=sys.stderr)
