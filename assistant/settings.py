"""User settings: defaults, then the TOML file in the config dir, then BISEO_* environment variables."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Callable, Literal

import tomli_w
from pydantic import BaseModel, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from assistant.paths import Paths, resolve_paths


class LLMSettings(BaseModel):
    """Which model answers and how it runs."""

    backend: Literal["llama-cpp", "openai"] = Field(
        "llama-cpp", description="'llama-cpp' runs a GGUF in this process; 'openai' talks to an "
        "OpenAI-compatible server (llama.cpp server, vLLM, Ollama).")
    model: str = Field(
        "qwen2.5-coder-0.5b-instruct", description="Model manifest name (see `biseo models list`) "
        "or a path to a local .gguf file.")
    n_ctx: int = Field(4096, ge=512, le=131072, description="Context window in tokens.")
    n_gpu_layers: int | Literal["auto"] = Field(
        "auto", description="Layers to offload to the GPU: 'auto' offloads all when llama.cpp was "
        "built with GPU support, 0 keeps everything on the CPU.")
    n_threads: int | None = Field(
        None, ge=1, description="CPU threads for decoding; empty picks one per core "
        "(at most 8).")
    temperature: float = Field(0.2, ge=0.0, le=2.0, description="Sampling temperature for answers.")
    max_tokens: int = Field(512, ge=16, le=8192, description="Most tokens in one answer.")
    seed: int = Field(1234, description="Random seed for sampling, so answers are repeatable.")
    server_url: str = Field(
        "http://127.0.0.1:8080/v1", description="Base URL of the OpenAI-compatible server "
        "(backend 'openai').")
    server_model: str = Field("", description="Model name to ask the server for (backend 'openai'); "
                              "empty asks for the server's first model.")
    api_key: str = Field("", description="API key for the server, if it needs one.")
    request_timeout_s: float = Field(120.0, gt=0, description="Seconds to wait for the server.")


class ToolSettings(BaseModel):
    """How the assistant uses tools."""

    enabled: bool = Field(True, description="Offer tools to the model at all.")
    disabled: list[str] = Field(default_factory=list, description="Tool names never offered to the model.")
    max_steps: int = Field(4, ge=1, le=20, description="Most tool calls in one turn before the "
                           "assistant must answer.")
    max_retries: int = Field(2, ge=0, le=10, description="Failed tool calls in a row the model may "
                             "retry before the turn ends.")
    timeout_s: float = Field(30.0, gt=0, description="Seconds a tool may run before it is stopped.")
    file_roots: list[str] = Field(
        default_factory=lambda: ["~/Documents"], description="Folders the files tool may read; "
        "writes, moves and deletes there still ask first.")
    max_output_chars: int = Field(4000, ge=200, description="Longest tool output given to the model.")


class PluginSettings(BaseModel):
    """Where plugins come from."""

    user_folder_enabled: bool = Field(
        False, description="Load Python plugins from the user plugins folder. Off by default: "
        "such plugins run with your rights.")
    disabled: list[str] = Field(default_factory=list, description="Plugin names not to load.")
    isolation: Literal["process", "in_process"] = Field(
        "process", description="Run third-party plugins in their own process ('process', contains crashes "
        "and hangs and enforces their permissions) or inside the app ('in_process').")
    in_process: list[str] = Field(default_factory=list, description="Third-party plugins you trust to run "
                                  "inside the app (faster start, no process containment).")
    load_timeout_s: float = Field(20.0, gt=0, description="Seconds a plugin process may take to load.")


class McpServerConfig(BaseModel):
    """One MCP server: a command Biseo starts (stdio) or a URL (streamable HTTP)."""

    command: str = Field("", description="Program that starts the server (stdio); empty when a URL is given.")
    args: list[str] = Field(default_factory=list, description="Arguments for the command.")
    env: dict[str, str] = Field(default_factory=dict, description="Extra environment variables for the server.")
    cwd: str = Field("", description="Folder the server starts in (empty: your home folder).")
    url: str = Field("", description="Streamable HTTP address of a server that is already running.")
    enabled: bool = Field(True, description="Start this server and offer its tools.")
    read_only: list[str] = Field(default_factory=list, description="Tools you marked read-only: they run "
                                 "without asking. Every other tool asks before each use.")
    timeout_s: float = Field(30.0, gt=0, description="Seconds one tool call may take before the server "
                             "is stopped (it restarts on the next use).")
    start_timeout_s: float = Field(20.0, gt=0, description="Seconds the server may take to start and list "
                                   "its tools.")


class McpSettings(BaseModel):
    """Model Context Protocol servers whose tools Biseo may use (add them with `biseo mcp add`)."""

    enabled: bool = Field(True, description="Use the MCP servers below.")
    write_examples: bool = Field(True, description="Let the local model write one or two example requests for "
                                 "each new MCP tool (once; small models pick tools by their examples).")
    servers: dict[str, McpServerConfig] = Field(default_factory=dict, description="MCP servers by name "
                                                "(edit with `biseo mcp add/remove` or the Plugins panel).")


class WebSettings(BaseModel):
    """Web search and page fetching."""

    provider: Literal["ddgs", "searxng"] = Field("ddgs", description="Search provider: 'ddgs' "
                                                 "(DuckDuckGo and others) or a SearXNG instance.")
    searxng_url: str = Field("http://127.0.0.1:8888", description="Base URL of the SearXNG "
                             "instance (provider 'searxng').")
    max_results: int = Field(5, ge=1, le=20, description="Search results given to the model.")
    timeout_s: float = Field(10.0, gt=0, description="Seconds to wait for a search or a page.")
    max_page_chars: int = Field(6000, ge=500, description="Longest page text given to the model.")
    allowed_hosts: list[str] = Field(default_factory=list, description="Hosts the web tools may "
                                     "reach even though they are on this computer or the local network "
                                     "(others are refused): 'nas.lan', 'nas.lan:8080', '*.lan', "
                                     "'192.168.1.5', '10.0.0.0/8' or '[::1]:8080'.")


class ChatSettings(BaseModel):
    """The assistant's persona."""

    assistant_name: str = Field("Biseo", description="What the assistant calls itself.")
    system_prompt: str = Field(
        "You are Biseo, a helpful assistant running privately on the user's own computer. "
        "Answer clearly and briefly.", description="Instructions given to the model at the start "
        "of every conversation.")


class MemorySettings(BaseModel):
    """Long-term memory of the user."""

    enabled: bool = Field(True, description="Recall relevant memories before each turn.")
    auto_extract: bool = Field(True, description="After each turn, store facts the user stated about "
                               "themselves (\"my sister's birthday is May 3\") as memories.")
    recall_k: int = Field(5, ge=0, le=50, description="Most memories given to the model per turn.")
    recall_min_score: float = Field(0.3, ge=0.0, le=1.0, description="How close in meaning (0-1) a memory "
                                    "must be to the message to be recalled; unrelated messages get none.")
    embedding_model: str = Field("all-minilm-l6-v2", description="Embedding model manifest name "
                                 "(see `biseo models list`).")
    index: Literal["embedded", "server"] = Field(
        "embedded", description="'embedded' keeps the vector index in the data folder; 'server' uses "
        "a Chroma server at `server_url`.")
    server_url: str = Field("http://127.0.0.1:8000", description="Chroma server URL (index 'server').")


class DocumentSettings(BaseModel):
    """Chat with your files."""

    enabled: bool = Field(True, description="Search the indexed documents before each turn.")
    top_k: int = Field(4, ge=1, le=20, description="Most passages given to the model per turn.")
    max_file_mb: float = Field(50.0, gt=0, description="Files larger than this are skipped with a "
                               "reason, not indexed.")
    watch: bool = Field(True, description="Re-index added folders when their files change.")
    watch_interval_s: float = Field(15.0, ge=0.1, le=3600, description="While the app runs, how often "
                                    "added folders are checked for new, changed and deleted files (seconds).")


class VoiceSettings(BaseModel):
    """Speech in (Whisper) and out (the system's speech synthesizer)."""

    stt_model: str = Field("whisper-tiny.en", description="Speech-to-text model manifest name (see "
                           "`biseo models list`) or a folder holding a CTranslate2 Whisper model.")
    stt_device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="Where Whisper runs: 'auto' uses the GPU when CTranslate2 sees one, else the CPU.")
    stt_compute_type: str = Field("auto", description="Whisper weights: 'auto' is float16 on the GPU and "
                                  "int8 on the CPU; or int8, int8_float16, float16, float32.")
    language: str = Field("en", description="Spoken language (a two-letter code); English-only models "
                          "(.en) need 'en'.")
    vad: bool = Field(True, description="Trim silence with voice-activity detection before transcribing.")
    tts_voice: str = Field("", description="Voice of the speech synthesizer (an id or name from "
                           "`biseo say --list-voices`), with an espeak-ng variant after '+' (en-us+m5); empty uses the "
                           "system default (with espeak-ng: en-us+m5, the clearest measured).")
    tts_rate: int = Field(175, ge=60, le=400, description="Speaking rate in words per minute.")
    speak_replies: bool = Field(True, description="Speak the assistant's replies to voice commands.")
    input_device: str = Field("", description="Microphone (a name or number from `biseo voice --list-devices`); "
                              "empty uses the system default.")
    output_device: str = Field("", description="Speaker for spoken replies; empty uses the system default.")
    wake_phrase: str = Field("hey biseo", description="Hands-free mode: the phrase that starts a command.")
    follow_up_s: float = Field(8.0, ge=0.0, le=60.0, description="Hands-free mode: seconds after a reply "
                               "during which the user can go on without the wake phrase.")
    approval_timeout_s: float = Field(8.0, ge=1.0, le=60.0, description="Seconds to wait for a spoken "
                                      "yes or no before a tool with side effects; silence means no.")
    end_of_speech_ms: int = Field(700, ge=200, le=3000, description="Pause (milliseconds) that ends an "
                                  "utterance when listening continuously.")
    push_to_talk_key: str = Field("Ctrl+Space", description="Desktop app: the key held to talk.")


class LearningSettings(BaseModel):
    """Personalization: LoRA adapters trained on this computer from your feedback and chosen documents."""

    adapter_name: str = Field("personal", description="Name of the adapter `biseo train` makes when none is given.")
    source: Literal["feedback", "docs", "both"] = Field(
        "feedback", description="What training learns from: your feedback, the documents listed below, or both.")
    documents: list[str] = Field(default_factory=list, description="Files or folders training may learn "
                                 "from (next-token training on their text); empty means none.")
    epochs: int = Field(5, ge=1, le=50, description="Passes over the training examples.")
    learning_rate: float = Field(1e-3, gt=0, le=1.0, description="Adapter learning rate.")
    rank: int = Field(16, ge=1, le=256, description="LoRA rank: larger learns more and takes more memory.")
    alpha: float = Field(32.0, gt=0, description="LoRA alpha (the adapter's strength is alpha / rank).")
    batch_tokens: int = Field(512, ge=64, le=65536, description="Tokens per training step.")
    max_examples: int = Field(1000, ge=1, description="Most examples in one training run.")
    uncertain_share: float = Field(0.5, ge=0.0, le=1.0, description="When there are more examples than "
                                   "fit, the share picked as the answers the model was least sure of; the "
                                   "rest are picked at random (only-uncertain picks skew the set).")
    holdout_share: float = Field(0.2, ge=0.0, lt=0.9, description="Share of your examples kept out of "
                                 "training to judge the adapter before and after.")
    rehearsal_share: float = Field(0.75, ge=0.0, le=4.0, description="General questions answered by the "
                                   "base model itself, trained alongside your examples so the adapter keeps "
                                   "general knowledge; as a share of your chat examples (0 turns it off).")
    rehearsal_weight: float = Field(1.0, ge=0.0, le=100.0, description="How firmly rehearsal holds the "
                                    "base model's general answers in place (a KL pull toward its own "
                                    "next-token distributions).")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="Where to train: 'auto' uses a CUDA "
                                                  "GPU when torch sees one.")
    precision: Literal["auto", "float32", "bfloat16"] = Field(
        "auto", description="Number format of the frozen base weights while training: 'auto' is bfloat16 on "
        "GPUs and on CPUs with bfloat16 units, else float32.")
    activate: Literal["if-better", "always", "never"] = Field(
        "if-better", description="After training: make the new adapter active only when its evaluation is "
        "not worse than the base ('if-better'), always, or never.")
    strengths: list[float] = Field(default_factory=lambda: [1.0, 0.75, 0.5], description="Adapter strengths "
                                   "(LoRA scales) tried when evaluating; the best one that is not worse than the "
                                   "base is used.")
    sanity_tolerance: float = Field(0.05, ge=0.0, le=1.0, description="How much the general sanity set may "
                                    "drop before an adapter counts as worse.")
    use_adapters: bool = Field(True, description="Apply the active adapter to answers (off: the base model).")


class Settings(BaseSettings):
    """All of Biseo's settings."""

    model_config = SettingsConfigDict(env_prefix="BISEO_", env_nested_delimiter="__",
                                      extra="ignore", validate_default=True)

    llm: LLMSettings = Field(default_factory=LLMSettings, description="The language model.")
    tools: ToolSettings = Field(default_factory=ToolSettings, description="Tool use.")
    plugins: PluginSettings = Field(default_factory=PluginSettings, description="Plugins.")
    web: WebSettings = Field(default_factory=WebSettings, description="Web search.")
    mcp: McpSettings = Field(default_factory=McpSettings, description="MCP servers.")
    chat: ChatSettings = Field(default_factory=ChatSettings, description="Persona.")
    memory: MemorySettings = Field(default_factory=MemorySettings, description="Long-term memory.")
    documents: DocumentSettings = Field(default_factory=DocumentSettings, description="Documents.")
    voice: VoiceSettings = Field(default_factory=VoiceSettings, description="Voice.")
    learning: LearningSettings = Field(default_factory=LearningSettings, description="Personalization.")

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings],
                                   init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource):
        toml_path = _CONFIG_FILE.get("path")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_path is not None and Path(toml_path).is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)


_CONFIG_FILE: dict[str, Path | None] = {"path": None}


class SettingsError(RuntimeError):
    """The config file cannot be read or holds invalid values."""


def load_settings(paths: Paths | None = None, **overrides: Any) -> Settings:
    """Read settings for these folders (defaults < config.toml < BISEO_* env < overrides)."""
    paths = paths or resolve_paths()
    _CONFIG_FILE["path"] = paths.config_file
    try:
        return Settings(**overrides)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{paths.config_file} is not valid TOML: {exc}") from exc
    except ValueError as exc:
        raise SettingsError(f"invalid setting in {paths.config_file} or BISEO_* environment: {exc}") from exc
    finally:
        _CONFIG_FILE["path"] = None


def set_config_value(paths: Paths, dotted_key: str, value: Any) -> None:
    """Set one value (e.g. 'llm.model') in config.toml, keeping the rest; written atomically."""

    def put(data: dict[str, Any]) -> None:
        node = data
        *parents, leaf = dotted_key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value

    edit_config(paths, put)


def edit_config(paths: Paths, edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Read config.toml, let `edit` change the data in place, write it back atomically; returns the data."""
    path = paths.config_file
    data: dict[str, Any] = {}
    if path.is_file():
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    edit(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(tomli_w.dumps(data), encoding="utf-8")
    os.replace(tmp, path)
    return data
