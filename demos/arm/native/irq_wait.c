/* irq_wait: r0 = Irq selector (cap index << 12), r1 = count N (at most 62).
 * N times: closed wait on the Irq (tag 0, sel | RECV), store the received label
 * (r4) in MR[i+1], then unmask: send to the Irq (sel | SEND) with tag
 * label -1 (PROTO_IRQ), 1 word, MR0 = 4 (unmask).
 * Ends with MR0 = N, then udf #0.  MR[i+1] is 0xFFFFFFFF if receive i failed. */
#include "l4.h"

L4_START;

void entry(l4_umword_t irq, l4_umword_t n, l4_umword_t a2, l4_umword_t a3)
{
    volatile l4_umword_t *u = l4_utcb();
    l4_umword_t sel = irq & ~0xFFFu;
    (void)a2;
    (void)a3;

    if (n > 62)
        n = 62;
    for (l4_umword_t i = 0; i < n; i++) {
        l4_umword_t label = 0;
        l4_umword_t tag = l4_ipc(0, sel | L4_RECV, L4_TIMEOUT_NEVER, &label);
        u[i + 1] = (tag & L4_TAG_ERROR) ? 0xFFFFFFFFu : label;
        u[0] = L4_IRQ_OP_UNMASK;
        label = 0;
        l4_ipc(L4_TAG(L4_PROTO_IRQ, 1), sel | L4_SEND, L4_TIMEOUT_NEVER, &label);
    }
    u[0] = n;
    l4_done();
}
