/* fillfs: a file system that runs out of room, and holes that take none.
 *   fillfs [LIMIT_MIB]   (default 1024)
 * Writes /tmp/fill in 64 KiB pieces until a write fails (or LIMIT_MIB MiB are in): the
 * failure must be ENOSPC, the file's size what the writes that worked wrote, and a second
 * try fails the same way; then ftruncate(4096) gives the room back, so a write works again
 * and reads back; unlink. Then a sparse file: one byte at 1 MiB gives size 1 MiB + 1, one
 * page allocated (st_blocks 8) and zeros before it.
 * Prints nothing that depends on the RAM size. Exit 0 if every check passed, else the
 * number of failed checks. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PIECE 65536

static int failures;
static char piece[PIECE], back[PIECE];

static void check(const char *what, int ok)
{
    printf("%-42s %s\n", what, ok ? "ok" : "FAILED");
    if (!ok)
        failures++;
}

static int all_zero(const char *p, int n)
{
    while (n--)
        if (*p++)
            return 0;
    return 1;
}

int main(int argc, char **argv)
{
    long long limit = (long long)(argc > 1 ? atol(argv[1]) : 1024) << 20, total = 0;
    struct stat st;
    ssize_t n = 0;
    int err = 0, i;

    for (i = 0; i < PIECE; i++)
        piece[i] = (char)(i * 7 + 1);
    int fd = open("/tmp/fill", O_CREAT | O_TRUNC | O_RDWR, 0644);
    check("open(O_CREAT) /tmp/fill", fd >= 0);
    while (total < limit) {
        n = write(fd, piece, PIECE);
        if (n <= 0) {
            err = errno;
            break;
        }
        total += n;      /* a short write (Linux's tmpfs) counts; the next one fails */
    }
    if (total >= limit) {
        printf("stopped at the limit (%lld MiB) before the file system was full\n", limit >> 20);
    } else {
        check("some writes worked before it was full", total > 0);
        printf("write when full -> %d, errno %s\n", (int)n, err == ENOSPC ? "ENOSPC" : strerror(err));
        check("the write that failed gave ENOSPC", n == -1 && err == ENOSPC);
        check("size is what the writes that worked wrote", fstat(fd, &st) == 0 && st.st_size == total);
        errno = 0;
        n = write(fd, piece, PIECE);
        check("a second try: ENOSPC again", n == -1 && errno == ENOSPC);
    }
    check("ftruncate(4096) gives the room back", ftruncate(fd, 4096) == 0);
    check("size 4096", fstat(fd, &st) == 0 && st.st_size == 4096);
    lseek(fd, 4096, SEEK_SET);
    check("a 64 KiB write works again", write(fd, piece, PIECE) == PIECE);
    lseek(fd, 4096, SEEK_SET);
    check("and reads back", read(fd, back, PIECE) == PIECE && !memcmp(back, piece, PIECE));
    close(fd);
    check("unlink /tmp/fill", unlink("/tmp/fill") == 0);

    fd = open("/tmp/sparse", O_CREAT | O_TRUNC | O_RDWR, 0644);
    check("open(O_CREAT) /tmp/sparse", fd >= 0);
    lseek(fd, 1 << 20, SEEK_SET);
    check("write 1 byte at 1 MiB", write(fd, "x", 1) == 1);
    check("size 1 MiB + 1", fstat(fd, &st) == 0 && st.st_size == (1 << 20) + 1);
    printf("st_blocks = %lld\n", (long long)st.st_blocks);
    check("one page allocated (st_blocks 8)", st.st_blocks == 8);
    lseek(fd, 0, SEEK_SET);
    check("the hole reads as zeros", read(fd, back, PIECE) == PIECE && all_zero(back, PIECE));
    lseek(fd, 1 << 20, SEEK_SET);
    check("the byte reads back", read(fd, back, 2) == 1 && back[0] == 'x');
    close(fd);
    check("unlink /tmp/sparse", unlink("/tmp/sparse") == 0);

    printf("fillfs: %s (%d failed)\n", failures ? "FAILED" : "all ok", failures);
    return failures;
}
