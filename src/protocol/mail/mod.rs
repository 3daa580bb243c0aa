//! mail (work in progress)
