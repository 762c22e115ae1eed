/* window.S: the register half of fpu_test, in assembly because compiled C may use any vector
 * register at any time.
 *
 * fpu_window(struct window *w): loads a thread's own values into every x87, SSE and (when
 * w->avx) AVX register and into MXCSR and the x87 control word, asks the kernel which CPU it
 * is on (syscall Tcb.current_cpu), spins incrementing *w->heartbeat until *w->watch changes
 * (or w->max_spins), asks for the CPU again, and stores every register back for main.c to
 * compare. No vector register is touched between the loads and the stores except by the kernel.
 *
 * fpu_probe_entry(struct probe *p): a new thread's first instructions: stores the registers as
 * the thread found them (FXSAVE, plus the upper YMM halves with AVX), then calls probe_main(p).
 *
 * fpu_dirty_resume_yield(struct dirty *d): fills every register with d's values, starts the
 * probe thread (Tcb.resume) and yields to it, then puts the ABI's defaults back.
 *
 * The offsets below are those of the structs in main.c (checked there with _Static_assert). */
    .text
    .globl fpu_window
fpu_window:
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rdi, %rbx
    fldcw 76(%rbx)
    fldt 1152(%rbx)
    fldt 1168(%rbx)
    fldt 1184(%rbx)
    fldt 1200(%rbx)
    fldt 1216(%rbx)
    fldt 1232(%rbx)
    fldt 1248(%rbx)
    fldt 1264(%rbx)
    ldmxcsr 64(%rbx)
    cmpq $0, 0(%rbx)
    je 1f
    vmovdqu 128(%rbx), %ymm0
    vmovdqu 160(%rbx), %ymm1
    vmovdqu 192(%rbx), %ymm2
    vmovdqu 224(%rbx), %ymm3
    vmovdqu 256(%rbx), %ymm4
    vmovdqu 288(%rbx), %ymm5
    vmovdqu 320(%rbx), %ymm6
    vmovdqu 352(%rbx), %ymm7
    vmovdqu 384(%rbx), %ymm8
    vmovdqu 416(%rbx), %ymm9
    vmovdqu 448(%rbx), %ymm10
    vmovdqu 480(%rbx), %ymm11
    vmovdqu 512(%rbx), %ymm12
    vmovdqu 544(%rbx), %ymm13
    vmovdqu 576(%rbx), %ymm14
    vmovdqu 608(%rbx), %ymm15
    jmp 2f
1:
    movdqu 128(%rbx), %xmm0
    movdqu 160(%rbx), %xmm1
    movdqu 192(%rbx), %xmm2
    movdqu 224(%rbx), %xmm3
    movdqu 256(%rbx), %xmm4
    movdqu 288(%rbx), %xmm5
    movdqu 320(%rbx), %xmm6
    movdqu 352(%rbx), %xmm7
    movdqu 384(%rbx), %xmm8
    movdqu 416(%rbx), %xmm9
    movdqu 448(%rbx), %xmm10
    movdqu 480(%rbx), %xmm11
    movdqu 512(%rbx), %xmm12
    movdqu 544(%rbx), %xmm13
    movdqu 576(%rbx), %xmm14
    movdqu 608(%rbx), %xmm15
2:
    mov 24(%rbx), %rax
    syscall
    mov %rdi, 32(%rbx)
    mov 8(%rbx), %r12
    mov (%r12), %r13
    mov 56(%rbx), %r14
    mov 16(%rbx), %r15
    movq $0, 48(%rbx)
3:
    incq (%r14)
    mov (%r12), %rax
    cmp %rax, %r13
    jne 4f
    dec %r15
    jnz 3b
    jmp 5f
4:
    movq $1, 48(%rbx)
5:
    mov 24(%rbx), %rax
    syscall
    mov %rdi, 40(%rbx)
    cmpq $0, 0(%rbx)
    je 6f
    vmovdqu %ymm0, 640(%rbx)
    vmovdqu %ymm1, 672(%rbx)
    vmovdqu %ymm2, 704(%rbx)
    vmovdqu %ymm3, 736(%rbx)
    vmovdqu %ymm4, 768(%rbx)
    vmovdqu %ymm5, 800(%rbx)
    vmovdqu %ymm6, 832(%rbx)
    vmovdqu %ymm7, 864(%rbx)
    vmovdqu %ymm8, 896(%rbx)
    vmovdqu %ymm9, 928(%rbx)
    vmovdqu %ymm10, 960(%rbx)
    vmovdqu %ymm11, 992(%rbx)
    vmovdqu %ymm12, 1024(%rbx)
    vmovdqu %ymm13, 1056(%rbx)
    vmovdqu %ymm14, 1088(%rbx)
    vmovdqu %ymm15, 1120(%rbx)
    vzeroupper
    jmp 7f
6:
    movdqu %xmm0, 640(%rbx)
    movdqu %xmm1, 672(%rbx)
    movdqu %xmm2, 704(%rbx)
    movdqu %xmm3, 736(%rbx)
    movdqu %xmm4, 768(%rbx)
    movdqu %xmm5, 800(%rbx)
    movdqu %xmm6, 832(%rbx)
    movdqu %xmm7, 864(%rbx)
    movdqu %xmm8, 896(%rbx)
    movdqu %xmm9, 928(%rbx)
    movdqu %xmm10, 960(%rbx)
    movdqu %xmm11, 992(%rbx)
    movdqu %xmm12, 1024(%rbx)
    movdqu %xmm13, 1056(%rbx)
    movdqu %xmm14, 1088(%rbx)
    movdqu %xmm15, 1120(%rbx)
7:
    stmxcsr 68(%rbx)
    fnstcw 78(%rbx)
    fstpt 1280(%rbx)
    fstpt 1296(%rbx)
    fstpt 1312(%rbx)
    fstpt 1328(%rbx)
    fstpt 1344(%rbx)
    fstpt 1360(%rbx)
    fstpt 1376(%rbx)
    fstpt 1392(%rbx)
    movl $0x1F80, 72(%rbx)
    ldmxcsr 72(%rbx)
    fninit
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    ret

    .globl fpu_probe_entry
fpu_probe_entry:
    fxsave64 64(%rdi)
    cmpq $0, 0(%rdi)
    je 1f
    vextractf128 $1, %ymm0, 576(%rdi)
    vextractf128 $1, %ymm1, 592(%rdi)
    vextractf128 $1, %ymm2, 608(%rdi)
    vextractf128 $1, %ymm3, 624(%rdi)
    vextractf128 $1, %ymm4, 640(%rdi)
    vextractf128 $1, %ymm5, 656(%rdi)
    vextractf128 $1, %ymm6, 672(%rdi)
    vextractf128 $1, %ymm7, 688(%rdi)
    vextractf128 $1, %ymm8, 704(%rdi)
    vextractf128 $1, %ymm9, 720(%rdi)
    vextractf128 $1, %ymm10, 736(%rdi)
    vextractf128 $1, %ymm11, 752(%rdi)
    vextractf128 $1, %ymm12, 768(%rdi)
    vextractf128 $1, %ymm13, 784(%rdi)
    vextractf128 $1, %ymm14, 800(%rdi)
    vextractf128 $1, %ymm15, 816(%rdi)
1:
    sub $8, %rsp                 /* rsp as after a call, for probe_main */
    call probe_main
    ud2

    .globl fpu_dirty_resume_yield
fpu_dirty_resume_yield:
    push %rbx
    mov %rdi, %rbx
    fldcw 76(%rbx)
    fldt 1152(%rbx)
    fldt 1168(%rbx)
    fldt 1184(%rbx)
    fldt 1200(%rbx)
    fldt 1216(%rbx)
    fldt 1232(%rbx)
    fldt 1248(%rbx)
    fldt 1264(%rbx)
    ldmxcsr 64(%rbx)
    cmpq $0, 0(%rbx)
    je 1f
    vmovdqu 128(%rbx), %ymm0
    vmovdqu 160(%rbx), %ymm1
    vmovdqu 192(%rbx), %ymm2
    vmovdqu 224(%rbx), %ymm3
    vmovdqu 256(%rbx), %ymm4
    vmovdqu 288(%rbx), %ymm5
    vmovdqu 320(%rbx), %ymm6
    vmovdqu 352(%rbx), %ymm7
    vmovdqu 384(%rbx), %ymm8
    vmovdqu 416(%rbx), %ymm9
    vmovdqu 448(%rbx), %ymm10
    vmovdqu 480(%rbx), %ymm11
    vmovdqu 512(%rbx), %ymm12
    vmovdqu 544(%rbx), %ymm13
    vmovdqu 576(%rbx), %ymm14
    vmovdqu 608(%rbx), %ymm15
    jmp 2f
1:
    movdqu 128(%rbx), %xmm0
    movdqu 160(%rbx), %xmm1
    movdqu 192(%rbx), %xmm2
    movdqu 224(%rbx), %xmm3
    movdqu 256(%rbx), %xmm4
    movdqu 288(%rbx), %xmm5
    movdqu 320(%rbx), %xmm6
    movdqu 352(%rbx), %xmm7
    movdqu 384(%rbx), %xmm8
    movdqu 416(%rbx), %xmm9
    movdqu 448(%rbx), %xmm10
    movdqu 480(%rbx), %xmm11
    movdqu 512(%rbx), %xmm12
    movdqu 544(%rbx), %xmm13
    movdqu 576(%rbx), %xmm14
    movdqu 608(%rbx), %xmm15
2:
    mov 8(%rbx), %rax
    mov 16(%rbx), %rdi
    syscall
    mov 24(%rbx), %rax
    syscall
    movl $0x1F80, 72(%rbx)
    ldmxcsr 72(%rbx)
    fninit
    cmpq $0, 0(%rbx)
    je 3f
    vzeroall
    jmp 4f
3:
    pxor %xmm0, %xmm0
    pxor %xmm1, %xmm1
    pxor %xmm2, %xmm2
    pxor %xmm3, %xmm3
    pxor %xmm4, %xmm4
    pxor %xmm5, %xmm5
    pxor %xmm6, %xmm6
    pxor %xmm7, %xmm7
    pxor %xmm8, %xmm8
    pxor %xmm9, %xmm9
    pxor %xmm10, %xmm10
    pxor %xmm11, %xmm11
    pxor %xmm12, %xmm12
    pxor %xmm13, %xmm13
    pxor %xmm14, %xmm14
    pxor %xmm15, %xmm15
4:
    pop %rbx
    ret
    .section .note.GNU-stack, "", @progbits
