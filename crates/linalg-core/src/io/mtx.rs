//! Matrix Market coordinate files (`.mtx`) to and from faer sparse matrices.
//!
//! Reads `%%MatrixMarket matrix coordinate {real|integer|pattern} {general|symmetric}`
//! (pattern entries read as 1.0; symmetric files store one triangle and are
//! expanded). Duplicate entries are summed, as in SciPy's `mmread`. Written by
//! hand: faer has no Matrix Market support, and errors here name the line.

use std::io::{BufWriter, Read, Write};
use std::path::Path;

use faer::sparse::{SparseRowMat, Triplet};

use crate::{Error, MtxProblem, Result};

/// The value field of a Matrix Market file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MtxField {
    /// Floating-point values.
    Real,
    /// Integer values (read as f64).
    Integer,
    /// No values: every stored entry is 1.
    Pattern,
}

/// The symmetry of a Matrix Market file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MtxSymmetry {
    /// Every entry is stored.
    General,
    /// Only one triangle is stored; `a_ji = a_ij`.
    Symmetric,
}

/// Header information of a Matrix Market file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MtxHeader {
    /// Value field.
    pub field: MtxField,
    /// Symmetry.
    pub symmetry: MtxSymmetry,
    /// Rows.
    pub nrows: usize,
    /// Columns.
    pub ncols: usize,
    /// Entries stored in the file (before symmetric expansion).
    pub entries: usize,
}

fn err(line: usize, problem: MtxProblem) -> Error {
    Error::MatrixMarket { line, problem }
}

fn parse_header(line: &str) -> Result<(MtxField, MtxSymmetry)> {
    let toks: Vec<String> = line
        .split_whitespace()
        .map(|t| t.to_ascii_lowercase())
        .collect();
    if toks.first().map(String::as_str) != Some("%%matrixmarket") {
        return Err(err(
            1,
            MtxProblem::BadHeader(format!(
                "expected `%%MatrixMarket`, found `{}`",
                line.trim()
            )),
        ));
    }
    if toks.len() != 5 {
        return Err(err(
            1,
            MtxProblem::BadHeader(format!(
                "expected `%%MatrixMarket matrix coordinate <field> <symmetry>`, found `{}`",
                line.trim()
            )),
        ));
    }
    if toks[1] != "matrix" {
        return Err(err(
            1,
            MtxProblem::Unsupported(format!("object `{}`", toks[1])),
        ));
    }
    if toks[2] != "coordinate" {
        return Err(err(
            1,
            MtxProblem::Unsupported(format!("format `{}` (only `coordinate`)", toks[2])),
        ));
    }
    let field = match toks[3].as_str() {
        "real" | "double" => MtxField::Real,
        "integer" => MtxField::Integer,
        "pattern" => MtxField::Pattern,
        other => return Err(err(1, MtxProblem::Unsupported(format!("field `{other}`")))),
    };
    let symmetry = match toks[4].as_str() {
        "general" => MtxSymmetry::General,
        "symmetric" => MtxSymmetry::Symmetric,
        other => {
            return Err(err(
                1,
                MtxProblem::Unsupported(format!("symmetry `{other}`")),
            ));
        }
    };
    Ok((field, symmetry))
}

fn parse_usize(tok: &str, line: usize) -> Result<usize> {
    tok.parse::<usize>()
        .map_err(|_| err(line, MtxProblem::NotANumber(tok.to_string())))
}

/// Reads a Matrix Market coordinate matrix from any reader.
///
/// The declared sizes bound what is allocated, never the other way round:
/// the compressed matrix the size line asks for (row pointers for every
/// declared row, two words per entry the file can actually hold) is checked
/// against [`crate::budget`] before anything is allocated.
pub fn read_matrix_market_from(reader: impl Read) -> Result<(SparseRowMat<usize, f64>, MtxHeader)> {
    read_impl(reader, false)
}

/// Reads only the header and size line of a Matrix Market file (a few
/// lines, whatever the file's size), so a caller can check what the matrix
/// will cost before reading it. `entries` is the declared count.
pub fn read_matrix_market_header(path: impl AsRef<Path>) -> Result<MtxHeader> {
    use std::io::BufRead;
    let path = path.as_ref();
    let f = std::fs::File::open(path).map_err(|e| Error::from(e).in_file(path))?;
    let mut text = String::new();
    let mut reader = std::io::BufReader::new(f);
    let mut line = String::new();
    let mut lineno = 0usize;
    loop {
        line.clear();
        // Lines are read with a cap (64 KiB): a header line is short.
        let n = (&mut reader)
            .take(1 << 16)
            .read_line(&mut line)
            .map_err(|e| Error::from(e).in_file(path))?;
        lineno += 1;
        text.push_str(&line);
        if n == 0 || lineno > 1 && !line.trim_start().starts_with('%') && !line.trim().is_empty() {
            break;
        }
    }
    let (field, symmetry, nrows, ncols, entries, _) =
        parse_preamble(&text).map_err(|e| e.in_file(path))?;
    Ok(MtxHeader {
        field,
        symmetry,
        nrows,
        ncols,
        entries,
    })
}

type Preamble = (MtxField, MtxSymmetry, usize, usize, usize, usize);

/// The header line and the size line: field, symmetry, rows, columns,
/// declared entries and the size line's number.
fn parse_preamble(text: &str) -> Result<Preamble> {
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    let Some((_, first)) = lines.next() else {
        return Err(err(1, MtxProblem::BadHeader("empty file".into())));
    };
    let (field, symmetry) = parse_header(first)?;
    let mut content = lines.filter(|(_, l)| {
        let t = l.trim_start();
        !(t.is_empty() || t.starts_with('%'))
    });
    // Size line: first non-comment, non-blank line.
    let Some((cur, l)) = content.next() else {
        return Err(err(2, MtxProblem::BadSizeLine("missing".into())));
    };
    let mut toks = l.split_ascii_whitespace();
    let (Some(a), Some(b), Some(c), None) = (toks.next(), toks.next(), toks.next(), toks.next())
    else {
        return Err(err(cur, MtxProblem::BadSizeLine(l.trim().to_string())));
    };
    let (nrows, ncols, nnz) = (
        parse_usize(a, cur)?,
        parse_usize(b, cur)?,
        parse_usize(c, cur)?,
    );
    if symmetry == MtxSymmetry::Symmetric && nrows != ncols {
        return Err(err(
            cur,
            MtxProblem::BadSizeLine(format!(
                "a symmetric matrix must be square, got {nrows}×{ncols}"
            )),
        ));
    }
    Ok((field, symmetry, nrows, ncols, nnz, cur))
}

/// Reads a matrix that a symmetric positive definite solver will use, and
/// refuses, before assembly, one that structurally cannot be SPD: not
/// square, empty (0×0), fewer stored entries than rows, a row without a diagonal entry, or
/// a diagonal entry that is not positive (duplicates summed first).
pub fn read_spd_matrix_market_from(
    reader: impl Read,
) -> Result<(SparseRowMat<usize, f64>, MtxHeader)> {
    read_impl(reader, true)
}

/// [`read_spd_matrix_market_from`] on a file; errors name the file.
pub fn read_spd_matrix_market(path: impl AsRef<Path>) -> Result<SparseRowMat<usize, f64>> {
    let path = path.as_ref();
    let bytes = crate::budget::read_file(path)?;
    read_spd_matrix_market_from(&bytes[..])
        .map(|(m, _)| m)
        .map_err(|e| e.in_file(path))
}

fn read_impl(reader: impl Read, spd: bool) -> Result<(SparseRowMat<usize, f64>, MtxHeader)> {
    // One buffer, no allocation per line: the entry loop dominates for large
    // files. A stream is read up to the budget, never without bound.
    let bytes = crate::budget::read_to_end_limited(
        reader,
        crate::budget::max_memory(),
        "a Matrix Market stream",
    )?;
    let text = String::from_utf8(bytes).map_err(|_| {
        Error::from(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        ))
    })?;
    let (field, symmetry, nrows, ncols, nnz, size_line) = parse_preamble(&text)?;
    let mut cur = size_line;
    let cur_size_line = size_line;
    let content = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .skip(size_line)
        .filter(|(_, l)| {
            let t = l.trim_start();
            !(t.is_empty() || t.starts_with('%'))
        });
    let total_lines = text.lines().count();
    if spd {
        let why = if nrows != ncols {
            Some(format!("it is {nrows}×{ncols}, not square"))
        } else if nrows == 0 {
            Some("it is empty (0×0)".to_string())
        } else if nrows > total_lines {
            Some(format!(
                "the file has {total_lines} lines, too few for the {nrows} diagonal entries"
            ))
        } else {
            None
        };
        if let Some(why) = why {
            return Err(err(cur, MtxProblem::NotSpd(why)));
        }
    }
    // What assembly will hold: the triplets the file can actually contain
    // (at most one per remaining line, twice for a symmetric file) and the
    // compressed matrix with a row pointer for every declared row.
    let stored = nnz.min(total_lines.saturating_sub(cur));
    let cap = if symmetry == MtxSymmetry::Symmetric {
        stored.saturating_mul(2)
    } else {
        stored
    };
    let need = crate::budget::Bytes::of::<Triplet<usize, usize, f64>>(cap)
        // faer's assembly holds about four words per row (measured: 31 bytes
        // per declared row at 10⁸ rows).
        + crate::budget::Bytes::of::<usize>(nrows.saturating_add(1)).times(4)
        + crate::budget::Bytes::items(cap, 16);
    crate::budget::check(
        format!("line {cur}: a {nrows}×{ncols} sparse matrix with {nnz} stored entries"),
        need,
    )?;
    let want = if field == MtxField::Pattern { 2 } else { 3 };
    let mut trips: Vec<Triplet<usize, usize, f64>> = Vec::with_capacity(cap.min(1 << 26));
    let mut count = 0usize;
    for (lineno, l) in content {
        cur = lineno;
        if count == nnz {
            return Err(err(cur, MtxProblem::TooManyEntries { expected: nnz }));
        }
        let mut toks = l.split_ascii_whitespace();
        let (ti, tj, tv) = (toks.next(), toks.next(), toks.next());
        let found = [ti, tj, tv].iter().flatten().count() + toks.count();
        let (Some(ti), Some(tj)) = (ti, tj) else {
            return Err(err(
                cur,
                MtxProblem::BadEntry(format!(
                    "expected {want} fields, found {found}: `{}`",
                    l.trim()
                )),
            ));
        };
        if found != want {
            return Err(err(
                cur,
                MtxProblem::BadEntry(format!(
                    "expected {want} fields, found {found}: `{}`",
                    l.trim()
                )),
            ));
        }
        let (i, j) = (parse_usize(ti, cur)?, parse_usize(tj, cur)?);
        if i == 0 || j == 0 || i > nrows || j > ncols {
            return Err(err(
                cur,
                MtxProblem::IndexOutOfRange {
                    row: i,
                    col: j,
                    nrows,
                    ncols,
                },
            ));
        }
        let v = match (field, tv) {
            (MtxField::Pattern, _) | (_, None) => 1.0,
            (MtxField::Integer, Some(t)) => t
                .parse::<i64>()
                .map_err(|_| err(cur, MtxProblem::NotANumber(t.to_string())))?
                as f64,
            (MtxField::Real, Some(t)) => {
                let v = t
                    .parse::<f64>()
                    .map_err(|_| err(cur, MtxProblem::NotANumber(t.to_string())))?;
                if !v.is_finite() {
                    return Err(err(cur, MtxProblem::NonFinite(t.to_string())));
                }
                v
            }
        };
        trips.push(Triplet::new(i - 1, j - 1, v));
        if symmetry == MtxSymmetry::Symmetric && i != j {
            trips.push(Triplet::new(j - 1, i - 1, v));
        }
        count += 1;
    }
    if count < nnz {
        return Err(err(
            total_lines + 1,
            MtxProblem::Truncated {
                expected: nnz,
                found: count,
            },
        ));
    }
    let size_line = cur_size_line;
    if spd && nnz < nrows {
        return Err(err(
            size_line,
            MtxProblem::NotSpd(format!(
                "it stores {nnz} entries for {nrows} rows, so some row has no diagonal entry"
            )),
        ));
    }
    if spd {
        // Every row needs a positive diagonal (duplicates summed): checked on
        // the triplets, before assembly.
        let mut diag = vec![0.0f64; nrows];
        let mut seen = vec![false; nrows];
        for t in &trips {
            if t.row == t.col {
                diag[t.row] += t.val;
                seen[t.row] = true;
            }
        }
        if let Some(i) = (0..nrows).find(|&i| !seen[i]) {
            return Err(err(
                size_line,
                MtxProblem::NotSpd(format!("row {} has no diagonal entry", i + 1)),
            ));
        }
        if let Some(i) = (0..nrows).find(|&i| diag[i] <= 0.0) {
            return Err(err(
                size_line,
                MtxProblem::NotSpd(format!(
                    "the diagonal entry of row {} is {:e}, not positive",
                    i + 1,
                    diag[i]
                )),
            ));
        }
    }
    let mat = SparseRowMat::try_new_from_triplets(nrows, ncols, &trips)
        .map_err(|e| Error::Numerical(format!("could not build the sparse matrix: {e:?}")))?;
    Ok((
        mat,
        MtxHeader {
            field,
            symmetry,
            nrows,
            ncols,
            entries: nnz,
        },
    ))
}

/// Reads a Matrix Market coordinate matrix from a file; errors name the file.
pub fn read_matrix_market(path: impl AsRef<Path>) -> Result<SparseRowMat<usize, f64>> {
    let path = path.as_ref();
    let bytes = crate::budget::read_file(path)?;
    read_matrix_market_from(&bytes[..])
        .map(|(m, _)| m)
        .map_err(|e| e.in_file(path))
}

/// Writes `mat` in Matrix Market coordinate real format.
///
/// With [`MtxSymmetry::Symmetric`] only the lower triangle is written (the
/// caller asserts symmetry; the upper triangle is dropped). Values are written
/// in Rust's shortest round-trip form, so reading the file back is exact.
pub fn write_matrix_market_to(
    mut w: impl Write,
    mat: &SparseRowMat<usize, f64>,
    symmetry: MtxSymmetry,
) -> Result<()> {
    let m = mat.as_ref();
    let keep = |i: usize, j: usize| symmetry == MtxSymmetry::General || j <= i;
    let mut nnz = 0usize;
    for i in 0..m.nrows() {
        nnz += m
            .col_idx_of_row_raw(i)
            .iter()
            .filter(|&&j| keep(i, j))
            .count();
    }
    let sym = match symmetry {
        MtxSymmetry::General => "general",
        MtxSymmetry::Symmetric => "symmetric",
    };
    writeln!(w, "%%MatrixMarket matrix coordinate real {sym}")?;
    writeln!(w, "% written by optlab linalg-core")?;
    writeln!(w, "{} {} {}", m.nrows(), m.ncols(), nnz)?;
    for i in 0..m.nrows() {
        for (&j, &v) in m.col_idx_of_row_raw(i).iter().zip(m.val_of_row(i)) {
            if keep(i, j) {
                writeln!(w, "{} {} {:e}", i + 1, j + 1, v)?;
            }
        }
    }
    w.flush()?;
    Ok(())
}

/// Writes `mat` to a Matrix Market file (see [`write_matrix_market_to`]).
pub fn write_matrix_market(
    path: impl AsRef<Path>,
    mat: &SparseRowMat<usize, f64>,
    symmetry: MtxSymmetry,
) -> Result<()> {
    let path = path.as_ref();
    let f = std::fs::File::create(path).map_err(|e| Error::from(e).in_file(path))?;
    write_matrix_market_to(BufWriter::new(f), mat, symmetry).map_err(|e| e.in_file(path))
}
