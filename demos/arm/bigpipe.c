/* bigpipe: pipes of bounded capacity (64 KiB), writers that block and wake.
 * 1. fork; the child writes 300000 bytes into a pipe in 50000-byte writes (each
 *    must return 50000: a blocking writer waits until all of it is in) and exits;
 *    the parent sleeps first (so the child fills the pipe and blocks), then reads
 *    everything and prints the byte count and an FNV-1a checksum.
 * 2. O_NONBLOCK: a 70000-byte write into an empty pipe puts in 65536 bytes, then
 *    a 1-byte write gives EAGAIN.
 * Exit 0 if all checks passed, 1 otherwise. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TOTAL 300000
#define CHUNK 50000

static unsigned char wbuf[70000];
static unsigned char rbuf[7000];

static unsigned fnv1a(unsigned h, const unsigned char *p, size_t n)
{
    while (n--) {
        h ^= *p++;
        h *= 16777619u;
    }
    return h;
}

static void nap(void)
{
    struct timespec t = {0, 100000000}; /* 100 ms */
    nanosleep(&t, 0);
}

static int child_status(pid_t c)
{
    int status;
    waitpid(c, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int big_transfer(void)
{
    int p[2];
    unsigned expect = 2166136261u, sum = 2166136261u;
    long total = 0;

    for (long i = 0; i < TOTAL; i++) {
        unsigned char b = (unsigned char)(i * 7 + i / 251);
        expect = fnv1a(expect, &b, 1);
    }
    pipe(p);
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        close(p[0]);
        for (long off = 0; off < TOTAL; off += CHUNK) {
            for (long i = 0; i < CHUNK; i++)
                wbuf[i] = (unsigned char)((off + i) * 7 + (off + i) / 251);
            if (write(p[1], wbuf, CHUNK) != CHUNK)
                _exit(1);
        }
        _exit(0);
    }
    close(p[1]);
    nap();
    for (;;) {
        ssize_t n = read(p[0], rbuf, sizeof rbuf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        total += n;
        sum = fnv1a(sum, rbuf, (size_t)n);
    }
    close(p[0]);
    int status = child_status(c);
    printf("bigpipe: read %ld bytes, checksum 0x%08x, expected 0x%08x: %s\n", total, sum, expect,
           total == TOTAL && sum == expect ? "match" : "MISMATCH");
    printf("bigpipe: writer exit status %d\n", status);
    return total == TOTAL && sum == expect && status == 0;
}

static int nonblocking(void)
{
    int p[2];
    pipe(p);
    fcntl(p[1], F_SETFL, O_NONBLOCK);
    ssize_t a = write(p[1], wbuf, 70000);
    ssize_t b = write(p[1], wbuf, 1);
    int e = errno;
    printf("nonblock: 70000-byte write put %zd, then 1 byte: %zd (%s)\n", a, b,
           e == EAGAIN ? "EAGAIN" : "other");
    close(p[0]);
    close(p[1]);
    return a == 65536 && b == -1 && e == EAGAIN;
}

int main(void)
{
    int ok = big_transfer();
    ok &= nonblocking();
    return ok ? 0 : 1;
}
