/* pingpong_client: r0 = IPC gate selector (cap index << 12), r1 = iterations N.
 * For i = 0..N-1: MR0 = i, CALL the gate with tag (label 0, 1 word); the round
 * trip counts as good if the reply tag has no error flag and MR0 == i + 1.
 * Ends with MR0 = good round trips, MR1 = errors, MR2 = TCR error code of the
 * last failed IPC (0 if none), then udf #0. */
#include "l4.h"

L4_START;

void entry(l4_umword_t gate, l4_umword_t n, l4_umword_t a2, l4_umword_t a3)
{
    volatile l4_umword_t *u = l4_utcb();
    l4_umword_t good = 0, errors = 0, last_err = 0;
    (void)a2;
    (void)a3;

    for (l4_umword_t i = 0; i < n; i++) {
        l4_umword_t label = 0;
        u[0] = i;
        l4_umword_t tag = l4_ipc(L4_TAG(0, 1), (gate & ~0xFFFu) | L4_CALL, L4_TIMEOUT_NEVER, &label);
        if (tag & L4_TAG_ERROR) {
            errors++;
            last_err = u[L4_UTCB_ERROR];
        } else if (u[0] != i + 1) {
            errors++;
        } else {
            good++;
        }
    }
    u[0] = good;
    u[1] = errors;
    u[2] = last_err;
    l4_done();
}
