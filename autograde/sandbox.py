"""Confine a student's kernel, then exec it: `python -m autograde.sandbox [limits] -- CMD...`.

The grader starts every kernel through this wrapper (see execute.SandboxedKernelManager).
Before it replaces itself with the kernel (os.execvp: same process, same pid), it

- sets resource limits: address space (memory), CPU seconds, largest file written,
  no core dumps, and optionally the number of processes;
- asks the kernel to die with its parent (PR_SET_PDEATHSIG), so a grader worker
  that is killed never leaves a student's kernel running;
- applies a Landlock ruleset (Linux >= 5.13, no root needed): the kernel and all
  its children may read only the listed folders (system files, the Python
  installation, the course helpers and data, their work folder) and write only
  in their work folder and private tmp; with Landlock ABI >= 4 they may not open
  or accept TCP connections (the kernel talks to the grader over Unix sockets);
  with ABI >= 6 they may not signal processes outside the sandbox (the grader)
  nor reach abstract Unix sockets outside it.

Without Landlock (an old kernel, another OS) the rlimits still apply and a
warning is printed on stderr (the worker logs it). `--require-landlock` turns
that warning into an error.
"""
import argparse
import ctypes
import os
import resource
import signal
import sys

# --- Landlock constants (include/uapi/linux/landlock.h) ----------------------
_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1 << 0
_RULE_PATH_BENEATH, _RULE_NET_PORT = 1, 2
_PR_SET_NO_NEW_PRIVS, _PR_SET_PDEATHSIG = 38, 1

FS = {
    "execute": 1 << 0, "write_file": 1 << 1, "read_file": 1 << 2, "read_dir": 1 << 3,
    "remove_dir": 1 << 4, "remove_file": 1 << 5, "make_char": 1 << 6, "make_dir": 1 << 7,
    "make_reg": 1 << 8, "make_sock": 1 << 9, "make_fifo": 1 << 10, "make_block": 1 << 11,
    "make_sym": 1 << 12, "refer": 1 << 13, "truncate": 1 << 14, "ioctl_dev": 1 << 15,
}
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1

# What each ABI version knows about (newer bits make older kernels refuse the ruleset).
_FS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}
_FILE_ONLY = FS["execute"] | FS["write_file"] | FS["read_file"] | FS["truncate"] | FS["ioctl_dev"]


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64),
                ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def landlock_abi():
    """The Landlock ABI version of the running kernel, or 0 when there is none."""
    if not sys.platform.startswith("linux"):
        return 0
    try:
        version = _libc.syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0),
                                ctypes.c_uint32(_CREATE_RULESET_VERSION))
    except (AttributeError, OSError):
        return 0
    return max(int(version), 0)


def _fs_mask(abi):
    return _FS_BY_ABI[max(v for v in _FS_BY_ABI if v <= abi)]


def apply_landlock(read_paths, write_paths, abi=None, allow_tcp=False):
    """Restrict this process (and what it execs) to the given paths.

    read_paths: may be read and executed; write_paths: anything (create,
    write, delete) inside. Missing paths are skipped. Returns a short
    description of what was applied. Raises OSError when the kernel refuses.
    """
    abi = landlock_abi() if abi is None else abi
    if abi < 1:
        raise OSError("Landlock is not available in this kernel")
    handled_fs = _fs_mask(abi)
    read_access = (FS["execute"] | FS["read_file"] | FS["read_dir"] | FS["ioctl_dev"]) & handled_fs
    attr = _RulesetAttr(handled_fs, 0, 0)
    size = 8
    if abi >= 4:
        # no rules: no TCP at all (unless the kernel has a network namespace of its own)
        attr.handled_access_net = 0 if allow_tcp else NET_BIND_TCP | NET_CONNECT_TCP
        size = 16
    if abi >= 6:
        attr.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
        size = 24
    ruleset = _libc.syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size),
                            ctypes.c_uint32(0))
    if ruleset < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"landlock_create_ruleset: {os.strerror(err)}")
    try:
        for paths, access in ((read_paths, read_access), (write_paths, handled_fs)):
            for path in paths:
                _add_path_rule(ruleset, path, access)
        if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"prctl(NO_NEW_PRIVS): {os.strerror(err)}")
        if _libc.syscall(_SYS_RESTRICT_SELF, ruleset, ctypes.c_uint32(0)) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"landlock_restrict_self: {os.strerror(err)}")
    finally:
        os.close(ruleset)
    parts = [f"landlock ABI {abi}: read {len(read_paths)} paths, write {len(write_paths)}"]
    if abi >= 4 and not allow_tcp:
        parts.append("no TCP")
    if abi >= 6:
        parts.append("signals and abstract sockets scoped")
    return ", ".join(parts)


def _add_path_rule(ruleset, path, access):
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # a listed path that does not exist on this machine
    try:
        if not os.path.isdir(path):
            access &= _FILE_ONLY
        rule = _PathBeneathAttr(access, fd)
        if _libc.syscall(_SYS_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(rule),
                         ctypes.c_uint32(0)) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"landlock_add_rule({path}): {os.strerror(err)}")
    finally:
        os.close(fd)


def set_limits(memory_mb=0, cpu_seconds=0, file_size_mb=0, max_processes=0):
    """Apply rlimits to this process (0 leaves a limit as it is)."""
    def cap(which, value, slack=0):
        _, hard = resource.getrlimit(which)
        new_hard = value + slack
        if hard != resource.RLIM_INFINITY:
            value, new_hard = min(value, hard), min(new_hard, hard)
        resource.setrlimit(which, (value, new_hard))

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if memory_mb:
        cap(resource.RLIMIT_AS, int(memory_mb) * 2**20)
    if cpu_seconds:
        cap(resource.RLIMIT_CPU, int(cpu_seconds), slack=5)  # SIGXCPU, then SIGKILL
    if file_size_mb:
        cap(resource.RLIMIT_FSIZE, int(file_size_mb) * 2**20)
    if max_processes:
        cap(resource.RLIMIT_NPROC, int(max_processes))


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m autograde.sandbox",
        description="Apply memory/CPU/file limits and a Landlock ruleset, then exec CMD.",
    )
    parser.add_argument("--memory-mb", type=int, default=0, help="address-space limit (0: none)")
    parser.add_argument("--cpu-seconds", type=int, default=0, help="CPU time limit (0: none)")
    parser.add_argument("--file-size-mb", type=int, default=0, help="largest file written (0: none)")
    parser.add_argument("--max-processes", type=int, default=0, help="RLIMIT_NPROC (0: none)")
    parser.add_argument("--read", action="append", default=[], metavar="PATH",
                        help="a folder the kernel may read (repeat)")
    parser.add_argument("--write", action="append", default=[], metavar="PATH",
                        help="a folder the kernel may write in (repeat)")
    parser.add_argument("--no-landlock", action="store_true", help="rlimits only")
    parser.add_argument("--require-landlock", action="store_true",
                        help="fail instead of warning when Landlock is unavailable")
    parser.add_argument("--allow-tcp", action="store_true",
                        help="let Landlock allow TCP (inside a private network namespace)")
    parser.add_argument("--report-fd", type=int, default=2,
                        help="where this wrapper's own messages go (closed before the exec, so "
                             "the kernel cannot write on it)")
    parser.add_argument("cmd", nargs=argparse.REMAINDER, help="-- the command to exec")
    args = parser.parse_args(argv)
    if args.cmd and args.cmd[0] == "--":
        args.cmd = args.cmd[1:]
    if not args.cmd:
        parser.error("missing the command to run after '--'")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)

    def report(message, code):
        os.write(args.report_fd, (message + "\n").encode())
        sys.exit(code)

    if sys.platform.startswith("linux"):
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() == 1 and not os.environ.get("AUTOGRADE_ISOLATED"):
            sys.exit(1)   # the parent already died between fork and prctl
    try:
        set_limits(args.memory_mb, args.cpu_seconds, args.file_size_mb, args.max_processes)
    except (ValueError, OSError) as exc:
        report(f"autograde.sandbox: cannot set resource limits: {exc}", 70)
    if not args.no_landlock:
        abi = landlock_abi()
        if abi < 1:
            message = ("autograde.sandbox: WARNING Landlock is not available: the student's "
                       "kernel can write anywhere the grader can")
            if args.require_landlock:
                report(message.replace("WARNING", "ERROR"), 71)
            os.write(args.report_fd, (message + "\n").encode())
        else:
            try:
                apply_landlock(args.read, args.write, abi, allow_tcp=args.allow_tcp)
            except OSError as exc:
                report(f"autograde.sandbox: Landlock failed: {exc}", 72)
    if args.report_fd > 2:
        os.close(args.report_fd)
    if os.environ.get("AUTOGRADE_ISOLATED"):
        # In its own PID namespace the kernel's parent is bubblewrap's init (pid 1), which
        # ipykernel would read as "my parent died"; bubblewrap's --die-with-parent does
        # that job instead.
        os.environ.pop("JPY_PARENT_PID", None)
        signal.signal(signal.SIGINT, signal.SIG_DFL)   # bubblewrap was started ignoring it
    os.execvp(args.cmd[0], args.cmd)


if __name__ == "__main__":
    main()
