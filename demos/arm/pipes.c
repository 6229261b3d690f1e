/* pipes: pipe + fork, and a pipe to oneself through dup2.
 * The child writes 3 lines of 5000 bytes each (4 KiB+, so a line spans more
 * than one pipe page); the parent reads until EOF and prints the byte count,
 * line count and an FNV-1a checksum, then compares with the expected values.
 * Exit 0 if all checks passed, 1 otherwise. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define LINES 3
#define LINE_LEN 5000 /* including the '\n' */

static unsigned fnv1a(unsigned h, const unsigned char *p, size_t n)
{
    while (n--) {
        h ^= *p++;
        h *= 16777619u;
    }
    return h;
}

static void make_line(unsigned char *line, int i)
{
    for (int j = 0; j < LINE_LEN - 1; j++)
        line[j] = 'a' + (i * 7 + j) % 26;
    line[LINE_LEN - 1] = '\n';
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static unsigned char line[LINE_LEN];
static unsigned char rbuf[3000]; /* deliberately smaller than a line */

int main(void)
{
    int failures = 0;
    int p[2];
    unsigned expect = 2166136261u, sum = 2166136261u;
    long total = 0;
    int newlines = 0;

    for (int i = 0; i < LINES; i++) {
        make_line(line, i);
        expect = fnv1a(expect, line, LINE_LEN);
    }

    if (pipe(p) < 0) {
        printf("pipe failed: errno %d\n", errno);
        return 1;
    }
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        close(p[0]);
        for (int i = 0; i < LINES; i++) {
            make_line(line, i);
            if (write_all(p[1], line, LINE_LEN) < 0)
                _exit(1);
        }
        close(p[1]);
        _exit(0);
    }
    close(p[1]);
    for (;;) {
        ssize_t n = read(p[0], rbuf, sizeof rbuf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        total += n;
        sum = fnv1a(sum, rbuf, (size_t)n);
        for (ssize_t k = 0; k < n; k++)
            newlines += rbuf[k] == '\n';
    }
    close(p[0]);
    int status;
    waitpid(c, &status, 0);
    printf("pipe+fork: read %ld bytes, %d lines, checksum 0x%08x\n", total, newlines, sum);
    printf("pipe+fork: expected %d bytes, checksum 0x%08x: %s\n", LINES * LINE_LEN, expect,
           (total == LINES * LINE_LEN && sum == expect && newlines == LINES) ? "match" : "MISMATCH");
    printf("pipe+fork: writer exit status %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    if (total != LINES * LINE_LEN || sum != expect || newlines != LINES ||
        !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        failures++;

    /* pipe to ourselves: stdout redirected into the pipe with dup2 */
    int q[2];
    char buf[128];
    if (pipe(q) < 0) {
        printf("pipe failed: errno %d\n", errno);
        return 1;
    }
    fflush(stdout);
    int saved = dup(1);
    dup2(q[1], 1);
    printf("this line went through the pipe\n");
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    close(q[1]);
    ssize_t n = read(q[0], buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    close(q[0]);
    printf("self-pipe: read %d bytes: %s", (int)n, buf);
    if (n != 32 || strcmp(buf, "this line went through the pipe\n"))
        failures++;

    printf("pipes: %s\n", failures ? "FAILED" : "all ok");
    return failures ? 1 : 0;
}
