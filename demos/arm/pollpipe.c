/* pollpipe: poll(2) that waits for what it asks, on pipes, files and bad descriptors.
 * 1. An empty pipe: poll(read end, timeout 0) finds nothing; the write end is POLLOUT.
 * 2. fork; the child sleeps, writes "ping" and exits; the parent's poll(read end, -1)
 *    waits for it: one descriptor, POLLIN, and read gives "ping".
 * 3. The child ended (no writer left): POLLHUP without POLLIN, read gives 0 (EOF).
 * 4. A pipe whose writer stays open but writes nothing: poll with a 50 ms timeout ends
 *    with 0 descriptors.
 * 5. A regular file is POLLIN|POLLOUT at once; a descriptor not open is POLLNVAL; a
 *    negative one is skipped (revents 0).
 * Exit 0 if every check passed, else the number of failed checks.
 * pollpipe stdin: poll(stdin, POLLIN, -1) waits for input, then one read prints it. */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int failures;

static void check(const char *what, int ok)
{
    printf("%-46s %s\n", what, ok ? "ok" : "FAILED");
    if (!ok)
        failures++;
}

static int from_stdin(void)
{
    char line[64];
    struct pollfd in = {0, POLLIN, 0};
    int n = poll(&in, 1, -1);
    int got = (int)read(0, line, sizeof line);
    printf("stdin: poll %d, revents %#x, read %d: %.*s", n, in.revents, got, got > 0 ? got : 0, line);
    return n == 1 && (in.revents & POLLIN) ? 0 : 1;
}

int main(int argc, char **argv)
{
    int p[2], q[2];
    char buf[16];
    struct pollfd fds[3];

    if (argc > 1 && !strcmp(argv[1], "stdin"))
        return from_stdin();

    pipe(p);
    fds[0] = (struct pollfd){p[0], POLLIN, 0};
    check("empty pipe, timeout 0: nothing ready", poll(fds, 1, 0) == 0 && fds[0].revents == 0);
    fds[0] = (struct pollfd){p[1], POLLOUT, 0};
    check("write end of an empty pipe: POLLOUT", poll(fds, 1, 0) == 1 && fds[0].revents == POLLOUT);

    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        struct timespec t = {0, 20000000}; /* 20 ms */
        close(p[0]);
        nanosleep(&t, 0);
        write(p[1], "ping", 4);
        _exit(0);
    }
    close(p[1]);
    fds[0] = (struct pollfd){p[0], POLLIN, 0};
    int n = poll(fds, 1, -1);
    check("poll(-1) waits for the writer: POLLIN", n == 1 && (fds[0].revents & POLLIN));
    check("then read gives what it wrote", read(p[0], buf, sizeof buf) == 4 && !memcmp(buf, "ping", 4));
    waitpid(c, 0, 0);
    fds[0] = (struct pollfd){p[0], POLLIN, 0};
    n = poll(fds, 1, -1);
    check("writer gone: POLLHUP, no POLLIN", n == 1 && fds[0].revents == POLLHUP);
    check("then read gives 0 (end of file)", read(p[0], buf, sizeof buf) == 0);
    close(p[0]);

    pipe(q);
    fds[0] = (struct pollfd){q[0], POLLIN, 0};
    check("silent writer, timeout 50 ms: 0 ready", poll(fds, 1, 50) == 0 && fds[0].revents == 0);
    close(q[0]);
    close(q[1]);

    int f = open("/tmp/pollpipe.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
    fds[0] = (struct pollfd){f, POLLIN | POLLOUT, 0};
    fds[1] = (struct pollfd){99, POLLIN, 0}; /* never opened */
    fds[2] = (struct pollfd){-1, POLLIN, 0};
    n = poll(fds, 3, -1);
    check("file POLLIN|POLLOUT, fd not open POLLNVAL", n == 2 && fds[0].revents == (POLLIN | POLLOUT)
          && fds[1].revents == POLLNVAL);
    check("negative fd skipped", fds[2].revents == 0);
    close(f);
    unlink("/tmp/pollpipe.txt");
    printf("pollpipe: %s\n", failures ? "FAILED" : "all ok");
    return failures;
}
