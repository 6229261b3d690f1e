/* Exact instruction counting for the ARM cores, by basic block.
 *
 * Unicorn does not say how many instructions an emu_start() ran, and a hook per instruction
 * costs several times the instruction itself. So the count is kept per translation block,
 * and positions inside a block are found from addresses (instructions are straight-line
 * within a block):
 *
 * - l4_icount_block (UC_HOOK_BLOCK) runs before a block executes. If the block fits below
 *   `limit` it adds the block's instruction count and remembers where the block starts
 *   (`block`) and what the count was before it (`base`). If it does not fit, it stops
 *   emulation before the block's first instruction (unicorn checks for a stop right after
 *   the block hook), records the block in `refused` and computes `stop_at`, the address of
 *   the first instruction of that block that must not run.
 * - The caller then runs the *tail* of the refused block with l4_icount_insn installed as a
 *   UC_HOOK_CODE hook bounded to that block; it stops at `stop_at`. Unicorn refuses to stop
 *   inside a Thumb IT block, and calls no hook for an IT instruction whose condition fails,
 *   so a tail may run up to four instructions further, to the end of the IT block. If that
 *   takes it out of the refused block (which then ran to its end), the next block hook stops
 *   it and sets `left`. The refused block may come in several translation blocks when the
 *   per-instruction hook makes it too big for one; `tb_end` tells those from a jump.
 * - l4_icount_upto(pc) = `base` + instructions from `block` to `pc`: what completed before
 *   the instruction at `pc`, whether a trap stopped there or the tail did.
 * - l4_icount_intr (UC_HOOK_INTR) records an exception (svc, bkpt) in `intno` and stops:
 *   the kernel acts on it after emu_start() has returned.
 * - l4_run starts emulation at the loaded thread's PC (in its instruction set) and reads PC
 *   and CPSR before and after, and after an exception l4_icount_upto its instruction, all in
 *   one call from Python (each call from Python into C costs more than a short quantum).
 *
 * Invariants:
 * - Outside tail mode `count` is the sum of the instruction counts of the blocks entered,
 *   and never more than `limit`. Every instruction counts, a conditional one that fails its
 *   condition too (it is architecturally executed).
 * - A block's instruction count is cached by (address, size) for one `generation`; the model
 *   bumps the generation whenever code or mappings change. Two cases stay outside this
 *   scheme and are not supported: a guest rewriting its own Thumb code in place into a block
 *   of the same address and size but other instruction lengths, and the same address run as
 *   both ARM and Thumb code.
 */
#include <stddef.h>
#include <stdint.h>

typedef int (*emu_stop_fn)(void *uc);
typedef int (*reg_read_fn)(void *uc, int regid, void *value);
typedef int (*mem_read_fn)(void *uc, uint64_t address, void *bytes, uint64_t size);
typedef int (*emu_start_fn)(void *uc, uint64_t begin, uint64_t until, uint64_t timeout,
                            size_t count);

#define CACHE_SLOTS 4096
#define CPSR_THUMB 0x20u

typedef struct {
    uint32_t address, generation;
    uint32_t size, insns;
} block_len_t;

typedef struct {
    uint64_t count;        /* instructions in the blocks entered in this run */
    uint64_t limit;        /* no block is entered that would take count past it */
    uint64_t block;        /* start of the last block entered, or of the refused block */
    uint64_t base;         /* count before that block */
    uint64_t refused;      /* block not entered because it would cross the limit */
    uint64_t stop_at;      /* in the refused block: the first instruction past the limit */
    uint64_t tb_end;       /* tail: where the translation block being run ends */
    uint32_t refused_size;
    int32_t tail;          /* 1 while the tail of the refused block runs */
    int32_t stopping;      /* tail: a stop has been requested */
    int32_t left;          /* tail: execution left the refused block */
    int32_t intno;         /* the exception that stopped this run (-1: none) */
    int32_t cpsr_reg;      /* UC_ARM_REG_CPSR */
    uint32_t generation;   /* cached block lengths of other generations are stale */
    emu_stop_fn emu_stop;  /* libunicorn's uc_emu_stop, uc_reg_read, uc_mem_read, uc_emu_start */
    reg_read_fn reg_read;
    mem_read_fn mem_read;
    emu_start_fn emu_start;
    int32_t pc_reg;        /* UC_ARM_REG_PC */
    uint32_t pc_from;      /* l4_run: PC when it started, PC and CPSR when it returned */
    uint32_t pc;
    uint32_t cpsr;
    uint64_t upto;         /* l4_run, if `intno` >= 0: l4_icount_upto(the svc or bkpt) */
    block_len_t cache[CACHE_SLOTS];
} icount_t;

static int thumb(icount_t *c, void *uc)
{
    uint32_t cpsr = 0;
    c->reg_read(uc, c->cpsr_reg, &cpsr);
    return (cpsr & CPSR_THUMB) != 0;
}

/* Walk instructions from `start`, at most `max` of them and not to `end`; returns how many
 * were passed and leaves their end in *at. A Thumb halfword 0b11101.., 0b11110.. or
 * 0b11111.. starts a 32-bit instruction. */
static uint64_t walk(icount_t *c, void *uc, uint64_t start, uint64_t end, uint64_t max,
                     uint64_t *at)
{
    uint64_t n = 0;
    uint16_t half[128];
    if (!thumb(c, uc)) {
        n = (end - start) / 4 < max ? (end - start) / 4 : max;
        *at = start + 4 * n;
        return n;
    }
    while (n < max && start < end) {
        uint64_t i = 0, bytes = end - start < sizeof half ? end - start : sizeof half;
        if (c->mem_read(uc, start, half, bytes))
            break;
        for (; n < max && 2 * i < bytes; n++)
            i += (half[i] >> 11) >= 0x1D ? 2 : 1;
        start += 2 * i;  /* past a 32-bit instruction cut by the chunk's end, too */
    }
    *at = start;
    return n;
}

static __attribute__((noinline)) uint32_t measure(icount_t *c, void *uc, block_len_t *e,
                                                  uint64_t address, uint32_t size)
{
    uint64_t end;
    e->insns = (uint32_t)walk(c, uc, address, address + size, UINT64_MAX, &end);
    e->address = (uint32_t)address;
    e->size = size;
    e->generation = c->generation;
    return e->insns;
}

static inline uint32_t block_insns(icount_t *c, void *uc, uint64_t address, uint32_t size)
{
    block_len_t *e = &c->cache[((address >> 1) ^ (address >> 13)) & (CACHE_SLOTS - 1)];
    if (e->generation == c->generation && e->address == (uint32_t)address && e->size == size)
        return e->insns;
    return measure(c, uc, e, address, size);
}

static __attribute__((noinline)) void refuse(void *uc, uint64_t address, uint32_t size,
                                             icount_t *c)
{
    c->refused = c->block = c->tb_end = address;
    c->refused_size = size;
    c->base = c->count;
    walk(c, uc, address, address + size, c->limit - c->count, &c->stop_at);
    c->emu_stop(uc);
}

void l4_icount_block(void *uc, uint64_t address, uint32_t size, icount_t *c)
{
    uint32_t n;
    if (c->tail) {
        if (address != c->tb_end || address >= c->refused + c->refused_size) {
            c->left = 1;  /* jumped or fell out of the refused block: it ran to its end */
            c->emu_stop(uc);
        } else {          /* the refused block, or the next piece of it */
            c->tb_end = address + size;
            if (c->stopping)
                c->emu_stop(uc);
        }
        return;
    }
    n = block_insns(c, uc, address, size);
    if (c->count + n > c->limit) {
        refuse(uc, address, size, c);
        return;
    }
    c->block = address;
    c->base = c->count;
    c->count += n;
}

void l4_icount_insn(void *uc, uint64_t address, uint32_t size, icount_t *c)
{
    (void)size;
    if (address >= c->stop_at) {
        c->stopping = 1;
        c->emu_stop(uc);
    }
}

void l4_icount_intr(void *uc, uint32_t intno, icount_t *c)
{
    c->intno = (int32_t)intno;
    c->emu_stop(uc);
}

/* Instructions completed before the one at `pc` (in the last block entered). */
uint64_t l4_icount_upto(icount_t *c, void *uc, uint64_t pc)
{
    uint64_t end;
    return c->base + walk(c, uc, c->block, pc, UINT64_MAX, &end);
}

/* Run the loaded thread from its PC until a hook stops it; returns unicorn's error code. */
int l4_run(icount_t *c, void *uc)
{
    uint32_t pc = 0, cpsr = 0;
    int err;
    c->intno = -1;
    c->reg_read(uc, c->pc_reg, &pc);
    c->reg_read(uc, c->cpsr_reg, &cpsr);
    c->pc_from = pc;
    err = c->emu_start(uc, (cpsr & CPSR_THUMB) ? (pc | 1) : pc, 1ULL << 32, 0, 0);
    c->reg_read(uc, c->pc_reg, &c->pc);
    c->reg_read(uc, c->cpsr_reg, &c->cpsr);
    if (c->intno >= 0)     /* unicorn leaves PC after the svc (or bkpt) */
        c->upto = l4_icount_upto(c, uc, (uint32_t)(c->pc - ((c->cpsr & CPSR_THUMB) ? 2 : 4)));
    return err;
}
