//! nines-spec integration tests: one binary, a module per format.

mod channels;
mod generate;
mod incidents;
mod native;
mod oncall;
mod openslo;
mod signals;
mod sloth;
mod sources;
mod support;
