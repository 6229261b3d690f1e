/* faults: r0 = test, r1 = address.
 *   1: read the word at r1                      -> MR0 = value read
 *   2: write 0x1234 to r1, then read it back    -> MR0 = value read back
 *   3: call r1 (blx: Thumb if bit 0 is set)     -> MR0 = r0 returned by the code
 *      (the code at r1 must return with bx lr)
 *   other: MR0 = 0xBAD
 * The first access faults if the page is not mapped; the pager maps it and the
 * access is restarted.  Ends with udf #0. */
#include "l4.h"

L4_START;

void entry(l4_umword_t test, l4_umword_t addr, l4_umword_t a2, l4_umword_t a3)
{
    volatile l4_umword_t *u = l4_utcb();
    l4_umword_t v;
    (void)a2;
    (void)a3;

    switch (test) {
    case 1:
        v = *(volatile l4_umword_t *)addr;
        break;
    case 2:
        *(volatile l4_umword_t *)addr = 0x1234;
        v = *(volatile l4_umword_t *)addr;
        break;
    case 3:
        v = ((l4_umword_t(*)(void))addr)();
        break;
    default:
        v = 0xBAD;
        break;
    }
    u[0] = v;
    l4_done();
}
