//! # datasets
//!
//! Small, real classification tables embedded in the binary — no download, no
//! file path — plus the preprocessing every experiment needs (standardisation,
//! seeded train/test split, one-hot, binary sub-problems) and seeded
//! generators (Gaussian mixtures, SPD matrices with a chosen spectrum, point
//! clouds).
//!
//! | loader | rows × features | classes |
//! |---|---|---|
//! | [`breast_cancer`] | 569 × 30 | 2 (0 malignant, 1 benign) |
//! | [`digits`] | 1797 × 64 | 10 |
//! | [`iris`] | 150 × 4 | 3 |
//! | [`wine`] | 178 × 13 | 3 |
//!
//! The tables are the copies shipped with scikit-learn 1.9.1, originally from
//! the UCI Machine Learning Repository; see `data/PROVENANCE.md`.
//!
//! ```
//! let iris = datasets::iris();
//! assert_eq!((iris.n_samples(), iris.n_features()), (150, 4));
//! let (train, test) = iris.train_test_split(0.2, 42).unwrap();
//! assert_eq!((train.n_samples(), test.n_samples()), (120, 30));
//! ```

#![warn(missing_docs)]

pub mod generate;
pub mod objectives;

use std::io::Read;

use linalg_core::ParamError;
use linalg_core::faer::{Col, Mat};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

/// Errors of the `datasets` crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A CSV table could not be parsed.
    #[error("{name}: line {line}: {message}")]
    Csv {
        /// Table name.
        name: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// An operation on a dataset without samples (or features).
    #[error("{0}: the dataset is empty")]
    Empty(&'static str),
    /// A label outside `0..n_classes`, or a class asked for that does not exist.
    #[error("label {label} out of range for {n_classes} classes")]
    LabelOutOfRange {
        /// The label.
        label: usize,
        /// Number of classes.
        n_classes: usize,
    },
    /// A hyperparameter outside its valid range.
    #[error(transparent)]
    Param(#[from] ParamError),
    /// An error from the numerical core (building an objective from a table).
    #[error(transparent)]
    Core(#[from] linalg_core::Error),
    /// Two sizes that must agree do not.
    #[error("dimension mismatch in {context}: expected {expected}, found {found}")]
    DimensionMismatch {
        /// Where.
        context: &'static str,
        /// Required size.
        expected: usize,
        /// Given size.
        found: usize,
    },
    /// Reading a table failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A labelled table: one sample per row of `features`.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Name of the table (e.g. `"iris"`).
    pub name: String,
    /// Features, `n_samples × n_features`.
    pub features: Mat<f64>,
    /// Class of each sample, in `0..class_names.len()`.
    pub labels: Vec<usize>,
    /// Name of each class.
    pub class_names: Vec<String>,
}

impl Dataset {
    /// Builds a dataset, checking that labels match rows and lie in range.
    pub fn new(
        name: impl Into<String>,
        features: Mat<f64>,
        labels: Vec<usize>,
        class_names: Vec<String>,
    ) -> Result<Self> {
        if features.nrows() != labels.len() {
            return Err(Error::DimensionMismatch {
                context: "labels per sample",
                expected: features.nrows(),
                found: labels.len(),
            });
        }
        if let Some(&label) = labels.iter().find(|&&l| l >= class_names.len()) {
            return Err(Error::LabelOutOfRange {
                label,
                n_classes: class_names.len(),
            });
        }
        Ok(Self {
            name: name.into(),
            features,
            labels,
            class_names,
        })
    }

    /// Number of samples (rows).
    pub fn n_samples(&self) -> usize {
        self.features.nrows()
    }

    /// Number of features (columns).
    pub fn n_features(&self) -> usize {
        self.features.ncols()
    }

    /// Number of classes.
    pub fn n_classes(&self) -> usize {
        self.class_names.len()
    }

    /// Samples per class.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut c = vec![0; self.n_classes()];
        for &l in &self.labels {
            c[l] += 1;
        }
        c
    }

    /// The rows `idx`, in that order.
    pub fn select(&self, idx: &[usize]) -> Dataset {
        Dataset {
            name: self.name.clone(),
            features: Mat::from_fn(idx.len(), self.n_features(), |i, j| {
                self.features[(idx[i], j)]
            }),
            labels: idx.iter().map(|&i| self.labels[i]).collect(),
            class_names: self.class_names.clone(),
        }
    }

    /// A seeded random split into `(train, test)` with `round(test_fraction·n)`
    /// test samples. `test_fraction` must lie strictly between 0 and 1 and leave
    /// both parts non-empty.
    pub fn train_test_split(&self, test_fraction: f64, seed: u64) -> Result<(Dataset, Dataset)> {
        let n = self.n_samples();
        if n == 0 {
            return Err(Error::Empty("train_test_split"));
        }
        linalg_core::param::in_open_unit_interval("test_fraction", test_fraction)?;
        let n_test = (test_fraction * n as f64).round() as usize;
        if n_test == 0 || n_test == n {
            return Err(Error::Param(ParamError::new(
                "test_fraction",
                format!("{test_fraction} of {n} samples leaves one part empty"),
            )));
        }
        let mut idx: Vec<usize> = (0..n).collect();
        idx.shuffle(&mut StdRng::seed_from_u64(seed));
        let (test, train) = idx.split_at(n_test);
        Ok((self.select(train), self.select(test)))
    }

    /// The two-class sub-problem "class `a` vs class `b`": keeps those samples,
    /// relabelled `a → 0`, `b → 1`.
    pub fn binary(&self, a: usize, b: usize) -> Result<Dataset> {
        for c in [a, b] {
            if c >= self.n_classes() {
                return Err(Error::LabelOutOfRange {
                    label: c,
                    n_classes: self.n_classes(),
                });
            }
        }
        if a == b {
            return Err(Error::Param(ParamError::new(
                "b",
                format!("the two classes must differ (both {a})"),
            )));
        }
        let idx: Vec<usize> = (0..self.n_samples())
            .filter(|&i| self.labels[i] == a || self.labels[i] == b)
            .collect();
        let mut out = self.select(&idx);
        out.labels = out.labels.iter().map(|&l| usize::from(l == b)).collect();
        out.class_names = vec![self.class_names[a].clone(), self.class_names[b].clone()];
        out.name = format!(
            "{}[{} vs {}]",
            self.name, out.class_names[0], out.class_names[1]
        );
        Ok(out)
    }

    /// Labels of a two-class dataset as `−1.0` (class 0) / `+1.0` (class 1).
    pub fn signed_labels(&self) -> Result<Col<f64>> {
        if self.n_classes() != 2 {
            return Err(Error::Param(ParamError::new(
                "n_classes",
                format!(
                    "signed labels need 2 classes, the dataset has {}",
                    self.n_classes()
                ),
            )));
        }
        Ok(Col::from_fn(self.n_samples(), |i| {
            if self.labels[i] == 1 { 1.0 } else { -1.0 }
        }))
    }

    /// Labels one-hot encoded (`n_samples × n_classes`).
    pub fn one_hot(&self) -> Mat<f64> {
        // Labels were range-checked at construction.
        one_hot(&self.labels, self.n_classes()).unwrap_or_else(|_| Mat::zeros(0, 0))
    }
}

/// One-hot encoding of `labels` into an `n × n_classes` matrix.
pub fn one_hot(labels: &[usize], n_classes: usize) -> Result<Mat<f64>> {
    if let Some(&label) = labels.iter().find(|&&l| l >= n_classes) {
        return Err(Error::LabelOutOfRange { label, n_classes });
    }
    Ok(Mat::from_fn(labels.len(), n_classes, |i, j| {
        f64::from(u8::from(labels[i] == j))
    }))
}

/// Per-feature mean and standard deviation, to standardise features to zero
/// mean and unit variance (population variance, as scikit-learn's `StandardScaler`).
#[derive(Debug, Clone)]
pub struct Standardizer {
    /// Mean of each column.
    pub mean: Vec<f64>,
    /// Standard deviation of each column (1.0 for constant columns, which are
    /// only centred).
    pub scale: Vec<f64>,
}

impl Standardizer {
    /// Fits the statistics of `x` (rows are samples); fails on empty or non-finite data.
    pub fn fit(x: &Mat<f64>) -> Result<Self> {
        let (n, d) = (x.nrows(), x.ncols());
        if n == 0 || d == 0 {
            return Err(Error::Empty("Standardizer::fit"));
        }
        let mut mean = vec![0.0; d];
        let mut scale = vec![0.0; d];
        for j in 0..d {
            let col = x.col(j);
            if let Some(i) = col.iter().position(|v| !v.is_finite()) {
                return Err(Error::Param(ParamError::new(
                    "features",
                    format!("non-finite value at row {i}, column {j}"),
                )));
            }
            // Scale-safe: the sums run on k·x with k a power of two that
            // brings the column's largest entry into [1, 2) (exact), so
            // features near 1e300 do not overflow the variance to ∞ and
            // features near 1e-300 do not underflow it to 0.
            let amax = col.iter().fold(0.0f64, |a, v| a.max(v.abs()));
            let k = linalg_core::op::pow2_scale(amax);
            let m = col.iter().map(|v| v * k).sum::<f64>() / n as f64;
            let var = col.iter().map(|v| (v * k - m) * (v * k - m)).sum::<f64>() / n as f64;
            mean[j] = m / k;
            scale[j] = if var > 0.0 { var.sqrt() / k } else { 1.0 };
        }
        Ok(Self { mean, scale })
    }

    /// Applies `(x − mean) / scale` in place; `x` must have the fitted column count.
    pub fn transform(&self, x: &mut Mat<f64>) -> Result<()> {
        if x.ncols() != self.mean.len() {
            return Err(Error::DimensionMismatch {
                context: "Standardizer::transform columns",
                expected: self.mean.len(),
                found: x.ncols(),
            });
        }
        for j in 0..x.ncols() {
            let (m, s) = (self.mean[j], self.scale[j]);
            for v in x.col_mut(j).iter_mut() {
                *v = (*v - m) / s;
            }
        }
        Ok(())
    }
}

/// Standardises the columns of `x` in place and returns the statistics used
/// (fit on `x` itself; to standardise test data with training statistics, use
/// [`Standardizer::fit`] on the training part and `transform` both).
pub fn standardize(x: &mut Mat<f64>) -> Result<Standardizer> {
    let s = Standardizer::fit(x)?;
    s.transform(x)?;
    Ok(s)
}

/// Parses a table in the layout of the embedded files: an optional header line
/// `rows,features,class names…`, then one row per sample with the integer label
/// last. Without a header, classes are named `"0"`, `"1"`, ….
pub fn parse_csv(name: &str, text: &str) -> Result<Dataset> {
    let err = |line: usize, message: String| Error::Csv {
        name: name.to_string(),
        line,
        message,
    };
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .peekable();
    let mut header: Option<(usize, usize, Vec<String>)> = None;
    if let Some((_, first)) = lines.peek() {
        let toks: Vec<&str> = first.split(',').map(str::trim).collect();
        if toks.len() >= 2 && toks.iter().skip(2).any(|t| t.parse::<f64>().is_err()) {
            let parse = |t: &str| {
                t.parse::<usize>()
                    .map_err(|_| err(1, format!("bad header count `{t}`")))
            };
            header = Some((
                parse(toks[0])?,
                parse(toks[1])?,
                toks[2..].iter().map(|s| s.to_string()).collect(),
            ));
            lines.next();
        }
    }
    let mut rows: Vec<Vec<f64>> = Vec::new();
    let mut labels = Vec::new();
    let mut width = None;
    for (i, line) in lines {
        let toks: Vec<&str> = line.split(',').map(str::trim).collect();
        if toks.len() < 2 {
            return Err(err(
                i + 1,
                "a row needs at least one feature and a label".into(),
            ));
        }
        if *width.get_or_insert(toks.len()) != toks.len() {
            return Err(err(
                i + 1,
                format!("{} fields, expected {}", toks.len(), width.unwrap_or(0)),
            ));
        }
        let (feat, lab) = toks.split_at(toks.len() - 1);
        let row = feat
            .iter()
            .map(|t| match t.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(v),
                _ => Err(err(i + 1, format!("not a finite number: `{t}`"))),
            })
            .collect::<Result<Vec<f64>>>()?;
        let label = lab[0]
            .parse::<f64>()
            .ok()
            .filter(|v| *v >= 0.0 && v.fract() == 0.0)
            .ok_or_else(|| {
                err(
                    i + 1,
                    format!("label `{}` is not a non-negative integer", lab[0]),
                )
            })?;
        rows.push(row);
        labels.push(label as usize);
    }
    if rows.is_empty() {
        return Err(Error::Empty("parse_csv"));
    }
    let d = rows[0].len();
    let n_classes = labels.iter().max().map_or(0, |m| m + 1);
    let class_names = match header {
        Some((n, f, names)) => {
            if n != rows.len() || f != d {
                return Err(err(
                    1,
                    format!("header announces {n}×{f}, found {}×{d}", rows.len()),
                ));
            }
            names
        }
        None => (0..n_classes).map(|c| c.to_string()).collect(),
    };
    let features = Mat::from_fn(rows.len(), d, |i, j| rows[i][j]);
    Dataset::new(name, features, labels, class_names)
}

fn gunzip(bytes: &[u8]) -> Result<String> {
    let mut s = String::new();
    flate2::read::GzDecoder::new(bytes).read_to_string(&mut s)?;
    Ok(s)
}

/// The raw embedded files (compressed), for provenance checks.
pub mod raw {
    /// `breast_cancer.csv`, gzip.
    pub const BREAST_CANCER: &[u8] = include_bytes!("../data/breast_cancer.csv.gz");
    /// `digits.csv.gz` as shipped.
    pub const DIGITS: &[u8] = include_bytes!("../data/digits.csv.gz");
    /// `iris.csv`, gzip.
    pub const IRIS: &[u8] = include_bytes!("../data/iris.csv.gz");
    /// `wine_data.csv`, gzip.
    pub const WINE: &[u8] = include_bytes!("../data/wine_data.csv.gz");

    /// Decompresses one of the embedded files to its CSV text.
    pub fn decompress(bytes: &[u8]) -> crate::Result<String> {
        crate::gunzip(bytes)
    }
}

fn embedded(name: &str, bytes: &[u8], classes: Option<&[&str]>) -> Dataset {
    // The embedded tables are fixed at compile time and parsed by the tests;
    // a failure here is a packaging bug, not bad user input.
    let text = gunzip(bytes).expect("embedded table decompresses");
    let mut ds = parse_csv(name, &text).expect("embedded table parses");
    if let Some(c) = classes {
        ds.class_names = c.iter().map(|s| s.to_string()).collect();
    }
    ds
}

/// Breast Cancer Wisconsin (Diagnostic): 569 × 30, classes `malignant` (0), `benign` (1).
pub fn breast_cancer() -> Dataset {
    embedded("breast_cancer", raw::BREAST_CANCER, None)
}

/// Optical handwritten digits: 1797 × 64 (8×8 images, values 0–16), 10 classes.
pub fn digits() -> Dataset {
    embedded(
        "digits",
        raw::DIGITS,
        Some(&["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]),
    )
}

/// Fisher's iris: 150 × 4, classes `setosa`, `versicolor`, `virginica`.
pub fn iris() -> Dataset {
    embedded("iris", raw::IRIS, None)
}

/// Wine recognition: 178 × 13, classes `class_0`, `class_1`, `class_2`.
pub fn wine() -> Dataset {
    embedded("wine", raw::WINE, None)
}

/// Loads a dataset by name (`breast_cancer`, `digits`, `iris`, `wine`).
pub fn by_name(name: &str) -> Option<Dataset> {
    match name {
        "breast_cancer" | "breast-cancer" => Some(breast_cancer()),
        "digits" => Some(digits()),
        "iris" => Some(iris()),
        "wine" => Some(wine()),
        _ => None,
    }
}

/// Names accepted by [`by_name`].
pub const NAMES: [&str; 4] = ["breast_cancer", "digits", "iris", "wine"];

/// Image `index` of the embedded `digits` table as its 64 intensities
/// (8 × 8, row-major, 0–16): the densities of the optimal-transport
/// benchmarks (`sinkhorn_newton::instances::image_pair`).
pub fn digit_image(index: usize) -> Result<Vec<f64>> {
    let digits = digits();
    let n = digits.n_samples();
    if index >= n {
        return Err(ParamError::new(
            "index",
            format!("digit index {index} out of range (the data has {n} images)"),
        )
        .into());
    }
    Ok(digits.features.row(index).iter().copied().collect())
}

/// The README example, compiled and run as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
