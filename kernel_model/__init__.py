"""The microkernel model and the machine it runs on (see docs/READING_ORDER.md)."""
