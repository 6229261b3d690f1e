/* Instruction counter for the ARM cores, installed as a unicorn UC_HOOK_CODE hook.
 *
 * Unicorn does not report how many instructions an emu_start() executed when it stops on
 * a trap, and a Python hook per instruction costs microseconds. This hook runs in C: it
 * counts every instruction before it executes and asks unicorn to stop once `limit`
 * instructions have run, so a quantum ends exactly on its boundary (the stopped-at
 * instruction is neither executed nor counted). An instruction that traps (fault,
 * undefined) has been counted; the caller subtracts it.
 */
#include <stdint.h>

typedef int (*emu_stop_fn)(void *uc);

typedef struct {
    uint64_t count;        /* instructions begun since the counter was reset */
    uint64_t limit;        /* stop before the instruction that would exceed this */
    emu_stop_fn emu_stop;  /* libunicorn's uc_emu_stop */
} icount_t;

void l4_icount_hook(void *uc, uint64_t address, uint32_t size, icount_t *c)
{
    (void)address; (void)size;
    if (c->count >= c->limit) {
        c->emu_stop(uc);
        return;
    }
    c->count++;
}
