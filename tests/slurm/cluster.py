"""A throw-away single-node SLURM cluster on localhost for the SLURM profile's end-to-end test.

Debian's slurm-wlm + munge, no slurmdbd (so no accounting: the profile must use `squeue` for job
status). Everything the daemons write lives under one temporary directory. Client commands find the
cluster through ``SLURM_CONF`` (see :attr:`SlurmCluster.env`), but the executor plugin's job step
(snakemake-executor-plugin-slurm-jobstep 0.6.1) drops every ``SLURM_*`` variable before it calls
``srun`` inside the job, so the config is also installed at Slurm's default path
/etc/slurm/slurm.conf for the cluster's lifetime (only when that path is free or a stale copy of
ours) and removed by stop(). Daemons run in the foreground as children of this process and
listen on 127.0.0.1 only.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

PACKAGES = ["slurm-wlm", "munge"]
BINARIES = [
    "munged",
    "mungekey",
    "slurmctld",
    "slurmd",
    "sbatch",
    "squeue",
    "scancel",
    "sinfo",
    "scontrol",
]
# Completed jobs stay visible to `squeue --states=all` this long (seconds): without accounting,
# squeue is the only status source, for the executor plugin and for the test's assertions.
MIN_JOB_AGE = 43200
SYSTEM_CONF = Path("/etc/slurm/slurm.conf")
MARKER = "# fmagenre test cluster, owner pid "


class ClusterUnavailable(RuntimeError):
    """SLURM cannot be started here, for a reason the tests report as their skip message."""


def _which(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")


def missing_binaries() -> list[str]:
    return [name for name in BINARIES if _which(name) is None]


def ensure_installed(timeout: int = 900) -> str | None:
    """Install slurm-wlm and munge through apt when missing; return why not, or None when ready."""
    if not missing_binaries():
        return None
    if os.geteuid() != 0:
        return f"SLURM binaries missing ({', '.join(missing_binaries())}) and not root to apt-get install {' '.join(PACKAGES)}"
    if shutil.which("apt-get") is None:
        return f"SLURM binaries missing ({', '.join(missing_binaries())}) and no apt-get to install them"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES],
    ):
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, env=env, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            return f"`{' '.join(command)}` timed out after {timeout} s"
        if result.returncode != 0:
            return f"`{' '.join(command)}` failed ({result.returncode}): {result.stderr.strip()[-500:]}"
    if missing_binaries():
        return f"still missing after apt-get install: {', '.join(missing_binaries())}"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _node_hardware() -> dict[str, str]:
    """The machine's real CPU layout and memory, as `slurmd -C` reports them."""
    output = subprocess.run(
        [_which("slurmd"), "-C"], capture_output=True, text=True, check=True
    ).stdout
    fields = dict(item.split("=", 1) for item in output.split() if "=" in item)
    keys = ["CPUs", "Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore", "RealMemory"]
    return {key: fields[key] for key in keys}


def _conf_owner(path: Path) -> int | None:
    """The pid that installed ``path`` as a test cluster config, or None (absent or not ours)."""
    try:
        first = path.read_text().split("\n", 1)[0]
    except OSError:
        return None
    return int(first[len(MARKER) :]) if first.startswith(MARKER) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class SlurmCluster:
    """slurmctld + slurmd + munged for one node named after this host, with the given partitions.

    The first partition is the default one. Use as a context manager, or call start() and stop().
    """

    def __init__(self, root: Path, partitions: tuple[str, ...] = ("main",)):
        self.root = Path(root)
        self.partitions = partitions
        self.node = socket.gethostname()
        self.conf = self.root / "slurm.conf"
        self.munge_socket = self.root / "munge" / "munge.socket"
        self.logs = self.root / "log"
        self.hardware: dict[str, str] = {}
        self._processes: list[subprocess.Popen] = []

    @property
    def env(self) -> dict[str, str]:
        """The environment for slurm client commands (and Snakemake runs) that use this cluster."""
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    @property
    def cpus(self) -> int:
        return int(self.hardware["CPUs"])

    @property
    def memory_mb(self) -> int:
        return int(self.hardware["RealMemory"])

    def __enter__(self) -> SlurmCluster:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self, timeout: float = 60) -> None:
        address = socket.gethostbyname(self.node)
        if not address.startswith("127."):
            raise ClusterUnavailable(
                f"host name {self.node} resolves to {address}, not to loopback: "
                "the daemons would listen beyond localhost"
            )
        for folder in ("munge", "state", "spool", "log"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
            (self.root / folder).chmod(0o700)
        self.hardware = _node_hardware()
        self._write_conf()
        try:
            self._claim_system_conf()
            self._start_munge()
            self._spawn("slurmctld", [_which("slurmctld"), "-D", "-i", "-f", str(self.conf)])
            self._wait(self._controller_up, timeout, "slurmctld to answer")
            self._spawn("slurmd", [_which("slurmd"), "-D", "-N", self.node, "-f", str(self.conf)])
            self._wait(self._node_idle, timeout, f"node {self.node} to become idle")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Cancel leftover jobs, stop the daemons (newest first) and remove the cluster's files."""
        if self._processes and self.conf.exists():
            active = self._active_jobs()
            if active:
                subprocess.run(
                    [_which("scancel"), *active], env=self.env, capture_output=True, timeout=30
                )
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and self._active_jobs():
                time.sleep(0.5)
        for process in reversed(self._processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self._processes.clear()
        self._kill_orphan_steps()
        if _conf_owner(SYSTEM_CONF) == os.getpid():
            SYSTEM_CONF.unlink()
        shutil.rmtree(self.root, ignore_errors=True)

    def squeue(self) -> list[dict[str, str]]:
        """Every job the controller remembers (running and completed): id, name, partition, state."""
        output = subprocess.run(
            [_which("squeue"), "--states=all", "--noheader", "--format=%i|%j|%P|%T|%k"],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout
        keys = ["job_id", "name", "partition", "state", "comment"]
        return [dict(zip(keys, line.split("|", 4))) for line in output.splitlines() if line.strip()]

    def log_tail(self, chars: int = 3000) -> str:
        """The daemons' logs, for error messages."""
        parts = []
        for log in sorted(self.logs.glob("*.log")):
            parts.append(f"--- {log.name}\n{log.read_text(errors='replace')[-chars:]}")
        return "\n".join(parts)

    # ---- internals --------------------------------------------------------------------------------

    def _write_conf(self) -> None:
        hw = " ".join(f"{key}={value}" for key, value in self.hardware.items())
        partitions = "\n".join(
            f"PartitionName={name} Nodes={self.node} Default={'YES' if i == 0 else 'NO'} "
            "MaxTime=INFINITE State=UP"
            for i, name in enumerate(self.partitions)
        )
        self.conf.write_text(f"""\
ClusterName=fmagenre-test
SlurmctldHost={self.node}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
# every daemon binds to the node's address (127.0.0.1, checked in start()), not to every interface
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.munge_socket}
SlurmUser=root
SlurmdUser=root
StateSaveLocation={self.root / "state"}
SlurmdSpoolDir={self.root / "spool"}
SlurmctldPidFile={self.root / "slurmctld.pid"}
SlurmdPidFile={self.root / "slurmd.pid"}
SlurmctldLogFile={self.logs / "slurmctld.log"}
SlurmdLogFile={self.logs / "slurmd.log"}
SlurmctldDebug=info
SlurmdDebug=info
# no cgroups in containers: track job processes by process group
ProctrackType=proctrack/pgid
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
MailProg=/bin/true
ReturnToService=2
MinJobAge={MIN_JOB_AGE}
SchedulerParameters=sched_interval=1
NodeName={self.node} NodeAddr=127.0.0.1 NodeHostname={self.node} {hw} State=UNKNOWN
{partitions}
""")

    def _active_jobs(self) -> list[str]:
        result = subprocess.run(
            [
                _which("squeue"),
                "--noheader",
                "--format=%i",
                "--states=PENDING,CONFIGURING,RUNNING,COMPLETING,SUSPENDED",
            ],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        return result.stdout.split() if result.returncode == 0 else []

    def _kill_orphan_steps(self) -> None:
        """slurmstepd processes of this cluster that outlived slurmd (they inherit its SLURM_CONF)."""
        ours = f"SLURM_CONF={self.conf}".encode()
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                if (proc / "comm").read_text().strip() == "slurmstepd" and ours in (
                    proc / "environ"
                ).read_bytes().split(b"\0"):
                    os.kill(int(proc.name), signal.SIGKILL)
            except (OSError, ValueError):
                continue

    def _claim_system_conf(self) -> None:
        owner = _conf_owner(SYSTEM_CONF)
        if SYSTEM_CONF.exists() and (owner is None or _alive(owner)):
            raise ClusterUnavailable(
                f"{SYSTEM_CONF} exists ({'a real cluster' if owner is None else f'test cluster of pid {owner}'}); "
                "the test cluster needs that path for jobs' nested srun"
            )
        SYSTEM_CONF.parent.mkdir(parents=True, exist_ok=True)
        SYSTEM_CONF.write_text(f"{MARKER}{os.getpid()}\n{self.conf.read_text()}")

    def _start_munge(self) -> None:
        key = self.root / "munge" / "munge.key"
        subprocess.run(
            [_which("mungekey"), "--create", f"--keyfile={key}"], check=True, capture_output=True
        )
        key.chmod(0o600)
        self._spawn(
            "munged",
            [
                _which("munged"),
                "--foreground",
                "--force",
                f"--socket={self.munge_socket}",
                f"--key-file={key}",
                f"--pid-file={self.root / 'munge' / 'munged.pid'}",
                f"--seed-file={self.root / 'munge' / 'munged.seed'}",
                f"--log-file={self.logs / 'munged.log'}",
            ],
        )
        self._wait(self.munge_socket.exists, 20, "munged's socket")

    def _spawn(self, name: str, command: list[str]) -> None:
        out = open(self.logs / f"{name}.out", "w")
        self._processes.append(
            subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=self.env,
            )
        )
        out.close()

    def _check_alive(self) -> None:
        for process in self._processes:
            if process.poll() is not None:
                raise RuntimeError(
                    f"{process.args[0]} exited ({process.returncode}):\n{self.log_tail()}"
                    + "".join(p.read_text() for p in self.logs.glob("*.out"))
                )

    def _controller_up(self) -> bool:
        return (
            subprocess.run(
                [_which("scontrol"), "ping"], env=self.env, capture_output=True, text=True
            ).stdout.count("UP")
            > 0
        )

    def _node_idle(self) -> bool:
        state = subprocess.run(
            [_which("sinfo"), "--noheader", "--nodes", self.node, "--format=%T"],
            env=self.env,
            capture_output=True,
            text=True,
        ).stdout.split()
        return bool(state) and all(s == "idle" for s in state)

    def _wait(self, ready, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            if ready():
                return
            time.sleep(0.5)
        raise RuntimeError(f"timed out after {timeout} s waiting for {what}:\n{self.log_tail()}")
