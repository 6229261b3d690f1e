"""The fragment runtime: fragments, hosts (tasks), bindings, compositions, re-cutting."""
