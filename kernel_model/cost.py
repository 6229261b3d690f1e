"""The cycle cost table: the only source of modeled time besides instruction counts.

Each entry names its source. [V] figures are published measurements (l4-facts §5.3);
[A] entries are modeling choices, labelled as such. The modeled clock never reads host time.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Cost:
    cycles: int
    source: str


@dataclass(frozen=True)
class CostTable:
    instruction: Cost = Cost(1, "[A] one cycle per ARM instruction")
    syscall_entry: Cost = Cost(138, "[V] L4Re null syscall, Raspberry Pi 5 Cortex-A76 EL1 (l4re.org/performance)")
    ipc_intra_task: Cost = Cost(247, "[V] L4Re intra-task IPC, Raspberry Pi 5 Cortex-A76 EL1")
    ipc_inter_task: Cost = Cost(384, "[V] L4Re inter-task IPC, Raspberry Pi 5 Cortex-A76 EL1")
    ipi: Cost = Cost(1200, "[A] cross-core wake-up by inter-processor interrupt")
    page_fault_entry: Cost = Cost(300, "[A] fault entry and PF message synthesis, above one IPC")
    exception_entry: Cost = Cost(300, "[A] exception entry and frame synthesis, above one IPC")
    map_page: Cost = Cost(150, "[A] one page-table and mapdb update")
    context_switch: Cost = Cost(100, "[A] thread switch on one core, same address space")
    address_space_switch: Cost = Cost(250, "[A] ASID/TTBR switch and TLB effects")
    irq_entry: Cost = Cost(636, "[V] seL4 IRQ invoke, Cortex-A9 i.MX6 (sel4.systems/performance)")
    kernel_op: Cost = Cost(200, "[A] a kernel-object invocation (map, create, bind)")
    direct_call: Cost = Cost(12, "[A] a call between fragments sharing a task")
    copy_byte_per_16: Cost = Cost(1, "[A] kernel copy: 1 cycle per 16 bytes")

    def rows(self) -> list[tuple[str, int, str]]:
        return [(f.name, getattr(self, f.name).cycles, getattr(self, f.name).source)
                for f in fields(self)]


DEFAULT_COSTS = CostTable()
