"""The mapping database: one derivation tree per resource (a frame, a kernel object).

Every mapping of a frame into an address space, and every capability to a kernel object in a
capability table, is a ``MapNode``. A node made by mapping from another node is that node's
child. The protocol, as in Fiasco's mapdb (``fiasco/src/kern/mapdb.cpp``):

- ``derive`` makes a child whose rights are the parent's rights ANDed with the requested
  ones: rights never grow along a path from a root.
- ``revoke`` takes rights away from every descendant (and from the node itself if asked);
  a node that loses R disappears together with its whole subtree.
- ``grant`` moves a node: the new node takes the old one's place in the tree, keeping
  parent and children; the old slot becomes empty.
- ``remove`` deletes a node and its subtree.

Simplification (stated, as DESIGN asks): object capabilities are kept in derivation trees
too, like older Fiasco.OC's kobject mapdb, so that unmapping a capability revokes every copy
made from it. Current Fiasco copies object capabilities without a tree.

The owner of a node (an ``AddressSpace`` or a ``CapTable``) implements ``_slot_installed``,
``_slot_changed`` and ``_slot_removed``; only this module calls them, so a page table or a
capability table always equals the set of live nodes that name it.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Protocol

READ = 0x4  # memory R and object R: losing it removes the mapping


class SlotOwner(Protocol):
    def _slot_installed(self, key: int, node: "MapNode") -> None: ...
    def _slot_changed(self, key: int, node: "MapNode") -> None: ...
    def _slot_removed(self, key: int, node: "MapNode") -> None: ...


class MapNode:
    """One mapping: ``resource`` seen by ``owner`` at ``key`` with ``rights``."""

    __slots__ = ("owner", "key", "resource", "rights", "parent", "children", "on_root_removed")

    def __init__(self, owner: SlotOwner, key: int, resource: Any, rights: int,
                 parent: "MapNode | None"):
        self.owner = owner
        self.key = key
        self.resource = resource
        self.rights = rights
        self.parent = parent
        self.children: list[MapNode] = []
        self.on_root_removed: Callable[[Any], None] | None = None

    def descendants(self) -> Iterator["MapNode"]:
        stack = list(reversed(self.children))
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    @property
    def depth(self) -> int:
        depth, node = 0, self.parent
        while node is not None:
            depth, node = depth + 1, node.parent
        return depth

    def __repr__(self) -> str:
        return f"MapNode({self.owner!r}@{self.key:#x} -> {self.resource!r} rights={self.rights:#x})"


def make_root(owner: SlotOwner, key: int, resource: Any, rights: int,
              on_removed: Callable[[Any], None] | None = None) -> MapNode:
    """A new tree: the first mapping of a resource (sigma0's role). ``on_removed`` runs when
    the root goes (e.g. the frame returns to the free pool)."""
    node = MapNode(owner, key, resource, rights, None)
    node.on_root_removed = on_removed
    owner._slot_installed(key, node)
    return node


def derive(parent: MapNode, owner: SlotOwner, key: int, rights: int) -> MapNode | None:
    """Map ``parent`` into ``owner`` at ``key``; None if no rights would remain.

    The caller has already removed whatever ``owner`` held at ``key``.
    """
    rights &= parent.rights
    if not rights & READ:
        return None
    node = MapNode(owner, key, parent.resource, rights, parent)
    parent.children.append(node)
    owner._slot_installed(key, node)
    return node


def remove(node: MapNode) -> None:
    """Delete ``node`` and its subtree (deepest first, so no owner ever sees an orphan)."""
    for child in list(node.children):
        remove(child)
    if node.parent is not None:
        node.parent.children.remove(node)
    node.owner._slot_removed(node.key, node)
    if node.parent is None and node.on_root_removed is not None:
        node.on_root_removed(node.resource)


def revoke(node: MapNode, rights_mask: int, include_self: bool) -> int:
    """Take ``rights_mask`` from the descendants of ``node`` (and from ``node`` itself when
    ``include_self``). Returns how many mappings changed or went away."""
    changed = 0
    for child in list(node.children):
        changed += revoke(child, rights_mask, True)
    if include_self and node.rights & rights_mask:
        changed += 1
        remaining = node.rights & ~rights_mask
        if not remaining & READ:
            remove(node)
        else:
            node.rights = remaining
            node.owner._slot_changed(node.key, node)
    return changed


def grant(node: MapNode, owner: SlotOwner, key: int, rights: int) -> MapNode | None:
    """Move ``node`` to ``owner``/``key`` with at most its rights. Children stay attached;
    None (and nothing moved) if no rights would remain."""
    rights &= node.rights
    if not rights & READ:
        return None
    moved = MapNode(owner, key, node.resource, rights, node.parent)
    moved.on_root_removed = node.on_root_removed
    moved.children = node.children
    for child in moved.children:
        child.parent = moved
    if node.parent is not None:
        siblings = node.parent.children
        siblings[siblings.index(node)] = moved
    node.children = []
    node.parent = None
    node.on_root_removed = None
    node.owner._slot_removed(node.key, node)
    owner._slot_installed(key, moved)
    if rights != node.rights:  # narrower rights must reach the subtree too
        revoke(moved, node.rights & ~rights, False)
    return moved
