"""Composition root: wires settings, plugins, the model, tools and history into one Assistant."""

from __future__ import annotations

import contextlib
import logging
import threading
import weakref
from pathlib import Path
from typing import Iterator

from assistant.agent.loop import Agent, LoopConfig
from assistant.api import ToolContext
from assistant.cancel import CancelToken
from assistant.events import Event, Status
from assistant.extensions.manager import PluginManager
from assistant.history.store import ConversationNotFound, HistoryStore, MessageNotFound
from assistant.instance_lock import InstanceLock
from assistant.llm.base import ChatBackend, LLMError
from assistant.mcp.manager import McpManager
from assistant.paths import Paths, resolve_paths
from assistant.personas import PersonaStore
from assistant.settings import Settings, load_settings
from assistant.tools.executor import ToolExecutor

log = logging.getLogger("biseo")


class Assistant:
    """The whole core behind one object; the CLI, UI and voice pipeline drive it through `chat()`."""

    def __init__(self, settings: Settings | None = None, paths: Paths | None = None, *,
                 backend: ChatBackend | None = None, builtin_plugins: tuple[str, ...] | None = None) -> None:
        self.paths = (paths or resolve_paths()).ensure()
        # Before any store opens (opening the history marks open turns as crashed): one process per data.
        # Released by close(), or when this object is collected without it (e.g. a failed start).
        self._release_data = weakref.finalize(self, InstanceLock(self.paths.data_dir).acquire().release)
        self.settings = settings or load_settings(self.paths)
        self.store = HistoryStore(self.paths.history_db)
        self.plugins = PluginManager()
        kwargs = {} if builtin_plugins is None else {"builtins": builtin_plugins}
        self.plugins.load_all(
            disabled=self.settings.plugins.disabled,
            user_dir=self.paths.plugins_dir if self.settings.plugins.user_folder_enabled else None,
            isolation=self.settings.plugins.isolation, in_process=self.settings.plugins.in_process,
            load_timeout_s=self.settings.plugins.load_timeout_s, **kwargs)
        self.registry = self.plugins.registry
        # MCP servers' tools join the registry beside the plugins' (from a cached list; servers start on use).
        self.mcp = McpManager(self.paths, lambda: self.settings, self.plugins)
        self.mcp.load()
        tools = self.settings.tools
        self.executor = ToolExecutor(self.registry, disabled=tools.disabled, timeout_s=tools.timeout_s,
                                     max_output_chars=tools.max_output_chars)
        self._backend = backend
        self._backend_error: str | None = None
        self._load_lock = threading.Lock()
        self._feedback = None  # opened on first use (see `feedback`)
        self._feedback_lock = threading.Lock()
        # Personas live in the data folder; conversations store a persona's name and follow its renames.
        self.personas = PersonaStore(self.paths.data_dir / "personas.json",
                                     builtin_prompt=lambda: self.settings.chat.system_prompt,
                                     on_rename=self.store.rename_persona)
        self.agent = Agent(backend=self.backend, store=self.store, registry=self.registry,
                           executor=self.executor, config=self.loop_config(), tool_context=self._tool_context)
        # Memory and documents add context providers and after-turn hooks to the agent, and services
        # that tools reach through ToolContext. Each opens its stores lazily, on first use.
        self.memory = None
        self.documents = None
        from assistant.documents.service import attach as attach_documents
        from assistant.memory.service import attach as attach_memory

        attach_memory(self)
        attach_documents(self)

    def loop_config(self) -> LoopConfig:
        s = self.settings
        return LoopConfig(persona=s.chat.system_prompt, tools_enabled=s.tools.enabled,
                          disabled_tools=s.tools.disabled, max_steps=s.tools.max_steps,
                          max_retries=s.tools.max_retries, max_tokens=s.llm.max_tokens,
                          temperature=s.llm.temperature)

    # the model
    def backend(self) -> ChatBackend:
        """The loaded backend, loading it on first use (raises LLMError with a plain reason)."""
        with self._load_lock:
            if self._backend is None:
                self._backend = create_backend(self.settings, self.paths)
            return self._backend

    def warm_up_in_background(self) -> threading.Thread:
        """Load the model and evaluate the stable prompt prefixes while the user is still typing."""

        def work() -> None:
            try:
                self.backend()  # loads the model (raises LLMError with the reason)
                self.apply_adapter()  # before warming: switching adapters drops the cached prefix
                self._write_mcp_examples()  # they are part of the tool-choice prompt that warming caches
                self.agent.warm_up()
            except LLMError as exc:
                log.warning("model not loaded ahead of time: %s", exc)  # the first turn reports it
            except Exception:  # noqa: BLE001 - warming is an optimisation; a turn still works without it
                log.exception("warm-up failed")

        thread = threading.Thread(target=work, name="biseo-warm-up", daemon=True)
        thread.start()
        return thread

    def _write_mcp_examples(self) -> None:
        """Let the local model write examples for new MCP tools (the tool choice leans on examples)."""
        if not (self.settings.mcp.write_examples and self.mcp.needs_examples()):
            return
        try:
            self.mcp.write_examples(self.backend())
        except LLMError:
            pass  # no model: the turn itself reports why
        except Exception:  # noqa: BLE001 - examples help the tool choice; a turn works without them
            log.exception("could not write examples for MCP tools")

    @property
    def backend_loaded(self) -> bool:
        return self._backend is not None

    # chat
    def new_conversation(self, title: str = "New conversation", *, persona: str | None = None) -> str:
        """A new conversation with `persona` (default: the default persona); ValueError for an unknown one."""
        name = self._persona_name(persona) if persona else self.personas.default_name
        return self.store.create_conversation(title, persona=name)

    def chat(self, text: str, conversation_id: str | None = None, *,
             cancel: CancelToken | None = None, persona: str | None = None) -> Iterator[Event]:
        """Run one turn in a conversation (a new one when none is given), yielding its events.

        `persona` switches the conversation to that persona from this turn on.
        """
        if conversation_id is None:
            cid = self.new_conversation(persona=persona)
        else:
            cid = conversation_id
            if persona:
                self.set_persona(cid, persona)
        return self._turn(cid, text, cancel)

    def _turn(self, cid: str, text: str, cancel: CancelToken | None) -> Iterator[Event]:
        note = self.apply_adapter(cid)
        if note:
            yield Status(text=note)
        if self.settings.tools.enabled and self.settings.mcp.write_examples and self.mcp.needs_examples():
            yield Status(text="Getting to know the new MCP tools (once)...")
            self._write_mcp_examples()
        yield from self.agent.run(cid, text, cancel=cancel, system_prompt=self._system_prompt(cid))

    # adapters
    @property
    def adapters(self):
        """The AdapterRegistry (trained LoRA adapters in the data folder)."""
        from assistant.learning.registry import AdapterRegistry

        return AdapterRegistry(self.paths.data_dir / "adapters")

    def apply_adapter(self, conversation_id: str | None = None) -> str:
        """Put the adapter active for this conversation's persona on the model (or none); returns a note for
        the user when that changed or failed, else "". Read from disk each turn, so `biseo adapters use` in
        another process takes effect at the next message, without reloading the model."""
        try:
            backend = self.backend()
        except Exception:  # noqa: BLE001 - the turn itself reports why the model is missing
            return ""
        setter = getattr(backend, "set_adapter", None)
        if setter is None:
            return ""
        version = None
        if self.settings.learning.use_adapters:
            persona = self.persona_of(conversation_id) if conversation_id else self.personas.default_name
            version = self.adapters.active_for(persona)
        problem = ""
        if version is not None:
            problem = _adapter_mismatch(version, getattr(backend, "path", None))
        try:
            if version is None or problem:
                changed = setter(None)
            else:
                changed = setter(version.gguf, version.strength)
        except Exception as exc:  # noqa: BLE001 - a broken adapter must not stop the chat
            log.warning("could not apply adapter %s: %s", version.ref if version else None, exc)
            with contextlib.suppress(Exception):
                setter(None)
            return f"Adapter {version.ref if version else ''} could not be applied ({exc}); answering without it."
        if problem:
            return problem
        if changed:
            return (f"Answering with adapter {version.ref} (strength {version.strength:g})." if version
                    else "Answering without an adapter.")
        return ""

    # personas
    def set_persona(self, conversation_id: str, name: str) -> None:
        """Make a conversation talk to persona `name` from its next turn on (ValueError if unknown)."""
        self.store.set_persona(conversation_id, self._persona_name(name))

    def persona_of(self, conversation_id: str) -> str:
        """The name of the persona a conversation talks to (the default one if its own was deleted)."""
        try:
            stored = self.store.get_conversation(conversation_id).persona
        except ConversationNotFound:
            stored = None
        persona = self.personas.get(stored) if stored else None
        return persona.name if persona else self.personas.default_name

    def _persona_name(self, name: str) -> str:
        persona = self.personas.get(name)
        if persona is None:
            raise ValueError(f"There is no persona called {name!r}.")
        return persona.name

    def _system_prompt(self, conversation_id: str) -> str:
        # The same persona gives the same text every turn, so the model's prompt cache keeps holding.
        persona = self.personas.get(self.persona_of(conversation_id))
        return persona.system_prompt if persona else self.settings.chat.system_prompt

    # regenerate and edit
    def regenerate(self, conversation_id: str, cancel: CancelToken | None = None) -> Iterator[Event]:
        """Answer the last user message again; the old answer is kept in history but hidden (superseded)."""
        last = next((m for m in reversed(self.store.messages(conversation_id)) if m.role == "user"), None)
        if last is None:
            self._check_conversation(conversation_id)
            raise ValueError("There is no message to answer again in this conversation.")
        return self._resend(conversation_id, last.id, last.content, cancel)

    def edit_and_resend(self, conversation_id: str, message_id: str, new_text: str,
                        cancel: CancelToken | None = None) -> Iterator[Event]:
        """Replace one of the user's messages: it and everything after it are hidden, the new text runs."""
        try:
            message = self.store.get_message(message_id)
        except MessageNotFound:
            raise ValueError("That message does not exist (it may have been deleted).") from None
        if message.conversation_id != conversation_id:
            raise ValueError("That message belongs to another conversation.")
        if message.role != "user":
            raise ValueError("Only your own messages can be edited.")
        if message.superseded:
            raise ValueError("That message was already replaced by a newer one.")
        if not new_text.strip():
            raise ValueError("The edited message is empty.")
        return self._resend(conversation_id, message.id, new_text, cancel)

    def _resend(self, cid: str, message_id: str, text: str, cancel: CancelToken | None) -> Iterator[Event]:
        # Hiding happens when the caller starts the turn, so an iterator never started hides nothing.
        self.store.supersede_from(cid, message_id)
        yield from self._turn(cid, text, cancel)

    def _check_conversation(self, cid: str) -> None:
        try:
            self.store.get_conversation(cid)
        except ConversationNotFound:
            raise ValueError("That conversation does not exist (it may have been deleted).") from None

    # feedback
    @property
    def feedback(self):
        """The FeedbackStore (feedback.db in the data folder), opened on first use."""
        with self._feedback_lock:
            if self._feedback is None:
                from assistant.feedback.store import FeedbackStore

                self._feedback = FeedbackStore(self.paths.data_dir / "feedback.db", history=self.store)
            return self._feedback

    @property
    def review(self):
        """The ReviewQueue: answers the model was least sure of, offered for review first."""
        from assistant.learning.review import ReviewQueue

        return ReviewQueue(self.store, self.feedback)

    def _tool_context(self, tool_name: str, call_id: str, cancel: CancelToken) -> ToolContext:
        spec = self.registry.get(tool_name)
        plugin = spec.plugin if spec else "unknown"
        roots = [Path(r).expanduser() for r in self.settings.tools.file_roots]
        return ToolContext(tool_name=tool_name, call_id=call_id, cancel=cancel, roots=roots,
                           settings=self.settings, data_dir=self.paths.data_dir / "plugins" / plugin,
                           logger=logging.getLogger(f"biseo.plugins.{plugin}"),
                           memory=self.memory, documents=self.documents)

    def close(self) -> None:
        with self._load_lock:  # waits for a model load still running in the warm-up thread
            if self._backend is not None:
                self._backend.close()
                self._backend = None
        for service in (self.documents, self.memory, self._feedback):
            if service is not None:
                service.close()
        self.plugins.close()  # stops third-party plugin processes
        self.mcp.close()  # and MCP servers
        self.store.close()
        self._release_data()


def _adapter_mismatch(version, model_path) -> str:
    """Why an adapter cannot go on the loaded model ("" when it can): it was trained on another base."""
    base = version.meta.get("base_model") or {}
    if model_path is None or not base:
        return ""
    path = Path(model_path)
    try:
        size = path.stat().st_size
    except OSError:
        return ""
    if base.get("size") not in (None, size):
        return (f"Adapter {version.ref} was trained for {base.get('name') or base.get('file')}, not the model in "
                f"use ({path.name}); answering without it. Train again for this model.")
    return ""


def create_backend(settings: Settings, paths: Paths, progress=None) -> ChatBackend:
    """Build the configured backend: a local GGUF through llama.cpp, or an OpenAI-compatible server."""
    llm = settings.llm
    if llm.backend == "openai":
        from assistant.llm.openai_backend import OpenAIBackend

        return OpenAIBackend(llm.server_url, model=llm.server_model, api_key=llm.api_key,
                             n_ctx=llm.n_ctx, timeout_s=llm.request_timeout_s, seed=llm.seed)
    from assistant.catalog.bundled import BundledModelError
    from assistant.catalog.manifests import ManifestError, load_catalog
    from assistant.catalog.resolver import ModelNotAvailable, resolve_model
    from assistant.llm.gguf_check import ModelFileError
    from assistant.llm.llama_backend import LlamaCppBackend

    try:
        resolved = resolve_model(llm.model, paths, load_catalog(paths), progress=progress)
        name = resolved.manifest.name if resolved.manifest else resolved.path.name
        return LlamaCppBackend(resolved.path, n_ctx=llm.n_ctx, n_gpu_layers=llm.n_gpu_layers,
                               n_threads=llm.n_threads, seed=llm.seed, display_name=name)
    except (ModelNotAvailable, ModelFileError, BundledModelError, ManifestError) as exc:
        raise LLMError(str(exc)) from exc
