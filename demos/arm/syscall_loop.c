/* syscall_loop: the cost of a trivial syscall.
 *   syscall_loop [N]   (N defaults to 100000)
 * Calls syscall(SYS_getppid) N times and prints how many calls were made and
 * whether they all returned the same value.  Exit 0 if they did. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 0) : 100000;
    long first = syscall(SYS_getppid), calls = 1, same = 1;

    for (long i = 1; i < n; i++) {
        long r = syscall(SYS_getppid);
        calls++;
        same &= r == first;
    }
    printf("syscall_loop: %ld getppid calls, all equal: %s\n", calls, same ? "yes" : "no");
    return same ? 0 : 1;
}
