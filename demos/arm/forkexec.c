/* forkexec: fork + execve + wait4.
 *   forkexec [PATH]   (PATH defaults to /bin/hello)
 * Child 1 execve's PATH with argv {"hello", "from-child"}; if the exec fails it
 * prints the errno and _exit(127).  Child 2 exits 7.  The parent reaps both with
 * wait4 and reports their exit statuses, plus pid/ppid sanity checks.
 * Exit status: 0 if child 1 exited normally after a successful exec and child 2
 * exited 7 and all sanity checks held; 1 otherwise. */
#include <errno.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int failures;

static void yesno(const char *what, int ok)
{
    printf("%s: %s\n", what, ok ? "yes" : "no");
    fflush(stdout);
    if (!ok)
        failures++;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "/bin/hello";
    pid_t parent = getpid();
    int status;
    pid_t c, w;

    printf("forkexec: parent starts, exec target %s\n", path);
    fflush(stdout); /* nothing buffered may be duplicated into the children */

    /* child 1: execve */
    c = fork();
    if (c < 0) {
        printf("fork failed: errno %d\n", errno);
        return 1;
    }
    if (c == 0) {
        int ok = getppid() == parent && getpid() != parent;
        printf("child 1: ppid == parent pid: %s, own pid != parent pid: %s\n",
               getppid() == parent ? "yes" : "no", getpid() != parent ? "yes" : "no");
        fflush(stdout);
        if (!ok)
            _exit(126);
        char *cargv[] = {"hello", "from-child", NULL};
        execve(path, cargv, environ);
        printf("child 1: execve %s failed: errno %d\n", path, errno);
        fflush(stdout);
        _exit(127);
    }
    /* print nothing until the child is reaped, so the output order is fixed */
    struct rusage ru;
    w = wait4(c, &status, 0, &ru);
    yesno("parent: fork returned a child pid != own pid", c != parent);
    yesno("parent: wait4 returned child 1's pid", w == c);
    if (WIFEXITED(status))
        printf("parent: child 1 exited with status %d\n", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        printf("parent: child 1 killed by signal %d\n", WTERMSIG(status));
    fflush(stdout);
    if (!WIFEXITED(status) || WEXITSTATUS(status) >= 126)
        failures++;

    /* child 2: plain exit 7 */
    c = fork();
    if (c == 0) {
        int ok = getppid() == parent;
        printf("child 2: ppid == parent pid: %s\n", ok ? "yes" : "no");
        fflush(stdout);
        _exit(ok ? 7 : 126);
    }
    w = wait4(c, &status, 0, NULL);
    yesno("parent: wait4 returned child 2's pid", w == c);
    if (WIFEXITED(status))
        printf("parent: child 2 exited with status %d\n", WEXITSTATUS(status));
    else
        printf("parent: child 2 did not exit normally (raw status 0x%x)\n", status);
    yesno("parent: child 2 status == 7", WIFEXITED(status) && WEXITSTATUS(status) == 7);

    errno = 0;
    w = wait4(-1, &status, WNOHANG, NULL);
    yesno("parent: no children left (ECHILD)", w < 0 && errno == ECHILD);
    yesno("parent: own pid unchanged", getpid() == parent);

    printf("forkexec: %s\n", failures ? "FAILED" : "all ok");
    return failures ? 1 : 0;
}
