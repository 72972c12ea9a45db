//! The embedded datasets: shapes, classes, standardisation and a seeded split.
//!
//! `cargo run --release --example datasets_tour`

use optlab::datasets::{self, Standardizer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for name in datasets::NAMES {
        let ds = datasets::by_name(name).ok_or("unknown dataset")?;
        let (mut train, mut test) = ds.train_test_split(0.25, 42)?;
        // Standardise with training statistics only.
        let scaler = Standardizer::fit(&train.features)?;
        scaler.transform(&mut train.features)?;
        scaler.transform(&mut test.features)?;
        println!(
            "{:<14} {:>4} × {:<3} classes {:?}  train/test {}/{}",
            ds.name,
            ds.n_samples(),
            ds.n_features(),
            ds.class_counts(),
            train.n_samples(),
            test.n_samples()
        );
    }
    let bc = datasets::breast_cancer();
    let y = bc.signed_labels()?;
    println!(
        "breast cancer: {} benign (+1) of {}",
        y.iter().filter(|v| **v > 0.0).count(),
        y.nrows()
    );
    Ok(())
}
