//! fundwatch's integration tests: one test binary (as ripgrep does) so the
//! crate is linked once. Each module drives real parts: a loopback HTTP
//! server, a SQLite file, an on-disk index, the built binary.

mod cli_crawl;
mod cli_dates;
mod cli_search;
mod daemon;
mod digest;
mod extract;
mod fetch;
mod identity;
mod index;
mod readme;
mod smtp;
mod store;
mod support;
