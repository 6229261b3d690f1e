/* upcase: reads lines from stdin and writes each back in upper case with its number;
   at end of input prints how many lines it saw. Exit status = lines % 256.
   The program of the console-input (UART IRQ) walkthrough. */
#include <stdio.h>
#include <ctype.h>

int main(void)
{
    char line[256];
    int n = 0;
    while (fgets(line, sizeof line, stdin)) {
        for (char *p = line; *p; p++)
            *p = (char)toupper((unsigned char)*p);
        printf("%d: %s", ++n, line);
        fflush(stdout);
    }
    printf("upcase: %d lines\n", n);
    return n % 256;
}
