//! nines-spec integration tests: one binary, a module per format.

mod native;
mod openslo;
mod sloth;
mod support;
