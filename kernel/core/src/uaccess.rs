//! The pure part of user-memory checks: does a pointer and length lie wholly in user space?

/// The first address above user space (lower canonical half, last page excluded so that no
/// user range ends at the non-canonical boundary).
pub const USER_TOP: u64 = 0x0000_7FFF_FFFF_F000;

/// Lowest user address: the zero page is never mapped, so null stays invalid.
pub const USER_BOTTOM: u64 = 0x1000;

/// Checks that `[ptr, ptr + len)` lies in user space. A zero-length range is valid anywhere
/// in user space (including at its end).
pub fn user_range(ptr: u64, len: u64) -> bool {
    match ptr.checked_add(len) {
        None => false,
        Some(end) => ptr >= USER_BOTTOM && end <= USER_TOP,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn edges() {
        assert!(user_range(0x1000, 0));
        assert!(user_range(0x400000, 4096));
        assert!(!user_range(0, 1));
        assert!(!user_range(0xFFFF_8000_0000_0000, 8));
        assert!(!user_range(u64::MAX - 3, 8));
        assert!(!user_range(USER_TOP - 4, 8));
        assert!(user_range(USER_TOP - 8, 8));
    }

    proptest! {
        #[test]
        fn accepted_ranges_are_inside(ptr: u64, len: u64) {
            if user_range(ptr, len) {
                prop_assert!(ptr >= USER_BOTTOM && ptr + len <= USER_TOP);
            }
        }
    }
}
