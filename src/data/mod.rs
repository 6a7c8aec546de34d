//! Data sets: IDX image/label files (Fashion-MNIST, MNIST).

pub mod idx;
