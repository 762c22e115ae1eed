//! Checking a user ELF before loading it: what to map where, with which access, refusing
//! anything malformed with a message that says what is wrong.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use xmas_elf::header::{Class, Data, Machine, Type};
use xmas_elf::program::{ProgramHeader, Type as PType};
use xmas_elf::ElfFile;

use crate::memmap::PAGE;
use crate::uaccess::user_range;

/// One loadable segment, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    pub vaddr: u64,
    pub memsz: u64,
    /// Bytes of the file copied to `vaddr`; the rest up to `memsz` is zero.
    pub file_offset: u64,
    pub filesz: u64,
    pub write: bool,
    pub exec: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub entry: u64,
    pub segments: Vec<Segment>,
}

const MAX_SEGMENTS: usize = 16;

/// Validates `image` as a static x86-64 user executable and returns what to map.
pub fn plan(image: &[u8]) -> Result<Plan, String> {
    // The ELF parser reads headers in place and needs them 8-byte aligned; files inside a
    // CPIO archive are only 4-byte aligned, so misaligned images are parsed from a copy.
    if !(image.as_ptr() as usize).is_multiple_of(8) {
        let mut words = alloc::vec![0u64; image.len().div_ceil(8)];
        // SAFETY: `words` has at least `image.len()` bytes; u8 has no alignment or validity
        // requirements, so viewing the u64 buffer as bytes is sound.
        let bytes = unsafe { core::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<u8>(), image.len()) };
        bytes.copy_from_slice(image);
        return plan_aligned(bytes);
    }
    plan_aligned(image)
}

fn plan_aligned(image: &[u8]) -> Result<Plan, String> {
    let elf = ElfFile::new(image).map_err(|e| format!("not an ELF file: {e}"))?;
    let h = &elf.header;
    if h.pt1.class() != Class::SixtyFour {
        return Err("not a 64-bit ELF".into());
    }
    if h.pt1.data() != Data::LittleEndian {
        return Err("not little-endian".into());
    }
    match h.pt2.machine().as_machine() {
        Machine::X86_64 => {}
        _ => return Err("not an x86-64 executable".into()),
    }
    match h.pt2.type_().as_type() {
        Type::Executable => {}
        t => return Err(format!("ELF type {t:?} is not a static executable (ET_EXEC)")),
    }
    let entry = h.pt2.entry_point();
    let phnum = h.pt2.ph_count() as usize;
    let phentsize = h.pt2.ph_entry_size() as usize;
    let phoff = h.pt2.ph_offset();
    let ph_end = (phnum as u64)
        .checked_mul(phentsize as u64)
        .and_then(|n| n.checked_add(phoff));
    if phentsize != 56 || ph_end.is_none_or(|e| e > image.len() as u64) {
        return Err("program headers lie outside the file".into());
    }
    let mut segments: Vec<Segment> = Vec::new();
    for i in 0..phnum {
        let ph = elf
            .program_header(i as u16)
            .map_err(|e| format!("program header {i}: {e}"))?;
        let ProgramHeader::Ph64(p) = ph else {
            return Err("32-bit program header".into());
        };
        match ph.get_type() {
            Ok(PType::Load) => {}
            Ok(_) => continue,
            Err(e) => return Err(format!("program header {i}: {e}")),
        }
        if p.mem_size == 0 {
            continue;
        }
        if segments.len() == MAX_SEGMENTS {
            return Err(format!("more than {MAX_SEGMENTS} loadable segments"));
        }
        if p.file_size > p.mem_size {
            return Err(format!(
                "segment {i}: file size {:#x} exceeds memory size {:#x}",
                p.file_size, p.mem_size
            ));
        }
        if p.offset.checked_add(p.file_size).is_none_or(|e| e > image.len() as u64) {
            return Err(format!("segment {i}: file bytes lie outside the file"));
        }
        if !user_range(p.virtual_addr, p.mem_size) {
            return Err(format!(
                "segment {i}: {:#x}+{:#x} is not in user space",
                p.virtual_addr, p.mem_size
            ));
        }
        if !(p.virtual_addr.wrapping_sub(p.offset)).is_multiple_of(PAGE) {
            return Err(format!(
                "segment {i}: address and file offset disagree modulo the page size"
            ));
        }
        let write = p.flags.is_write();
        let exec = p.flags.is_execute();
        if write && exec {
            return Err(format!("segment {i} is writable and executable (W^X)"));
        }
        let (start, end) = (
            p.virtual_addr & !(PAGE - 1),
            (p.virtual_addr + p.mem_size + PAGE - 1) & !(PAGE - 1),
        );
        if segments.iter().any(|s| {
            let (ss, se) = (s.vaddr & !(PAGE - 1), (s.vaddr + s.memsz + PAGE - 1) & !(PAGE - 1));
            start < se && ss < end
        }) {
            return Err(format!("segment {i} overlaps another segment's pages"));
        }
        segments.push(Segment {
            vaddr: p.virtual_addr,
            memsz: p.mem_size,
            file_offset: p.offset,
            filesz: p.file_size,
            write,
            exec,
        });
    }
    if segments.is_empty() {
        return Err("no loadable segments".into());
    }
    if !segments
        .iter()
        .any(|s| s.exec && s.vaddr <= entry && entry < s.vaddr + s.memsz)
    {
        return Err(format!("entry point {entry:#x} is not in an executable segment"));
    }
    Ok(Plan { entry, segments })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal valid ELF: one RX segment at 0x400000 holding the entry.
    fn image() -> Vec<u8> {
        let mut f = vec![0u8; 0x1100];
        f[0..4].copy_from_slice(b"\x7fELF");
        f[4] = 2; // 64-bit
        f[5] = 1; // little-endian
        f[6] = 1; // version
        f[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        f[18..20].copy_from_slice(&62u16.to_le_bytes()); // x86-64
        f[20..24].copy_from_slice(&1u32.to_le_bytes());
        f[24..32].copy_from_slice(&0x401000u64.to_le_bytes()); // entry
        f[32..40].copy_from_slice(&64u64.to_le_bytes()); // phoff
        f[52..54].copy_from_slice(&64u16.to_le_bytes()); // ehsize
        f[54..56].copy_from_slice(&56u16.to_le_bytes()); // phentsize
        f[56..58].copy_from_slice(&1u16.to_le_bytes()); // phnum
        let p = 64;
        f[p..p + 4].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
        f[p + 4..p + 8].copy_from_slice(&5u32.to_le_bytes()); // R X
        f[p + 8..p + 16].copy_from_slice(&0x1000u64.to_le_bytes()); // offset
        f[p + 16..p + 24].copy_from_slice(&0x401000u64.to_le_bytes()); // vaddr
        f[p + 32..p + 40].copy_from_slice(&0x100u64.to_le_bytes()); // filesz
        f[p + 40..p + 48].copy_from_slice(&0x2000u64.to_le_bytes()); // memsz
        f
    }

    #[test]
    fn accepts_misaligned_images() {
        let mut buf = vec![0u8; 1];
        buf.extend(image());
        assert!(plan(&buf[1..]).is_ok());
    }

    #[test]
    fn accepts_valid() {
        let p = plan(&image()).unwrap();
        assert_eq!(p.entry, 0x401000);
        assert_eq!(p.segments[0].memsz, 0x2000);
    }

    #[test]
    fn rejects_each_defect() {
        type Mutation = Box<dyn Fn(&mut Vec<u8>)>;
        let cases: Vec<(Mutation, &str)> = vec![
            (Box::new(|f| f[0] = 0), "not an ELF"),
            (Box::new(|f| f[4] = 1), "64-bit"),
            (Box::new(|f| f[18] = 3), "x86-64"),
            (Box::new(|f| f[16] = 3), "static executable"),
            (Box::new(|f| f[64 + 4] = 7), "W^X"),
            (
                Box::new(|f| f[64 + 32..64 + 40].copy_from_slice(&0x3000u64.to_le_bytes())),
                "exceeds memory size",
            ),
            (
                Box::new(|f| f[64 + 8..64 + 16].copy_from_slice(&0x10000u64.to_le_bytes())),
                "outside the file",
            ),
            (
                Box::new(|f| f[64 + 16..64 + 24].copy_from_slice(&0xFFFF_8000_0000_1000u64.to_le_bytes())),
                "not in user space",
            ),
            (
                Box::new(|f| f[24..32].copy_from_slice(&0x900000u64.to_le_bytes())),
                "entry point",
            ),
            (
                Box::new(|f| f[32..40].copy_from_slice(&0xFFFF_FFFFu64.to_le_bytes())),
                "program headers",
            ),
            (Box::new(|f| f.truncate(40)), "ELF"),
        ];
        for (mutate, expect) in cases {
            let mut f = image();
            mutate(&mut f);
            let e = plan(&f).unwrap_err();
            assert!(e.contains(expect), "expected `{expect}` in `{e}`");
        }
    }
}
