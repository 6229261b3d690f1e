/* l4.h: the bits of the Fiasco.OC 32-bit ARM kernel ABI the native demos use.
 *
 * IPC:  svc #0 with r5 = 0 (invoke)
 *       r0 = message tag, r2 = destination selector | operation flags,
 *       r3 = timeout pair, r4 = label
 *   ->  r0 = result tag, r4 = received label; all other registers preserved.
 * Tag:  bits 0-5 untyped words, 6-11 typed items, 12-15 flags
 *       (0x8000 = error, error code in UTCB word 123), 16-31 label (signed).
 * UTCB: address in TPIDRURW (mrc p15, 0, rX, c13, c0, 2); MR0..MR62 = words 0..62.
 */
#ifndef L4_H
#define L4_H

typedef unsigned int l4_umword_t;

#define L4_SEND 1u
#define L4_RECV 2u
#define L4_OPEN_WAIT 4u
#define L4_REPLY 8u
#define L4_CALL (L4_SEND | L4_RECV)                                 /* 3 */
#define L4_WAIT (L4_OPEN_WAIT | L4_RECV)                            /* 6 */
#define L4_REPLY_AND_WAIT (L4_REPLY | L4_SEND | L4_RECV | L4_OPEN_WAIT) /* 0xF */

#define L4_INVALID_CAP 0xFFFFF800u
#define L4_TIMEOUT_NEVER 0u
#define L4_TAG_ERROR 0x8000u
#define L4_UTCB_ERROR 123

#define L4_TAG(label, words) ((((l4_umword_t)(label)) << 16) | ((l4_umword_t)(words) & 0x3f))
#define L4_PROTO_IRQ (-1)
#define L4_IRQ_OP_UNMASK 4u

/* The whole IPC system call.  r1 is neither used nor clobbered by the kernel. */
static inline l4_umword_t l4_ipc(l4_umword_t tag, l4_umword_t dest, l4_umword_t timeout,
                                 l4_umword_t *label)
{
    register l4_umword_t r0 __asm__("r0") = tag;
    register l4_umword_t r2 __asm__("r2") = dest;
    register l4_umword_t r3 __asm__("r3") = timeout;
    register l4_umword_t r4 __asm__("r4") = *label;
    register l4_umword_t r5 __asm__("r5") = 0;
    __asm__ volatile("svc #0"
                     : "+r"(r0), "+r"(r4)
                     : "r"(r2), "r"(r3), "r"(r5)
                     : "memory");
    *label = r4;
    return r0;
}

static inline volatile l4_umword_t *l4_utcb(void)
{
    l4_umword_t v;
    __asm__ volatile("mrc p15, 0, %0, c13, c0, 2" : "=r"(v));
    return (volatile l4_umword_t *)v;
}

/* Tell the harness we are done: an undefined instruction (ARM: 0xe7f000f0,
 * Thumb: 0xde00). */
static inline __attribute__((noreturn)) void l4_done(void)
{
    for (;;)
        __asm__ volatile("udf #0" ::: "memory");
}

/* _start: keep r0..r3 (the harness's arguments) and call entry(r0, r1, r2, r3);
 * entry never returns, but a stray return lands on udf too.  _start is placed
 * first in .text by native.ld, so it is at the load address 0x10000. */
#define L4_START                                                                         \
    __asm__(".section .text._start,\"ax\",%progbits\n"                                   \
            ".global _start\n"                                                           \
            ".type _start,%function\n"                                                   \
            "_start:\n"                                                                  \
            "  bl entry\n"                                                               \
            "  udf #0\n"                                                                 \
            "  b _start\n"                                                               \
            ".size _start, .-_start\n"                                                   \
            ".text\n");                                                                  \
    void entry(l4_umword_t a0, l4_umword_t a1, l4_umword_t a2, l4_umword_t a3)         \
        __attribute__((noreturn, used))

#endif
