//! Image archives: `docker save` archives (docker-archive: `manifest.json`,
//! configs, layer tars) and OCI image-layout archives, read into the store
//! (`load`) and written from it (`save`).

mod import;
pub mod load;
mod read;
pub mod save;

pub use import::import;
pub use load::load;
pub use save::{Format, SaveRequest, save};
