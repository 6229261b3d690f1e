/* pingpong_server: no arguments.
 * Open wait (invalid cap | WAIT) for the first message, then forever:
 * MR0 = MR0 + 1 and REPLY_AND_WAIT (invalid cap | 0xF) with a 1-word tag.
 * If an IPC returns with the error flag set, it goes back to a plain open wait. */
#include "l4.h"

L4_START;

void entry(l4_umword_t a0, l4_umword_t a1, l4_umword_t a2, l4_umword_t a3)
{
    volatile l4_umword_t *u = l4_utcb();
    l4_umword_t label = 0, tag;
    (void)a0;
    (void)a1;
    (void)a2;
    (void)a3;

    tag = l4_ipc(0, L4_INVALID_CAP | L4_WAIT, L4_TIMEOUT_NEVER, &label);
    for (;;) {
        if (tag & L4_TAG_ERROR) {
            label = 0;
            tag = l4_ipc(0, L4_INVALID_CAP | L4_WAIT, L4_TIMEOUT_NEVER, &label);
            continue;
        }
        u[0] = u[0] + 1;
        tag = l4_ipc(L4_TAG(0, 1), L4_INVALID_CAP | L4_REPLY_AND_WAIT, L4_TIMEOUT_NEVER, &label);
    }
}
