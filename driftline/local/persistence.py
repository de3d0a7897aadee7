"""Local mode keeps its state across restarts: saved in its state folder, restored when it starts again.

What is saved is the emulator itself: every moto backend in use (buckets and objects, the model registry,
endpoints and their configurations, DynamoDB items, alarms and their state, schedules, topics and subscriptions,
secrets, roles, functions, the stack, the state machine and its runs), pickled together in one file, beside what
local mode keeps outside moto (``LocalModeState``: where the functions' code folders are, when each schedule is
next due, the Model Monitor schedules).

Why whole backends and not a format of our own: moto's backends are plain Python objects that reference each
other across services (the stack's resources are the buckets, functions and roles themselves). Pickled in one
piece they come back exactly as the APIs last answered, every service and every field, including what local mode
changed on moto's objects, with nothing to keep in step with moto's models. Pickling needs help only where moto
holds live things: locks (restored as new ones), weak and lambda-defaulted dictionaries (restored as plain
contents), cryptography keys (restored from their PEM) and Step Functions executions, whose interpreter threads
cannot be saved: a run is saved as its record and history (``restored_runs``). A pickle is bound to moto's
classes, so the file's header records moto's version and a fingerprint of the template and its parameters, and a
state saved by another version or template is refused (``SavedStateRefused``) rather than mixed in.

- Consistency: each emulator request holds the ``StateGuard`` shared; a save holds new requests back until those
  being answered have finished, then pickles while none runs (milliseconds at a demo's size), so a saved state
  never holds half of a request. Invocations (Lambda Invoke, InvokeEndpoint) do not hold it: they wait seconds on
  a handler or a model, whose own requests do. A pickle that meets a dictionary another thread (a run's
  interpreter, a timer) changed meanwhile is taken again.
- Durability: the file is written beside its final name and renamed over it, so a killed local mode leaves the
  last complete save. Saves happen once local mode is up, shortly after a run starts waiting on a task token (its
  approval, say), after each run ends and each approval decision (their EventBridge events), at least every
  ``SAVE_EVERY_SECONDS`` while requests arrive, and when it stops.
- Trust: unpickling runs the code a file names, so local mode unpickles only a file it wrote itself: each save is
  signed (HMAC-SHA256) with a key kept outside every state folder, in the user's configuration folder
  (``signing_key_path``), and a file whose signature does not match that key is refused before anything in it is
  read. A state folder copied from elsewhere (a repository, an archive, another user) brings no key that signs it.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import importlib
import io
import json
import os
import pickle
import secrets
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from moto.core.base_backend import BackendDict
from moto.s3.utils import _VersionedKeyStore
from moto.stepfunctions.parser.backend.execution import Execution

from driftline.local import restored_runs, seams
from driftline.local.cloudformation import StackDeployFailed, load_template
from driftline.local.settings import LocalSettings

SNAPSHOT_NAME = "saved-state.pickle"
FORMAT = 2
"""The layout of the file; a file of another layout is refused. (2: the header carries the payload's signature.)"""
SETTLE_SECONDS = 1.0
"""How long after a moment worth keeping (a run ended, an approval decided) the state is saved."""
SAVE_EVERY_SECONDS = 60.0
"""While requests keep arriving, the state is saved at least this often."""
GUARD_TIMEOUT_SECONDS = 30.0
"""How long a save waits for a moment when no request is being answered before it gives up (and tries later)."""
_PICKLE_ATTEMPTS = 5


def snapshot_path(state_dir: Path) -> Path:
    return state_dir / SNAPSHOT_NAME


class SavedStateRefused(StackDeployFailed):
    """The saved state cannot be restored into this local mode; the message says why and names ``--fresh``."""


class SaveFailed(RuntimeError):
    pass


# -- what a saved state holds ---------------------------------------------------------------------------------


@dataclass
class LocalModeState:
    """What local mode keeps outside moto's backends, saved and restored beside them."""

    code_folders: list[tuple[str, str, str]] = field(default_factory=list)
    """(bucket, key, folder) of every code package deployed; folders relative to the template's folder."""
    due_times: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Each schedule timer's next due times, so schedules go on where they were (and ``at()`` ones do not repeat)."""
    monitoring_schedules: list[tuple[Any, dict[str, Any]]] = field(default_factory=list)
    """(SageMaker backend, its Model Monitor schedules): local mode keeps those beside moto's backend."""


@dataclass(frozen=True)
class Summary:
    buckets: int = 0
    objects: int = 0
    model_versions: int = 0
    endpoints: int = 0
    runs: int = 0
    waiting_approvals: int = 0

    def text(self) -> str:
        return (
            f"{_count(self.buckets, 'bucket')} / {_count(self.objects, 'object')}, "
            f"{_count(self.model_versions, 'model version')}, {_count(self.endpoints, 'endpoint')}, "
            f"{_count(self.runs, 'run')}, {_count(self.waiting_approvals, 'waiting approval')}"
        )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def summarize(waiting_approvals: int) -> Summary:
    """What the emulator holds now, in the words the start line uses."""
    from moto.s3.models import s3_backends
    from moto.sagemaker.models import sagemaker_backends
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    buckets = [bucket for backend in every_backend(s3_backends) for bucket in list(backend.buckets.values())]
    sagemaker = every_backend(sagemaker_backends)
    machines = [m for backend in every_backend(stepfunctions_parser_backends) for m in list(backend.state_machines)]
    return Summary(
        buckets=len(buckets),
        objects=sum(len(bucket.keys) for bucket in buckets),
        model_versions=sum(len(backend.model_packages) for backend in sagemaker),
        endpoints=sum(len(backend.endpoints) for backend in sagemaker),
        runs=sum(len(machine.executions) for machine in machines),
        waiting_approvals=waiting_approvals,
    )


def every_backend(backends: BackendDict[Any]) -> list[Any]:
    """One service's backends of every account and Region that has one."""
    return [backend for _, _, backend in backends.iter_backends()]


def fingerprint(settings: LocalSettings) -> dict[str, Any]:
    """What a saved state must have been saved with to be restored: the same template (and the state machine
    definitions it names), parameters, stack, Region, moto version and file layout."""
    import moto

    digest = hashlib.sha256(settings.template.read_bytes())
    for resource in load_template(settings.template).get("Resources", {}).values():
        definition = (resource.get("Properties") or {}).get("DefinitionUri")
        if resource.get("Type") == "AWS::Serverless::StateMachine" and isinstance(definition, str):
            path = settings.template.parent / definition
            if path.is_file():
                digest.update(path.read_bytes())
    return {
        "format": FORMAT,
        "template": digest.hexdigest(),
        "parameters": dict(sorted(settings.parameters.items())),
        "stack": settings.stack_name,
        "region": settings.region,
        "moto": moto.__version__,
    }


def _differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    found = []
    if saved.get("format") != current["format"]:
        found.append(f"in another file layout ({saved.get('format')}; this local mode reads {current['format']})")
    if saved.get("moto") != current["moto"]:
        found.append(f"by moto {saved.get('moto')} (this local mode runs moto {current['moto']})")
    if saved.get("template") != current["template"]:
        found.append("with another template (template.yaml or a state machine definition it names has changed)")
    if saved.get("stack") != current["stack"] or saved.get("region") != current["region"]:
        found.append(f"for stack {saved.get('stack')} in {saved.get('region')}")
    before, now = saved.get("parameters") or {}, current["parameters"]
    changed = [
        f"{name} was {_setting(before.get(name))}, now {_setting(now.get(name))}"
        for name in sorted(set(before) | set(now))
        if before.get(name) != now.get(name)
    ]
    if changed:
        found.append("with other template parameters: " + ", ".join(changed))
    return found


def _setting(value: Any) -> str:
    return "not set" if value is None else repr(value)


# -- deciding at start ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SavedState:
    path: Path
    saved_at: datetime
    summary: Summary


def examine(settings: LocalSettings, current: dict[str, Any] | None = None) -> tuple[SavedState | None, str]:
    """The saved state to restore (None to start empty) and the line that says so; ``current`` is this local
    mode's ``fingerprint`` (taken here when not given).

    With ``settings.fresh`` a saved state is deleted. A state that cannot be read, or was saved with another
    template, parameters or moto version, is refused with a message naming ``--fresh``: it is kept, not mixed in.
    """
    path = snapshot_path(settings.state_dir)
    if not path.exists():
        prefix = "--fresh: " if settings.fresh else ""
        return None, f"{prefix}no saved state in {settings.state_dir}: starting empty"
    try:
        header = read_header(path)
    except SaveFailed as error:
        if settings.fresh:
            path.unlink()
            return None, f"--fresh: discarded the unreadable saved state {path}: starting empty"
        raise SavedStateRefused(
            f"the saved state {path} is unreadable ({error}); start with --fresh to discard it and start empty"
        ) from error
    saved = SavedState(path, _saved_at(header), _summary(header))
    if settings.fresh:
        path.unlink()
        discarded = f"the saved state of {_when(saved.saved_at)} ({saved.summary.text()})"
        return None, f"--fresh: discarded {discarded}: starting empty"
    differences = _differences(header.get("fingerprint") or {}, current or fingerprint(settings))
    if differences:
        raise SavedStateRefused(
            f"the saved state {path} was saved {'; '.join(differences)}. Local mode does not restore a state into "
            "a different deployment: start it as it was saved, or with --fresh to discard that state and start empty"
        )
    return saved, ""


def _summary(header: dict[str, Any]) -> Summary:
    written = header.get("summary")
    known = Summary.__dataclass_fields__
    if not isinstance(written, dict):
        return Summary()
    return Summary(**{name: int(value) for name, value in written.items() if name in known})


def _saved_at(header: dict[str, Any]) -> datetime:
    try:
        return datetime.fromisoformat(str(header["saved_at"]))
    except (KeyError, ValueError):
        return datetime.fromtimestamp(0, tz=UTC)


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def restored_line(saved: SavedState, summary: Summary) -> str:
    return f"restored the saved state of {_when(saved.saved_at)}: {summary.text()} ({saved.path}; --fresh starts empty)"


# -- the file --------------------------------------------------------------------------------------------------

_HEADER_LIMIT = 1 << 20


def read_header(path: Path) -> dict[str, Any]:
    """The file's first line: what it was saved with, when, and a summary; read without unpickling anything."""
    try:
        with path.open("rb") as file:
            line = file.readline(_HEADER_LIMIT)
        header = json.loads(line)
    except (OSError, ValueError) as error:
        raise SaveFailed(f"its header cannot be read: {error}") from error
    if not isinstance(header, dict) or "fingerprint" not in header:
        raise SaveFailed("it has no header line")
    return header


def write_atomically(path: Path, header: dict[str, Any], payload: bytes) -> None:
    """Write ``payload``, signed, beside ``path`` and rename over it: a reader (or a killed writer) sees the old file
    or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    signed = {**header, "signature": _signature(_signing_key(create=True), payload)}
    partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.partial")
    try:
        with partial.open("wb") as file:
            file.write(json.dumps(signed).encode() + b"\n")
            file.write(payload)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


KEY_NAME = "state-key"


def signing_key_path() -> Path:
    """Where the key that signs saved states is kept: the user's configuration folder, outside every state folder."""
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "driftline" / KEY_NAME


def _signing_key(*, create: bool) -> bytes:
    """This user's key; made (readable by the user only) at the first save. Without one, no file is trusted."""
    path = signing_key_path()
    if not path.exists() and create:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        made = path.with_name(f".{KEY_NAME}.{os.getpid()}.{threading.get_ident()}.partial")
        descriptor = os.open(made, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(secrets.token_bytes(32))
            os.link(made, path)  # fails when another local mode made the key first: theirs is kept
        except FileExistsError:
            pass
        finally:
            made.unlink(missing_ok=True)
    try:
        key = path.read_bytes()
    except OSError as error:
        raise SaveFailed(f"the key that signs saved states ({path}) cannot be read: {error}") from error
    if len(key) < 32:
        raise SaveFailed(f"the key that signs saved states ({path}) is too short; delete it and start with --fresh")
    return key


def _signature(key: bytes, payload: bytes) -> str:
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def _verified_payload(path: Path) -> tuple[bytes, dict[str, Any]]:
    """The file's pickle and header, once its signature shows this user's local mode wrote it; nothing is
    unpickled before (unpickling runs the code a file names)."""
    line, _, payload = path.read_bytes().partition(b"\n")
    header = json.loads(line)
    signature = header.get("signature") if isinstance(header, dict) else None
    if not isinstance(signature, str):
        raise SaveFailed("it is not signed")
    try:
        key = _signing_key(create=False)
    except SaveFailed as error:
        raise SaveFailed(f"no key here can check its signature: {error}") from error
    if not hmac.compare_digest(signature, _signature(key, payload)):
        raise SaveFailed(
            f"its signature does not match this user's key ({signing_key_path()}): "
            "it was not saved by this user's local mode, or was changed since"
        )
    return payload, header


# -- pickling moto --------------------------------------------------------------------------------------------

_LOCK = type(threading.Lock())
_RLOCK = type(threading.RLock())


def _no_thread() -> None:
    return None


def _defaultdict(kind: type, items: dict[Any, Any]) -> collections.defaultdict[Any, Any]:
    return collections.defaultdict(kind, items)


def _versioned_keys(lists: dict[str, list[Any]]) -> Any:
    store = _VersionedKeyStore()
    for key, versions in lists.items():
        store.setlist(key, versions)
    return store


def _private_key(pem: bytes) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    return load_pem_private_key(pem, password=None)


def _public_key(pem: bytes) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    return load_pem_public_key(pem)


class _Pickler(pickle.Pickler):
    """Pickles moto's backends, replacing what lives (locks, weak references, keys, running executions)."""

    def __init__(self, file: io.BytesIO, resumable: frozenset[str]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.resumable = resumable
        self.waiting = 0
        self._runs: dict[int, tuple[str, restored_runs.SavedRun]] = {}

    def persistent_id(self, obj: Any) -> Any:
        if not isinstance(obj, Execution):
            return None
        key = id(obj)
        if key not in self._runs:
            run = restored_runs.saved_run(obj, self.resumable)
            self.waiting += run.waiting is not None
            self._runs[key] = ("run", run)
        return self._runs[key]

    def reducer_override(self, obj: Any) -> Any:
        kind = type(obj)
        if kind is _LOCK:
            return threading.Lock, ()
        if kind is _RLOCK:
            return threading.RLock, ()
        if kind is _VersionedKeyStore:  # its items() name each key's latest version only
            return _versioned_keys, (dict(obj.lists()),)
        if kind is weakref.WeakValueDictionary:
            return weakref.WeakValueDictionary, (dict(obj.items()),)
        if kind is weakref.WeakKeyDictionary:
            return weakref.WeakKeyDictionary, (dict(obj.items()),)
        if kind is weakref.WeakSet:
            return weakref.WeakSet, (list(obj),)
        if kind is collections.defaultdict and getattr(obj.default_factory, "__name__", "") == "<lambda>":
            made = obj.default_factory()
            if type(made) in (dict, list, set) and not made:
                return _defaultdict, (type(made), dict(obj))
        if isinstance(obj, threading.Thread):
            return _no_thread, ()
        if kind.__module__.startswith("cryptography"):
            from cryptography.hazmat.primitives import serialization

            if hasattr(obj, "private_bytes"):
                pem = obj.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                )
                return _private_key, (pem,)
            if hasattr(obj, "public_bytes"):
                pem = obj.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
                return _public_key, (pem,)
        return NotImplemented


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO) -> None:
        super().__init__(file)
        self.executions: list[Execution] = []
        self._restored: dict[int, Execution] = {}

    def persistent_load(self, pid: Any) -> Any:
        kind, run = pid
        if kind != "run":
            raise pickle.UnpicklingError(f"unknown saved object {kind!r}")
        if id(run) not in self._restored:
            execution = restored_runs.restored_execution(run)
            self._restored[id(run)] = execution
            self.executions.append(execution)
        return self._restored[id(run)]


def _backends_in_use() -> dict[tuple[str, str], dict[str, dict[str, Any]]]:
    """Every moto backend holding data, keyed by its class (the same key finds its BackendDict again)."""
    return {
        (backends.backend.__module__, backends.backend.__qualname__): {
            account: dict(regions) for account, regions in list(backends.items())
        }
        for backends in list(_in_use())
    }


def _in_use() -> list[BackendDict[Any]]:
    """moto's record of the BackendDicts that hold an account's backends (what its reset clears)."""
    return list(getattr(BackendDict, "_instances"))  # noqa: B009 - moto keeps the list on the class


def _backend_dict(module_name: str, class_name: str) -> BackendDict[Any]:
    module = importlib.import_module(module_name)
    backend_class = getattr(module, class_name)
    for value in vars(module).values():
        if isinstance(value, BackendDict) and value.backend is backend_class:
            return value
    raise SaveFailed(f"moto has no backends of {module_name}.{class_name}")


@dataclass(frozen=True)
class Saved:
    """One save: where, how big, what, and how long request threads waited for it (the pickling)."""

    path: Path
    size: int
    summary: Summary
    held_seconds: float
    total_seconds: float


def capture(
    local: LocalModeState, guard: StateGuard, resumable: frozenset[str], *, timeout: float = GUARD_TIMEOUT_SECONDS
) -> tuple[bytes, Summary, float]:
    """The pickled state and its summary, taken while no request is half answered; and how long that took."""
    with guard.alone(timeout) as held:
        for attempt in range(_PICKLE_ATTEMPTS):
            buffer = io.BytesIO()
            pickler = _Pickler(buffer, resumable)
            try:
                pickler.dump({"backends": _backends_in_use(), "local": local})
            except RuntimeError as error:  # a dictionary changed under the pickle: another thread wrote to it
                if "changed size during iteration" not in str(error) or attempt == _PICKLE_ATTEMPTS - 1:
                    raise SaveFailed(f"the emulator's state could not be pickled: {error}") from error
                continue
            except (pickle.PicklingError, TypeError, AttributeError) as error:
                raise SaveFailed(f"the emulator's state could not be pickled: {error}") from error
            summary = summarize(pickler.waiting)
            return buffer.getvalue(), summary, held()
    raise AssertionError("unreachable")


def save(
    settings: LocalSettings,
    local: LocalModeState,
    guard: StateGuard,
    *,
    resumable: frozenset[str] = restored_runs.WAITS_FOR_A_PERSON,
    timeout: float = GUARD_TIMEOUT_SECONDS,
    saved_with: dict[str, Any] | None = None,
) -> Saved:
    """Save the emulator and ``local`` to the state folder (atomically); raises SaveFailed when it cannot.

    ``saved_with`` is the fingerprint of what the running local mode deployed or restored (taken when it started:
    a template edited since does not describe its state); by default, the template's now.
    """
    started = time.monotonic()
    payload, summary, held = capture(local, guard, resumable, timeout=timeout)
    header = {
        "fingerprint": saved_with or fingerprint(settings),
        "saved_at": datetime.now(UTC).isoformat(),
        "summary": summary.__dict__,
    }
    path = snapshot_path(settings.state_dir)
    try:
        write_atomically(path, header, payload)
    except OSError as error:
        raise SaveFailed(f"{path} could not be written: {error}") from error
    return Saved(path, len(payload), summary, held, time.monotonic() - started)


@dataclass
class Restored:
    """A restored state: what local mode kept beside moto, and the runs to settle once local mode is up."""

    local: LocalModeState
    executions: list[Execution]
    saved_at: datetime


def restore(saved: SavedState) -> Restored:
    """Put the saved backends into moto (reset first, by the caller) before the emulator answers a request."""
    try:
        payload, _ = _verified_payload(saved.path)
        unpickler = _Unpickler(io.BytesIO(payload))
        state = unpickler.load()
    except Exception as error:  # any failure to read back means the file cannot be used
        raise SavedStateRefused(
            f"the saved state {saved.path} is unreadable ({type(error).__name__}: {error}); start with --fresh to "
            "discard it and start empty"
        ) from error
    for (module_name, class_name), accounts in state["backends"].items():
        backends = _backend_dict(module_name, class_name)
        for account, regions in accounts.items():
            backends[account].update(regions)
    return Restored(local=state["local"], executions=unpickler.executions, saved_at=saved.saved_at)


def settle_runs(restored: Restored) -> tuple[list[Execution], list[Execution]]:
    """Resume the runs that waited for a person; end the others that were running (ABORTED, saying why).

    Returns (resumed, aborted); the caller sends the aborted runs' ends once EventBridge can deliver them.
    """
    resumed, aborted = [], []
    for execution in restored.executions:
        if restored_runs.waits_for_a_person(execution):
            restored_runs.resume(execution)
            resumed.append(execution)
        elif execution.exec_status is not None and execution.exec_status.value == "RUNNING":
            restored_runs.abort_stopped_run(execution, restored.saved_at)
            aborted.append(execution)
    return resumed, aborted


def end_jobs_left_running() -> list[str]:
    """Jobs a saved state holds as running had their processes end with the local mode that saved it: they end
    Stopped, as the jobs a clean stop stops. Returns their names."""
    from moto.sagemaker.models import sagemaker_backends

    from driftline.local.sagemaker import STOPPED_WITH_LOCAL_MODE

    ended = []
    now = datetime.now().astimezone()
    for backend in every_backend(sagemaker_backends):
        for job in list(backend.processing_jobs.values()):
            if job.processing_job_status in ("InProgress", "Stopping"):
                job.processing_job_status, job.failure_reason = "Stopped", STOPPED_WITH_LOCAL_MODE
                job.processing_end_time = job.last_modified_time = now
                ended.append(job.processing_job_name)
        for job in list(backend.training_jobs.values()):
            if job.training_job_status in ("InProgress", "Stopping"):
                job.training_job_status = job.secondary_status = "Stopped"
                job.failure_reason = STOPPED_WITH_LOCAL_MODE
                job.training_end_time = job.last_modified_time = now
                ended.append(job.training_job_name)
    return ended


def mirror_missing_copies(folder: Path) -> int:
    """Write the on-disk copy of every restored object whose copy is missing (a mirror folder deleted or moved
    while local mode was stopped); returns how many were written."""
    from moto.s3.models import s3_backends

    from driftline.local import s3_mirror

    written = 0
    for backend in every_backend(s3_backends):
        for bucket in list(backend.buckets.values()):
            for key in list(bucket.keys.values()):
                if not s3_mirror.mirror_path(folder, bucket.name, key.name).exists():
                    s3_mirror.write_copy(folder, bucket.name, key.name, bytes(key.value))
                    written += 1
    return written


# -- consistency ------------------------------------------------------------------------------------------------


DRAIN_SECONDS = 0.2
"""How long a save holds new requests back while those being answered finish, before it lets them go and tries
again: a request that waits on a request of its own (a handler it runs calls AWS) would otherwise wait forever,
and one that takes long (a large upload) would hold the others back."""
RETRY_SECONDS = 1.0
"""How long a save that could not find a moment between requests waits before it tries again."""


class StateGuard:
    """Requests share it; a save holds it alone, between two requests.

    A save first holds new requests back until the requests being answered have finished (milliseconds, as moto
    answers them), then pickles while no request runs. When requests being answered do not finish within
    ``DRAIN_SECONDS`` (one may be waiting on another it made), the held-back requests go on and the save tries
    again a moment later, so no request waits on a save for long and a steady stream of requests never starves it.
    """

    def __init__(self, drain_seconds: float = DRAIN_SECONDS) -> None:
        self.drain_seconds = drain_seconds
        self._condition = threading.Condition()
        self._answering = 0
        self._holding_back = False
        self._saving = False
        self.requests = 0
        """Requests answered since local mode started: the periodic save skips when none came."""

    @contextmanager
    def request(self) -> Iterator[None]:
        with self._condition:
            while self._holding_back or self._saving:
                self._condition.wait()
            self._answering += 1
            self.requests += 1
        try:
            yield
        finally:
            with self._condition:
                self._answering -= 1
                if not self._answering:
                    self._condition.notify_all()

    @contextmanager
    def alone(self, timeout: float) -> Iterator[Callable[[], float]]:
        """Hold the guard alone; yields a function telling how long it has been held."""
        deadline = time.monotonic() + timeout
        while not self._hold_alone(deadline):
            if time.monotonic() >= deadline:
                raise SaveFailed(f"requests kept the emulator busy for {timeout:.0f} s")
            time.sleep(min(RETRY_SECONDS, max(0.0, deadline - time.monotonic())))
        held_from = time.monotonic()
        try:
            yield lambda: time.monotonic() - held_from
        finally:
            with self._condition:
                self._saving = False
                self._condition.notify_all()

    def _hold_alone(self, deadline: float) -> bool:
        with self._condition:
            while self._saving or self._holding_back:
                if not self._condition.wait(max(0.0, deadline - time.monotonic())):
                    return False
            self._holding_back = True
            drained_by = min(deadline, time.monotonic() + self.drain_seconds)
            try:
                while self._answering:
                    remaining = drained_by - time.monotonic()
                    if remaining <= 0:
                        return False
                    self._condition.wait(remaining)
                self._saving = True
                return True
            finally:
                self._holding_back = False
                self._condition.notify_all()


_guards: list[StateGuard] = []
_INVOCATION_SUFFIX = "/invocations"
"""Lambda's Invoke and SageMaker Runtime's InvokeEndpoint: both wait on code, neither changes what is saved."""


def install_guard(guard: StateGuard) -> None:
    """Every emulator request, but invocations, holds ``guard`` while moto answers it."""
    _guards[:] = [guard]
    if not seams.claim("persistence-guard"):
        return
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    dispatch = DomainDispatcherApplication.__call__

    def guarded(self: DomainDispatcherApplication, environ: dict[str, Any], start_response: Any) -> Any:
        if not _guards or str(environ.get("PATH_INFO", "")).endswith(_INVOCATION_SUFFIX):
            return dispatch(self, environ, start_response)
        with _guards[-1].request():
            return dispatch(self, environ, start_response)

    seams.replace(DomainDispatcherApplication, "__call__", guarded)


# -- when to save ------------------------------------------------------------------------------------------------

_STEP_FUNCTIONS_STATUS = "Step Functions Execution Status Change"
_MODEL_PACKAGE_STATE = "SageMaker Model Package State Change"
_RUN_ENDS = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


def worth_keeping(entry: dict[str, Any]) -> bool:
    """A run's end, or a model package's approval status set (an approval decision, by link, registry or CLI).

    (A run starting to wait on a task token, its approval's above all, is the third moment: ``watch_for_moments``
    sees it in the run's history.)"""
    kind = entry.get("DetailType")
    if kind == _MODEL_PACKAGE_STATE:
        return True
    if kind != _STEP_FUNCTIONS_STATUS:
        return False
    try:
        return json.loads(entry.get("Detail") or "{}").get("status") in _RUN_ENDS
    except ValueError:
        return False


class Saver:
    """Saves on a background thread: soon after a moment worth keeping, and now and then while requests arrive."""

    def __init__(
        self,
        save: Callable[[], None],
        guard: StateGuard,
        *,
        settle_seconds: float = SETTLE_SECONDS,
        every_seconds: float = SAVE_EVERY_SECONDS,
    ) -> None:
        self._save = save
        self._guard = guard
        self.settle_seconds = settle_seconds
        self.every_seconds = every_seconds
        self._wake = threading.Condition()
        self._asked_at: float | None = None
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="local-mode-saver", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def soon(self) -> None:
        with self._wake:
            if self._asked_at is None:
                self._asked_at = time.monotonic()
                self._wake.notify_all()

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=GUARD_TIMEOUT_SECONDS + 30)

    def _run(self) -> None:
        last_save, seen_requests = time.monotonic(), self._guard.requests
        while True:
            with self._wake:
                now = time.monotonic()
                asked = self._asked_at
                wait = self.every_seconds - (now - last_save)
                if asked is not None:
                    wait = min(wait, asked + self.settle_seconds - now)
                if wait > 0 and not self._stopped:
                    self._wake.wait(wait)
                if self._stopped:
                    return
                now = time.monotonic()
                asked = self._asked_at
                due = asked is not None and now >= asked + self.settle_seconds
                periodic = now - last_save >= self.every_seconds and self._guard.requests != seen_requests
                if not (due or periodic):
                    if now - last_save >= self.every_seconds:
                        last_save = now
                    continue
                self._asked_at = None
            seen_requests, last_save = self._guard.requests, time.monotonic()
            self._save()


_savers: list[Saver] = []


def watch_for_moments(saver: Saver) -> None:
    """Ask ``saver`` to save after every event worth keeping that reaches EventBridge."""
    _savers[:] = [saver]
    if not seams.claim("persistence-moments"):
        return
    from moto.events.models import EventsBackend

    put_events = EventsBackend.put_events

    def put_events_noting_moments(self: EventsBackend, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        answered = put_events(self, events)
        if _savers and any(worth_keeping(entry) for entry in events):
            _savers[-1].soon()
        return answered

    seams.replace(EventsBackend, "put_events", put_events_noting_moments)

    from moto.stepfunctions.parser.api import HistoryEventType
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager

    add_event = EventManager.add_event

    def add_event_noting_waits(self: EventManager, context: Any, event_type: Any, *args: Any, **kwargs: Any) -> int:
        event_id = add_event(self, context, event_type, *args, **kwargs)
        if event_type == HistoryEventType.TaskSubmitted and _savers:  # a run now waits for its task token
            _savers[-1].soon()
        return event_id

    seams.replace(EventManager, "add_event", add_event_noting_waits)


def forget_savers() -> None:
    _savers.clear()
    _guards.clear()
