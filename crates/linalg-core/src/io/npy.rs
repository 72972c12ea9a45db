//! NPY arrays (`.npy`, format 1.0–3.0) of f64/f32, C order, 1-D or 2-D.
//!
//! Written by hand rather than through faer's `io::npy`: that reader panics on
//! truncated input and there is no writer. Our writer reproduces NumPy's
//! `np.save` byte for byte (format 1.0, header padded to a multiple of 64 bytes
//! with room for the first axis to grow, as NumPy ≥ 1.24 does).

use std::io::{Read, Write};
use std::path::Path;

use faer::{Col, ColRef, Mat, MatRef};

use crate::{Error, NpyProblem, Result};

const MAGIC: &[u8] = b"\x93NUMPY";

/// Element type of an NPY file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NpyDtype {
    /// `float64` (`<f8`).
    F64,
    /// `float32` (`<f4`).
    F32,
}

/// A dense array read from an NPY file, converted to f64, in C (row-major) order.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// The shape (one or two axes).
    pub shape: Vec<usize>,
    /// The stored element type.
    pub dtype: NpyDtype,
    /// The values in C order.
    pub data: Vec<f64>,
}

impl NpyArray {
    /// The array as a column: accepts shape `(n,)`, `(n, 1)` or `(1, n)`.
    pub fn into_col(self) -> Result<Col<f64>> {
        match self.shape.as_slice() {
            [_] | [_, 1] | [1, _] => Ok(Col::from_fn(self.data.len(), |i| self.data[i])),
            _ => Err(Error::Npy(NpyProblem::UnsupportedShape(self.shape))),
        }
    }

    /// The array as a matrix: shape `(r, c)`, or `(n,)` read as `n × 1`.
    pub fn into_mat(self) -> Result<Mat<f64>> {
        let (r, c) = match self.shape.as_slice() {
            [n] => (*n, 1),
            [r, c] => (*r, *c),
            _ => return Err(Error::Npy(NpyProblem::UnsupportedShape(self.shape))),
        };
        Ok(Mat::from_fn(r, c, |i, j| self.data[i * c + j]))
    }
}

fn bad(s: impl Into<String>) -> Error {
    Error::Npy(NpyProblem::BadHeader(s.into()))
}

/// A value of the header dictionary.
#[derive(Debug, PartialEq)]
enum HeaderValue {
    Str(String),
    Bool(bool),
    Tuple(Vec<usize>),
}

/// Parses the header dictionary strictly: `{'descr': <str>, 'fortran_order':
/// <bool>, 'shape': <tuple of ints>}`, each key exactly once and no other,
/// an optional trailing comma, then only spaces up to the final newline.
/// Written by hand: it is a tiny subset of Python literals, and the errors
/// say which part is wrong.
fn parse_header_dict(header: &str) -> Result<(String, bool, Vec<usize>)> {
    let body = header.trim_end_matches([' ', '\n']);
    if !header.ends_with('\n') {
        return Err(bad("header does not end with a newline"));
    }
    let mut rest = body
        .trim_start()
        .strip_prefix('{')
        .ok_or_else(|| bad(format!("header is not a dictionary: {body:?}")))?;
    let mut entries: Vec<(String, HeaderValue)> = Vec::new();
    loop {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix('}') {
            if !r.trim().is_empty() {
                return Err(bad(format!("text after the dictionary: {r:?}")));
            }
            break;
        }
        let (key, r) =
            parse_str(rest).ok_or_else(|| bad(format!("expected a quoted key at {rest:?}")))?;
        let r = r
            .trim_start()
            .strip_prefix(':')
            .ok_or_else(|| bad(format!("expected `:` after '{key}'")))?
            .trim_start();
        let (value, r) = if let Some((v, r)) = parse_str(r) {
            (HeaderValue::Str(v), r)
        } else if let Some(r) = r.strip_prefix("True") {
            (HeaderValue::Bool(true), r)
        } else if let Some(r) = r.strip_prefix("False") {
            (HeaderValue::Bool(false), r)
        } else if let Some(r) = r.strip_prefix('(') {
            let end = r
                .find(')')
                .ok_or_else(|| bad(format!("unterminated tuple for '{key}'")))?;
            let items: Vec<&str> = r[..end].split(',').map(str::trim).collect();
            // `(3,)`, `(3, 4)`, `()`: empty items only as the trailing comma.
            let n = items.len();
            let mut dims = Vec::new();
            for (k, t) in items.iter().enumerate() {
                if t.is_empty() && (k + 1 == n) {
                    continue;
                }
                dims.push(
                    t.parse::<usize>()
                        .map_err(|_| bad(format!("bad shape entry `{t}`")))?,
                );
            }
            (HeaderValue::Tuple(dims), &r[end + 1..])
        } else {
            return Err(bad(format!("bad value for '{key}': {r:?}")));
        };
        if entries.iter().any(|(k, _)| *k == key) {
            return Err(bad(format!("key '{key}' appears twice")));
        }
        entries.push((key, value));
        rest = r.trim_start();
        if let Some(r) = rest.strip_prefix(',') {
            rest = r;
        } else if !rest.starts_with('}') {
            return Err(bad(format!("expected `,` or `}}` at {rest:?}")));
        }
    }
    let mut descr = None;
    let mut fortran = None;
    let mut shape = None;
    for (k, v) in entries {
        match (k.as_str(), v) {
            ("descr", HeaderValue::Str(s)) => descr = Some(s),
            ("fortran_order", HeaderValue::Bool(b)) => fortran = Some(b),
            ("shape", HeaderValue::Tuple(t)) => shape = Some(t),
            ("descr" | "fortran_order" | "shape", v) => {
                return Err(bad(format!("wrong type for '{k}': {v:?}")));
            }
            (other, _) => return Err(bad(format!("unknown key '{other}'"))),
        }
    }
    match (descr, fortran, shape) {
        (Some(d), Some(f), Some(s)) => Ok((d, f, s)),
        (None, ..) => Err(bad("missing key 'descr'")),
        (_, None, _) => Err(bad("missing key 'fortran_order'")),
        _ => Err(bad("missing key 'shape'")),
    }
}

/// A Python string literal in single or double quotes (no escapes: none of
/// the header's strings need one).
fn parse_str(s: &str) -> Option<(String, &str)> {
    let q = s.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let end = s[1..].find(q)? + 1;
    Some((s[1..end].to_string(), &s[end + 1..]))
}

/// Reads an NPY array from a byte buffer.
pub fn read_npy_bytes(bytes: &[u8]) -> Result<NpyArray> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(Error::Npy(NpyProblem::BadMagic));
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let (hlen, hstart) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        _ => return Err(Error::Npy(NpyProblem::UnsupportedVersion(major, minor))),
    };
    let header_bytes = bytes
        .get(hstart..hstart + hlen)
        .ok_or_else(|| bad("header longer than the file"))?;
    let header = std::str::from_utf8(header_bytes).map_err(|_| bad("header is not text"))?;
    let (descr, fortran_order, shape) = parse_header_dict(header)?;
    let (dtype, big_endian) = match descr.as_str() {
        "<f8" | "=f8" => (NpyDtype::F64, false),
        ">f8" => (NpyDtype::F64, true),
        "<f4" | "=f4" => (NpyDtype::F32, false),
        ">f4" => (NpyDtype::F32, true),
        other => return Err(Error::Npy(NpyProblem::UnsupportedDtype(other.to_string()))),
    };
    if fortran_order {
        return Err(Error::Npy(NpyProblem::FortranOrder));
    }
    if shape.is_empty() || shape.len() > 2 {
        return Err(Error::Npy(NpyProblem::UnsupportedShape(shape)));
    }
    let width = if dtype == NpyDtype::F64 { 8 } else { 4 };
    // shape × item size, overflow-checked: a header whose product wraps
    // around 2⁶⁴ is refused, not read as a small array.
    let need = shape
        .iter()
        .try_fold(width, |a: usize, &d| a.checked_mul(d))
        .ok_or_else(|| bad(format!("shape {shape:?} × {width} bytes overflows")))?;
    let body = &bytes[hstart + hlen..];
    if body.len() != need {
        return Err(Error::Npy(NpyProblem::Truncated {
            expected: need,
            found: body.len(),
        }));
    }
    let data = body[..need]
        .chunks_exact(width)
        .map(|c| match (dtype, big_endian) {
            (NpyDtype::F64, false) => f64::from_le_bytes(c.try_into().unwrap_or([0; 8])),
            (NpyDtype::F64, true) => f64::from_be_bytes(c.try_into().unwrap_or([0; 8])),
            (NpyDtype::F32, false) => f32::from_le_bytes(c.try_into().unwrap_or([0; 4])) as f64,
            (NpyDtype::F32, true) => f32::from_be_bytes(c.try_into().unwrap_or([0; 4])) as f64,
        })
        .collect();
    Ok(NpyArray { shape, dtype, data })
}

/// Reads an NPY array from any reader.
pub fn read_npy_from(r: impl Read) -> Result<NpyArray> {
    let bytes =
        crate::budget::read_to_end_limited(r, crate::budget::max_memory(), "an NPY stream")?;
    read_npy_bytes(&bytes)
}

/// Reads an NPY file; errors name the file.
pub fn read_npy(path: impl AsRef<Path>) -> Result<NpyArray> {
    let path = path.as_ref();
    let bytes = crate::budget::read_file(path)?;
    read_npy_bytes(&bytes).map_err(|e| e.in_file(path))
}

/// Reads a 1-D NPY file (or `(n,1)`/`(1,n)`) as a column.
pub fn read_npy_col(path: impl AsRef<Path>) -> Result<Col<f64>> {
    let path = path.as_ref();
    read_npy(path)?.into_col().map_err(|e| e.in_file(path))
}

/// Reads a 2-D NPY file as a matrix.
pub fn read_npy_mat(path: impl AsRef<Path>) -> Result<Mat<f64>> {
    let path = path.as_ref();
    read_npy(path)?.into_mat().map_err(|e| e.in_file(path))
}

/// Writes C-ordered `data` of the given shape as NPY, exactly as `np.save` does.
pub fn write_npy_to(
    mut w: impl Write,
    shape: &[usize],
    data: &[f64],
    dtype: NpyDtype,
) -> Result<()> {
    let count: usize = shape.iter().product();
    if count != data.len() {
        return Err(Error::DimensionMismatch {
            context: "NPY data for the given shape",
            expected: count,
            found: data.len(),
        });
    }
    let shape_txt = match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let descr = match dtype {
        NpyDtype::F64 => "<f8",
        NpyDtype::F32 => "<f4",
    };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_txt}, }}");
    // NumPy leaves room for the first axis to grow to 21 digits.
    if let Some(first) = shape.first() {
        header.push_str(&" ".repeat(21usize.saturating_sub(first.to_string().len())));
    }
    // Pad so that magic(6) + version(2) + len(2) + header + '\n' is a multiple of 64.
    let unpadded = 6 + 2 + 2 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let hlen = u16::try_from(header.len()).map_err(|_| bad("header too long for format 1.0"))?;
    w.write_all(MAGIC)?;
    w.write_all(&[1, 0])?;
    w.write_all(&hlen.to_le_bytes())?;
    w.write_all(header.as_bytes())?;
    let mut body = Vec::with_capacity(data.len() * 8);
    for &v in data {
        match dtype {
            NpyDtype::F64 => body.extend_from_slice(&v.to_le_bytes()),
            NpyDtype::F32 => body.extend_from_slice(&(v as f32).to_le_bytes()),
        }
    }
    w.write_all(&body)?;
    w.flush()?;
    Ok(())
}

fn write_file(path: &Path, shape: &[usize], data: &[f64], dtype: NpyDtype) -> Result<()> {
    let mut bytes = Vec::new();
    write_npy_to(&mut bytes, shape, data, dtype).map_err(|e| e.in_file(path))?;
    std::fs::write(path, bytes).map_err(|e| Error::from(e).in_file(path))
}

/// Writes a column as a 1-D NPY file.
pub fn write_npy_col(path: impl AsRef<Path>, x: ColRef<'_, f64>, dtype: NpyDtype) -> Result<()> {
    let data: Vec<f64> = x.iter().copied().collect();
    write_file(path.as_ref(), &[x.nrows()], &data, dtype)
}

/// Writes a matrix as a 2-D, C-ordered NPY file.
pub fn write_npy_mat(path: impl AsRef<Path>, m: MatRef<'_, f64>, dtype: NpyDtype) -> Result<()> {
    let (r, c) = (m.nrows(), m.ncols());
    let data: Vec<f64> = (0..r)
        .flat_map(|i| (0..c).map(move |j| m[(i, j)]))
        .collect();
    write_file(path.as_ref(), &[r, c], &data, dtype)
}
