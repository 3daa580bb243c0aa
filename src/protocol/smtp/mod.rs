//! smtp (work in progress)
