//! Kernel context switch: saves the callee-saved registers and the stack pointer of one
//! kernel stack and resumes another. Everything else is already saved by the caller's ABI.

core::arch::global_asm!(
    r#"
    .section .text
    .global anvil_switch
anvil_switch:
    push rbp
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov qword ptr [rdi], rsp
    mov rsp, rsi
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    pop rbp
    ret

    // First return of a new thread: finish the switch that started it (requeue or free the
    // thread it replaced), then enter user mode from the TrapFrame above.
    .global anvil_thread_start
anvil_thread_start:
    call anvil_sched_finish
    jmp anvil_trap_return
"#
);

extern "C" {
    fn anvil_switch(save: *mut u64, load: u64);
    static anvil_thread_start: u8;
}

/// Saves the current kernel context into `*save` and resumes the one saved in `load`.
///
/// # Safety
/// `save` must be valid for a write and stay owned by the thread being switched away from;
/// `load` must be a stack pointer saved by `switch` or built by `initial_stack`, on a kernel
/// stack that stays mapped while that context runs.
pub unsafe fn switch(save: *mut u64, load: u64) {
    // SAFETY: guaranteed by the caller.
    unsafe { anvil_switch(save, load) }
}

/// Prepares a new thread's kernel stack: `frame` at its top (the user registers to start with)
/// and below it a switch frame that returns into `anvil_thread_start`. Returns the stack
/// pointer to hand to `switch`.
///
/// # Safety
/// `top` must be the top of a mapped kernel stack that nothing else uses.
pub unsafe fn initial_stack(top: u64, frame: &super::trap::TrapFrame) -> u64 {
    let frame_at = top - core::mem::size_of::<super::trap::TrapFrame>() as u64;
    let sp = frame_at - 7 * 8;
    let ret = &raw const anvil_thread_start as u64;
    // SAFETY: guaranteed by the caller; the writes stay below `top` and are 8-byte aligned.
    unsafe {
        (frame_at as *mut super::trap::TrapFrame).write(*frame);
        let regs = sp as *mut u64;
        for i in 0..6 {
            regs.add(i).write(0);
        }
        regs.add(6).write(ret);
    }
    sp
}
