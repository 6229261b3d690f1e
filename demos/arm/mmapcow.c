/* mmapcow: anonymous mmap, mprotect, and copy-on-write across fork.
 * The child changes a global, a malloc'ed buffer and the mmap area; the parent
 * then checks that its own copies are unchanged and prints "cow ok".
 * Exit 0 if all checks passed, 1 otherwise. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAP_LEN (64 * 1024)
#define HEAP_LEN 8192

static volatile int global_value = 1;
static int failures;

static void check(const char *what, int ok)
{
    printf("%-40s %s\n", what, ok ? "ok" : "FAILED");
    if (!ok)
        failures++;
}

static unsigned pattern(unsigned i) { return (i * 7u + 3u) & 0xffu; }

static int map_intact(const unsigned char *m)
{
    for (unsigned i = 0; i < MAP_LEN; i++)
        if (m[i] != pattern(i))
            return 0;
    return 1;
}

int main(void)
{
    unsigned char *heap = malloc(HEAP_LEN);
    check("malloc 8 KiB", heap != NULL);
    if (!heap)
        return 1;
    memset(heap, 'H', HEAP_LEN);

    unsigned char *m = mmap(NULL, MAP_LEN, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check("mmap 64 KiB anonymous", m != MAP_FAILED);
    if (m == MAP_FAILED)
        return 1;
    int zero = 1;
    for (unsigned i = 0; i < MAP_LEN; i++)
        zero &= m[i] == 0;
    check("fresh mapping reads as zeros", zero);
    for (unsigned i = 0; i < MAP_LEN; i++)
        m[i] = (unsigned char)pattern(i);

    check("mprotect PROT_READ", mprotect(m, MAP_LEN, PROT_READ) == 0);
    check("pattern readable while read-only", map_intact(m));
    check("mprotect PROT_READ|PROT_WRITE", mprotect(m, MAP_LEN, PROT_READ | PROT_WRITE) == 0);
    m[0] = (unsigned char)pattern(0); /* writable again */
    check("write after mprotect back", map_intact(m));

    fflush(stdout);
    pid_t c = fork();
    if (c < 0) {
        printf("fork failed: errno %d\n", errno);
        return 1;
    }
    if (c == 0) {
        global_value = 2;
        memset(heap, 'C', HEAP_LEN);
        memset(m, 0xAA, MAP_LEN);
        int ok = global_value == 2 && heap[HEAP_LEN - 1] == 'C' && m[MAP_LEN - 1] == 0xAA;
        printf("child: modified global, heap and mmap area: %s\n", ok ? "ok" : "FAILED");
        fflush(stdout);
        _exit(ok ? 0 : 1);
    }
    int status;
    waitpid(c, &status, 0);
    check("child exited 0", WIFEXITED(status) && WEXITSTATUS(status) == 0);

    int heap_ok = 1;
    for (unsigned i = 0; i < HEAP_LEN; i++)
        heap_ok &= heap[i] == 'H';
    check("parent global unchanged", global_value == 1);
    check("parent heap unchanged", heap_ok);
    check("parent mmap area unchanged", map_intact(m));
    if (global_value == 1 && heap_ok && map_intact(m))
        printf("cow ok\n");
    else
        printf("cow FAILED\n");

    /* the parent can still write its copy after the child is gone */
    m[100] = 0x55;
    check("parent writes its copy", m[100] == 0x55);
    check("munmap", munmap(m, MAP_LEN) == 0);
    free(heap);

    printf("mmapcow: %s\n", failures ? "FAILED" : "all ok");
    return failures ? 1 : 0;
}
