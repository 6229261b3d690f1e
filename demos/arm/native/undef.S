/* undef: executes udf #0 (0xe7f000f0) at once, with r0..r12 = 0x100..0x10c,
 * so the exception frame the kernel sends to the exception handler can be
 * checked register by register.  sp and lr are left as the harness set them. */
        .syntax unified
        .arm
        .section .text._start, "ax", %progbits
        .global _start
        .type _start, %function
_start:
        movw    r0, #0x100
        movw    r1, #0x101
        movw    r2, #0x102
        movw    r3, #0x103
        movw    r4, #0x104
        movw    r5, #0x105
        movw    r6, #0x106
        movw    r7, #0x107
        movw    r8, #0x108
        movw    r9, #0x109
        movw    r10, #0x10a
        movw    r11, #0x10b
        movw    r12, #0x10c
        .global undef_insn
undef_insn:
        udf     #0
        b       undef_insn
        .size _start, . - _start
