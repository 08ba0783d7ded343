//! Byte-level CSV writing helpers.
//!
//! The ratings file is ~700 MB at 25M ratings, so lines are assembled by hand into byte
//! buffers: `write!` through `fmt` costs several times more per integer than this.

/// Appends the decimal form of `v`.
#[inline]
pub(crate) fn push_u64(buf: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}

/// Appends `v` left-padded with zeros to at least `width` digits (IMDb ids: `0114709`).
pub(crate) fn push_u64_padded(buf: &mut Vec<u8>, v: u64, width: usize) {
    let mut digits = Vec::with_capacity(20);
    push_u64(&mut digits, v);
    for _ in digits.len()..width {
        buf.push(b'0');
    }
    buf.extend_from_slice(&digits);
}

/// Appends a CSV field, quoted only when it must be (a comma, quote or line break inside),
/// with inner quotes doubled: the convention of the MovieLens files.
pub(crate) fn push_field(buf: &mut Vec<u8>, field: &str) {
    if field.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        buf.push(b'"');
        for b in field.bytes() {
            if b == b'"' {
                buf.push(b'"');
            }
            buf.push(b);
        }
        buf.push(b'"');
    } else {
        buf.extend_from_slice(field.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut b = Vec::new();
        f(&mut b);
        String::from_utf8(b).expect("ascii")
    }

    #[test]
    fn integers() {
        assert_eq!(s(|b| push_u64(b, 0)), "0");
        assert_eq!(s(|b| push_u64(b, 1_147_880_044)), "1147880044");
        assert_eq!(s(|b| push_u64(b, u64::MAX)), u64::MAX.to_string());
    }

    #[test]
    fn padded() {
        assert_eq!(s(|b| push_u64_padded(b, 114_709, 7)), "0114709");
        assert_eq!(s(|b| push_u64_padded(b, 12_345_678, 7)), "12345678");
    }

    #[test]
    fn fields_quote_only_when_needed() {
        assert_eq!(s(|b| push_field(b, "Heat (1995)")), "Heat (1995)");
        assert_eq!(
            s(|b| push_field(b, "American President, The (1995)")),
            "\"American President, The (1995)\""
        );
        assert_eq!(
            s(|b| push_field(b, "\"Great Performances\" Cats (1998)")),
            "\"\"\"Great Performances\"\" Cats (1998)\""
        );
    }
}
