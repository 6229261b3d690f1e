/* fileio: file-system syscalls on /tmp.
 * open/write/append/lseek/read/stat/rename/readdir(getdents64)/unlink/
 * mkdir/rmdir/dup2.  Prints one line per step; exit 0 if every check passed,
 * otherwise the number of failed checks. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int failures;

static void check(const char *what, int ok)
{
    printf("%-34s %s\n", what, ok ? "ok" : "FAILED");
    if (!ok)
        failures++;
}

int main(void)
{
    const char *first = "hello file\n";      /* 11 bytes */
    const char *second = "appended line\n";  /* 14 bytes */
    char buf[128];
    struct stat st;
    int fd, fd2;
    ssize_t n;
    off_t off;

    /* create + write */
    fd = open("/tmp/f.txt", O_CREAT | O_TRUNC | O_WRONLY, 0644);
    check("open(O_CREAT) /tmp/f.txt", fd >= 0);
    n = write(fd, first, strlen(first));
    printf("write -> %d\n", (int)n);
    check("write 11 bytes", n == 11);
    close(fd);

    /* append */
    fd = open("/tmp/f.txt", O_WRONLY | O_APPEND);
    n = write(fd, second, strlen(second));
    printf("append -> %d\n", (int)n);
    check("append 14 bytes", n == 14);
    close(fd);

    /* lseek + read */
    fd = open("/tmp/f.txt", O_RDWR);
    check("open(O_RDWR)", fd >= 0);
    off = lseek(fd, 6, SEEK_SET);
    n = read(fd, buf, 4);
    buf[n > 0 ? n : 0] = 0;
    printf("lseek(6) -> %d, read(4) -> \"%s\"\n", (int)off, buf);
    check("lseek+read middle", off == 6 && n == 4 && !strcmp(buf, "file"));
    off = lseek(fd, 0, SEEK_END);
    printf("lseek(0, SEEK_END) -> %d\n", (int)off);
    check("lseek SEEK_END == 25", off == 25);
    lseek(fd, 0, SEEK_SET);
    n = read(fd, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    printf("read all -> %d bytes:\n%s", (int)n, buf);
    check("read back whole file", n == 25 && !strncmp(buf, "hello file\nappended line\n", 25));
    n = read(fd, buf, sizeof buf);
    check("read at EOF returns 0", n == 0);

    /* dup2: write through a duplicate, read back through the original */
    fd2 = dup2(fd, 10);
    printf("dup2(fd, 10) -> %d\n", fd2);
    n = write(10, "dup2 line\n", 10);
    close(10);
    check("write through dup2'd fd", fd2 == 10 && n == 10);
    lseek(fd, 25, SEEK_SET);
    n = read(fd, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    check("read back dup2 write", n == 10 && !strcmp(buf, "dup2 line\n"));
    close(fd);

    /* stat */
    check("stat /tmp/f.txt", stat("/tmp/f.txt", &st) == 0);
    printf("stat size = %lld, regular file: %s\n", (long long)st.st_size,
           S_ISREG(st.st_mode) ? "yes" : "no");
    check("size == 35", st.st_size == 35 && S_ISREG(st.st_mode));

    /* rename */
    check("rename f.txt -> f2.txt", rename("/tmp/f.txt", "/tmp/f2.txt") == 0);
    errno = 0;
    check("old name gone (ENOENT)", stat("/tmp/f.txt", &st) < 0 && errno == ENOENT);
    check("new name present", stat("/tmp/f2.txt", &st) == 0 && st.st_size == 35);

    /* readdir (getdents64 under opendir/readdir) */
    DIR *d = opendir("/tmp");
    check("opendir /tmp", d != NULL);
    int found = 0, dots = 0;
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, "f2.txt"))
                found = 1;
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                dots++;
        }
        closedir(d);
    }
    printf("readdir /tmp: f2.txt %s, . and .. %s\n", found ? "found" : "missing",
           dots == 2 ? "found" : "missing");
    check("readdir finds f2.txt", found);

    /* unlink */
    check("unlink /tmp/f2.txt", unlink("/tmp/f2.txt") == 0);
    errno = 0;
    check("unlinked file gone (ENOENT)", stat("/tmp/f2.txt", &st) < 0 && errno == ENOENT);

    /* mkdir / rmdir */
    rmdir("/tmp/l4shell.d"); /* leftover from an interrupted run */
    check("mkdir /tmp/l4shell.d", mkdir("/tmp/l4shell.d", 0755) == 0);
    check("stat says directory", stat("/tmp/l4shell.d", &st) == 0 && S_ISDIR(st.st_mode));
    errno = 0;
    check("mkdir again -> EEXIST", mkdir("/tmp/l4shell.d", 0755) < 0 && errno == EEXIST);
    check("rmdir /tmp/l4shell.d", rmdir("/tmp/l4shell.d") == 0);
    errno = 0;
    check("rmdir again -> ENOENT", rmdir("/tmp/l4shell.d") < 0 && errno == ENOENT);

    printf("fileio: %s (%d failed)\n", failures ? "FAILED" : "all ok", failures);
    return failures;
}
