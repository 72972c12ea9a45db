//! Helpers shared by the CLI's test files.

/// An NPY v1 file with `dict` as its header text (padded and terminated as
/// `np.save` does) and raw `data`: any header, valid or not.
pub fn npy_raw(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut h = dict.to_string();
    while !(10 + h.len() + 1).is_multiple_of(64) {
        h.push(' ');
    }
    h.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(h.len() as u16).to_le_bytes());
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(data);
    out
}
