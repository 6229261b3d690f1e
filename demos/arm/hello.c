/* hello: prints a greeting and its arguments; exit status = argc - 1. */
#include <stdio.h>

int main(int argc, char **argv)
{
    printf("hello, world\n");
    for (int i = 0; i < argc; i++)
        printf("argv[%d]=%s\n", i, argv[i]);
    return argc - 1;
}
