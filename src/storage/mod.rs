//! storage (work in progress)
