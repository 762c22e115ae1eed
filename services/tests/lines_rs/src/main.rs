//! lines_rs: prints 1,000 lines through `println!` and the IO server, every tenth longer than
//! one Console message (300 bytes of payload), tagged with a token of its own (from the
//! time-stamp counter) so that the whole-lines boot test can check that each of the clients
//! printing at once got every line through whole and in order. lines_c does the same in C.

#![no_std]
#![no_main]

anvil::entry!(main);

fn main() -> u64 {
    // SAFETY: rdtsc only reads the time-stamp counter.
    let token = (unsafe { core::arch::x86_64::_rdtsc() } >> 4) & 0xFF_FFFF;
    let mut payload = [0u8; 300];
    for i in 0..1000usize {
        let len = if i % 10 == 0 { 300 } else { 40 };
        for (k, b) in payload.iter_mut().enumerate().take(len) {
            *b = b'a' + ((i + k) % 26) as u8;
        }
        let text = core::str::from_utf8(&payload[..len]).unwrap_or("");
        anvil::println!("lines[r{token:06x}]: {i:04} {text}");
    }
    0
}
