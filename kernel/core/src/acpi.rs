//! ACPI: from the RSDP to the MADT, enough to list the CPUs (local APICs), the I/O APICs and
//! how legacy (ISA) interrupt lines map onto their inputs (interrupt source overrides).
//! Hand-written rather than the `acpi` crate: the kernel needs four table fields, and this
//! parser works on any `PhysRead`, so it is tested on the host with byte buffers.

use alloc::vec::Vec;

use crate::PhysRead;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Madt {
    pub local_apic_addr: u64,
    /// APIC ids of the enabled (or online-capable) processors, boot processor first as listed.
    pub cpus: Vec<u8>,
    pub ioapics: Vec<IoApic>,
    /// Interrupt source overrides: ISA lines that do not arrive on the I/O APIC input of the
    /// same number, or not edge-triggered and active high.
    pub overrides: Vec<IsaOverride>,
}

/// An ISA interrupt line wired to another GSI, or with another trigger mode or polarity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IsaOverride {
    pub isa: u8,
    pub gsi: u32,
    /// Level-triggered (else edge).
    pub level: bool,
    /// Active low (else high).
    pub active_low: bool,
}

/// Where ISA line `isa` arrives: its GSI, level-triggered, active low. Without an override an
/// ISA line is edge-triggered and active high on the GSI of its number; an override whose
/// flags say "conforms to the bus" keeps the ISA defaults (MPS INTI flags, ACPI 5.2.12.5).
pub fn isa_route(overrides: &[IsaOverride], isa: u8) -> (u32, bool, bool) {
    overrides
        .iter()
        .find(|o| o.isa == isa)
        .map_or((u32::from(isa), false, false), |o| (o.gsi, o.level, o.active_low))
}

/// Decodes the MPS INTI flags of an override: (level, active_low), bus defaults (edge, high)
/// for "conforms".
fn inti_flags(flags: u16) -> (bool, bool) {
    let active_low = flags & 3 == 3;
    let level = (flags >> 2) & 3 == 3;
    (level, active_low)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoApic {
    pub id: u8,
    pub addr: u32,
    pub gsi_base: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AcpiError {
    BadRsdp,
    BadChecksum(&'static str),
    NoMadt,
    Unreadable,
}

fn checksum_ok(bytes: &[u8]) -> bool {
    bytes.iter().fold(0u8, |a, b| a.wrapping_add(*b)) == 0
}

/// Reads a whole SDT (header and body), checking signature, length and checksum.
fn table<'a>(mem: &'a dyn PhysRead, addr: u64, sig: &'static str) -> Result<&'a [u8], AcpiError> {
    let hdr = mem.read(addr, 36).ok_or(AcpiError::Unreadable)?;
    if &hdr[0..4] != sig.as_bytes() {
        return Err(AcpiError::NoMadt);
    }
    let len = u32::from_le_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]) as usize;
    if !(36..=1 << 20).contains(&len) {
        return Err(AcpiError::BadChecksum(sig));
    }
    let t = mem.read(addr, len).ok_or(AcpiError::Unreadable)?;
    if !checksum_ok(t) {
        return Err(AcpiError::BadChecksum(sig));
    }
    Ok(t)
}

fn sig_of(mem: &dyn PhysRead, addr: u64) -> Option<[u8; 4]> {
    mem.read(addr, 4).map(|b| [b[0], b[1], b[2], b[3]])
}

/// Finds and parses the MADT starting from the RSDP at `rsdp`.
pub fn find_madt(mem: &dyn PhysRead, rsdp: u64) -> Result<Madt, AcpiError> {
    let r = mem.read(rsdp, 20).ok_or(AcpiError::Unreadable)?;
    if &r[0..8] != b"RSD PTR " || !checksum_ok(r) {
        return Err(AcpiError::BadRsdp);
    }
    let revision = r[15];
    let rsdt = u64::from(u32::from_le_bytes([r[16], r[17], r[18], r[19]]));
    let (root, entry_size, sig) = if revision >= 2 {
        let x = mem.read(rsdp, 36).ok_or(AcpiError::Unreadable)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(&x[24..32]);
        let xsdt = u64::from_le_bytes(a);
        if xsdt != 0 {
            (xsdt, 8, "XSDT")
        } else {
            (rsdt, 4, "RSDT")
        }
    } else {
        (rsdt, 4, "RSDT")
    };
    let t = table(mem, root, sig)?;
    for e in t[36..].chunks_exact(entry_size) {
        let addr = if entry_size == 8 {
            let mut a = [0u8; 8];
            a.copy_from_slice(e);
            u64::from_le_bytes(a)
        } else {
            u64::from(u32::from_le_bytes([e[0], e[1], e[2], e[3]]))
        };
        if sig_of(mem, addr) == Some(*b"APIC") {
            return parse_madt(table(mem, addr, "APIC")?);
        }
    }
    Err(AcpiError::NoMadt)
}

/// Parses a MADT whose checksum was verified.
pub fn parse_madt(t: &[u8]) -> Result<Madt, AcpiError> {
    if t.len() < 44 {
        return Err(AcpiError::NoMadt);
    }
    let mut m = Madt {
        local_apic_addr: u64::from(u32::from_le_bytes([t[36], t[37], t[38], t[39]])),
        ..Default::default()
    };
    let mut i = 44;
    while i + 2 <= t.len() {
        let (ty, len) = (t[i], t[i + 1] as usize);
        if len < 2 || i + len > t.len() {
            break;
        }
        let e = &t[i..i + len];
        match ty {
            0 if len >= 8 => {
                let flags = u32::from_le_bytes([e[4], e[5], e[6], e[7]]);
                if flags & 3 != 0 {
                    m.cpus.push(e[3]);
                }
            }
            1 if len >= 12 => m.ioapics.push(IoApic {
                id: e[2],
                addr: u32::from_le_bytes([e[4], e[5], e[6], e[7]]),
                gsi_base: u32::from_le_bytes([e[8], e[9], e[10], e[11]]),
            }),
            2 if len >= 10 && e[2] == 0 => {
                let (level, active_low) = inti_flags(u16::from_le_bytes([e[8], e[9]]));
                m.overrides.push(IsaOverride {
                    isa: e[3],
                    gsi: u32::from_le_bytes([e[4], e[5], e[6], e[7]]),
                    level,
                    active_low,
                });
            }
            5 if len >= 12 => {
                let mut a = [0u8; 8];
                a.copy_from_slice(&e[4..12]);
                m.local_apic_addr = u64::from_le_bytes(a);
            }
            _ => {}
        }
        i += len;
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Buffer;

    fn fix_checksum(t: &mut [u8], at: usize) {
        t[at] = 0;
        let s = t.iter().fold(0u8, |a, b| a.wrapping_add(*b));
        t[at] = 0u8.wrapping_sub(s);
    }

    #[test]
    fn finds_cpus_and_ioapic_through_rsdt() {
        let mut mem = vec![0u8; 0x400];
        // RSDP at 0 (revision 0) -> RSDT at 0x100 -> MADT at 0x200.
        mem[0..8].copy_from_slice(b"RSD PTR ");
        mem[16..20].copy_from_slice(&0x100u32.to_le_bytes());
        fix_checksum(&mut mem[0..20], 8);
        let rsdt = 0x100;
        mem[rsdt..rsdt + 4].copy_from_slice(b"RSDT");
        mem[rsdt + 4..rsdt + 8].copy_from_slice(&40u32.to_le_bytes());
        mem[rsdt + 36..rsdt + 40].copy_from_slice(&0x200u32.to_le_bytes());
        fix_checksum(&mut mem[rsdt..rsdt + 40], 9);
        let madt = 0x200;
        let entries: Vec<u8> = [
            vec![0, 8, 0, 0, 1, 0, 0, 0],
            vec![0, 8, 1, 1, 1, 0, 0, 0],
            vec![0, 8, 2, 7, 0, 0, 0, 0], // disabled
            vec![1, 12, 9, 0, 0, 0, 0xC0, 0xFE, 0, 0, 0, 0],
            // ISA IRQ 0 on GSI 2, bus defaults; IRQ 9 on GSI 9, level and active low; an
            // override of another bus is ignored.
            vec![2, 10, 0, 0, 2, 0, 0, 0, 0, 0],
            vec![2, 10, 0, 9, 9, 0, 0, 0, 0x0F, 0],
            vec![2, 10, 1, 5, 20, 0, 0, 0, 0, 0],
        ]
        .concat();
        let len = 44 + entries.len();
        mem[madt..madt + 4].copy_from_slice(b"APIC");
        mem[madt + 4..madt + 8].copy_from_slice(&(len as u32).to_le_bytes());
        mem[madt + 36..madt + 40].copy_from_slice(&0xFEE00000u32.to_le_bytes());
        mem[madt + 44..madt + len].copy_from_slice(&entries);
        fix_checksum(&mut mem[madt..madt + len], 9);
        let m = find_madt(&Buffer { base: 0, bytes: &mem }, 0).unwrap();
        assert_eq!(m.cpus, vec![0, 1]);
        assert_eq!(m.local_apic_addr, 0xFEE00000);
        assert_eq!(
            m.ioapics,
            vec![IoApic {
                id: 9,
                addr: 0xFEC00000,
                gsi_base: 0
            }]
        );
        assert_eq!(
            m.overrides,
            vec![
                IsaOverride {
                    isa: 0,
                    gsi: 2,
                    level: false,
                    active_low: false
                },
                IsaOverride {
                    isa: 9,
                    gsi: 9,
                    level: true,
                    active_low: true
                }
            ]
        );
        assert_eq!(isa_route(&m.overrides, 0), (2, false, false));
        assert_eq!(isa_route(&m.overrides, 4), (4, false, false));
        assert_eq!(isa_route(&m.overrides, 9), (9, true, true));
        // A corrupted byte is caught by the checksum.
        mem[madt + 50] ^= 1;
        assert_eq!(
            find_madt(&Buffer { base: 0, bytes: &mem }, 0),
            Err(AcpiError::BadChecksum("APIC"))
        );
    }
}
