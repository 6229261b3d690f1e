/* notes: prints a file; with TEXT, appends it as a line, syncs, and prints the file again.
 *   notes FILE [TEXT]
 * Exit 0, or 1 if the file cannot be opened. The program of the dm-crypt walkthrough. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int show(const char *path)
{
    char buf[512];
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        perror(path);
        return 1;
    }
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        fwrite(buf, 1, (size_t)n, stdout);
    close(fd);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: notes FILE [TEXT]\n");
        return 2;
    }
    if (show(argv[1]))
        return 1;
    if (argc > 2) {
        int fd = open(argv[1], O_WRONLY | O_APPEND);
        if (fd < 0 || write(fd, argv[2], strlen(argv[2])) < 0 || write(fd, "\n", 1) < 0) {
            perror("append");
            return 1;
        }
        fsync(fd);
        close(fd);
        printf("-- after appending --\n");
        return show(argv[1]);
    }
    return 0;
}
