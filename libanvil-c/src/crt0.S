/* crt0: the entry point of a C service. The kernel (or init) starts the first thread with rdi =
 * its IPC buffer address and rsp as after a call; this calls main and exits with its result. */
    .text
    .globl _start
_start:
    xor %ebp, %ebp
    and $-16, %rsp
    call anvil_runtime_init
    call main
    mov %eax, %edi
    call exit
    ud2
    .section .note.GNU-stack, "", @progbits
