"""The capability table of the focused task.

Each slot: the kernel object, its rights (``rwsdc``), where the capability was derived from
(the mapping-database parent's owner; "root" for an original), and what it is for — a
capability a fragment in the task holds (by its key) or the service gate of a peer fragment
in another task (a binding that is IPC). After a re-cut this is where the re-derived
capabilities show.
"""

from __future__ import annotations

from kernel_model.caps import obj_rights_str

from .lineview import LineView
from .pane import Pane, columns, focused_task

WIDTHS = (4, 22, 5, 10)


def uses(runtime, task) -> dict[int, str]:
    """id(kernel object) -> what the task's fragments use the capability for."""
    out: dict[int, list[str]] = {}
    for host in runtime.hosts:
        if host.task is not task:
            continue
        for fragment in host.fragments:
            for key, obj in fragment.caps.items():
                name = key if isinstance(key, str) else "/".join(map(str, key))
                out.setdefault(id(obj), []).append(f"{fragment.label}: {name}")
            for peer in fragment.USES:
                for target in runtime.instances.get(peer, []):
                    if target.host is not host:
                        out.setdefault(id(target.service.obj), []).append(f"{fragment.label} → {target.label}")
    return {k: "; ".join(dict.fromkeys(v)) for k, v in out.items()}


class CapsPane(Pane):
    PANE_ID, TITLE, KEY = "caps", "Capabilities", "5"
    SHORT = "caps"

    def compose(self):
        yield LineView(columns(WIDTHS, "slot", "object", "right", "from", "used for"), cursor=True)

    @staticmethod
    def gather(ctx):
        task = focused_task(ctx)
        if task is None:
            return "", ()
        use = uses(ctx.session.system.runtime, task)
        rows = tuple((slot, columns(WIDTHS, slot, repr(node.resource), obj_rights_str(node.rights),
                                    "root" if node.parent is None else node.parent.owner.name,
                                    use.get(id(node.resource), "")))
                     for slot, node in sorted(task.caps.items()))
        return task.name, rows

    def show(self, view) -> None:
        name, rows = view
        self.query_one(LineView).set_rows(rows)
        self.subtitle(f"of {name}, {len(rows)} slots" if name else "select a task")
