"""The Linux personality: the ARM EABI ABI as data, the ELF loader front end, the syscall
table and strace formatting. Pure code: nothing here touches the kernel model."""
