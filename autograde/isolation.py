"""Kernels in their own namespaces, with bubblewrap (Debian's `bubblewrap`).

Each graded kernel runs as an unprivileged user (uid 65534, no capabilities)
in new user, PID, mount, network, IPC, UTS and cgroup namespaces:

- it sees only the folders bound for it, read-only (the OS libraries, the
  Python installation, the grading view of `helpers`, the data), and writes
  only in its own scratch folder; other kernels' folders, the course's
  source/, the gradebook and the host's secrets do not exist for it;
- it has its own /proc (no other process, no other environment is visible)
  and its own PID space: when the kernel ends, every process it started
  (daemons made with setsid included) ends with it;
- it has no network but a loopback of its own;
- `--die-with-parent`: a grader that dies takes its kernels with it.

    cmd = bwrap_command(reads, writes, cwd) + [python, sandbox.py, ..., "--", kernel...]
"""
import functools
import os
import shutil
import subprocess

BWRAP = "bwrap"
NOBODY = 65534
# /etc entries a Python kernel needs; the rest of /etc (shadow, ssh keys, ...) is not there.
ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf", "passwd",
       "group", "hosts", "ssl", "ca-certificates", "alternatives", "fonts", "mime.types",
       "matplotlibrc")
# Top-level folders that are symlinks on merged-/usr systems (/lib -> usr/lib).
_TOP_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


class IsolationUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create namespaces here."""


def bwrap_command(read_paths, write_paths, cwd):
    """The bwrap prefix that runs a command confined to these paths.

    read_paths: folders (or files) bound read-only at the same place.
    write_paths: folders bound writable at the same place (the scratch folder).
    cwd: the command's working folder inside.
    """
    # bubblewrap itself ignores SIGINT, so that the grader's interrupt (sent to the
    # whole process group) stops the student's cell, not the sandbox around it;
    # sandbox.py gives the kernel the default SIGINT back.
    cmd = ["env", "--ignore-signal=INT", shutil.which(BWRAP) or BWRAP, "--unshare-all", "--unshare-user",
           "--uid", str(NOBODY), "--gid", str(NOBODY), "--cap-drop", "ALL",
           "--die-with-parent", "--hostname", "sandbox",
           "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/dev/shm", "--tmpfs", "/tmp"]
    for link in _TOP_LINKS:
        if os.path.islink(link):
            cmd += ["--symlink", os.readlink(link), link]
    for name in ETC:
        path = os.path.join("/etc", name)
        if os.path.exists(path):
            cmd += ["--ro-bind", path, path]
    if os.path.isdir("/sys/devices/system/cpu"):   # torch reads the CPU layout here
        cmd += ["--ro-bind", "/sys/devices/system/cpu", "/sys/devices/system/cpu"]
    for path in _unique(read_paths):
        if path in _TOP_LINKS and os.path.islink(path) or path in ("/proc", "/dev", "/etc", "/sys"):
            continue
        if os.path.exists(path):
            cmd += ["--ro-bind", path, path]
    for path in _unique(write_paths):
        if os.path.isdir(path) and not path.startswith("/dev"):
            cmd += ["--bind", path, path]
    return cmd + ["--chdir", cwd]


def _unique(paths):
    return list(dict.fromkeys(os.path.realpath(p) for p in paths if p))


@functools.lru_cache(maxsize=1)
def probe():
    """None when bubblewrap works here, else the reason it does not."""
    exe = shutil.which(BWRAP)
    if not exe:
        return "bubblewrap (bwrap) is not installed (Debian: apt-get install bubblewrap)"
    cmd = bwrap_command(["/usr"], [], "/") + ["--", "/usr/bin/true"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap failed to start: {exc}"
    if done.returncode != 0:
        return f"bubblewrap cannot create namespaces here: {done.stderr.strip()[:300]}"
    return None


def require():
    """Raise IsolationUnavailable with the reason when kernels cannot be isolated."""
    reason = probe()
    if reason:
        raise IsolationUnavailable(reason)
