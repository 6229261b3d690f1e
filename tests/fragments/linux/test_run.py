"""`l4shell run` end to end: the demo programs on the monolithic Linux personality give
the output and exit status qemu-arm-static gives (demos/arm/README.md), and runs are
deterministic."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DEMOS = ROOT / "demos" / "arm"
README = (DEMOS / "README.md").read_text()
BUSYBOX = Path("/tmp/bb/bin/busybox")


def expected(heading: str) -> str:
    """The code block under the README heading that starts with ``heading``."""
    section = README.split(f"### `{heading}", 1)[1]
    return section.split("```", 2)[1].lstrip("\n")


def run(*args, stdin: bytes = b"", timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "l4shell.cli", "run", *map(str, args)],
                          cwd=ROOT, input=stdin, capture_output=True, timeout=timeout)


def test_hello_prints_what_qemu_prints_and_exits_with_argc_minus_one():
    """The acceptance command: same bytes as qemu (argv[0] is the path given), status 2."""
    result = run("demos/arm/hello", "a", "b")
    assert result.stdout.decode() == expected("hello a b").replace("/work/main/demos/arm/hello",
                                                                    "demos/arm/hello")
    assert result.stderr == b""
    assert result.returncode == 2


def test_thumb_entry_point():
    """A Thumb-2 program (odd entry) runs; its svc advance PC by 2."""
    result = run("demos/arm/hello_thumb", "x")
    assert result.stdout.decode() == expected("hello_thumb x").replace(
        "/work/main/demos/arm/hello_thumb", "demos/arm/hello_thumb")
    assert result.returncode == 1


@pytest.mark.parametrize("program", ["compute", "compute_thumb"])
def test_compute(program):
    """A long compute loop with VFP enabled gives qemu's checksum."""
    result = run(f"demos/arm/{program}")
    assert result.stdout.decode() == expected("compute")
    assert result.returncode == 0


def test_syscall_loop():
    """Many getppid syscalls through exception IPC all answer the same."""
    result = run("demos/arm/syscall_loop", "2000")
    assert result.stdout == b"syscall_loop: 2000 getppid calls, all equal: yes\n"
    assert result.returncode == 0


@pytest.mark.parametrize("program", ["fileio", "pipes", "mmapcow", "sysall", "fillfs", "pollpipe"])
def test_programs_match_qemu(program):
    """File I/O, pipes with blocking reads, mmap and copy-on-write, ~45 syscalls, a file
    system filled to ENOSPC (the RAM here, a small tmpfs under qemu), polls that wait:
    same output as qemu and status 0."""
    result = run(f"demos/arm/{program}")
    assert result.stdout.decode() == expected(program)
    assert result.returncode == 0


def test_forkexec_runs_bin_hello_in_the_child():
    """fork + execve(/bin/hello) + wait4: the README's expected l4shell output."""
    result = run("demos/arm/forkexec")
    out = result.stdout.decode()
    assert "hello, world\nargv[0]=hello\nargv[1]=from-child\n" in out
    assert "parent: child 1 exited with status 1\n" in out
    assert "parent: child 2 exited with status 7\n" in out
    assert out.endswith("forkexec: all ok\n")
    assert result.returncode == 0


@pytest.mark.parametrize("program", ["nxstack", "nxstack_thumb"])
def test_nx_stack_kills_with_sigsegv(program):
    """Jumping to code on the NX stack faults; the pager refuses; the process dies of
    SIGSEGV: status 128+11."""
    result = run(f"demos/arm/{program}")
    assert result.stdout == b"about to jump\n"
    assert result.returncode == 139


def test_same_seed_same_trace(tmp_path):
    """Same program, same seed: the trace files are equal byte for byte."""
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    for path in (a, b):
        assert run("--seed", 7, "--trace", path, "demos/arm/pipes").returncode == 0
    assert a.read_bytes() == b.read_bytes()
    assert b'"kind":"syscall"' in a.read_bytes()


def test_seed_changes_the_layout(tmp_path):
    """ASLR draws from the seed: another seed, another stack address."""
    lines = []
    for seed in (1, 2):
        result = run("--seed", seed, "--strace", "demos/arm/hello")
        lines.append(re.search(r"TIOCGWINSZ, (0x[0-9a-f]+)\)", result.stderr.decode())[1])
    assert lines[0] != lines[1]


@pytest.mark.parametrize("content, why", [(b"not an elf at all", "not an ELF"),
                                          (b"\x7fELF\x02\x01\x01" + bytes(60), "32-bit")])
def test_malformed_elf_is_one_line_and_126(tmp_path, content, why):
    """A file that is not a static ARM executable: one line on stderr, status 126."""
    bad = tmp_path / "bad"
    bad.write_bytes(content)
    result = run(bad)
    assert result.returncode == 126
    assert result.stdout == b""
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and why in lines[0] and "Traceback" not in lines[0]


def test_missing_program_is_127():
    result = run("demos/arm/no-such-program")
    assert result.returncode == 127
    assert len(result.stderr.decode().splitlines()) == 1


def test_host_elf_is_refused():
    """The host's own (x86-64) executables are not ARM: 126."""
    result = run(sys.executable)
    assert result.returncode == 126


def test_strace_and_stats_go_to_stderr():
    """--strace and --stats print on stderr only; stdout stays the program's."""
    result = run("--strace", "--stats", "demos/arm/hello", "a")
    err = result.stderr.decode()
    assert result.stdout.decode().startswith("hello, world\n")
    assert 'writev(1, [{iov_base="hello, world' in err
    assert "exit_group(1)" in err
    assert re.search(r"syscall writev\s+2", err)
    assert "instructions" in err and "page faults" in err


def test_stdin_reaches_the_console():
    """Bytes on stdin are read through the console; EOF after them."""
    if not BUSYBOX.exists():
        pytest.skip("busybox-static:armhf not fetched")
    result = run(BUSYBOX, "sh", "-c", "read x; echo got $x; cat", stdin=b"line1\nline2\n")
    assert result.stdout == b"got line1\nline2\n"


def test_busybox_sh_pipeline():
    """Debian's unmodified busybox: sh -c with a pipeline (fork, exec of itself, pipes)."""
    if not BUSYBOX.exists():
        pytest.skip("busybox-static:armhf not fetched")
    result = run(BUSYBOX, "sh", "-c", "echo hi; ls | head -3")
    assert result.stdout == b"hi\nbin\ndev\netc\n"
    assert result.returncode == 0


QEMU = Path("/usr/bin/qemu-arm-static")
SCRATCH = "/tmp/l4shell-bbtest"
SCRIPTS = [
    "echo hi; echo there | cat",
    f"rm -rf {SCRATCH}; mkdir {SCRATCH}; cd {SCRATCH}; for i in 3 1 2; do echo line $i >> f; done;"
    " sort f | head -2; sort -r f > g; cat g; wc -l < f; ls; rm f g; ls; cd /; rmdir " + SCRATCH,
    "x=0; while [ $x -lt 5 ]; do x=$((x+1)); done; echo x=$x $((6*7))",
    "(exit 3); echo st=$?; false | true; echo $?; exit 5",
    "printf 'b\\na\\nc\\n' | sort | tr a-z A-Z | wc -c",
    "cat /no/such/file; echo $?; ls /no/such 2>/dev/null || echo missing",
    "yes | head -2; seq 1 5 | wc -l; echo $(echo sub) `echo bq`; f() { return 4; }; f; echo f=$?",
    "echo abc | grep b; echo abc | sed s/b/X/; echo 'a b c' | awk '{print $2}'",
    'trap "echo caught" INT; kill -INT $$; echo after; trap "echo term" TERM; kill $$; echo end',
    # (whether SIGCHLD interrupts the wait, 145, or comes before it, 0, is the host's timing)
    'trap "echo chld" CHLD; true & wait; echo waited; sh -c "kill -TERM \\$\\$"; echo st=$?',
    'trap "" INT; kill -INT $$; echo ignored',
    f"rm -rf {SCRATCH}; mkdir {SCRATCH}; cd {SCRATCH}; echo data > f; ln -s f l; cat l; readlink l;"
    " ln -s /no/such d; cat d 2>/dev/null || echo dangling; mkdir dd; ln -s dd dl; echo x > dl/y;"
    f" cat dd/y; exec 3<f; rm f l; cat <&3; ls; cd /; rm -r {SCRATCH}",
    f"rm -rf {SCRATCH}; mkdir {SCRATCH}; cd {SCRATCH}; touch f; chmod 640 f; stat -c %a f;"
    " chmod u+x,o+r f; ls -l f | cut -c1-10; mkdir d; chmod 1777 d; stat -c %A d;"
    f" chmod 700 /no/such; echo $?; cd /; rm -r {SCRATCH}",
    f"rm -rf {SCRATCH}; mkdir {SCRATCH}; cd {SCRATCH}; echo a > a; ln a b; cat b; stat -c %h a;"
    " echo more >> b; cat a; ln a b; echo $?; mkdir d; ln d e; echo $?; rm a; cat b; stat -c %h b;"
    f" ln -s b s; ln s h; stat -c %F h; ls; cd /; rm -r {SCRATCH}",
    f"rm -rf {SCRATCH}; mkdir {SCRATCH}; cd {SCRATCH}; touch -d '2001-02-03 04:05:06' f;"
    " stat -c '%X %Y' f; touch -r f g; stat -c %Y g; mkdir d; touch -d '1999-12-31 23:59:59' d;"
    f" stat -c %Y d; touch -d 'bad date' f; echo $?; cd /; rm -r {SCRATCH}",
    "dd if=/dev/zero bs=512 count=3 2>/dev/null | wc -c; od -An -tx1 -N4 /dev/zero;"
    " head -c 100 /dev/urandom | wc -c; echo gone > /dev/zero; echo $?",
]


@pytest.mark.parametrize("script", SCRIPTS)
def test_busybox_sh_matches_qemu(script):
    """Debian's busybox-static runs sh -c scripts (pipes, redirection into /tmp, loops,
    arithmetic, mkdir/ls/rm/cat/sort/head/wc, symlinks, a file read after its unlink, exit
    codes, chmod, hard links, touch -d, /dev/zero and /dev/urandom) exactly as under qemu-arm."""
    if not BUSYBOX.exists() or not QEMU.exists():
        pytest.skip("needs busybox-static:armhf in /tmp/bb and qemu-arm-static")
    reference = subprocess.run([QEMU, BUSYBOX, "sh", "-c", script], input=b"",
                               capture_output=True, timeout=60, cwd="/", env={**os.environ, "TZ": "UTC"})
    ours = run(BUSYBOX, "sh", "-c", script)
    assert ours.stdout == reference.stdout
    assert ours.returncode == reference.returncode


def test_dev_urandom_repeats_with_the_seed():
    """/dev/urandom draws from the machine's seeded RNG: the same seed gives the same
    bytes, another seed others (host randomness never reaches the model)."""
    if not BUSYBOX.exists():
        pytest.skip("busybox-static:armhf not fetched")
    script = "od -An -tx1 -N16 /dev/urandom"
    first, again, other = (run("--seed", seed, BUSYBOX, "sh", "-c", script).stdout for seed in (1, 1, 2))
    assert len(first.split()) == 16 and first == again != other


def test_terminal_input_is_read_line_by_line():
    """On a terminal, reads block until the user types a line; the console is a tty."""
    if not BUSYBOX.exists():
        pytest.skip("busybox-static:armhf not fetched")
    import os
    import pty
    pid, fd = pty.fork()
    if pid == 0:  # the child: l4shell on the pty
        os.chdir(ROOT)
        os.execv(sys.executable, [sys.executable, "-m", "l4shell.cli", "run", str(BUSYBOX), "sh",
                                  "-c", "read a; echo got:$a; read b; echo got:$b"])
    os.write(fd, b"one\ntwo\n")
    out = b""
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        out += data
    _, status = os.waitpid(pid, 0)
    assert b"got:one\r\ngot:two\r\n" in out
    assert os.waitstatus_to_exitcode(status) == 0
