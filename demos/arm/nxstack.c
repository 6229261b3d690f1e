/* nxstack: copy machine code onto the stack and jump to it.
 * With a non-executable stack (NX) the jump must fault: the process dies with
 * SIGSEGV (a shell reports exit status 139) after printing "about to jump".
 * If it survives it prints "executed stack code!" and exits 1. */
#include <stdio.h>
#include <string.h>

int main(void)
{
#ifdef __thumb__
    /* movs r0, #42 ; bx lr */
    static const unsigned short code[2] = {0x202a, 0x4770};
#else
    /* mov r0, #42 ; bx lr */
    static const unsigned code[2] = {0xe3a0002au, 0xe12fff1eu};
#endif
    volatile unsigned char stackbuf[16] __attribute__((aligned(8)));
    memcpy((void *)stackbuf, code, sizeof code);
    __builtin___clear_cache((char *)stackbuf, (char *)stackbuf + sizeof code);

    unsigned long addr = (unsigned long)stackbuf;
#ifdef __thumb__
    addr |= 1;
#endif
    int (*fn)(void) = (int (*)(void))addr;
    printf("about to jump\n");
    fflush(stdout);
    int r = fn();
    printf("executed stack code! (returned %d)\n", r);
    return 1;
}
