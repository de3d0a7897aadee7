"""SageMaker: processing and training jobs run the real ``ml/`` scripts as local processes.

moto records jobs and marks them Completed at once without running anything. Here each job runs
under SageMaker's container contracts: a job folder stands in for the container's ``/opt/ml`` (every
``/opt/ml/...`` path in the request is mapped into it), inputs are downloaded from the emulated S3,
framework-container script mode is honoured for training (``sagemaker_program`` and
``sagemaker_submit_directory``), outputs and ``model.tar.gz`` are uploaded back, and the job's status
and "SageMaker ... Job State Change" events follow what SageMaker reports. Job folders stay on disk.

Local jobs run as the user who started local mode, on their machine, so a job request does not get to
choose what runs. Jobs run only the application's own job code: the ``ml/`` files exactly as the
application's deploy-time publisher ships them (``ApplicationCode``). A processing job's command must be
``python3 <one of the ml/ scripts>`` in a folder holding nothing but ``ml/`` files with the application's
content; a training job's ``sagemaker_program`` must be one of those scripts and its
``sagemaker_submit_directory`` must hold nothing else. Anything else (another entrypoint, an interpreter
flag, a script not in ``ml/``, a file whose content differs) fails the job with a ``ClientError`` and
runs nothing. The job's ``Environment`` reaches the script as on SageMaker, except variables that would
let it leave that sandbox (see ``refused_environment``).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import math
import os
import shutil
import sys
import tarfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from datetime import datetime
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Any

from moto.events.models import events_backends
from moto.sagemaker.models import SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse

from driftline.local import cloudwatch_logs, iam, seams
from driftline.local.clients import emulator_client, emulator_environment
from driftline.local.console import Console
from driftline.local.endpoints.server_process import image_repository
from driftline.local.job_processes import JobProcess, JobProcesses
from driftline.local.s3_uris import split_s3_uri
from driftline.local.settings import ACCOUNT_ID, REPO_ROOT
from driftline.local.text_files import read_text_or_none
from driftline.local.times import times_as_epoch_millis

CONTAINER_ROOT = "/opt/ml/"
ML_DIR = REPO_ROOT / "ml"
INTERPRETERS = ("python", "python3")
_PUBLISHER = ML_DIR / "code_publisher.py"

CONTRACT_VARIABLE_PREFIXES = ("SM_", "AWS_")
"""The container contract's variables: channels and model paths (``SM_*``), credentials, region and endpoint."""
HIJACKING_VARIABLE_PREFIXES = ("LD_", "DYLD_", "PYTHON", "PIP_")
"""Variables that make the dynamic loader or the interpreter load code from elsewhere (``LD_PRELOAD``,
``PYTHONPATH``, ``PYTHONSTARTUP``, ...), make pip install from elsewhere or into another folder (``PIP_INDEX_URL``,
``PIP_TARGET``: a training script's requirements are installed by pip)."""
PYTHON_SETTINGS_ALLOWED = frozenset(
    {"PYTHONUNBUFFERED", "PYTHONHASHSEED", "PYTHONIOENCODING", "PYTHONDONTWRITEBYTECODE", "PYTHONUTF8"}
)
"""``PYTHON*`` settings that change how output is written, never which code runs."""
PROXY_VARIABLES = frozenset({"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"})
"""A proxy would carry the job's S3 traffic, data included, to another machine."""


STOPPED_WITH_LOCAL_MODE = (
    "local mode stopped while the job ran, and stopping local mode stops its running jobs as StopProcessingJob "
    "and StopTrainingJob would. A job does not carry on across a restart (local mode keeps its models, endpoints "
    "and data, not its running jobs): start it again (driftline local up) and upload the data again to run the "
    "pipeline from the start."
)
"""The FailureReason of a job that ended Stopped because local mode stopped: SageMaker's reason for how a job ended
goes there, so whatever reads the job (a run's failure notification) says why, as it would on AWS."""


PACKAGE_CACHE_DIR = "model-packages"
"""In local mode's state folder: the packages datasets' training scripts require, one folder per requirements."""


class JobFailed(Exception):
    """A job ended Failed; the message becomes its FailureReason."""


class ApplicationCode:
    """The only job code local jobs run: the application's ``ml/`` files, as its publisher ships them.

    The files and their SHA-256 digests are read once, when local mode starts (which is when it deploys
    them), so a job runs exactly the code the application published.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.digests = {path.relative_to(folder).as_posix(): _sha256(path) for path in _published_files(folder)}

    @property
    def scripts(self) -> list[str]:
        """The job scripts a command may name: the published Python files at the top of ``ml/``."""
        return sorted(name for name in self.digests if "/" not in name and name.endswith(".py"))

    def require_script(self, name: object, asked_by: str) -> str:
        if not isinstance(name, str) or name not in self.scripts:
            raise JobFailed(
                f"ClientError: {asked_by} names {json.dumps(name)}, which is not one of the application's "
                f"job scripts ({', '.join(self.scripts)}); local mode runs only the application's own ml/ code."
            )
        return name

    def verify_folder(self, folder: Path, shown_as: str) -> None:
        """Every file in ``folder`` must be an ``ml/`` file with the content the application published."""
        for path in sorted(folder.rglob("*")):
            if path.is_dir() and not path.is_symlink():
                continue
            relative = path.relative_to(folder).as_posix()
            expected = self.digests.get(relative)
            if expected is None or path.is_symlink() or not path.is_file():
                raise JobFailed(
                    f"ClientError: {shown_as} holds {relative}, which is not one of the application's ml/ files; "
                    "local mode runs only the application's own job code, so that folder may hold nothing else."
                )
            if _sha256(path) != expected:
                raise JobFailed(
                    f"ClientError: {shown_as}/{relative} differs from the application's ml/{relative}; local mode "
                    "runs only the job code the application published (after editing ml/, restart local mode)."
                )


def refused_environment(environment: Mapping[str, str]) -> list[str]:
    """The names in a job's Environment that local mode does not let a job set.

    On SageMaker the Environment only reaches a container. Locally the job is a process of the user, so
    a job may not replace what the container contract owns (``SM_*`` paths, ``AWS_*`` credentials,
    region and endpoint, which keep it talking to the emulator with its placeholder credentials), nor
    set what would load other code or send its traffic elsewhere: ``LD_*``, ``DYLD_*``, ``PYTHON*``
    other than output settings, ``PIP_*``, and proxies.
    """
    return sorted(name for name in environment if _is_refused_variable(name.upper()))


def _is_refused_variable(upper: str) -> bool:
    if upper.startswith(CONTRACT_VARIABLE_PREFIXES) or upper in PROXY_VARIABLES:
        return True
    return upper.startswith(HIJACKING_VARIABLE_PREFIXES) and upper not in PYTHON_SETTINGS_ALLOWED


class JobRunner:
    """Runs jobs on background threads and reports their state as SageMaker does."""

    def __init__(
        self, *, jobs_dir: Path, endpoint_url: str, region: str, console: Console, code_dir: Path = ML_DIR
    ) -> None:
        self.jobs_dir = jobs_dir
        self.code = ApplicationCode(code_dir)
        self.endpoint_url = endpoint_url
        self.region = region
        self.console = console
        self.durations: dict[str, float] = {}
        self._threads: list[threading.Thread] = []
        self._processes: dict[str, JobProcess] = {}
        self._stopping: set[str] = set()
        self._lock = threading.Lock()
        # Forks jobs from a warm interpreter once local mode starts it (start_server); fresh ones until then.
        self.processes = JobProcesses()

    # -- starting -------------------------------------------------------------------------------
    def start_processing(self, job: Any) -> None:
        job.processing_job_status = "InProgress"
        job.processing_end_time = None
        job.processing_start_time = datetime.now().astimezone()
        self._start(job.processing_job_name, lambda: self._run_processing(job))

    def start_training(self, job: Any) -> None:
        job.training_job_status = "InProgress"
        job.secondary_status = "Starting"
        job.training_start_time = datetime.now().astimezone()
        job.training_end_time = None
        job.final_metric_data_list = []
        self._start(job.training_job_name, lambda: self._run_training(job))

    def wait(self, timeout: float = 60) -> None:
        for thread in list(self._threads):
            thread.join(timeout)

    def stop(self, timeout: float = 30) -> None:
        """Stop every running job as StopProcessingJob/StopTrainingJob would, and wait until each is Stopped.

        Each job's process is killed, its status becomes Stopped with ``STOPPED_WITH_LOCAL_MODE`` as its reason and
        its state-change event is emitted while local mode is still up, so stopping local mode leaves no job process,
        no job thread and no noise.
        """
        with self._lock:
            self._stopping.update(thread.name.removeprefix("job-") for thread in self._threads if thread.is_alive())
            processes = list(self._processes.values())
        for process in processes:
            process.kill()
        self.wait(timeout)
        self._threads = [thread for thread in self._threads if thread.is_alive()]

    def _start(self, name: str, run: Callable[[], None]) -> None:
        thread = threading.Thread(target=run, name=f"job-{name}", daemon=True)
        self._threads.append(thread)
        thread.start()

    # -- processing -----------------------------------------------------------------------------
    def _run_processing(self, job: Any) -> None:
        name = job.processing_job_name
        started = time.time()
        self._emit_processing(job)
        root = self._fresh_root(name)
        try:
            app = job.app_specification or {}
            _pull_image(job, str(app.get("ImageUri") or ""))
            command = [*app.get("ContainerEntrypoint", []), *app.get("ContainerArguments", [])]
            hosts = _hosts((getattr(job, "processing_resources", None) or {}).get("ClusterConfig"))
            # One instance keeps the job folder as its /opt/ml; several get one folder each, as SageMaker's do.
            roots = {host: root / host if len(hosts) > 1 else root for host in hosts}
            outputs = (job.processing_output_config or {}).get("Outputs", [])
            commands = {host: self._prepare_instance(job, command, roots[host], host, hosts) for host in hosts}
            self._run_instances(name, commands, roots, self._timeout(job))
            for host in hosts:
                for spec in outputs:
                    s3_output = spec["S3Output"]
                    self._upload_dir(job, self._local(roots[host], s3_output["LocalPath"]), s3_output["S3Uri"])
            job.processing_job_status = "Completed"
            job.exit_message = read_text_or_none(root / "output" / "message")
        except Exception as error:
            if self._stopped(name):
                job.processing_job_status = "Stopped"
                job.failure_reason = STOPPED_WITH_LOCAL_MODE
                job.processing_end_time = job.last_modified_time = datetime.now().astimezone()
                self._emit_processing(job)
                return
            job.processing_job_status = "Failed"
            job.failure_reason = _failure_reason(error)
            job.exit_message = read_text_or_none(root / "output" / "message") or job.failure_reason
            self.console.line(name, f"FAILED: {job.failure_reason}")
        job.processing_end_time = job.last_modified_time = datetime.now().astimezone()
        self.durations[name] = time.time() - started
        self._emit_processing(job)

    def _prepare_instance(
        self, job: Any, command: list[str], root: Path, host: str, hosts: list[str]
    ) -> tuple[list[str], dict[str, str]]:
        """One instance's ``/opt/ml``: its resource config, its inputs (a ``ShardedByS3Key`` input holds only
        this instance's share of the objects), its output folders and its checked code; its command and env."""
        script = self._processing_script(command, root)
        env = self._job_env(job, root, dict(getattr(job, "environment", None) or {}))
        (root / "output").mkdir(parents=True, exist_ok=True)
        (root / "config").mkdir(parents=True, exist_ok=True)
        (root / "config" / "resourceconfig.json").write_text(json.dumps({"current_host": host, "hosts": hosts}))
        for spec in job.processing_inputs or []:
            s3_input = spec.get("S3Input")
            if s3_input:
                sharded = s3_input.get("S3DataDistributionType") == "ShardedByS3Key"
                share = (hosts.index(host), len(hosts)) if sharded else None
                self._download(job, s3_input["S3Uri"], self._local(root, s3_input["LocalPath"]), share)
        for spec in (job.processing_output_config or {}).get("Outputs", []):
            self._local(root, spec["S3Output"]["LocalPath"]).mkdir(parents=True, exist_ok=True)
        self.code.verify_folder(script.parent, str(PurePosixPath(command[1]).parent))
        return [self._program(arg, root) for arg in command], env

    def _run_instances(
        self, name: str, commands: dict[str, tuple[list[str], dict[str, str]]], roots: dict[str, Path], timeout: float
    ) -> None:
        """Run every instance at once; the job fails with the first failed instance's reason, naming it."""
        group = "/aws/sagemaker/ProcessingJobs"
        if len(commands) == 1:
            [(host, (command, env))] = commands.items()
            self._execute(name, command, roots[host], env, group, timeout)
            return
        failures: dict[str, Exception] = {}

        def run(host: str) -> None:
            command, env = commands[host]
            try:
                self._execute(name, command, roots[host], env, group, timeout, instance=host)
            except Exception as error:
                failures[host] = error

        threads = [threading.Thread(target=run, args=(host,), name=f"job-{name}-{host}") for host in commands]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for host in commands:
            if host in failures:
                reason = _failure_reason(failures[host])
                raise JobFailed(f"{reason} (instance {host} of {len(commands)})")

    # -- training -------------------------------------------------------------------------------
    def _run_training(self, job: Any) -> None:
        name = job.training_job_name
        started = time.time()
        self._emit_training(job)
        root = self._fresh_root(name)
        output_path = job.output_data_config["S3OutputPath"].rstrip("/")
        hosts = _hosts(getattr(job, "resource_config", None))
        # One instance keeps the job folder as its /opt/ml; several get one folder each, as SageMaker's do.
        roots = {host: root / host if len(hosts) > 1 else root for host in hosts}
        master = roots[hosts[0]]
        try:
            image = str((job.algorithm_specification or {}).get("TrainingImage") or "")
            _pull_image(job, image)
            hyperparameters = dict(job.hyper_parameters or {})
            algorithm = _runs_xgboost_algorithm(image, hyperparameters)
            if not algorithm:
                self.code.require_script(
                    _decode_hyperparameter(hyperparameters.get("sagemaker_program", "")), "sagemaker_program"
                )
                if len(hosts) > 1:
                    raise JobFailed(
                        "ClientError: local mode runs a training script on one instance; several instances train "
                        "only SageMaker's XGBoost algorithm locally. Set InstanceCount to 1."
                    )
            env = self._job_env(job, master, dict(getattr(job, "environment", None) or {}))
            job.secondary_status = "Downloading"
            channels: dict[str, Path] = {}
            for host in hosts:
                channels = self._prepare_training_instance(job, roots[host], host, hosts, hyperparameters)
            job.secondary_status = "Training"
            if algorithm:
                self._execute(
                    name,
                    [sys.executable, "-m", XGBOOST_ALGORITHM_MODULE, *_instance_arguments(roots[h] for h in hosts)],
                    root,
                    env,
                    "/aws/sagemaker/TrainingJobs",
                    self._timeout(job),
                )
            else:
                program, code_dir, arguments = self._script_mode(job, hyperparameters, master)
                env.update(_sm_variables(master, channels, hyperparameters))
                env.update(_without_libraries_the_image_lacks(image, master))
                self._execute(
                    name,
                    [sys.executable, program, *arguments],
                    code_dir,
                    env,
                    "/aws/sagemaker/TrainingJobs",
                    self._timeout(job),
                )
            job.secondary_status = "Uploading"
            model_uri = f"{output_path}/{name}/output/model.tar.gz"
            self._upload_tarball(job, master / "model", model_uri)
            if any((master / "output" / "data").iterdir()):
                self._upload_tarball(job, master / "output" / "data", f"{output_path}/{name}/output/output.tar.gz")
            job.model_artifacts = {"S3ModelArtifacts": model_uri}
            job.training_job_status = job.secondary_status = "Completed"
        except Exception as error:
            if self._stopped(name):
                job.training_job_status = job.secondary_status = "Stopped"
                job.failure_reason = STOPPED_WITH_LOCAL_MODE
                _end_training(job)
                self._emit_training(job)
                return
            job.training_job_status = job.secondary_status = "Failed"
            failure = read_text_or_none(master / "output" / "failure")
            job.failure_reason = f"AlgorithmError: {failure}" if failure else _failure_reason(error)
            self.console.line(name, f"FAILED: {job.failure_reason}")
        _end_training(job)
        self.durations[name] = time.time() - started
        self._emit_training(job)

    def _prepare_training_instance(
        self, job: Any, root: Path, host: str, hosts: list[str], hyperparameters: dict[str, str]
    ) -> dict[str, Path]:
        """One instance's ``/opt/ml``: its config files and channels (a ``ShardedByS3Key`` channel holds only this
        instance's share of the objects), and its empty model and output folders; the channels' folders."""
        config_dir = root / "input" / "config"
        config_dir.mkdir(parents=True)
        (config_dir / "hyperparameters.json").write_text(json.dumps(hyperparameters, indent=2))
        (config_dir / "resourceconfig.json").write_text(json.dumps({"current_host": host, "hosts": hosts}))
        (config_dir / "inputdataconfig.json").write_text(
            json.dumps({c["ChannelName"]: {"ContentType": c.get("ContentType", "")} for c in job.input_data_config})
        )
        channels: dict[str, Path] = {}
        for channel in job.input_data_config:
            source = channel["DataSource"]["S3DataSource"]
            sharded = source.get("S3DataDistributionType") == "ShardedByS3Key"
            target = root / "input" / "data" / channel["ChannelName"]
            self._download(job, source["S3Uri"], target, (hosts.index(host), len(hosts)) if sharded else None)
            channels[channel["ChannelName"]] = target
        for folder in ("model", "output/data", "code"):
            (root / folder).mkdir(parents=True, exist_ok=True)
        return channels

    def _script_mode(self, job: Any, hyperparameters: dict[str, str], root: Path) -> tuple[str, Path, list[str]]:
        """Framework containers fetch ``sagemaker_submit_directory`` and run ``sagemaker_program`` with flags."""
        decoded = {key: _decode_hyperparameter(value) for key, value in hyperparameters.items()}
        program = decoded.get("sagemaker_program")
        submit = decoded.get("sagemaker_submit_directory")
        if not program or not submit:
            raise JobFailed(
                "ClientError: local mode runs training jobs in framework-container script mode; "
                "set the sagemaker_program and sagemaker_submit_directory hyperparameters"
            )
        code_dir = root / "code"
        archive = root / "sourcedir.tar.gz"
        self._download_object(job, str(submit), archive)
        with tarfile.open(archive) as tar:
            tar.extractall(code_dir, filter="data")
        self.code.verify_folder(code_dir, f"sagemaker_submit_directory {submit}")
        arguments: list[str] = []
        for key, value in decoded.items():
            if key.startswith("sagemaker_"):
                continue
            arguments += [f"--{key}", value if isinstance(value, str) else json.dumps(value)]
        return str(code_dir / str(program)), code_dir, arguments

    # -- running --------------------------------------------------------------------------------
    def _execute(
        self,
        name: str,
        command: list[str],
        cwd: Path,
        env: dict[str, str],
        log_group: str,
        timeout: float,
        instance: str | None = None,
    ) -> None:
        """Run one instance's process; ``instance`` names it (``algo-2``) when the job runs on several."""
        stream = f"{name}/{instance or 'algo-1'}-{int(time.time())}"
        log_path = self.jobs_dir / name / (f"{instance}/job.log" if instance else "job.log")
        label = f"{name}/{instance}" if instance else name
        self.console.line(label, f"started: {' '.join(Path(c).name if os.sep in c else c for c in command)}")
        with log_path.open("w") as log:
            process = self.processes.start(command, cwd=cwd, env=env)
            with self._lock:
                self._processes[label] = process
                if name in self._stopping:
                    process.kill()
            timer = threading.Timer(timeout, process.kill)
            timer.start()
            tail: list[str] = []
            assert process.stdout is not None
            for raw in process.stdout:
                line = raw.rstrip("\n")
                log.write(raw)
                tail = ([*tail, line])[-5:]
                cloudwatch_logs.put_lines(self.region, log_group, stream, [line])
                self.console.line(label, line)
            code = process.wait()
            timer.cancel()
            with self._lock:
                self._processes.pop(label, None)
        if code != 0:
            last = next((line for line in reversed(tail) if line.strip()), "")
            raise JobFailed(f"AlgorithmError: exit code {code}. {last}".strip())

    def _stopped(self, name: str) -> bool:
        """True once a stop asked for this job has ended it; the job's console says so."""
        with self._lock:
            stopped = name in self._stopping
            self._stopping.discard(name)
        if stopped:
            self.console.line(name, "stopped")
        return stopped

    def _processing_script(self, command: list[str], root: Path) -> Path:
        """The job's script, when its command is ``python3 /opt/ml/.../<ml script> [arguments]``."""
        if len(command) < 2 or command[0] not in INTERPRETERS or not command[1].startswith(CONTAINER_ROOT):
            raise JobFailed(
                f"ClientError: local mode runs a processing job only as python3 and one of the application's "
                f"job scripts ({', '.join(self.code.scripts)}), and this job's command is {json.dumps(command)}; "
                'set ContainerEntrypoint to ["python3", "/opt/ml/processing/input/code/<script>"].'
            )
        self.code.require_script(PurePosixPath(command[1]).name, "ContainerEntrypoint")
        return self._local(root, command[1])

    def _job_env(self, job: Any, root: Path, extra: dict[str, str]) -> dict[str, str]:
        """This process's environment for the job, with the container contract's variables and the job's own.

        The job's Environment goes in before the contract's variables are set, and a job that asks for
        a variable ``refused_environment`` names fails instead of running without it.
        """
        refused = refused_environment(extra)
        if refused:
            raise JobFailed(
                f"ClientError: local mode does not let a job set {', '.join(refused)} in its Environment: "
                "SM_* and AWS_* belong to the container contract, and loader, interpreter-path and proxy "
                "variables would run other code or send the job's data elsewhere; remove them from the request."
            )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SM_", "AWS_"))}
        env.update(
            {
                **emulator_environment(self.endpoint_url, self.region, job_role(job)),
                "SM_OUTPUT_DIR": str(root / "output"),
                "PYTHONUNBUFFERED": "1",
            }
        )
        # A container path in the job's Environment (Model Monitor gives its analyzer its baseline and folders
        # that way) names the same file here as in an argument: under the job's folder.
        env.update({str(key): _on_host(str(value), root) for key, value in extra.items()})
        # Where a training script's requirements are kept once installed (by their hash), for every later job:
        # local mode's own folder, set after the job's Environment so a request cannot move it.
        env["DRIFTLINE_PACKAGE_CACHE"] = str(self.jobs_dir.parent / PACKAGE_CACHE_DIR)
        return env

    def _fresh_root(self, name: str) -> Path:
        root = self.jobs_dir / name
        if root.exists():
            shutil.rmtree(root)
        (root / "output").mkdir(parents=True)
        return root

    @staticmethod
    def _local(root: Path, container_path: str) -> Path:
        relative = container_path[len(CONTAINER_ROOT) :]
        if not container_path.startswith(CONTAINER_ROOT) or ".." in Path(relative).parts:
            raise JobFailed(f"ClientError: local path {container_path} must be under {CONTAINER_ROOT}")
        return root / relative

    def _program(self, arg: str, root: Path) -> str:
        if arg in ("python", "python3"):
            return sys.executable
        return _on_host(arg, root)

    @staticmethod
    def _timeout(job: Any) -> float:
        return float((job.stopping_condition or {}).get("MaxRuntimeInSeconds", 86400))

    # -- S3 -------------------------------------------------------------------------------------
    def _s3(self, job: Any) -> Any:
        """S3 as the job's role: SageMaker reads a job's inputs and writes its outputs with it."""
        return emulator_client("s3", self.endpoint_url, self.region, job_role(job))

    def _download(self, job: Any, uri: str, target: Path, share: tuple[int, int] | None = None) -> None:
        """S3Prefix semantics: every object under the prefix, keeping paths relative to it.

        ``share`` (instance i of n) is ``ShardedByS3Key``: of the objects in key order, the instance gets every
        n-th from its i-th, about 1/n of them as AWS documents; an instance may get none.
        """
        bucket, prefix = split_s3_uri(uri, JobFailed)
        target.mkdir(parents=True, exist_ok=True)
        s3 = self._s3(job)
        found = False
        position = -1
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                key = item["Key"]
                if key.endswith("/"):
                    continue
                position += 1
                if share is not None and position % share[1] != share[0]:
                    found = True
                    continue
                relative = key[len(prefix) :].lstrip("/") or key.rsplit("/", 1)[-1]
                destination = target / relative
                if not destination.resolve().is_relative_to(target.resolve()):
                    raise JobFailed(
                        f"ClientError: the object s3://{bucket}/{key} would land outside the job's input folder; "
                        "rename it without '..' segments or point the input at another prefix."
                    )
                destination.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(bucket, key, str(destination))
                found = True
        if not found:
            raise JobFailed(f"ClientError: no objects found at {uri}")

    def _download_object(self, job: Any, uri: str, target: Path) -> None:
        bucket, key = split_s3_uri(uri, JobFailed)
        self._s3(job).download_file(bucket, key, str(target))

    def _upload_dir(self, job: Any, folder: Path, uri: str) -> None:
        bucket, prefix = split_s3_uri(uri, JobFailed)
        prefix = prefix.rstrip("/")
        s3 = self._s3(job)
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            key = f"{prefix}/{path.relative_to(folder).as_posix()}" if prefix else path.name
            s3.upload_file(str(path), bucket, key)

    def _upload_tarball(self, job: Any, folder: Path, uri: str) -> None:
        archive = folder.parent / (folder.name + ".tar.gz")
        with tarfile.open(archive, "w:gz") as tar:
            for path in sorted(folder.rglob("*")):
                tar.add(path, arcname=path.relative_to(folder).as_posix(), recursive=False)
        bucket, key = split_s3_uri(uri, JobFailed)
        self._s3(job).upload_file(str(archive), bucket, key)

    # -- events ---------------------------------------------------------------------------------
    def _emit_processing(self, job: Any) -> None:
        self._emit("SageMaker Processing Job State Change", job.arn, job.response_object)

    def _emit_training(self, job: Any) -> None:
        self._emit("SageMaker Training Job State Change", job.arn, job.response_object)

    def _emit(self, detail_type: str, arn: str, description: dict[str, Any]) -> None:
        detail = json.dumps(times_as_epoch_millis(description), default=str)
        events_backends[ACCOUNT_ID][self.region].put_events(
            [{"Source": "aws.sagemaker", "DetailType": detail_type, "Detail": detail, "Resources": [arn]}]
        )


def _end_training(job: Any) -> None:
    """The job's end, and the time SageMaker bills it for: whole seconds from its start to its end (per instance;
    DescribeTrainingJob's ``BillableTimeInSeconds``, ``TrainingTimeInSeconds`` without managed spot training)."""
    job.training_end_time = job.last_modified_time = datetime.now().astimezone()
    seconds = max(1, math.ceil((job.training_end_time - job.training_start_time).total_seconds()))
    job.billable_time_in_seconds = job.training_time_in_seconds = seconds


def _pull_image(job: Any, image_uri: str) -> None:
    """SageMaker pulls the job's image with the job's role: a role that may not fails the job."""
    try:
        iam.authorize_image_pull(iam.role_session(job.role_arn, "SageMaker"), image_uri)
    except iam.AccessDenied as denied:
        raise JobFailed(f"ClientError: {denied}") from denied


def job_role(job: Any) -> dict[str, str]:
    """The credentials a job's code and SageMaker's work for it use: its role's, as on AWS."""
    return iam.role_session(job.role_arn, "SageMaker").environment()


XGBOOST_REPOSITORY = "sagemaker-xgboost"
SCIKIT_LEARN_REPOSITORY = "sagemaker-scikit-learn"
PYTORCH_TRAINING_REPOSITORY = "pytorch-training"
LIBRARIES_IMAGES_LACK = {
    SCIKIT_LEARN_REPOSITORY: ("scikit-learn", ("xgboost", "torch")),
    XGBOOST_REPOSITORY: ("XGBoost", ("torch",)),
    PYTORCH_TRAINING_REPOSITORY: ("PyTorch training", ("xgboost",)),
}
"""Libraries local mode's Python holds (for the other images' jobs) that each SageMaker framework image does not."""
XGBOOST_ALGORITHM_MODULE = "driftline.local.xgboost_algorithm"


def _sm_variables(root: Path, channels: dict[str, Path], hyperparameters: dict[str, str]) -> dict[str, str]:
    """The SM_* variables the SageMaker training toolkit sets in framework containers."""
    env = {
        "SM_MODEL_DIR": str(root / "model"),
        "SM_INPUT_DIR": str(root / "input"),
        "SM_INPUT_CONFIG_DIR": str(root / "input" / "config"),
        "SM_OUTPUT_DIR": str(root / "output"),
        "SM_OUTPUT_DATA_DIR": str(root / "output" / "data"),
        "SM_CHANNELS": json.dumps(sorted(channels)),
        "SM_HPS": json.dumps({k: _decode_hyperparameter(v) for k, v in hyperparameters.items()}),
        "SM_CURRENT_HOST": "algo-1",
        "SM_HOSTS": json.dumps(["algo-1"]),
        "SM_NUM_GPUS": "0",
        "SM_NUM_CPUS": str(os.cpu_count() or 1),
    }
    for channel, path in channels.items():
        env[f"SM_CHANNEL_{channel.upper()}"] = str(path)
    return env


def _without_libraries_the_image_lacks(image: str, root: Path) -> dict[str, str]:
    """Hide from a script on a framework image the libraries local mode's Python has and that image lacks.

    Each is a module that fails to import as a missing one does (``PYTHONPATH``, which comes before local mode's
    own packages; a script's installed requirements still come first), so a script that would fail on AWS
    fails here too: XGBoost on the scikit-learn and PyTorch images, PyTorch on the scikit-learn and XGBoost ones.
    """
    shown_as, lacking = LIBRARIES_IMAGES_LACK.get(image_repository(image), ("", ()))
    if not lacking:
        return {}
    folder = root / "image-lacks"
    for library in lacking:
        (folder / library).mkdir(parents=True, exist_ok=True)
        (folder / library / "__init__.py").write_text(
            f"raise ModuleNotFoundError(\"No module named '{library}' (SageMaker's {shown_as} image has none; "
            f'local mode hides its own)", name={library!r})\n'
        )
    return {"PYTHONPATH": str(folder)}


def _runs_xgboost_algorithm(image: str, hyperparameters: dict[str, str]) -> bool:
    """SageMaker's XGBoost image without a ``sagemaker_program`` runs its built-in algorithm, which local mode runs
    on the XGBoost library (``driftline.local.xgboost_algorithm``); with one it is a framework container."""
    return image_repository(image) == XGBOOST_REPOSITORY and "sagemaker_program" not in hyperparameters


def _instance_arguments(roots: Iterable[Path]) -> list[str]:
    return [argument for root in roots for argument in ("--instance-root", str(root))]


def _hosts(resources: Mapping[str, Any] | None) -> list[str]:
    """``algo-1`` ... ``algo-<InstanceCount>``: the hosts a job's resource config (or cluster config) names."""
    return [f"algo-{index}" for index in range(1, int((resources or {}).get("InstanceCount") or 1) + 1)]


def _decode_hyperparameter(value: str) -> Any:
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _published_files(folder: Path) -> list[Path]:
    """The files the application's deploy-time publisher ships from ``folder`` (its one definition of them)."""
    return list(_code_publisher().code_files(folder))


@functools.cache
def _code_publisher() -> ModuleType:
    """``ml/code_publisher.py`` is a Lambda handler module, not part of a package: load it from its file."""
    name = "driftline_local_code_publisher"
    spec = importlib.util.spec_from_file_location(name, _PUBLISHER)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load the application's code publisher from {_PUBLISHER}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its dataclasses look their module up while being created
    spec.loader.exec_module(module)
    return module


def _failure_reason(error: Exception) -> str:
    text = str(error)
    return text if text.startswith(("AlgorithmError", "ClientError")) else f"InternalServerError: {text}"


_active: list[JobRunner] = []
_request_environment: ContextVar[dict[str, str] | None] = ContextVar("sagemaker_request_environment", default=None)
"""The Environment of the Create*Job request being answered: moto's backend drops it."""
_request_processing_resources: ContextVar[dict[str, Any] | None] = ContextVar(
    "sagemaker_request_processing_resources", default=None
)
"""The ProcessingResources of the CreateProcessingJob request being answered (its InstanceCount): moto drops it."""


def install(runner: JobRunner) -> None:
    """Run the jobs SageMaker is asked to create with ``runner``."""
    _active[:] = [runner]
    if seams.claim("sagemaker"):
        _patch()


def _patch() -> None:
    create_processing = SageMakerModelBackend.create_processing_job
    create_training = SageMakerModelBackend.create_training_job
    respond_processing = SageMakerResponse.create_processing_job
    respond_training = SageMakerResponse.create_training_job

    def create_processing_job(self: SageMakerModelBackend, *args: Any, **kwargs: Any) -> Any:
        job: Any = create_processing(self, *args, **kwargs)
        job.environment = _request_environment.get()
        job.processing_resources = _request_processing_resources.get()
        _active[-1].start_processing(job)
        return job

    def create_training_job(self: SageMakerModelBackend, *args: Any, **kwargs: Any) -> Any:
        job: Any = create_training(self, *args, **kwargs)
        job.environment = _request_environment.get()
        _active[-1].start_training(job)
        return job

    def with_request_environment(respond: Callable[[SageMakerResponse], Any]) -> Callable[[SageMakerResponse], Any]:
        """Keep the request's Environment (and ProcessingResources) for the backend call it makes (and DescribeJob
        shows them, as AWS does)."""

        def answer(self: SageMakerResponse) -> Any:
            token = _request_environment.set(dict(self._get_param("Environment") or {}) or None)
            resources = _request_processing_resources.set(dict(self._get_param("ProcessingResources") or {}) or None)
            try:
                return respond(self)
            finally:
                _request_processing_resources.reset(resources)
                _request_environment.reset(token)

        return answer

    seams.replace(SageMakerModelBackend, "create_processing_job", create_processing_job)
    seams.replace(SageMakerModelBackend, "create_training_job", create_training_job)
    seams.replace(SageMakerResponse, "create_processing_job", with_request_environment(respond_processing))
    seams.replace(SageMakerResponse, "create_training_job", with_request_environment(respond_training))


def _on_host(value: str, root: Path) -> str:
    """A container path (``/opt/ml/...``) as the same place in the job's folder; any other value as it is.

    A container path that climbs out of ``/opt/ml`` fails the job, as an input path doing so does."""
    if not value.startswith(CONTAINER_ROOT):
        return value
    if ".." in Path(value).parts:
        raise JobFailed(f"ClientError: {value} climbs out of {CONTAINER_ROOT}; name a path under it without '..'")
    return str(root / value[len(CONTAINER_ROOT) :])
