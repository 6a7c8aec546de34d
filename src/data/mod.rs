//! Data sets: IDX image/label files (Fashion-MNIST, MNIST), 2D toys, and training rows.

pub mod dataset;
pub mod idx;
pub mod toys;

pub use dataset::Dataset;
