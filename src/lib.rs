//! fundwatch: watches funding calls for a university's international office.
//!
//! The pipeline (see DESIGN.md in the project's shared notes):
//!
//! ```text
//! sources.toml ─► schedule ─► fetch ─► extract ─► normalize ─► store (SQLite) ─► index (tantivy)
//! ```
//!
//! Pure stages ([`dates`], [`extract`], [`normalize`]) take values and `now`
//! and return values; IO lives in [`fetch`], [`store`] and the job functions
//! in [`crawl`]. The binary (`src/main.rs`) only parses arguments and wires
//! these together.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod crawl;
pub mod daemon;
pub mod dates;
pub mod digest;
pub mod export;
pub mod extract;
pub mod fetch;
pub mod index;
pub mod matching;
pub mod model;
pub mod normalize;
mod packed;
pub mod settings;
pub mod stats;
pub mod store;
pub mod sync;
#[cfg(test)]
mod test_support;
