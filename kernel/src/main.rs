//! The Anvil kernel: boot sequence from the loader's entry to the first user program.

#![no_std]
#![no_main]

extern crate alloc;

mod abi;
mod arch;
mod interrupts;
mod log;
mod mm;
mod object;
mod sched;
mod sync;
mod syscall;
mod uaccess;
mod userboot;

use alloc::string::String;
use core::sync::atomic::{AtomicBool, Ordering};

use anvil_kcore::{bootinfo, cmdline, memmap};

use arch::x86_64::{apic, cpu, gdt, trap};

/// With `exit_when_idle` on the command line, QEMU exits when no thread is left (tests).
pub static EXIT_WHEN_IDLE: AtomicBool = AtomicBool::new(false);

static CPUS: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(1);

/// Number of CPUs the kernel runs on.
pub fn cpu_count() -> u32 {
    CPUS.load(Ordering::Relaxed)
}

/// Logs free frames and heap use, for leak checks by the test harness.
pub fn report_memory() {
    // The run ends: the console comes back to the serial port, with what it buffered.
    log::detach();
    let (free, total) = mm::frame::stats();
    let (taken, waited) = object::cnode::CAPS.stats();
    kinfo!(
        "ipc fast path: {} calls, {} replies",
        object::endpoint::FAST_CALLS.load(Ordering::Relaxed),
        object::endpoint::FAST_REPLIES.load(Ordering::Relaxed)
    );
    kinfo!(
        "memory: {free} of {total} frames free, heap {} bytes used of {}; capability-space lock taken {taken} times, {waited} of them contended",
        mm::heap::used(),
        mm::heap::size()
    );
}

/// Called by the boot assembly with the loader's eax and ebx, on the boot stack, with the boot
/// page tables (first 4 GiB mapped at the direct map and the kernel image in the higher half).
#[no_mangle]
extern "C" fn kernel_entry(eax: u32, ebx: u32) -> ! {
    mm::heap::init();
    log::init();
    let t0 = cpu::rdtsc();
    let boot_map = mm::DirectMap { limit: 4 << 30 };
    // Copy the boot information before any frame is allocated: it lies in usable memory.
    let info = match bootinfo::parse(&boot_map, eax, ebx) {
        Ok(i) => i,
        Err(e) => panic!("cannot read boot information ({e:?}); boot through PVH or Multiboot2"),
    };
    match cmdline::get(&info.cmdline, "log") {
        Some("debug") => log::set_level(log::Level::Debug),
        Some("warn") => log::set_level(log::Level::Warn),
        _ => {}
    }
    EXIT_WHEN_IDLE.store(cmdline::flag(&info.cmdline, "exit_when_idle"), Ordering::Relaxed);
    kinfo!(
        "Anvil kernel booting ({} boot, command line \"{}\")",
        info.loader,
        info.cmdline
    );

    let (kstart, kend) = mm::paging::image_phys();
    let mut reserved = alloc::vec![memmap::Range {
        start: kstart,
        end: kend
    }];
    for m in &info.modules {
        reserved.push(memmap::Range {
            start: m.base,
            end: m.base.saturating_add(m.len),
        });
    }
    let free = memmap::free_ranges(&info.memory, &reserved);
    mm::frame::init(&free);
    let ram_top = memmap::top_of_ram(&info.memory);
    let (frames, _) = mm::frame::stats();
    kinfo!(
        "memory: {} MiB usable RAM, {frames} free frames, RAM ends at {ram_top:#x}",
        frames * 4 / 1024
    );

    let madt = info
        .rsdp
        .and_then(|r| match anvil_kcore::acpi::find_madt(&boot_map, r) {
            Ok(m) => Some(m),
            Err(e) => {
                kwarn!("ACPI: no usable MADT ({e:?}); assuming one CPU");
                None
            }
        });
    let lapic = madt.as_ref().map_or(0xFEE0_0000, |m| m.local_apic_addr);
    let mut mmio = alloc::vec![lapic];
    if let Some(m) = &madt {
        mmio.extend(m.ioapics.iter().map(|i| u64::from(i.addr)));
        kinfo!(
            "ACPI: {} CPUs (APIC ids {:?}), {} I/O APICs, local APIC at {lapic:#x}",
            m.cpus.len(),
            m.cpus,
            m.ioapics.len()
        );
        for io in &m.ioapics {
            kinfo!(
                "ACPI: I/O APIC id {} at {:#x}, GSI base {}",
                io.id,
                io.addr,
                io.gsi_base
            );
        }
    }
    mm::paging::init(ram_top, &mmio);
    mm::heap::enable_growth();
    let (s, t, r, e) = mm::paging::image_bounds();
    kinfo!("paging: kernel text {s:#x}..{t:#x} RX, rodata ..{r:#x} R, data ..{e:#x} RW+NX; direct map of all RAM NX");

    let feats = cpu::enable_protections();
    arch::x86_64::usercopy::set_smap(feats.smap);
    kinfo!("cpu: NX {}, SMEP {}, SMAP {}", feats.nx, feats.smep, feats.smap);
    kinfo!("{}", arch::x86_64::fpu::init_boot_cpu());

    let boot_rsp = &raw const boot_stack_top as u64;
    gdt::init_cpu(0, 0, boot_rsp, interrupt_stacks());
    trap::init_idt();
    AP_LAPIC.store(lapic, Ordering::Release);
    apic::disable_legacy_pic();
    if let Some(m) = &madt {
        arch::x86_64::ioapic::init(&m.ioapics, &m.overrides, mm::phys_to_virt);
        kinfo!(
            "ioapic: {} inputs, vectors from {:#x}; {} ISA overrides",
            arch::x86_64::ioapic::inputs(),
            arch::x86_64::ioapic::VECTOR_BASE,
            m.overrides.len()
        );
    }
    apic::init(mm::phys_to_virt(lapic));
    apic::start_timer(625_000);
    kinfo!(
        "apic: local APIC id {} enabled, timer at vector {}",
        apic::id(),
        apic::TIMER_VECTOR
    );
    kinfo!(
        "syscall: entry at {:#x}, {} syscalls from idl/",
        trap::syscall_entry_addr(),
        abi::SYSCALLS.len()
    );

    run_tests_from_cmdline(&info.cmdline);

    let apic_ids: alloc::vec::Vec<u32> = madt.as_ref().map_or(alloc::vec![apic::id()], |m| {
        m.cpus.iter().map(|&c| u32::from(c)).collect()
    });
    sched::init(apic_ids.len().max(1));
    object::reap::init_cpu();
    arch::x86_64::tlb::APIC_IDS[0].store(apic::id(), Ordering::Release);
    start_application_processors(&apic_ids);

    let Some(module) = info.modules.first() else {
        panic!("no initrd: pass one with -initrd");
    };
    // SAFETY: the module range was reserved from the frame allocator and is mapped by the
    // direct map; nothing writes it.
    let initrd =
        unsafe { core::slice::from_raw_parts(mm::phys_to_virt(module.base) as *const u8, module.len as usize) };
    let init_name = String::from(cmdline::get(&info.cmdline, "init").unwrap_or("init"));
    let Some(image) = userboot::find(initrd, &init_name) else {
        kerr!("initrd has no `{init_name}`");
        sched::run();
    };
    let t = match userboot::load(&init_name, image, (module.base, module.len)) {
        Ok(t) => t,
        Err(msg) => {
            kerr!("cannot start init: {msg}");
            sched::run();
        }
    };
    let cycles = cpu::rdtsc().wrapping_sub(t0);
    kinfo!(
        "starting `{init_name}` as init (thread {}), {} Mcycles after entry",
        t.id,
        cycles / 1_000_000
    );
    if let Err(e) = object::tcb::resume(&t) {
        panic!("cannot start init: {e:?}");
    }
    sched::run()
}

extern "C" {
    static boot_stack_top: u8;
}

/// Stacks for a CPU's double-fault, NMI and machine-check handlers (tops), each with a guard
/// page below; they live as long as the CPU.
fn interrupt_stacks() -> [u64; 3] {
    core::array::from_fn(|_| match mm::kstack::alloc(gdt::IST_STACK_SIZE) {
        Some(s) => s.leak(),
        None => panic!("no memory for interrupt stacks"),
    })
}

const AP_STACK_SIZE: usize = 32 * 1024;
static AP_STACK_TOPS: [core::sync::atomic::AtomicU64; arch::x86_64::tlb::MAX_CPUS] =
    [const { core::sync::atomic::AtomicU64::new(0) }; arch::x86_64::tlb::MAX_CPUS];

/// Starts every other CPU of the MADT, one at a time, through the real-mode trampoline.
fn start_application_processors(apic_ids: &[u32]) {
    use arch::x86_64::smp;
    use x86_64::structures::paging::{Mapper, Page, PageTableFlags as F, PhysFrame, Size4KiB};
    let bsp = apic::id();
    if apic_ids.len() <= 1 {
        return;
    }
    // The trampoline runs at its physical address for a few instructions after paging is on:
    // map that one page at the same virtual address (in the kernel's lower half, which no user
    // address space shares), and remove it when all CPUs are up.
    let page = Page::<Size4KiB>::containing_address(x86_64::VirtAddr::new(smp::TRAMPOLINE));
    let frame = PhysFrame::containing_address(x86_64::PhysAddr::new(smp::TRAMPOLINE));
    {
        let mut kpt = mm::paging::kernel_tables();
        // SAFETY: the kernel's lower half is otherwise empty, and the page below 1 MiB is never
        // handed out by the frame allocator.
        match unsafe { kpt.map_to(page, frame, F::PRESENT | F::WRITABLE, &mut mm::frame::Global) } {
            Ok(fl) => fl.flush(),
            Err(e) => {
                kwarn!("smp: cannot map the trampoline ({e:?}); running on one CPU");
                return;
            }
        }
    }
    let mut index = 1u32;
    for &id in apic_ids.iter().filter(|&&id| id != bsp) {
        let Some(stack) = mm::kstack::alloc(AP_STACK_SIZE) else {
            break;
        };
        let top = stack.leak();
        AP_STACK_TOPS[index as usize].store(top, Ordering::Release);
        let page = smp::TrampolinePage(mm::phys_to_virt(smp::TRAMPOLINE));
        if smp::start_ap(&page, id, index, top, ap_entry, mm::paging::kernel_pml4()) {
            index += 1;
        } else {
            kwarn!("smp: CPU with APIC id {id} did not start");
        }
    }
    if let Ok((_, fl)) = mm::paging::kernel_tables().unmap(page) {
        fl.flush();
    }
    CPUS.store(index, Ordering::Release);
    kinfo!("smp: {index} CPUs running");
}

/// Where an application processor arrives from the trampoline, on its own stack.
extern "C" fn ap_entry(index: u64) -> ! {
    let top = AP_STACK_TOPS[index as usize].load(Ordering::Acquire);
    gdt::init_cpu(index as u32, apic::id(), top, interrupt_stacks());
    trap::load_idt();
    cpu::enable_protections();
    arch::x86_64::fpu::init_ap();
    apic::init(mm::phys_to_virt(AP_LAPIC.load(Ordering::Acquire)));
    apic::start_timer(625_000);
    arch::x86_64::tlb::APIC_IDS[index as usize].store(apic::id(), Ordering::Release);
    kdebug!("cpu {index} (APIC id {}) up", apic::id());
    object::reap::init_cpu();
    arch::x86_64::smp::STARTED.fetch_add(1, Ordering::SeqCst);
    sched::run()
}

static AP_LAPIC: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0xFEE0_0000);

/// Deliberate kernel failures, selected by `ktest=` on the command line, to show that the
/// kernel reports them (the harness expects these boots to fail).
fn run_tests_from_cmdline(cmd: &str) {
    match cmdline::get(cmd, "ktest") {
        Some("panic") => panic!("test panic requested on the command line"),
        Some("page_fault") => {
            let p = 0xFFFF_9000_DEAD_0000u64 as *const u64;
            // SAFETY: deliberately unsound: reads an unmapped kernel address to show the
            // kernel page-fault report. Only runs with `ktest=page_fault`.
            let v = unsafe { p.read_volatile() };
            kinfo!("unreachable: read {v}");
        }
        Some("stack_overflow") => {
            kinfo!("recursing until the boot stack's guard page");
            recurse(0);
        }
        Some(other) => kwarn!("unknown ktest `{other}`"),
        None => {}
    }
}

#[allow(unconditional_recursion)]
fn recurse(n: u64) -> u64 {
    let buf = [n; 64];
    core::hint::black_box(&buf);
    recurse(n + 1) + buf[0]
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    let loc = info
        .location()
        .map(|l| alloc::format!("{}:{}:{}", l.file(), l.line(), l.column()));
    log::emergency(format_args!(
        "\n[fatal] KERNEL PANIC at {}: {}\n[fatal] kernel halted\n",
        loc.as_deref().unwrap_or("?"),
        info.message()
    ));
    arch::x86_64::port::qemu_exit(1)
}
