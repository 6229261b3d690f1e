/* sysall: exercises many syscalls once each and prints one line per call.
 * Only host-independent facts are printed (return values that do not depend on
 * time, randomness, pids, uids or the host), otherwise "ok" / "errno N".
 * Exit status: the number of calls that failed but should have succeeded. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static int failures;

/* print "name: ok" or "name: errno N"; count a failure if r < 0 */
static long must(const char *name, long r)
{
    if (r < 0) {
        printf("%-28s errno %d\n", name, errno);
        failures++;
    } else {
        printf("%-28s ok\n", name);
    }
    return r;
}

/* print "name: value" and count a failure unless ok */
static void val(const char *name, long value, int ok)
{
    if (ok) {
        printf("%-28s %ld\n", name, value);
    } else {
        printf("%-28s %ld (errno %d) UNEXPECTED\n", name, value, errno);
        failures++;
    }
}

static void yes(const char *name, int ok)
{
    printf("%-28s %s\n", name, ok ? "yes" : "no");
    if (!ok)
        failures++;
}

static void on_sigint(int sig) { (void)sig; }

int main(void)
{
    const char *fa = "/tmp/sysall.a", *fb = "/tmp/sysall.b";
    char buf[256];
    long r;

    /* identity */
    struct utsname u;
    must("uname", uname(&u));
    printf("%-28s %s\n", "uname.sysname", u.sysname);
    long uid = must("getuid32", syscall(SYS_getuid32));
    long euid = must("geteuid32", syscall(SYS_geteuid32));
    long gid = must("getgid32", syscall(SYS_getgid32));
    long egid = must("getegid32", syscall(SYS_getegid32));
    yes("uid == euid", uid == euid);
    yes("gid == egid", gid == egid);
    yes("getpid > 0", getpid() > 0);
    yes("gettid == getpid", syscall(SYS_gettid) == getpid());
    yes("getppid > 0", getppid() > 0);

    /* time */
    struct timespec ts, ts2;
    must("clock_gettime(REALTIME)", clock_gettime(CLOCK_REALTIME, &ts));
    must("clock_gettime(MONOTONIC)", clock_gettime(CLOCK_MONOTONIC, &ts));
    struct timeval tv;
    must("gettimeofday", syscall(78 /* ARM EABI gettimeofday (time32) */, &tv, NULL));
    struct timespec req = {0, 1000000}; /* 1 ms */
    val("nanosleep(1 ms)", nanosleep(&req, NULL), 1);
    must("clock_gettime again", clock_gettime(CLOCK_MONOTONIC, &ts2));
    yes("monotonic clock advanced",
        ts2.tv_sec > ts.tv_sec || (ts2.tv_sec == ts.tv_sec && ts2.tv_nsec > ts.tv_nsec));
    yes("sched_yield", syscall(SYS_sched_yield) == 0);

    /* randomness */
    r = getrandom(buf, 16, 0);
    val("getrandom(16)", r, r == 16);

    /* cwd */
    val("chdir(/tmp)", chdir("/tmp"), 1);
    char *cwd = getcwd(buf, sizeof buf);
    printf("%-28s %s\n", "getcwd", cwd ? cwd : "(failed)");
    if (!cwd)
        failures++;

    /* umask: set 027, restore; the second call returns 027 */
    mode_t old = umask(027);
    mode_t back = umask(old);
    printf("%-28s %03o\n", "umask(old) returns", (unsigned)back);
    if (back != 027)
        failures++;

    /* access */
    val("access(/tmp, W_OK)", access("/tmp", W_OK), 1);
    errno = 0;
    r = access("/nonexistent.l4shell", F_OK);
    val("access(missing) errno", errno, r < 0 && errno == ENOENT);

    /* readlink /proc/self/exe: only whether it worked */
    r = readlink("/proc/self/exe", buf, sizeof buf);
    if (r > 0)
        printf("%-28s ok\n", "readlink(/proc/self/exe)");
    else
        printf("%-28s errno %d\n", "readlink(/proc/self/exe)", errno);

    /* files: openat, fcntl, _llseek, statx, fstatat64, faccessat, renameat,
       unlinkat, dup3 */
    int fd = must("open(O_CREAT)", open(fa, O_CREAT | O_TRUNC | O_RDWR, 0600));
    val("write(10)", write(fd, "0123456789", 10), 1);
    val("fcntl(F_GETFD)", fcntl(fd, F_GETFD), 1);
    val("fcntl(F_SETFD, CLOEXEC)", fcntl(fd, F_SETFD, FD_CLOEXEC), 1);
    val("fcntl(F_GETFD) again", fcntl(fd, F_GETFD), 1);
    val("fcntl(F_GETFL) & O_ACCMODE", fcntl(fd, F_GETFL) & O_ACCMODE, 1);
    long long pos = -1;
    r = syscall(SYS__llseek, fd, 0, 3, &pos, SEEK_SET);
    val("_llseek(3)", r, r == 0);
    val("_llseek result", (long)pos, pos == 3);
    r = read(fd, buf, 4);
    buf[r > 0 ? r : 0] = 0;
    printf("%-28s %ld \"%s\"\n", "read(4) after _llseek", r, buf);

    unsigned char sx[256];
    memset(sx, 0, sizeof sx);
    r = syscall(SYS_statx, AT_FDCWD, fa, 0, 0x200 /* STATX_SIZE */, sx);
    unsigned long long sxsize;
    memcpy(&sxsize, sx + 40, 8); /* stx_size */
    val("statx", r, r == 0);
    val("statx.stx_size", (long)sxsize, sxsize == 10);

    unsigned char st64[128];
    memset(st64, 0, sizeof st64);
    r = syscall(SYS_fstatat64, AT_FDCWD, fa, st64, 0);
    long long stsize;
    memcpy(&stsize, st64 + 48, 8); /* struct stat64.st_size on ARM EABI */
    val("fstatat64", r, r == 0);
    val("fstatat64.st_size", (long)stsize, stsize == 10);
    struct stat st;
    r = fstat(fd, &st);
    val("fstat.st_size", (long)st.st_size, r == 0 && st.st_size == 10);

    val("faccessat(R_OK)", faccessat(AT_FDCWD, fa, R_OK, 0), 1);
    val("renameat", renameat(AT_FDCWD, fa, AT_FDCWD, fb), 1);
    errno = 0;
    r = faccessat(AT_FDCWD, fa, F_OK, 0);
    val("faccessat(old name) errno", errno, r < 0 && errno == ENOENT);
    int fd3 = dup3(fd, 20, O_CLOEXEC);
    val("dup3(fd, 20, O_CLOEXEC)", fd3, fd3 == 20);
    val("fcntl(20, F_GETFD)", fcntl(20, F_GETFD), 1);
    val("close(20)", close(20), 1);
    val("close(fd)", close(fd), 1);
    errno = 0;
    r = close(fd);
    val("close(fd) again errno", errno, r < 0 && errno == EBADF);
    val("unlinkat", unlinkat(AT_FDCWD, fb, 0), 1);

    /* pipes, writev/readv */
    int p[2];
    val("pipe2(O_CLOEXEC)", pipe2(p, O_CLOEXEC), 1);
    val("fcntl(pipe, F_GETFD)", fcntl(p[0], F_GETFD), 1);
    struct iovec wv[2] = {{"ab", 2}, {"cde", 3}};
    val("writev(2+3)", writev(p[1], wv, 2), 1);
    char r1[4] = {0}, r2[4] = {0};
    struct iovec rv[2] = {{r1, 3}, {r2, 2}};
    r = readv(p[0], rv, 2);
    printf("%-28s %ld \"%s\" \"%s\"\n", "readv(3+2)", r, r1, r2);
    if (r != 5 || strcmp(r1, "abc") || strcmp(r2, "de"))
        failures++;
    close(p[0]);
    close(p[1]);

    /* terminal: only whether it succeeded */
    struct winsize ws;
    r = ioctl(1, TIOCGWINSZ, &ws);
    if (r == 0)
        printf("%-28s ok\n", "ioctl(1, TIOCGWINSZ)");
    else
        printf("%-28s errno %d\n", "ioctl(1, TIOCGWINSZ)", errno);

    /* signals */
    val("kill(getpid(), 0)", kill(getpid(), 0), 1);
    struct sigaction sa, oldsa, cur;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    val("rt_sigaction(SIGINT)", sigaction(SIGINT, &sa, &oldsa), 1);
    sigaction(SIGINT, NULL, &cur);
    yes("SIGINT handler installed", cur.sa_handler == on_sigint);
    sigset_t set, oldset, now;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    val("rt_sigprocmask(BLOCK USR1)", sigprocmask(SIG_BLOCK, &set, &oldset), 1);
    sigprocmask(SIG_BLOCK, NULL, &now);
    yes("SIGUSR1 blocked", sigismember(&now, SIGUSR1) == 1);
    sigprocmask(SIG_SETMASK, &oldset, NULL);
    sigaction(SIGINT, &oldsa, NULL);

    /* resource limits */
    struct rlimit rl;
    val("prlimit64(NOFILE, get)", syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &rl), 1);
    val("getrlimit(STACK)", getrlimit(RLIMIT_STACK, &rl), 1);

    /* process groups */
    yes("getpgid(0) == getpgrp()", getpgid(0) == getpgrp());
    val("setpgid(0, 0)", setpgid(0, 0), 1);
    yes("getpgrp() == getpid()", getpgrp() == getpid());

    printf("sysall: %s (%d unexpected)\n", failures ? "FAILED" : "all ok", failures);
    return failures;
}
