//! Boot information from either loader: Xen PVH `hvm_start_info` or Multiboot2. Parsed into
//! owned values first thing, because the loader left it in memory the map calls usable.

use alloc::string::String;
use alloc::vec::Vec;

use crate::PhysRead;

pub const PVH_MAGIC: u32 = 0x336e_c578;
pub const MB2_BOOTLOADER_MAGIC: u32 = 0x36d7_6289;

/// A memory-map entry. `kind` 1 is usable RAM (E820 numbering, which both loaders use).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemRegion {
    pub base: u64,
    pub len: u64,
    pub kind: u32,
}

pub const MEM_USABLE: u32 = 1;

/// A boot module (the initrd).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Module {
    pub base: u64,
    pub len: u64,
    pub cmdline: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BootInfo {
    pub loader: &'static str,
    pub memory: Vec<MemRegion>,
    pub modules: Vec<Module>,
    pub cmdline: String,
    pub rsdp: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootInfoError {
    /// Neither loader's magic matched.
    UnknownLoader,
    /// A structure points outside readable memory or is malformed.
    Malformed(&'static str),
}

const MAX_ENTRIES: u32 = 1024;
const MAX_STRING: usize = 4096;

fn c_string(mem: &dyn PhysRead, paddr: u64) -> String {
    let mut s = String::new();
    if paddr == 0 {
        return s;
    }
    for i in 0..MAX_STRING as u64 {
        match mem.u8_at(paddr + i) {
            Some(0) | None => break,
            Some(b) => s.push(if b.is_ascii() { b as char } else { '?' }),
        }
    }
    s
}

/// Parses the boot information given `eax` (loader magic) and `ebx` (info address).
pub fn parse(mem: &dyn PhysRead, eax: u32, ebx: u32) -> Result<BootInfo, BootInfoError> {
    let info = u64::from(ebx);
    if eax == MB2_BOOTLOADER_MAGIC {
        return parse_multiboot2(mem, info);
    }
    if mem.u32_at(info) == Some(PVH_MAGIC) {
        return parse_pvh(mem, info);
    }
    Err(BootInfoError::UnknownLoader)
}

fn parse_pvh(mem: &dyn PhysRead, info: u64) -> Result<BootInfo, BootInfoError> {
    let bad = BootInfoError::Malformed;
    let version = mem.u32_at(info + 4).ok_or(bad("start_info"))?;
    let nr_modules = mem.u32_at(info + 12).ok_or(bad("start_info"))?;
    let modlist = mem.u64_at(info + 16).ok_or(bad("start_info"))?;
    let cmdline = mem.u64_at(info + 24).ok_or(bad("start_info"))?;
    let rsdp = mem.u64_at(info + 32).ok_or(bad("start_info"))?;
    let mut bi = BootInfo {
        loader: "pvh",
        cmdline: c_string(mem, cmdline),
        rsdp: (rsdp != 0).then_some(rsdp),
        ..Default::default()
    };
    if version >= 1 {
        let memmap = mem.u64_at(info + 40).ok_or(bad("start_info"))?;
        let entries = mem.u32_at(info + 48).ok_or(bad("start_info"))?;
        if entries > MAX_ENTRIES {
            return Err(bad("too many memory map entries"));
        }
        for i in 0..u64::from(entries) {
            let e = memmap + i * 24;
            bi.memory.push(MemRegion {
                base: mem.u64_at(e).ok_or(bad("memory map"))?,
                len: mem.u64_at(e + 8).ok_or(bad("memory map"))?,
                kind: mem.u32_at(e + 16).ok_or(bad("memory map"))?,
            });
        }
    }
    if nr_modules > MAX_ENTRIES {
        return Err(bad("too many modules"));
    }
    for i in 0..u64::from(nr_modules) {
        let m = modlist + i * 32;
        bi.modules.push(Module {
            base: mem.u64_at(m).ok_or(bad("module list"))?,
            len: mem.u64_at(m + 8).ok_or(bad("module list"))?,
            cmdline: c_string(mem, mem.u64_at(m + 16).ok_or(bad("module list"))?),
        });
    }
    Ok(bi)
}

fn parse_multiboot2(mem: &dyn PhysRead, info: u64) -> Result<BootInfo, BootInfoError> {
    let bad = BootInfoError::Malformed;
    let total = mem.u32_at(info).ok_or(bad("multiboot2 info"))?;
    if !(16..=1 << 20).contains(&total) {
        return Err(bad("multiboot2 info size"));
    }
    let end = info + u64::from(total);
    let mut bi = BootInfo {
        loader: "multiboot2",
        ..Default::default()
    };
    let mut tag = info + 8;
    while tag + 8 <= end {
        let ty = mem.u32_at(tag).ok_or(bad("tag"))?;
        let size = u64::from(mem.u32_at(tag + 4).ok_or(bad("tag"))?);
        if size < 8 || tag + size > end {
            return Err(bad("tag size"));
        }
        match ty {
            0 => break,
            1 => bi.cmdline = c_string(mem, tag + 8),
            3 => bi.modules.push(Module {
                base: u64::from(mem.u32_at(tag + 8).ok_or(bad("module"))?),
                len: u64::from(mem.u32_at(tag + 12).ok_or(bad("module"))?)
                    .saturating_sub(u64::from(mem.u32_at(tag + 8).ok_or(bad("module"))?)),
                cmdline: c_string(mem, tag + 16),
            }),
            6 => {
                let entry_size = u64::from(mem.u32_at(tag + 8).ok_or(bad("mmap"))?);
                if entry_size < 24 {
                    return Err(bad("mmap entry size"));
                }
                let mut e = tag + 16;
                while e + entry_size <= tag + size {
                    bi.memory.push(MemRegion {
                        base: mem.u64_at(e).ok_or(bad("mmap"))?,
                        len: mem.u64_at(e + 8).ok_or(bad("mmap"))?,
                        kind: mem.u32_at(e + 16).ok_or(bad("mmap"))?,
                    });
                    e += entry_size;
                }
            }
            14 | 15 => bi.rsdp = Some(tag + 8),
            _ => {}
        }
        tag = (tag + size + 7) & !7;
    }
    Ok(bi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Buffer;

    fn put(b: &mut [u8], off: usize, v: &[u8]) {
        b[off..off + v.len()].copy_from_slice(v);
    }

    #[test]
    fn parses_pvh() {
        let mut m = vec![0u8; 4096];
        let base = 0x1000u64;
        put(&mut m, 0, &PVH_MAGIC.to_le_bytes());
        put(&mut m, 4, &1u32.to_le_bytes());
        put(&mut m, 12, &1u32.to_le_bytes());
        put(&mut m, 16, &(base + 0x200).to_le_bytes());
        put(&mut m, 24, &(base + 0x100).to_le_bytes());
        put(&mut m, 32, &0xE0000u64.to_le_bytes());
        put(&mut m, 40, &(base + 0x300).to_le_bytes());
        put(&mut m, 48, &2u32.to_le_bytes());
        put(&mut m, 0x100, b"init=x log=debug\0");
        put(&mut m, 0x200, &0x800000u64.to_le_bytes());
        put(&mut m, 0x208, &0x4000u64.to_le_bytes());
        put(&mut m, 0x300, &0u64.to_le_bytes());
        put(&mut m, 0x308, &0x9fc00u64.to_le_bytes());
        put(&mut m, 0x310, &1u32.to_le_bytes());
        put(&mut m, 0x318, &0x100000u64.to_le_bytes());
        put(&mut m, 0x320, &0x7ee0000u64.to_le_bytes());
        put(&mut m, 0x328, &1u32.to_le_bytes());
        let bi = parse(&Buffer { base, bytes: &m }, 0, base as u32).unwrap();
        assert_eq!(bi.loader, "pvh");
        assert_eq!(bi.cmdline, "init=x log=debug");
        assert_eq!(bi.rsdp, Some(0xE0000));
        assert_eq!(
            bi.modules,
            vec![Module {
                base: 0x800000,
                len: 0x4000,
                cmdline: String::new()
            }]
        );
        assert_eq!(bi.memory.len(), 2);
        assert_eq!(
            bi.memory[1],
            MemRegion {
                base: 0x100000,
                len: 0x7ee0000,
                kind: 1
            }
        );
    }

    #[test]
    fn parses_multiboot2() {
        let mut m = vec![0u8; 256];
        let base = 0x2000u64;
        // cmdline tag
        put(&mut m, 8, &1u32.to_le_bytes());
        put(&mut m, 12, &13u32.to_le_bytes());
        put(&mut m, 16, b"hello\0");
        // module tag at 24
        put(&mut m, 24, &3u32.to_le_bytes());
        put(&mut m, 28, &20u32.to_le_bytes());
        put(&mut m, 32, &0x400000u32.to_le_bytes());
        put(&mut m, 36, &0x401000u32.to_le_bytes());
        put(&mut m, 40, b"rd\0\0");
        // mmap tag at 48: one entry
        put(&mut m, 48, &6u32.to_le_bytes());
        put(&mut m, 52, &40u32.to_le_bytes());
        put(&mut m, 56, &24u32.to_le_bytes());
        put(&mut m, 64, &0x100000u64.to_le_bytes());
        put(&mut m, 72, &0x1000000u64.to_le_bytes());
        put(&mut m, 80, &1u32.to_le_bytes());
        // end tag at 88
        put(&mut m, 88, &0u32.to_le_bytes());
        put(&mut m, 92, &8u32.to_le_bytes());
        put(&mut m, 0, &96u32.to_le_bytes());
        let bi = parse(&Buffer { base, bytes: &m }, MB2_BOOTLOADER_MAGIC, base as u32).unwrap();
        assert_eq!(bi.cmdline, "hello");
        assert_eq!(bi.modules[0].base, 0x400000);
        assert_eq!(bi.modules[0].len, 0x1000);
        assert_eq!(bi.modules[0].cmdline, "rd");
        assert_eq!(
            bi.memory,
            vec![MemRegion {
                base: 0x100000,
                len: 0x1000000,
                kind: 1
            }]
        );
    }

    #[test]
    fn rejects_garbage() {
        let m = vec![0xAAu8; 64];
        assert_eq!(
            parse(&Buffer { base: 0, bytes: &m }, 0, 0),
            Err(BootInfoError::UnknownLoader)
        );
        let mut m = vec![0u8; 64];
        m[0..4].copy_from_slice(&PVH_MAGIC.to_le_bytes());
        m[4] = 1;
        m[12..16].copy_from_slice(&5000u32.to_le_bytes());
        assert!(parse(&Buffer { base: 0, bytes: &m }, 0, 0).is_err());
    }
}
