//! Physical memory planning: which page frames the allocator may hand out, given the loader's
//! memory map and the ranges the kernel must keep (its image, the initrd, low memory).

use alloc::vec::Vec;

use crate::bootinfo::{MemRegion, MEM_USABLE};

pub const PAGE: u64 = 4096;

/// Memory below this is never handed out: BIOS data, the AP start-up page, loader leftovers.
pub const LOW_RESERVED: u64 = 0x10_0000;

/// A half-open physical range `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Range {
    pub start: u64,
    pub end: u64,
}

impl Range {
    pub fn len(&self) -> u64 {
        self.end - self.start
    }
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }
}

/// Usable RAM, page aligned inwards, minus `reserved` (any alignment, may overlap), above
/// `LOW_RESERVED`. The result is sorted and non-overlapping.
pub fn free_ranges(memory: &[MemRegion], reserved: &[Range]) -> Vec<Range> {
    let mut usable: Vec<Range> = memory
        .iter()
        .filter(|r| r.kind == MEM_USABLE)
        .filter_map(|r| {
            let start = r.base.checked_add(PAGE - 1)? & !(PAGE - 1);
            let end = r.base.checked_add(r.len)? & !(PAGE - 1);
            let start = start.max(LOW_RESERVED);
            (end > start).then_some(Range { start, end })
        })
        .collect();
    usable.sort();
    // Merge overlaps a loader might report.
    let mut merged: Vec<Range> = Vec::new();
    for r in usable {
        match merged.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    let mut out = merged;
    for res in reserved {
        let rs = res.start & !(PAGE - 1);
        let re = res.end.saturating_add(PAGE - 1) & !(PAGE - 1);
        let mut next = Vec::with_capacity(out.len() + 1);
        for r in out {
            if re <= r.start || rs >= r.end {
                next.push(r);
                continue;
            }
            if rs > r.start {
                next.push(Range {
                    start: r.start,
                    end: rs,
                });
            }
            if re < r.end {
                next.push(Range { start: re, end: r.end });
            }
        }
        out = next;
    }
    out
}

/// The highest address of any RAM region (usable or not), for sizing the direct map.
pub fn top_of_ram(memory: &[MemRegion]) -> u64 {
    memory
        .iter()
        .filter(|r| r.kind == MEM_USABLE)
        .map(|r| r.base.saturating_add(r.len))
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn usable(base: u64, len: u64) -> MemRegion {
        MemRegion {
            base,
            len,
            kind: MEM_USABLE,
        }
    }

    #[test]
    fn subtracts_reserved_and_low_memory() {
        let mem = [
            usable(0, 0x9fc00),
            usable(0x100000, 0x7f00000),
            MemRegion {
                base: 0xfeff0000,
                len: 0x10000,
                kind: 2,
            },
        ];
        let r = free_ranges(
            &mem,
            &[
                Range {
                    start: 0x100000,
                    end: 0x180123,
                },
                Range {
                    start: 0x400000,
                    end: 0x500000,
                },
            ],
        );
        assert_eq!(
            r,
            vec![
                Range {
                    start: 0x181000,
                    end: 0x400000
                },
                Range {
                    start: 0x500000,
                    end: 0x8000000
                }
            ]
        );
    }

    proptest! {
        #[test]
        fn free_ranges_avoid_reserved(
            regions in proptest::collection::vec((0u64..1 << 32, 0u64..1 << 28), 0..8),
            reserved in proptest::collection::vec((0u64..1 << 32, 0u64..1 << 26), 0..8),
        ) {
            let mem: Vec<MemRegion> = regions.iter().map(|&(b, l)| usable(b, l)).collect();
            let res: Vec<Range> = reserved.iter().map(|&(b, l)| Range { start: b, end: b + l }).collect();
            let free = free_ranges(&mem, &res);
            for (i, f) in free.iter().enumerate() {
                prop_assert!(f.start % PAGE == 0 && f.end % PAGE == 0 && f.start < f.end);
                prop_assert!(f.start >= LOW_RESERVED);
                if i > 0 { prop_assert!(free[i - 1].end <= f.start); }
                for r in &res {
                    prop_assert!(r.end <= f.start || r.start >= f.end || r.start == r.end, "{:?} overlaps {:?}", f, r);
                }
                // Covered by the union of the usable regions.
                let mut pos = f.start;
                while pos < f.end {
                    let next = mem.iter().filter(|m| m.base <= pos && pos < m.base + m.len).map(|m| m.base + m.len).max();
                    prop_assert!(next.is_some(), "{:#x} in {:?} is not usable RAM", pos, f);
                    pos = next.unwrap_or(f.end);
                }
            }
        }
    }
}
