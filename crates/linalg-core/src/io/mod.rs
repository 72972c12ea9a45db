//! File formats: Matrix Market for sparse matrices, NPY for dense arrays.

pub mod mtx;
pub mod npy;

pub use mtx::{
    MtxField, MtxHeader, MtxSymmetry, read_matrix_market, read_matrix_market_from,
    read_matrix_market_header, read_spd_matrix_market, read_spd_matrix_market_from,
    write_matrix_market, write_matrix_market_to,
};
pub use npy::{
    NpyArray, NpyDtype, read_npy, read_npy_bytes, read_npy_col, read_npy_from, read_npy_mat,
    write_npy_col, write_npy_mat, write_npy_to,
};
