//! Datasets: readers for IDX (MNIST, Fashion-MNIST), CIFAR-10 binary batches and the digits CSV,
//! 2-D synthetic sets, the embedded defaults, seeded splits and augmentation.

mod augment;
mod cifar;
mod dataset;
mod digits;
mod embedded;
mod idx;
mod input;
pub use input::read_data_file;
mod recurrent_concept;
mod spec;
mod synthetic;

pub use augment::*;
pub use cifar::*;
pub use dataset::*;
pub use digits::*;
pub use embedded::*;
pub use idx::*;
pub use recurrent_concept::*;
pub use spec::*;
pub use synthetic::*;
